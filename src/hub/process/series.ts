/**
 * Per-application, per-process time series for the dashboard's services panel (issue 5 part 4,
 * issue 6): bytes/s in and out, DB rows/s read and written, jobs finished and failed per minute
 * with p50 / p95 / p99 durations, CPU, memory and event-loop lag, by minute.
 *
 * It is an `IngestListener` that folds the trackers' `bytes`, `db`, `job` and `process` events into
 * per-minute buckets in memory (24 h per process, 60 min per job name), so the query costs no
 * database scan. The minutes are written to the store's `process_minute` rollup every
 * `PERSIST_MS` and at close, and read back at start, so the history survives a restart (a SIGKILL
 * loses at most the last `PERSIST_MS` of the series; the raw events themselves are in the store).
 * Per-job-name stats and the 60 s rates are memory only: they refill within the hour / minute.
 *
 * It also keeps the last 60 seconds of each process in one-second slots, and hands the live channel
 * the process's current rates (`ProcessRates`: 60 s sliding window, plus per job name over the last
 * hour) on each of its `process` samples, recomputed at most once a second: the view presence
 * publishes for that sample carries them (see `sampleRates`), so rates are pushed, never polled.
 * `GET /api/processes` (src/hub/api/process.ts) reads it.
 */
import type { ErrorCode } from '../../protocol/errors'
import type { LivestatsEvent } from '../../protocol/schema'
import { DEFAULT_LIMITS, OTHER_JOB_NAME, UNMATCHED_ROUTE } from '../../protocol/limits'
import { percentile } from '../../protocol/histogram'
import type { Logger } from '../config'
import type { Accepted, IngestListener } from '../ingest/types'
import { sampleRates } from '../presence/processes'
import type { JobStats, ProcessRates } from '../presence/types'
import type { Store } from '../store/types'
import {
  KEEP_MINUTES, MAX_PROCESSES, MAX_RATE_JOBS, MINUTE, PERSIST_MS, RATES_EVERY_MS, SEEN_IDS, SLOTS, KEEP_JOB_MINUTES,
  addDurations, addHist, bucketAt, fromRow, jobStats, newMinute, routeStats, slotAt, toRow, type Minute, type Proc,
} from './buckets'
import { addHttp, figures, mergeHttp, newHttpAgg, type HttpAgg, type HttpFigures, type RouteStats } from './http'
import type { HttpRouteSample } from '../../protocol/schema'

export type { JobStats } from '../presence/types'

export interface ProcessPoint {
  t: number
  sentPerSec: number
  receivedPerSec: number
  readPerSec: number
  writtenPerSec: number
  jobs: number
  failed: number
  p50: number
  p95: number
  p99: number
  cpu: number | null
  rss: number | null
  heapUsed: number | null
  lag: number | null
  /** HTTP responses of the minute (`t.http`); null when none were reported. */
  http: HttpFigures | null
}

export interface ProcessSeries {
  key: string
  app: string
  instance: string
  /** The machine it runs on, once a `process` sample said so since the hub started; else null. */
  host: string | null
  lastSeen: number
  points: ProcessPoint[]
  /** Per job name over the last hour of the range (at most 60 minutes). */
  jobs: JobStats[]
  /** Per method + route over the last hour of the range (at most 60 minutes), most requests first. */
  routes: RouteStats[]
}


export class ProcessSeriesStore implements IngestListener {
  private readonly procs = new Map<string, Proc>()
  /** Minutes changed since the last write to the store, with their process. */
  private dirty = new Map<Minute, Proc>()
  private timer: NodeJS.Timeout | null = null

  /** Job events counted under `(other)` because their process had `maxJobNames` names (on `/metrics`). */
  foldedJobs = 0
  /** HTTP route entries counted under `(other)` because their process had `maxHttpRoutes` routes (on `/metrics`). */
  foldedRoutes = 0

  /** @param maxJobNames distinct job names kept per process; the rest are counted as `(other)`. @default 100 */
  constructor(
    private readonly store: Store | null = null,
    private readonly logger: Logger | null = null,
    private readonly maxJobNames: number = DEFAULT_LIMITS.maxJobNames,
    private readonly maxHttpRoutes: number = DEFAULT_LIMITS.maxHttpRoutes,
  ) {}

  /** Reads the last 24 h of minutes back from the store and starts writing changes every PERSIST_MS. */
  async load(now: number = Date.now()): Promise<void> {
    if (this.store === null) return
    for (const r of await this.store.processMinutes(now - KEEP_MINUTES * MINUTE, now + MINUTE)) {
      const p = this.proc(r.app, r.instance, r.t)
      if (r.t < p.since) p.since = r.t
      const m = bucketAt(p.minutes, r.t, newMinute, KEEP_MINUTES)
      Object.assign(m, fromRow(r))
    }
    this.timer = setInterval(() => void this.persist(), PERSIST_MS)
    this.timer.unref()
  }

