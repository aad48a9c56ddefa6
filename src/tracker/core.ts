/**
 * The tracker's state and its background work: the flush timer, the destinations (hub client,
 * `port` server), the drain on close and the exit hooks. The hot path lives in `index.ts` and
 * only touches `counters`, `jobs` and `running`.
 */
import { buildEvents, Counters } from './events'
import { HubClient } from './hub-client'
import { HttpTable } from './http'
import { JobTable, RunningList } from './jobs'
import { ProcessMetrics } from './process-metrics'
import { TrackerServer } from './server'
import { addExitHooks, removeExitHooks, type ExitHooks } from './signals'
import type { Settings } from './config'
import type { CloseResult, TrackerStats } from './types'
import type { Warner } from './warn'

export class TrackerCore implements ExitHooks {
  readonly counters = new Counters()
  readonly jobs: JobTable
  readonly running: RunningList
  readonly http: HttpTable
  /** Servers `t.http` measures already. */
  readonly servers = new WeakSet<object>()
  private readonly metrics = new ProcessMetrics()
  private readonly hub: HubClient | null = null
  private readonly server: TrackerServer | null = null
  private readonly timer: NodeJS.Timeout | null = null
  private droppedSinceReport = 0
  private droppedTotal = 0
  private closing: Promise<CloseResult> | null = null

  constructor(readonly s: Settings, readonly warn: Warner) {
    this.jobs = new JobTable(s.maxJobNames, warn)
    this.http = new HttpTable(s.maxHttpRoutes, warn)
    this.running = new RunningList(s.maxRunning, () => performance.now(), warn)
    const onDrop = (n: number) => this.onDrop(n)
    if (s.hubUrl !== null) {
      this.hub = new HubClient({ url: s.hubUrl, token: s.token, buffer: s.buffer, onDrop, warn })
      this.hub.start()
    }
    if (s.port !== null) {
      this.server = new TrackerServer({ port: s.port, host: s.bindHost, buffer: s.buffer, onDrop, warn })
    }
    if (this.hub !== null || this.server !== null) {
      this.timer = setInterval(() => this.flush(), s.interval)
      this.timer.unref()
    }
    if (s.handleSignals) addExitHooks(this)
  }

  flush(): void {
    try {
      if (this.hub === null && this.server === null) return
      const at = Date.now()
      const events = buildEvents({
        s: this.s,
        counters: this.counters,
        jobs: this.jobs,
        running: this.running,
        http: this.http,
        sample: this.metrics.sample(),
        dropped: this.droppedSinceReport,
        at,
        epochOffset: at - performance.now(),
      })
      this.droppedSinceReport = 0
      for (const e of events) {
        const json = JSON.stringify(e)
        this.hub?.outbox.push(json)
        this.server?.push(json)
      }
      this.hub?.pump()
      this.server?.pump()
    } catch (e) {
      this.warn.once('internal', `internal error while flushing: ${String(e)}`)
    }
  }

  ready(): Promise<{ port: number | null }> {
    return this.server?.ready ?? Promise.resolve({ port: null })
  }

  /** A hub link is open, or a dashboard is connected to the `port` server. */
  isConnected(): boolean {
    return this.hub?.state === 'open' || (this.server?.peerCount ?? 0) > 0
  }

  stats(): TrackerStats {
    return {
      buffered: (this.hub?.outbox.size ?? 0) + (this.server?.pending ?? 0),
      dropped: this.droppedTotal,
      hub: this.hub?.state ?? 'off',
      peers: this.server?.peerCount ?? 0,
      running: Math.max(0, this.running.count),
    }
  }

  /**
   * Final flush, then waits for acknowledgements until `timeout`. `persist`: keep redialling a hub
   * that is down until the deadline (an explicit `close()`); otherwise (process exit) give up at
   * the first failed attempt, so a process never lingers for a hub that is not there.
   */
  close(timeout = this.s.closeTimeout, persist = true): Promise<CloseResult> {
    if (this.closing !== null) return this.closing
    if (this.timer !== null) clearInterval(this.timer)
    this.flush()
    this.closing = this.drain(timeout, persist).then((r) => {
      this.shutdown()
      return r
    })
    return this.closing
  }

  onTerm(final: boolean): Promise<unknown> {
    if (final) return this.close()
    this.flush()
    return this.drain(this.s.closeTimeout, true)
  }

  onExit(): Promise<unknown> {
    return this.close(this.s.closeTimeout, false)
  }

  private pending(): { hub: number; server: number } {
    return {
      hub: this.hub?.outbox.size ?? 0,
      // a backlog with no dashboard connected cannot be delivered: do not wait for it
      server: this.server !== null && this.server.peerCount > 0 ? this.server.pending : 0,
    }
  }

  private drain(timeout: number, persist: boolean): Promise<CloseResult> {
    this.hub?.expedite()
    const deadline = performance.now() + timeout
    return new Promise((resolve) => {
      const tick = () => {
        const p = this.pending()
        const hubGaveUp = !persist && this.hub !== null && this.hub.failuresSinceExpedite > 0
        const waiting = (hubGaveUp ? 0 : p.hub) + p.server
        if (waiting === 0 || performance.now() >= deadline) {
          resolve({ delivered: p.hub + p.server === 0, pending: p.hub + p.server })
          return
        }
        // a ref'd timer on purpose: at exit it keeps the process up until acked or the deadline
        setTimeout(tick, 10)
      }
      tick()
    })
  }

  private shutdown(): void {
    try {
      this.hub?.close()
      this.server?.close()
      this.metrics.stop()
      removeExitHooks(this)
    } catch (e) {
      this.warn.once('internal', `internal error while closing: ${String(e)}`)
    }
  }

  private onDrop(n: number): void {
    this.droppedSinceReport += n
    this.droppedTotal += n
    this.warn.once('dropped', 'a delivery buffer is full: dropping the oldest events (counted in the next process event)')
  }
}
