/** Builds the protocol events of one flush from the in-process aggregates, and resets them. */
import { DEFAULT_LIMITS } from '../protocol/limits'
import { trackerEventId } from './ids'
import type { BytesEvent, DbEvent, JobEvent, ProcessEvent, ProcessSideEvent } from '../protocol/schema'
import type { HttpTable } from './http'
import type { JobTable, RunningList } from './jobs'
import type { ProcessSample } from './process-metrics'
import type { Settings } from './config'

/** Counters the hot path adds to. One object, fixed shape. */
export class Counters {
  sent = 0
  received = 0
  read = 0
  written = 0
}

export interface FlushInput {
  s: Settings
  counters: Counters
  jobs: JobTable
  running: RunningList
  http: HttpTable
  sample: ProcessSample
  /** Drops since the last `process` event. */
  dropped: number
  at: number
  /** Date.now() - performance.now(): turns the monotonic job clock into epoch ms. */
  epochOffset: number
}

export function buildEvents(f: FlushInput): ProcessSideEvent[] {
  const { s, counters: c, at } = f
  const out: ProcessSideEvent[] = []
  const head = () => ({ id: trackerEventId(at), app: s.app, instance: s.instance, at })
  if (c.sent > 0 || c.received > 0) {
    const e: BytesEvent = { type: 'bytes', ...head(), sent: c.sent, received: c.received }
    out.push(e)
    c.sent = c.received = 0
  }
  if (c.read > 0 || c.written > 0) {
    const e: DbEvent = { type: 'db', ...head(), read: c.read, written: c.written }
    out.push(e)
    c.read = c.written = 0
  }
  for (const a of f.jobs.active()) {
    const e: JobEvent = {
      type: 'job',
      ...head(),
      name: a.name,
      count: a.count,
      failed: a.failed,
      sum: round3(a.sum),
      min: round3(a.min),
      max: round3(a.max),
      hist: a.hist.slice(),
    }
    if (a.error !== undefined) e.error = a.error
    out.push(e)
    a.reset()
  }
  const p: ProcessEvent = {
    type: 'process',
    ...head(),
    pid: s.pid,
    host: s.host,
    ...f.sample,
    running: f.running.oldest(DEFAULT_LIMITS.maxRunningJobs, f.epochOffset),
    runningCount: Math.max(0, f.running.count),
  }
  if (f.dropped > 0) p.dropped = f.dropped
  const http = f.http.take()
  if (http !== undefined) p.http = http
  out.push(p)
  return out
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