  /** Writes the changed minutes; errors are logged, the minutes stay dirty for the next try. */
  async persist(): Promise<void> {
    if (this.store === null || this.dirty.size === 0) return
    const batch = this.dirty
    this.dirty = new Map()
    try {
      await this.store.appendProcessMinutes([...batch].map(([m, p]) => toRow(p, m)))
    } catch (err) {
      for (const [m, p] of batch) if (!this.dirty.has(m)) this.dirty.set(m, p)
      this.logger?.error('livestats: could not write process minutes', err)
    }
  }

  /** Stops the timer and writes what changed (hub close). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    await this.persist()
  }
  private seen = new Set<string>()
  private seenOld = new Set<string>()

  accept(item: Accepted): ErrorCode | null {
    const ev = item.event as LivestatsEvent
    if (ev.type !== 'bytes' && ev.type !== 'db' && ev.type !== 'job' && ev.type !== 'process') return null
    // a resend (tracker reconnect) carries the same id: count it once. Ids are unique per app (as
    // in the store), so another app's event with the same id is not a resend
    const seenKey = `${ev.app}\0${ev.id}`
    if (this.seen.has(seenKey) || this.seenOld.has(seenKey)) return null
    this.seen.add(seenKey)
    if (this.seen.size >= SEEN_IDS) {
      this.seenOld = this.seen
      this.seen = new Set()
    }
    const ts = item.row?.ts ?? item.ts
    const t = ts - (ts % MINUTE)
    const p = this.proc(ev.app, ev.instance, ts)
    const m = bucketAt(p.minutes, t, newMinute, KEEP_MINUTES)
    if (this.store !== null) this.dirty.set(m, p)
    const s = ev.type === 'process' && ev.http === undefined ? null : slotAt(p.slots, ts)
    const tot = p.totals
    switch (ev.type) {
      case 'bytes':
        tot.sent += ev.sent
        tot.received += ev.received
        m.sent += ev.sent
        m.received += ev.received
        if (s !== null) {
          s.sent += ev.sent
          s.received += ev.received
        }
        break
      case 'db':
        tot.read += ev.read
        tot.written += ev.written
        m.read += ev.read
        m.written += ev.written
        if (s !== null) {
          s.read += ev.read
          s.written += ev.written
        }
        break
      case 'job': {
        const name = this.jobName(p, ev.name, ts)
        let jt = tot.jobs.get(name)
        if (jt === undefined) {
          // names swept after an idle hour make room for new ones in `p.jobs`; the totals (counters on
          // `/metrics`, which must only grow) keep the first `maxJobNames` names and count later ones as `(other)`
          const key = tot.jobs.size < this.maxJobNames ? name : OTHER_JOB_NAME
          jt = tot.jobs.get(key)
          if (jt === undefined) tot.jobs.set(key, (jt = { count: 0, failed: 0, sum: 0, hist: [] }))
        }
        jt.count += ev.count
        jt.failed += ev.failed
        jt.sum += ev.sum
        addHist(jt.hist, ev.hist)
        m.jobs += ev.count
        m.failed += ev.failed
        addDurations(m, ev)
        if (s !== null) {
          s.finished += ev.count
          s.failed += ev.failed
          addDurations(s, ev)
          const n = s.names.get(name)
          if (n === undefined) s.names.set(name, { finished: ev.count, failed: ev.failed })
          else {
            n.finished += ev.count
            n.failed += ev.failed
          }
        }
        let list = p.jobs.get(name)
        if (list === undefined) p.jobs.set(name, (list = []))
        const j = bucketAt(list, t, (tt) => ({ t: tt, count: 0, failed: 0, sum: 0, min: Infinity, max: 0, hist: [], error: null }), KEEP_JOB_MINUTES)
        j.count += ev.count
        j.failed += ev.failed
        j.sum += ev.sum
        addDurations(j, ev)
        if (ev.error !== undefined) j.error = ev.error
        break
      }
      case 'process':
        if (ev.http !== undefined) this.foldHttp(p, m, s, ev.http, t, ts)
        p.last = {
          cpu: ev.cpu, cpuTime: ev.cpuTime ?? null, rss: ev.rss, heapUsed: ev.heapUsed, heapTotal: ev.heapTotal,
          lag: ev.lag, runningCount: ev.runningCount,
        }
        p.host = ev.host
        m.cpu += ev.cpu
        m.rss = ev.rss
        m.heapUsed = ev.heapUsed
        m.lag = Math.max(m.lag, ev.lag)
        m.samples++
        // the tracker sends its sample last in each flush: the rates below include that flush
        sampleRates.set(ev, this.ratesOf(p, ts))
        break
    }
    return null
  }

  /** Folds a `process` sample's HTTP routes into the minute, the second, each route's minutes and the totals. */
  private foldHttp(p: Proc, m: Minute, s: ReturnType<typeof slotAt>, http: readonly HttpRouteSample[], t: number, ts: number): void {
    for (const r of http) {
      if (r.count <= 0) continue
      const key = this.routeKey(p, r.method, r.route, ts)
      addHttp(m.http ??= newHttpAgg(), r)
      if (s !== null) {
        addHttp(s.http ??= newHttpAgg(), r)
        s.routes.set(key, (s.routes.get(key) ?? 0) + r.count)
      }
      let list = p.routes.get(key)
      if (list === undefined) p.routes.set(key, (list = []))
      addHttp(bucketAt(list, t, (tt) => ({ t: tt, ...newHttpAgg() }), KEEP_JOB_MINUTES), r)
      let tot = p.totals.http.get(key)
      if (tot === undefined) {
        const sp = key.indexOf(' ')
        const special = r.route === OTHER_JOB_NAME || r.route === UNMATCHED_ROUTE || key.endsWith(` ${OTHER_JOB_NAME}`)
        const k = special || p.totals.http.size < this.maxHttpRoutes ? key : `${key.slice(0, sp)} ${OTHER_JOB_NAME}`
        tot = p.totals.http.get(k)
        if (tot === undefined) p.totals.http.set(k, (tot = { method: k.slice(0, sp), route: k.slice(sp + 1), ...newHttpAgg() }))
      }
      addHttp(tot, r)
    }
  }

