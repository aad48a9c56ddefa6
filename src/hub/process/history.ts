/**
 * Services history (issue 15.2): the stored process minutes (`Store.processMinutes`) of the last hour,
 * day or week, folded into steps of 1, 5 or 60 minutes per process, for the Services view's charts of
 * CPU, memory, event-loop lag, bytes, DB rows, jobs and HTTP. Read from the store, so it reaches past
 * the 24 h the fold keeps in memory and survives restarts; the fold writes what changed first, so the
 * current minute is in it.
 */
import { LivestatsError } from '../../protocol/errors'
import { percentile } from '../../protocol/histogram'
import type { ProcessMinute } from '../store/types'
import { MINUTE } from './buckets'
import { figures, mergeHttp, newHttpAgg, type HttpAgg, type HttpFigures } from './http'

/** The ranges the history answers, with the step each is folded into. */
export const HISTORY_RANGES: Readonly<Record<string, { span: number; step: number }>> = Object.freeze({
  '1h': { span: 60 * MINUTE, step: MINUTE },
  '24h': { span: 24 * 60 * MINUTE, step: 5 * MINUTE },
  '7d': { span: 7 * 24 * 60 * MINUTE, step: 60 * MINUTE },
})

/** One step of one process. Rates are per second over the step (the current one: over its elapsed part). */
export interface HistoryPoint {
  /** Step start, ms. */
  t: number
  /** Mean CPU over the samples of the step, % of one core; null without samples (also for memory and lag). */
  cpu: number | null
  /** Highest RSS and heap used of the step's minutes, bytes. */
  rss: number | null
  heapUsed: number | null
  /** Highest event-loop lag of the step, ms. */
  lag: number | null
  sentPerSec: number
  receivedPerSec: number
  readPerSec: number
  writtenPerSec: number
  /** Jobs finished in the step (failed included) and failed. */
  jobs: number
  failed: number
  /** p95 of the step's job durations, ms (0 without jobs). */
  jobP95: number
  /** HTTP responses of the step (`t.http`); null when none. */
  http: HttpFigures | null
}

export interface ProcessHistory {
  key: string
  app: string
  instance: string
  points: HistoryPoint[]
}

interface Acc {
  t: number
  sent: number; received: number; read: number; written: number
  jobs: number; failed: number; hist: number[]; min: number; max: number
  lag: number
  /** Per instance: CPU summed over samples, and peak memory (an app's figures add its instances up). */
  inst: Map<string, { cpu: number; samples: number; rss: number; heapUsed: number }>
  http: HttpAgg | null
}

/** Parses `range` (`1h`, `24h` or `7d`; default `1h`). @throws LivestatsError LS_ERR_BAD_QUERY otherwise */
export function historyRange(raw: string | null, now: number): { range: string; from: number; to: number; step: number } {
  const range = raw ?? '1h'
  const r = HISTORY_RANGES[range]
  if (r === undefined) throw new LivestatsError('LS_ERR_BAD_QUERY', `range must be one of ${Object.keys(HISTORY_RANGES).join(', ')}, got "${range}"`)
  const to = now - (now % MINUTE) + MINUTE
  // whole steps: the first one starts on a step boundary
  const from = to - r.span - ((to - r.span) % r.step)
  return { range, from, to, step: r.step }
}

/**
 * Folds stored minutes (`from <= t < to`) into steps, sorted by key; `app` keeps one application.
 * `by: 'instance'` gives one series per process (`app/instance`); `by: 'app'` one per application
 * (key and instance `*`), its instances added up: rates, counts, CPU (% of one core) and memory summed,
 * lag the highest, quantiles over the merged histograms. A restart makes a new instance (`host:pid`),
 * so a week of one service reads best by app.
 */
export function foldHistory(rows: readonly ProcessMinute[], step: number, now: number, app: string | null = null, by: 'instance' | 'app' = 'instance'): ProcessHistory[] {
  const procs = new Map<string, { app: string; instance: string; steps: Map<number, Acc> }>()
  for (const r of rows) {
    if (app !== null && r.app !== app) continue
    const instance = by === 'app' ? '*' : r.instance
    const key = `${r.app}/${instance}`
    let p = procs.get(key)
    if (p === undefined) procs.set(key, (p = { app: r.app, instance, steps: new Map() }))
    const t = r.t - (r.t % step)
    let a = p.steps.get(t)
    if (a === undefined) {
      p.steps.set(t, (a = { t, sent: 0, received: 0, read: 0, written: 0, jobs: 0, failed: 0, hist: [], min: Infinity, max: 0,
        lag: 0, inst: new Map(), http: null }))
    }
    a.sent += r.sent
    a.received += r.received
    a.read += r.read
    a.written += r.written
    a.jobs += r.jobs
    a.failed += r.failed
    for (let i = 0; i < r.hist.length; i++) a.hist[i] = (a.hist[i] ?? 0) + (r.hist[i] ?? 0)
    if (r.jobs > 0 && r.min !== null) a.min = Math.min(a.min, r.min)
    a.max = Math.max(a.max, r.max)
    let i = a.inst.get(r.instance)
    if (i === undefined) a.inst.set(r.instance, (i = { cpu: 0, samples: 0, rss: 0, heapUsed: 0 }))
    i.cpu += r.cpu
    i.samples += r.samples
    if (r.samples > 0) {
      i.rss = Math.max(i.rss, r.rss)
      i.heapUsed = Math.max(i.heapUsed, r.heapUsed)
      a.lag = Math.max(a.lag, r.lag)
    }
    if (r.http) mergeHttp(a.http ??= newHttpAgg(), r.http)
  }
  const out: ProcessHistory[] = []
  for (const [key, p] of procs) {
    const points: HistoryPoint[] = []
    for (const a of [...p.steps.values()].sort((x, y) => x.t - y.t)) {
      const secs = Math.max(1, Math.min(step, now - a.t) / 1000)
      let cpu = 0, rss = 0, heapUsed = 0, has = false
      for (const i of a.inst.values()) {
        if (i.samples === 0) continue
        has = true
        cpu += i.cpu / i.samples
        rss += i.rss
        heapUsed += i.heapUsed
      }
      points.push({
        t: a.t,
        cpu: has ? cpu : null, rss: has ? rss : null, heapUsed: has ? heapUsed : null, lag: has ? a.lag : null,
        sentPerSec: a.sent / secs, receivedPerSec: a.received / secs, readPerSec: a.read / secs, writtenPerSec: a.written / secs,
        jobs: a.jobs, failed: a.failed, jobP95: percentile(a.hist, 0.95, a.min === Infinity ? 0 : a.min, a.max),
        http: a.http === null ? null : figures(a.http, secs),
      })
    }
    out.push({ key, app: p.app, instance: p.instance, points })
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1))
}
