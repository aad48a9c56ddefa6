/**
 * Per-application, per-process time series for the dashboard's services panel (issue 5 part 4,
 * issue 6): bytes/s in and out, DB rows/s read and written, jobs finished and failed per minute
 * with p50 / p95 / p99 durations, CPU, memory and event-loop lag, by minute.
 *
 * It is an `IngestListener` that folds the trackers' `bytes`, `db`, `job` and `process` events into
 * per-minute buckets in memory (24 h per process, 60 min per job name), so the query costs no
 * database scan. What it does not do yet: survive a hub restart (that needs the same buckets in
 * the store's rollups, a Store method of their own).
 *
 * `GET /api/processes?range=1h` → `{ from, to, processes: [ProcessSeries…] }`
 */
import type { ErrorCode } from '../../protocol/errors'
import type { LivestatsEvent } from '../../protocol/schema'
import { percentile } from '../../tracker/histogram'
import type { Router } from '../http/router'
import type { Ingest } from '../ingest/pipeline'
import type { Accepted, IngestListener } from '../ingest/types'
import { json } from '../http/reply'
import { LivestatsError } from '../../protocol/errors'

const MINUTE = 60_000
const KEEP_MINUTES = 24 * 60
const KEEP_JOB_MINUTES = 60
const MAX_PROCESSES = 1000
const SEEN_IDS = 20_000

interface Minute {
  t: number
  sent: number
  received: number
  read: number
  written: number
  jobs: number
  failed: number
  hist: number[]
  min: number
  max: number
  cpu: number
  rss: number
  heapUsed: number
  lag: number
  samples: number
}

interface JobMinute {
  t: number
  count: number
  failed: number
  sum: number
  min: number
  max: number
  hist: number[]
  error: string | null
}

interface Proc {
  key: string
  app: string
  instance: string
  lastSeen: number
  minutes: Minute[]
  jobs: Map<string, JobMinute[]>
}

/** One minute of a process, as the API returns it (rates per second, durations in ms). */
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
}

export interface JobStats {
  name: string
  count: number
  failed: number
  perMinute: number
  p50: number
  p95: number
  p99: number
  max: number
  lastError: string | null
}

export interface ProcessSeries {
  key: string
  app: string
  instance: string
  lastSeen: number
  points: ProcessPoint[]
  /** Per job name over the last hour of the range (at most 60 minutes). */
  jobs: JobStats[]
}

function addHist(into: number[], h: readonly number[]): void {
  for (let i = 0; i < h.length; i++) into[i] = (into[i] ?? 0) + (h[i] ?? 0)
}

function newMinute(t: number): Minute {
  return { t, sent: 0, received: 0, read: 0, written: 0, jobs: 0, failed: 0, hist: [], min: Infinity, max: 0,
    cpu: 0, rss: 0, heapUsed: 0, lag: 0, samples: 0 }
}

/** The bucket for minute `t` at the end of a time-ordered list (late samples fold into the latest). */
function bucketAt<T extends { t: number }>(list: T[], t: number, make: (t: number) => T, keep: number): T {
  const last = list[list.length - 1]
  if (last !== undefined && last.t >= t) {
    for (let i = list.length - 1; i >= 0; i--) {
      const b = list[i] as T
      if (b.t === t) return b
      if (b.t < t) break
    }
    return last
  }
  const b = make(t)
  list.push(b)
  if (list.length > keep) list.splice(0, list.length - keep)
  return b
}

export class ProcessSeriesStore implements IngestListener {
  private readonly procs = new Map<string, Proc>()
  private seen = new Set<string>()
  private seenOld = new Set<string>()