  /**
   * The key (`method route`) a route entry is counted under: its own while the process has fewer
   * than `maxHttpRoutes` named routes, else `method (other)`, as the tracker does; routes idle for an
   * hour leave first. `(unmatched)` and `(other)` never count against the cap.
   */
  private routeKey(p: Proc, method: string, route: string, now: number): string {
    const key = `${method} ${route}`
    if (p.routes.has(key) || route === OTHER_JOB_NAME || route === UNMATCHED_ROUTE) return key
    const special = (k: string) => k.endsWith(` ${OTHER_JOB_NAME}`) || k.endsWith(` ${UNMATCHED_ROUTE}`)
    const named = (): number => { let n = 0; for (const k of p.routes.keys()) if (!special(k)) n++; return n }
    if (named() >= this.maxHttpRoutes && now - p.routesSweptAt >= MINUTE) {
      p.routesSweptAt = now
      const idle = now - KEEP_JOB_MINUTES * MINUTE
      for (const [k, list] of p.routes) if (!special(k) && (list[list.length - 1]?.t ?? 0) + MINUTE <= idle) p.routes.delete(k)
    }
    if (named() < this.maxHttpRoutes) return key
    this.foldedRoutes++
    return `${method} ${OTHER_JOB_NAME}`
  }

  /** The live rates of a process at `now`: the cached ones when computed under a second ago. */
  private ratesOf(p: Proc, now: number): ProcessRates {
    if (p.rates !== null && now - p.rates.at < RATES_EVERY_MS && now >= p.rates.at) return p.rates
    const nowSec = Math.floor(now / 1000)
    let sent = 0, received = 0, read = 0, written = 0, finished = 0, failed = 0, max = 0, min = Infinity
    const hist: number[] = []
    const byName = new Map<string, { finished: number; failed: number }>()
    const http: HttpAgg = newHttpAgg()
    const byRoute = new Map<string, number>()
    for (const s of p.slots) {
      if (s === undefined || s.sec <= nowSec - SLOTS || s.sec > nowSec) continue
      if (s.http !== null) {
        mergeHttp(http, s.http)
        for (const [k, n] of s.routes) byRoute.set(k, (byRoute.get(k) ?? 0) + n)
      }
      for (const [name, n] of s.names) {
        const b = byName.get(name)
        if (b === undefined) byName.set(name, { finished: n.finished, failed: n.failed })
        else {
          b.finished += n.finished
          b.failed += n.failed
        }
      }
      sent += s.sent
      received += s.received
      read += s.read
      written += s.written
      finished += s.finished
      failed += s.failed
      if (s.finished > 0) {
        addHist(hist, s.hist)
        min = Math.min(min, s.min)
        max = Math.max(max, s.max)
      }
    }
    const secs = Math.max(1, Math.min(SLOTS, nowSec - Math.floor(p.since / 1000) + 1))
    const lo = min === Infinity ? 0 : min
    const rates: ProcessRates = {
      at: now, windowMs: secs * 1000,
      sentPerSec: sent / secs, receivedPerSec: received / secs, readPerSec: read / secs, writtenPerSec: written / secs,
      finished, failed,
      p50: percentile(hist, 0.5, lo, max), p95: percentile(hist, 0.95, lo, max), p99: percentile(hist, 0.99, lo, max),
      // each name's last 60 s beside its hour: the per-name counts add up to `finished` and `failed`
      jobs: jobStats(p, now - 60 * MINUTE, now + 1).slice(0, MAX_RATE_JOBS)
        .map((j) => ({ ...j, recent: byName.get(j.name) ?? { finished: 0, failed: 0 } })),
    }
    if (p.routes.size > 0) {
      rates.http = {
        ...figures(http, secs),
        routes: routeStats(p, now - 60 * MINUTE, now + 1).slice(0, MAX_RATE_JOBS)
          .map((r) => ({ ...r, recent: byRoute.get(`${r.method} ${r.route}`) ?? 0 })),
      }
    }
    p.rates = rates
    return rates
  }

