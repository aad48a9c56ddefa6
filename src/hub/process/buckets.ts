/**
 * The buckets the process-series fold keeps per Node process: minutes (24 h), per-job-name minutes
 * (1 h) and one-second slots (the live 60 s window), with the small functions that fill and read them.
 */
import { percentile } from '../../protocol/histogram'
import type { JobStats, ProcessRates } from '../presence/types'
import type { ProcessMinute } from '../store/types'
import { figures, fromStored, mergeHttp, newHttpAgg, toStored, type HttpAgg, type RouteStats } from './http'

export const MINUTE = 60_000
export const KEEP_MINUTES = 24 * 60
export const KEEP_JOB_MINUTES = 60
export const MAX_PROCESSES = 1000
export const SEEN_IDS = 20_000
/** The live rates' window: this many one-second slots. */
export const SLOTS = 60
/** Rates are recomputed at most this often per process; samples in between reuse them. */
export const RATES_EVERY_MS = 1000
/** Job names listed in the live rates (most finished first). */
export const MAX_RATE_JOBS = 50

/** One minute of a process while it is open: the stored row without its keys, `min` Infinity until a job ends. */
export type Minute = Omit<ProcessMinute, 'app' | 'instance' | 'min' | 'http'> & { min: number; http: HttpAgg | null }

/** One minute of one method + route. */
export interface RouteMinute extends HttpAgg {
  t: number
}

/** Running totals since the hub started, for `/metrics` counters (bounded like the names they count). */
export interface Totals {
  sent: number
  received: number
  read: number
  written: number
  /** Per job name: finished, failed, duration sum (ms) and histogram. */
  jobs: Map<string, { count: number; failed: number; sum: number; hist: number[] }>
  /** Per `method route`: responses, status classes and response-time histogram. */
  http: Map<string, HttpAgg & { method: string; route: string }>
}

/** The latest `process` sample's figures. */
export interface LastSample {
  cpu: number
  cpuTime: number | null
  rss: number
  heapUsed: number
  heapTotal: number
  lag: number
  runningCount: number
}

export interface JobMinute {
  t: number
  count: number
  failed: number
  sum: number
  min: number
  max: number
  hist: number[]
  error: string | null
}

/** One second of a process, for the live rates; reused in place when its second comes round again. */
export interface Slot {
  sec: number
  sent: number
  received: number
  read: number
  written: number
  finished: number
  failed: number
  hist: number[]
  min: number
  max: number
  /** Per job name: finished and failed in this second (the panel's per-job counts add up to the totals). */
  names: Map<string, { finished: number; failed: number }>
  /** HTTP responses reported in this second, and per `method route` their count. */
  http: HttpAgg | null
  routes: Map<string, number>
}

export interface Proc {
  key: string
  app: string
  instance: string
  /** The machine, from its `process` samples; null until one arrives (and for minutes read back from the store). */
  host: string | null
  /** First event the hub folded for it (a young window averages over less than 60 s). */
  since: number
  lastSeen: number
  minutes: Minute[]
  /**
   * Per job name: at most `maxJobNames` names (plus `(other)`, which takes the rest), so a tracker
   * that sends thousands of names cannot grow the hub's memory or `/api/processes` (issue 10.8).
   */
  jobs: Map<string, JobMinute[]>
  /** When names idle for `KEEP_JOB_MINUTES` were last dropped to make room (at most once a minute). */
  namesSweptAt: number
  /** Ring of the last `SLOTS` seconds, indexed by `second % SLOTS`. */
  slots: Slot[]
  rates: ProcessRates | null
  /** Per `method route`: at most `maxHttpRoutes` named ones, plus `(unmatched)` and `(other)` of each method. */
  routes: Map<string, RouteMinute[]>
  routesSweptAt: number
  totals: Totals
  last: LastSample | null
}

export function addHist(into: number[], h: readonly number[]): void {
  for (let i = 0; i < h.length; i++) into[i] = (into[i] ?? 0) + (h[i] ?? 0)
}

/** Folds a `job` event's durations (histogram, min, max) into a minute, job minute or slot. */
export function addDurations(into: { hist: number[]; min: number; max: number }, ev: { count: number; hist: readonly number[]; min: number; max: number }): void {
  addHist(into.hist, ev.hist)
  if (ev.count > 0) {
    into.min = Math.min(into.min, ev.min)
    into.max = Math.max(into.max, ev.max)
  }
}

export function newMinute(t: number): Minute {
  return { t, sent: 0, received: 0, read: 0, written: 0, jobs: 0, failed: 0, hist: [], min: Infinity, max: 0,
    cpu: 0, rss: 0, heapUsed: 0, lag: 0, samples: 0, http: null }
}

/** The slot of second `ts`, emptied if it held an older second; null for a second already out of the window. */
export function slotAt(slots: Slot[], ts: number): Slot | null {
  const sec = Math.floor(ts / 1000)
  const i = sec % SLOTS
  let s = slots[i]
  if (s === undefined) {
    s = slots[i] = { sec, sent: 0, received: 0, read: 0, written: 0, finished: 0, failed: 0, hist: [], min: Infinity, max: 0, names: new Map(), http: null, routes: new Map() }
  } else if (s.sec !== sec) {
    if (sec < s.sec) return null
    s.sec = sec
    s.sent = s.received = s.read = s.written = s.finished = s.failed = s.max = 0
    s.min = Infinity
    s.hist.length = 0
    s.names.clear()
    s.http = null
    s.routes.clear()
  }
  return s
}

/** The bucket for minute `t` at the end of a time-ordered list (late samples fold into the latest). */
export function bucketAt<T extends { t: number }>(list: T[], t: number, make: (t: number) => T, keep: number): T {
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

export const PERSIST_MS = 10_000

export function toRow(p: Proc, m: Minute): ProcessMinute {
  return {
    app: p.app, instance: p.instance, t: m.t, sent: m.sent, received: m.received, read: m.read, written: m.written,
    jobs: m.jobs, failed: m.failed, hist: m.hist.slice(), min: m.min === Infinity ? null : m.min, max: m.max,
    cpu: m.cpu, rss: m.rss, heapUsed: m.heapUsed, lag: m.lag, samples: m.samples, http: m.http === null ? null : toStored(m.http),
  }
}

/** A stored minute back into memory. */
export function fromRow(r: ProcessMinute): Minute {
  const { app: _a, instance: _i, ...rest } = r
  return { ...rest, min: r.min ?? Infinity, hist: r.hist.slice(), http: r.http ? fromStored(r.http) : null }
}

/** Per method + route over the last hour of `[from, to)`, most requests first. */
export function routeStats(p: Proc, from: number, to: number): RouteStats[] {
  const out: RouteStats[] = []
  const routeFrom = Math.max(from, to - 60 * MINUTE)
  for (const [key, list] of p.routes) {
    const agg = newHttpAgg()
    let first = Infinity
    for (const r of list) {
      if (r.t + MINUTE <= routeFrom || r.t >= to) continue
      mergeHttp(agg, r)
      first = Math.min(first, r.t)
    }
    if (agg.requests === 0) continue
    const sp = key.indexOf(' ')
    const secs = Math.max(60, (to - Math.max(first, routeFrom)) / 1000)
    out.push({ method: key.slice(0, sp), route: key.slice(sp + 1), ...figures(agg, secs) })
  }
  return out.sort((a, b) => b.requests - a.requests)
}

/** Per job name over the last hour of `[from, to)`, most finished first. */
export function jobStats(p: Proc, from: number, to: number): JobStats[] {
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
  return jobs.sort((a, b) => b.count - a.count)
}

