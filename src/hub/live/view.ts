/**
 * What a dashboard holds, built from the channel's messages: the reference for applying them
 * (the dashboard UI, the fidelity bench and the tests use it). No Node imports.
 */
import type { FeedPageview } from '../bus/messages'
import type { LiveCounts, PageCounts, ProcessView } from '../presence/types'
import type { ServerMessage } from './protocol'

export class LiveView {
  site: string | null = null
  seq = 0
  counts: LiveCounts = { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 }
  connections = 0
  readonly pages = new Map<string, PageCounts>()
  readonly processes = new Map<string, ProcessView>()
  /** Newest first, at most `feedLength`. */
  feed: FeedPageview[] = []

  constructor(private readonly feedLength = 50) {}

  apply(m: ServerMessage): void {
    if (m.type === 'snapshot') {
      this.site = m.site
      this.seq = m.seq
      this.counts = m.counts
      this.connections = m.connections
      this.pages.clear()
      for (const p of m.pages) this.pages.set(p.path, p)
      this.processes.clear()
      for (const p of m.processes) this.processes.set(p.key, p)
      this.feed = m.recent.slice(0, this.feedLength)
      return
    }
    if (m.type !== 'diff' || m.site !== this.site) return
    if (m.seq > this.seq) this.seq = m.seq
    if (m.counts) this.counts = m.counts
    if (m.connections !== undefined) this.connections = m.connections
    for (const p of m.pages ?? []) {
      if (p.total === 0) this.pages.delete(p.path)
      else this.pages.set(p.path, p)
    }
    for (const p of m.processes ?? []) this.processes.set(p.key, p)
    for (const k of m.processesGone ?? []) this.processes.delete(k)
    if (m.feed) this.feed = [...m.feed].reverse().concat(this.feed).slice(0, this.feedLength)
  }
}
