/**
 * The diffs of one site, shared by every dashboard watching it. Bus messages are merged into one
 * pending diff (absolute values: the latest counts win, pages keyed by path, processes by key);
 * it goes out when `coalesceMs` passed since the previous one, and at once (in a microtask, so a
 * whole ingest batch still lands in one diff) when the site was quiet. Each diff is serialised
 * once, whatever the number of dashboards.
 */
import { performance } from 'node:perf_hooks'
import type { BusMessage, FeedPageview } from '../bus/messages'
import type { LiveCounts, PageCounts, ProcessView } from '../presence/types'
import type { LiveClient } from './client'
import type { LiveLimits } from './limits'
import { feedIds, opaqueFeed } from './feed'
import { changeView, type ChangeView, type DiffMessage } from './protocol'

interface Pending {
  seq: number
  at: number
  counts: LiveCounts | null
  connections: number | null
  pages: Map<string, PageCounts>
  events: ChangeView[]
  dropped: number
  feed: FeedPageview[]
  processes: Map<string, ProcessView>
  gone: Set<string>
}

export class SiteStream {
  readonly clients = new Set<LiveClient>()
  private pending: Pending | null = null
  private lastFlush = -Infinity
  private scheduled = false
  private timer: NodeJS.Timeout | null = null
  private readonly flushBound = (): void => this.flush()

  constructor(
    readonly site: string,
    private readonly limits: LiveLimits,
    /** Maps an event id to the id dashboards see; the channel passes its own so snapshots agree. */
    private readonly feedId: (id: string) => string = feedIds(),
  ) {}

  add(m: BusMessage): void {
    if (m.type === 'resync') {
      // a change was lost, or the counts switched between cluster and node: each dashboard takes
      // a fresh snapshot, which says everything the lost diffs would have said
      for (const c of this.clients) c.refresh()
      return
    }
    let p = this.pending
    if (p === null) {
      p = this.pending = {
        seq: 0, at: 0, counts: null, connections: null, pages: new Map(), events: [], dropped: 0, feed: [],
        processes: new Map(), gone: new Set(),
      }
    }
    p.at = m.at
    switch (m.type) {
      case 'presence':
        p.seq = m.seq
        p.counts = m.counts
        p.connections = m.connections
        for (const pg of m.pages) p.pages.set(pg.path, pg)
        if (p.events.length < this.limits.maxEventsPerDiff) p.events.push(changeView(m))
        else p.dropped++
        break
      case 'pageview':
        if (p.feed.length >= this.limits.maxFeedPerDiff) p.feed.shift()
        p.feed.push(m)
        break
      case 'process':
        p.processes.set(m.process.key, m.process)
        p.gone.delete(m.process.key)
        break
      case 'process-gone':
        p.processes.delete(m.key)
        p.gone.add(m.key)
        break
    }
    this.schedule()
  }

  private schedule(): void {
    if (this.scheduled) return
    this.scheduled = true
    const wait = this.lastFlush + this.limits.coalesceMs - performance.now()
    if (wait <= 0) queueMicrotask(this.flushBound)
    else this.timer = setTimeout(this.flushBound, Math.ceil(wait))
  }

  private flush(): void {
    // libuv timers count whole ms from a cached loop time, so one can fire a little early: re-arm
    const early = this.lastFlush + this.limits.coalesceMs - performance.now()
    if (early > 0) {
      this.timer = setTimeout(this.flushBound, Math.ceil(early))
      return
    }
    this.scheduled = false
    this.timer = null
    const p = this.pending
    this.pending = null
    if (p === null || this.clients.size === 0) return
    const d: DiffMessage = { type: 'diff', site: this.site, seq: p.seq, at: p.at }
    if (p.counts !== null) d.counts = p.counts
    if (p.connections !== null) d.connections = p.connections
    if (p.pages.size > 0) d.pages = [...p.pages.values()]
    if (p.events.length > 0) d.events = p.events
    if (p.dropped > 0) d.dropped = p.dropped
    if (p.feed.length > 0) d.feed = p.feed.map((m) => opaqueFeed(m, this.feedId))
    if (p.processes.size > 0) d.processes = [...p.processes.values()]
    if (p.gone.size > 0) d.processesGone = [...p.gone]
    const frame = Buffer.from(JSON.stringify(d))
    // a share link's dashboard sees the site, not the apps nor client addresses: the same diff
    // without processes and with no feed ip, made once
    let bare: Buffer | null = null
    for (const c of this.clients) {
      if (c.scoped && (d.processes !== undefined || d.processesGone !== undefined || d.feed !== undefined)) {
        if (bare === null) {
          const { processes: _p, processesGone: _g, ...rest } = d
          if (rest.feed !== undefined) rest.feed = rest.feed.map((f) => ({ ...f, ip: null }))
          bare = Buffer.from(JSON.stringify(rest))
        }
        c.deliver(bare, p.seq)
      } else {
        c.deliver(frame, p.seq)
      }
    }
    // measured after the sends, so the 25 ms hold between what each dashboard receives
    this.lastFlush = performance.now()
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.pending = null
  }
}