  connectionClosed(): void {}

  /**
   * The name a job event is counted under: its own while the process has fewer than `maxJobNames`
   * names, else `(other)`, as the tracker does. The hub does not rely on the tracker having capped:
   * any client can post job events. Names idle for an hour leave first, so a long-lived process
   * whose names change over days keeps its current ones.
   */
  private jobName(p: Proc, name: string, now: number): string {
    if (p.jobs.has(name) || name === OTHER_JOB_NAME) return name
    // `(other)` has its own entry beside the `maxJobNames` names
    const named = (): number => p.jobs.size - (p.jobs.has(OTHER_JOB_NAME) ? 1 : 0)
    if (named() >= this.maxJobNames && now - p.namesSweptAt >= MINUTE) {
      p.namesSweptAt = now
      const idle = now - KEEP_JOB_MINUTES * MINUTE
      for (const [n, list] of p.jobs) if (n !== OTHER_JOB_NAME && (list[list.length - 1]?.t ?? 0) + MINUTE <= idle) p.jobs.delete(n)
    }
    if (named() < this.maxJobNames) return name
    this.foldedJobs++
    return OTHER_JOB_NAME
  }

  private proc(app: string, instance: string, ts: number): Proc {
    const key = `${app}/${instance}`
    let p = this.procs.get(key)
    if (p === undefined) {
      if (this.procs.size >= MAX_PROCESSES) this.evictOldest()
      p = {
        key, app, instance, host: null, since: ts, lastSeen: ts, minutes: [], jobs: new Map(), namesSweptAt: 0, slots: [], rates: null,
        routes: new Map(), routesSweptAt: 0, totals: { sent: 0, received: 0, read: 0, written: 0, jobs: new Map(), http: new Map() }, last: null,
      }
      this.procs.set(key, p)
    }
    if (ts > p.lastSeen) p.lastSeen = ts
    return p
  }

  private evictOldest(): void {
    let oldest: Proc | null = null
    for (const p of this.procs.values()) if (oldest === null || p.lastSeen < oldest.lastSeen) oldest = p
    if (oldest !== null) this.procs.delete(oldest.key)
  }

  /** Processes seen since `since`, most recently seen first (for `/metrics`). */
  recent(since: number): readonly Proc[] {
    const out: Proc[] = []
    for (const p of this.procs.values()) if (p.lastSeen >= since) out.push(p)
    return out.sort((a, b) => b.lastSeen - a.lastSeen)
  }

  /** Series of every process seen within `[from, to)`, optionally of one app. */
  query(from: number, to: number, app: string | null = null): ProcessSeries[] {
    const out: ProcessSeries[] = []
    for (const p of this.procs.values()) {
      if (app !== null && p.app !== app) continue
      if (p.lastSeen < from - MINUTE) continue
      const points: ProcessPoint[] = []
      for (const m of p.minutes) {
        if (m.t + MINUTE <= from || m.t >= to) continue
        // the current minute is not over: rate over the part that has passed
        const secs = Math.max(1, Math.min(MINUTE, to - m.t) / 1000)
        const min = m.min === Infinity ? 0 : m.min
        points.push({
          t: m.t,
          sentPerSec: m.sent / secs, receivedPerSec: m.received / secs,
          readPerSec: m.read / secs, writtenPerSec: m.written / secs,
          jobs: m.jobs, failed: m.failed,
          p50: percentile(m.hist, 0.5, min, m.max), p95: percentile(m.hist, 0.95, min, m.max), p99: percentile(m.hist, 0.99, min, m.max),
          cpu: m.samples > 0 ? m.cpu / m.samples : null,
          rss: m.samples > 0 ? m.rss : null,
          heapUsed: m.samples > 0 ? m.heapUsed : null,
          lag: m.samples > 0 ? m.lag : null,
          http: m.http === null ? null : figures(m.http, secs),
        })
      }
      out.push({
        key: p.key, app: p.app, instance: p.instance, host: p.host, lastSeen: p.lastSeen, points,
        jobs: jobStats(p, from, to), routes: routeStats(p, from, to),
      })
    }
    out.sort((a, b) => (a.key < b.key ? -1 : 1))
    return out
  }
}

