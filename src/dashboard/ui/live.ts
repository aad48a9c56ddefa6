/**
 * The live channel client (docs/live.md): snapshot first, then diffs applied by assignment.
 * Renders are batched to one per animation frame, however many diffs arrive in between.
 */
import { liveUrl } from './api'
import type { Counts, FeedPageview, PageCounts, ProcessView, ServerMessage } from './types'

export type Status = 'connecting' | 'live' | 'offline'

export interface LiveState {
  site: string | null
  status: Status
  counts: Counts
  connections: number
  pages: Map<string, PageCounts>
  processes: Map<string, ProcessView>
  /** Processes that went away, with when (kept so the services panel can say "since"). */
  gone: Map<string, { view: ProcessView; at: number }>
  /** Local receive time of the latest process views, to age running jobs between updates. */
  processesAt: number
  /** Sites named by the hub's hello. */
  sites: string[]
  /**
   * Whether the site has sent anything: null until its snapshot; false while it has no visitor and no
   * stored page view (the install panel shows); true from its first event on, pushed by the hub.
   */
  hasData: boolean | null
  /** The hub is a cluster node that cannot reach Redis: the counts are its own visitors only. */
  partial: boolean
}

const RENDER_MS = 100
const ZERO: Counts = { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 }

export class LiveClient {
  readonly state: LiveState = {
    site: null, status: 'connecting', counts: { ...ZERO }, connections: 0,
    pages: new Map(), processes: new Map(), gone: new Map(), processesAt: Date.now(), sites: [], hasData: null, partial: false,
  }
  private ws: WebSocket | null = null
  private retry = 500
  private timer = 0
  private frame = 0
  private rendered = 0
  private opened = false
  private readonly renderers = new Set<(s: LiveState) => void>()
  private readonly feeders = new Set<(rows: FeedPageview[], fresh: boolean) => void>()
  private readonly countWatchers = new Set<(c: Counts, at: number) => void>()
  /** Called when the socket could not open at all (a refused upgrade: maybe a token is needed). */
  onRefused: (() => Promise<void>) | null = null
  /** A site got its first live visitor (pushed by the hub): the site list should grow. */
  onSite: ((site: string) => void) | null = null

  connect(site: string | null): void {
    this.state.site = site
    this.state.hasData = null
    this.close()
    this.open()
  }

  /** Switches site on the open socket (a snapshot follows). */
  subscribe(site: string): void {
    this.state.site = site
    this.reset()
    if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'subscribe', site }))
    else this.connect(site)
  }

  onRender(fn: (s: LiveState) => void): () => void {
    this.renderers.add(fn)
    return () => this.renderers.delete(fn)
  }

  /** New pageviews, oldest first; `fresh` false for a snapshot's recent list (replaces). */
  onFeed(fn: (rows: FeedPageview[], fresh: boolean) => void): () => void {
    this.feeders.add(fn)
    return () => this.feeders.delete(fn)
  }

  onCounts(fn: (c: Counts, at: number) => void): () => void {
    this.countWatchers.add(fn)
    return () => this.countWatchers.delete(fn)
  }

  close(): void {
    clearTimeout(this.timer)
    if (this.ws !== null) {
      this.ws.onclose = null
      this.ws.close()
      this.ws = null
    }
  }

  private reset(): void {
    const s = this.state
    s.counts = { ...ZERO }
    s.connections = 0
    s.pages.clear()
    s.hasData = null
    this.schedule()
  }

  private open(): void {
    this.state.status = 'connecting'
    this.opened = false
    this.schedule()
    const ws = new WebSocket(liveUrl(this.state.site))
    this.ws = ws
    ws.onopen = () => {
      this.opened = true
      this.retry = 500
    }
    ws.onmessage = (e: MessageEvent) => {
      if (typeof e.data !== 'string') return
      let m: ServerMessage
      try {
        m = JSON.parse(e.data) as ServerMessage
      } catch {
        return
      }
      this.handle(m)
    }
    ws.onclose = () => {
      this.ws = null
      this.state.status = 'offline'
      this.schedule()
      const refused = !this.opened
      const again = (): void => {
        this.timer = window.setTimeout(() => this.open(), this.retry)
        this.retry = Math.min(this.retry * 2, 10_000)
      }
      if (refused && this.onRefused !== null) void this.onRefused().then(again, again)
      else again()
    }
  }

  private handle(m: ServerMessage): void {
    const s = this.state
    switch (m.type) {
      case 'site':
        if (!s.sites.includes(m.site)) s.sites = [...s.sites, m.site]
        this.onSite?.(m.site)
        return
      case 'hello':
        s.sites = m.sites
        s.status = 'live'
        this.schedule()
        return
      case 'snapshot': {
        if (s.site !== null && m.site !== s.site) return
        s.status = 'live'
        s.partial = m.partial === true
        s.counts = m.counts
        s.connections = m.connections
        s.hasData = m.counts.total > 0 || m.recent.length > 0
        s.pages = new Map(m.pages.map((p) => [p.path, p]))
        const now = Date.now()
        for (const p of m.processes) s.gone.delete(p.key)
        for (const [k, v] of s.processes) if (!m.processes.some((p) => p.key === k)) s.gone.set(k, { view: v, at: now })
        s.processes = new Map(m.processes.map((p) => [p.key, p]))
        s.processesAt = now
        for (const fn of this.feeders) fn([...m.recent].reverse(), false)
        for (const fn of this.countWatchers) fn(m.counts, m.at)
        this.schedule()
        return
      }
      case 'diff': {
        if (s.site !== null && m.site !== s.site) return
        if ((m.counts !== undefined && m.counts.total > 0) || (m.feed !== undefined && m.feed.length > 0)) s.hasData = true
        if (m.counts !== undefined) {
          s.counts = m.counts
          for (const fn of this.countWatchers) fn(m.counts, m.at)
        }
        if (m.connections !== undefined) s.connections = m.connections
        if (m.pages !== undefined) {
          for (const p of m.pages) {
            if (p.total === 0) s.pages.delete(p.path)
            else s.pages.set(p.path, p)
          }
        }
        if (m.processes !== undefined) {
          s.processesAt = Date.now()
          for (const p of m.processes) {
            s.processes.set(p.key, p)
            s.gone.delete(p.key)
          }
        }
        if (m.processesGone !== undefined) {
          for (const k of m.processesGone) {
            const v = s.processes.get(k)
            if (v !== undefined) s.gone.set(k, { view: v, at: m.at })
            s.processes.delete(k)
          }
        }
        if (m.feed !== undefined && m.feed.length > 0) for (const fn of this.feeders) fn(m.feed, true)
        this.schedule()
        return
      }
      case 'error':
        console.warn('livestats live channel:', m.code, m.message)
        return
    }
  }

  /**
   * At most one render per 100 ms, in an animation frame: diffs can come 40 times a second, and
   * ten repaints a second look live while costing a quarter of the main thread. While the tab is
   * hidden the browser pauses frames, and so do we.
   */
  schedule(): void {
    if (this.frame !== 0) return
    const wait = Math.max(0, RENDER_MS - (performance.now() - this.rendered))
    this.frame = -1
    setTimeout(() => {
      this.frame = requestAnimationFrame(() => {
        this.frame = 0
        this.rendered = performance.now()
        for (const fn of this.renderers) fn(this.state)
      })
    }, wait)
  }
}