  accept(item: Accepted): ErrorCode | null {
    const ev = item.event as LivestatsEvent
    if (ev.type !== 'bytes' && ev.type !== 'db' && ev.type !== 'job' && ev.type !== 'process') return null
    // a resend (tracker reconnect) carries the same id: count it once
    if (this.seen.has(ev.id) || this.seenOld.has(ev.id)) return null
    this.seen.add(ev.id)
    if (this.seen.size >= SEEN_IDS) {
      this.seenOld = this.seen
      this.seen = new Set()
    }
    const ts = item.row?.ts ?? item.ts
    const t = ts - (ts % MINUTE)
    const p = this.proc(ev.app, ev.instance, ts)
    const m = bucketAt(p.minutes, t, newMinute, KEEP_MINUTES)
    switch (ev.type) {
      case 'bytes':
        m.sent += ev.sent
        m.received += ev.received
        break
      case 'db':
        m.read += ev.read
        m.written += ev.written
        break
      case 'job': {
        m.jobs += ev.count
        m.failed += ev.failed
        addHist(m.hist, ev.hist)
        if (ev.count > 0) {
          m.min = Math.min(m.min, ev.min)
          m.max = Math.max(m.max, ev.max)
        }
        let list = p.jobs.get(ev.name)
        if (list === undefined) p.jobs.set(ev.name, (list = []))
        const j = bucketAt(list, t, (tt) => ({ t: tt, count: 0, failed: 0, sum: 0, min: Infinity, max: 0, hist: [], error: null }), KEEP_JOB_MINUTES)
        j.count += ev.count
        j.failed += ev.failed
        j.sum += ev.sum
        if (ev.count > 0) {
          j.min = Math.min(j.min, ev.min)
          j.max = Math.max(j.max, ev.max)
        }
        addHist(j.hist, ev.hist)
        if (ev.error !== undefined) j.error = ev.error
        break
      }
      case 'process':
        m.cpu += ev.cpu
        m.rss = ev.rss
        m.heapUsed = ev.heapUsed
        m.lag = Math.max(m.lag, ev.lag)
        m.samples++
        break
    }
    return null
  }

  connectionClosed(): void {}

  private proc(app: string, instance: string, ts: number): Proc {
    const key = `${app}/${instance}`
    let p = this.procs.get(key)
    if (p === undefined) {
      if (this.procs.size >= MAX_PROCESSES) this.evictOldest()
      p = { key, app, instance, lastSeen: ts, minutes: [], jobs: new Map() }
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
        })
      }
      const jobs: JobStats[] = []
      const jobFrom = Math.max(from, to - 60 * MINUTE)
      for (const [name, list] of p.jobs) {
        let count = 0, failed = 0, max = 0, minV = Infinity, first = Infinity
        let error: string | null = null
        const hist: number[] = []
        for (const j of list) {
          if (j.t + MINUTE <= jobFrom || j.t >= to) continue
          count += j.count
          failed += j.failed
          max = Math.max(max, j.max)
          minV = Math.min(minV, j.min)
          first = Math.min(first, j.t)
          addHist(hist, j.hist)
          if (j.error !== null) error = j.error
        }
        if (count === 0) continue
        const minutes = Math.max(1, (to - Math.max(first, jobFrom)) / MINUTE)
        const lo = minV === Infinity ? 0 : minV
        jobs.push({
          name, count, failed, perMinute: count / minutes, max, lastError: error,
          p50: percentile(hist, 0.5, lo, max), p95: percentile(hist, 0.95, lo, max), p99: percentile(hist, 0.99, lo, max),
        })
      }
      jobs.sort((a, b) => b.count - a.count)
      out.push({ key: p.key, app: p.app, instance: p.instance, lastSeen: p.lastSeen, points, jobs })
    }
    out.sort((a, b) => (a.key < b.key ? -1 : 1))
    return out
  }
}

function rangeOf(q: URLSearchParams, now: number): { from: number; to: number } {
  const r = q.get('range') ?? '1h'
  const m = /^(\d{1,4})([mh])$/.exec(r)
  if (m === null) throw new LivestatsError('LS_ERR_BAD_QUERY', `range must look like 15m or 1h (at most 24h), got "${r}"`)
  const span = Number(m[1]) * (m[2] === 'h' ? 3_600_000 : MINUTE)
  return { from: now - Math.min(span, KEEP_MINUTES * MINUTE), to: now + 1 }
}

/**
 * Adds the process-series listener to ingest and `GET /api/processes` to the router.
 * @example
 * wireProcessSeries(hub) // in hub.ts, after wireLive(this)
 */
export function wireProcessSeries(hub: { router: Router; ingest: Ingest }): ProcessSeriesStore {
  const store = new ProcessSeriesStore()
  hub.ingest.listeners.push(store)
  hub.router.on('GET', '/api/processes', (_req, res, url) => {
    const now = Date.now()
    const { from, to } = rangeOf(url.searchParams, now)
    json(res, 200, { from, to, processes: store.query(from, to, url.searchParams.get('app')) })
  }, { auth: true })
  return store
}
