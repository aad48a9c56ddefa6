/**
 * Job-duration histograms over `JOB_BUCKETS_MS`: one count per upper bound (a duration equal to
 * a bound falls in that bucket, as in Prometheus' `le`) plus one open-ended bucket at the end.
 */
import { JOB_BUCKETS_MS } from './limits'

/** Number of buckets in a job histogram: one per bound plus the open-ended one. */
export const BUCKET_COUNT = JOB_BUCKETS_MS.length + 1

const BOUNDS: Float64Array = Float64Array.from(JOB_BUCKETS_MS)
const LAST = BOUNDS.length

/** Index of the bucket a duration (ms) falls in. Linear: most jobs are short, so it exits early. */
export function bucketOf(ms: number): number {
  let i = 0
  while (i < LAST && ms > (BOUNDS[i] as number)) i++
  return i
}

/**
 * Estimates the `q` quantile (0..1) of a job histogram, interpolating linearly inside the bucket
 * and clamping to the observed `min` and `max` when they are known. Returns 0 for an empty one.
 * @example
 * percentile(event.hist, 0.95, event.min, event.max) // p95 in ms
 */
export function percentile(hist: readonly number[], q: number, min = 0, max = Infinity): number {
  let total = 0
  for (const c of hist) total += c
  if (total === 0) return 0
  const rank = Math.min(Math.max(q, 0), 1) * total
  let seen = 0
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i] as number
    if (c === 0 || seen + c < rank) { seen += c; continue }
    const lo = i === 0 ? 0 : (JOB_BUCKETS_MS[i - 1] as number)
    const hi = i < LAST ? (JOB_BUCKETS_MS[i] as number) : Math.max(lo, max === Infinity ? lo : max)
    const v = lo + ((hi - lo) * (rank - seen)) / c
    return Math.min(Math.max(v, min), max)
  }
  return Math.min(Math.max(JOB_BUCKETS_MS[LAST - 1] as number, min), max)
}
