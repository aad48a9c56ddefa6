/**
 * Job aggregates: per-name duration histograms, the running-job list, and the job handles
 * `job.start()` returns. Everything here runs on the host's hot path: no allocation besides
 * the handle itself, no hashing besides one Map lookup of the name.
 */
import { cutText } from '../protocol/cut'
import { DEFAULT_LIMITS, OTHER_JOB_NAME } from '../protocol/limits'
import { BUCKET_COUNT, bucketOf } from '../protocol/histogram'
import type { TrackerJob } from './types'
import type { Warner } from './warn'

export const OTHER = OTHER_JOB_NAME
const MAX_NAME = DEFAULT_LIMITS.maxShortLength
const MAX_ERROR = DEFAULT_LIMITS.maxTextLength

/** Jobs of one name finished since the last flush. */
export class JobAgg {
  count = 0
  failed = 0
  sum = 0
  min = Infinity
  max = 0
  error: string | undefined = undefined
  readonly hist: number[] = new Array<number>(BUCKET_COUNT).fill(0)
  constructor(readonly name: string) {}

  record(ms: number, error: unknown): void {
    if (!(ms > 0)) ms = 0 // negative (a `start` in the future) or NaN
    this.count++
    this.sum += ms
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
    ;(this.hist[bucketOf(ms)] as number)++
    if (error) {
      this.failed++
      this.error = errorText(error)
    }
  }

  reset(): void {
    this.count = this.failed = this.sum = this.max = 0
    this.min = Infinity
    this.error = undefined
    this.hist.fill(0)
  }
}

function errorText(error: unknown): string {
  let s: string
  try {
    s = error instanceof Error ? `${error.name}: ${error.message}` : typeof error === 'string' ? error : 'failed'
  } catch {
    s = 'failed'
  }
  return cutText(s, MAX_ERROR)
}

/** Distinct job names, capped: past `cap` names, jobs are counted under `(other)`. */
export class JobTable {
  readonly byName = new Map<string, JobAgg>()
  private other: JobAgg | null = null
  constructor(private readonly cap: number, private readonly warn: Warner) {}

  /** The slow path of `job.start`: a name not seen yet, too long, or not a string. */
  resolve(name: unknown): JobAgg {
    let s: string
    if (typeof name === 'string' && name !== '') s = name
    else if (typeof name === 'number' || typeof name === 'bigint') s = String(name)
    else {
      this.warn.once('job-name', `job.start() needs a name (a non-empty string); got ${describe(name)}, counted as "(unnamed)"`)
      s = '(unnamed)'
    }
    if (s.length > MAX_NAME) {
      this.warn.once('job-name-too-long', `a job name of ${s.length} characters was cut to ${MAX_NAME}`)
      s = cutText(s, MAX_NAME)
    }
    const known = this.byName.get(s)
    if (known !== undefined) return known
    if (this.byName.size < this.cap) {
      const agg = new JobAgg(s)
      this.byName.set(s, agg)
      return agg
    }
    this.warn.once('job-names-capped', `more than ${this.cap} distinct job names: later ones are counted as "${OTHER}"`)
    if (this.other === null) this.other = new JobAgg(OTHER)
    return this.other
  }

  /** Aggregates with activity since the last flush (`(other)` last). */
  *active(): Generator<JobAgg> {
    for (const a of this.byName.values()) if (a.count > 0) yield a
    if (this.other !== null && this.other.count > 0) yield this.other
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array'
  return typeof v === 'object' ? 'an object' : typeof v === 'string' ? 'a string' : String(typeof v === 'symbol' ? 'a symbol' : v)
}

/**
 * Jobs started and not stopped, as an intrusive doubly-linked list (O(1) insert and remove,
 * no hashing). Past `cap` tracked jobs, new ones are counted but not listed: a leak of jobs
 * that are never stopped then costs a counter, not memory.
 */
export class RunningList {
  head: RunningJob | null = null
  tail: RunningJob | null = null
  count = 0
  linked = 0
  /** Set when a job with an explicit earlier `start` was appended, so list order is not start order. */
  unordered = false
  constructor(readonly cap: number, readonly now: () => number, readonly warn: Warner) {}

  /** Up to `max` running jobs, oldest first, as `{ name, started }` in epoch ms. */
  oldest(max: number, epochOffset: number): Array<{ name: string; started: number }> {
    const out: RunningJob[] = []
    for (let j = this.head; j !== null; j = j.next) {
      out.push(j)
      if (!this.unordered && out.length >= max) break
    }
    if (this.unordered) out.sort((a, b) => a.t0 - b.t0)
    const n = Math.min(max, out.length)
    const res = new Array<{ name: string; started: number }>(n)
    for (let i = 0; i < n; i++) {
      const j = out[i] as RunningJob
      res[i] = { name: j.name, started: Math.round(j.t0 + epochOffset) }
    }
    if (this.head === null) this.unordered = false
    return res
  }
}

/** The handle `job.start()` returns. Monomorphic class: V8 keeps it cheap to create and stop. */
export class RunningJob implements TrackerJob {
  prev: RunningJob | null = null
  next: RunningJob | null = null
  linked = false
  stopped = false
  constructor(
    private readonly agg: JobAgg,
    readonly t0: number,
    private readonly list: RunningList,
  ) {
    list.count++
    if (list.linked >= list.cap) {
      list.warn.once('running-capped', `more than ${list.cap} jobs running at once: the rest are counted, not listed`)
      return
    }
    this.linked = true
    list.linked++
    const tail = list.tail
    if (tail === null) list.head = this
    else {
      tail.next = this
      this.prev = tail
      if (t0 < tail.t0) list.unordered = true
    }
    list.tail = this
  }

  get name(): string {
    return this.agg.name
  }

  stop(error?: unknown): void {
    try {
      if (this.stopped) {
        this.list.warn.once('job-stop-twice', `job "${this.agg.name}" was stopped twice; the second stop() is ignored`)
        return
      }
      this.stopped = true
      const list = this.list
      list.count--
      if (this.linked) {
        const { prev, next } = this
        if (prev === null) list.head = next
        else prev.next = next
        if (next === null) list.tail = prev
        else next.prev = prev
        this.prev = this.next = null
        list.linked--
      }
      this.agg.record(list.now() - this.t0, error)
    } catch (e) {
      this.list.warn.once('internal', `internal error in job.stop(): ${String(e)}`)
    }
  }
}

/** Returned when `job.start()` itself failed: stopping it does nothing. */
export const NOOP_JOB: TrackerJob = Object.freeze({ name: '(unnamed)', stop() {} })
