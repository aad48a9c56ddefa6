/**
 * Connected Node processes (trackers), keyed by `app` + `instance`. A process carried by a
 * WebSocket ends when that socket closes; one that posts over HTTP ends when no sample arrived
 * for `timeoutMs` (the tracker samples every few seconds, so a minute means it is gone).
 */
import type { ProcessEvent } from '../../protocol/schema'
import type { ProcessRates, ProcessView } from './types'

/**
 * Rates the process-series fold (`process/series.ts`) worked out for a `process` sample, handed over
 * on the sample itself: the fold runs before presence in `ingest.listeners`, so the view published
 * for a sample carries the rates as of that sample, in diffs and snapshots alike, with no second
 * message. Weak: an entry lives as long as its event object does.
 */
export const sampleRates = new WeakMap<ProcessEvent, ProcessRates>()

interface Proc {
  view: ProcessView
  /** Sorted running jobs as last sent; ages are computed when a view is asked for. */
  running: { name: string; started: number }[]
  connection: string | null
}

export class ProcessTable {
  private readonly procs = new Map<string, Proc>()
  /** Processes per carrying WebSocket, so that a visitor's socket closing costs one lookup. */
  private readonly carriers = new Map<string, number>()

  /** Records a sample; returns the view to publish. */
  sample(ev: ProcessEvent, connection: string | null, now: number): ProcessView {
    const key = `${ev.app}/${ev.instance}`
    let p = this.procs.get(key)
    const metrics = { cpu: ev.cpu, rss: ev.rss, heapUsed: ev.heapUsed, heapTotal: ev.heapTotal, lag: ev.lag, uptime: ev.uptime }
    const rates = sampleRates.get(ev)
    if (p === undefined) {
      p = {
        view: {
          key, app: ev.app, instance: ev.instance, pid: ev.pid, host: ev.host, connectedSince: now,
          lastSeen: now, metrics, running: [], runningCount: ev.runningCount,
        },
        running: ev.running, connection,
      }
      if (rates !== undefined) p.view.rates = rates
      this.procs.set(key, p)
      this.carry(connection, 1)
    } else {
      const v = p.view
      v.pid = ev.pid
      v.host = ev.host
      v.lastSeen = now
      v.metrics = metrics
      v.runningCount = ev.runningCount
      if (rates !== undefined) v.rates = rates
      p.running = ev.running
      if (p.connection !== connection) {
        this.carry(p.connection, -1)
        this.carry(connection, 1)
        p.connection = connection
      }
    }
    return this.view(p, now)
  }

  /** True when the process that sent `ev` is listed already. */
  has(ev: ProcessEvent): boolean {
    return this.procs.has(`${ev.app}/${ev.instance}`)
  }

  /** Ends the processes carried by a WebSocket; returns their keys. */
  closeConnection(connection: string): string[] {
    if (!this.carriers.has(connection)) return []
    this.carriers.delete(connection)
    const gone: string[] = []
    for (const [key, p] of this.procs) if (p.connection === connection) gone.push(key)
    for (const key of gone) this.procs.delete(key)
    return gone
  }

  /** Ends HTTP-only processes silent since `before`; returns their keys. */
  expire(before: number): string[] {
    const gone: string[] = []
    for (const [key, p] of this.procs) if (p.connection === null && p.view.lastSeen < before) gone.push(key)
    for (const key of gone) this.procs.delete(key)
    return gone
  }

  private carry(connection: string | null, by: number): void {
    if (connection === null) return
    const n = (this.carriers.get(connection) ?? 0) + by
    if (n > 0) this.carriers.set(connection, n)
    else this.carriers.delete(connection)
  }

  get size(): number {
    return this.procs.size
  }

  list(now: number): ProcessView[] {
    const out: ProcessView[] = []
    for (const p of this.procs.values()) out.push(this.view(p, now))
    return out
  }

  private view(p: Proc, now: number): ProcessView {
    return {
      ...p.view,
      metrics: { ...p.view.metrics },
      running: p.running.map((j) => ({ name: j.name, started: j.started, ageMs: Math.max(0, now - j.started) })),
    }
  }
}
