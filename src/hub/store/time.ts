/**
 * Bucket math shared by every store. All buckets are UTC: epoch ms is UTC and a day is a whole
 * multiple of an hour and a minute, so flooring by the bucket size gives the UTC bucket start.
 */
import { LivestatsError } from '../../protocol/errors'
import type { Bucket } from './types'

export const BUCKET_MS: Readonly<Record<Bucket, number>> = Object.freeze({
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
})

/** Finest first. The index of a bucket here is its code in rollup tables: never reorder. */
export const BUCKETS: readonly Bucket[] = Object.freeze(['minute', 'hour', 'day'])

/** A series or history asking for more points than this is a mistake, not a chart. */
export const MAX_POINTS = 100_000

export function floorTo(ts: number, size: number): number {
  return ts - (((ts % size) + size) % size)
}

export function ceilTo(ts: number, size: number): number {
  const f = floorTo(ts, size)
  return f === ts ? ts : f + size
}

/**
 * The rule every rollup query follows: a bucket counts when it overlaps [from, to), so the range is
 * widened to whole buckets. Throws LS_ERR_BAD_QUERY for a range that is not a range.
 */
export function alignRange(from: number, to: number, size: number): { from: number; to: number } {
  if (!Number.isFinite(from) || !Number.isFinite(to) || from > to) {
    throw new LivestatsError('LS_ERR_BAD_QUERY', `Invalid time range [${from}, ${to})`)
  }
  return { from: floorTo(from, size), to: ceilTo(to, size) }
}

/** Aligned range plus the number of points it holds; too many points is a bad query. */
export function pointsOf(from: number, to: number, bucket: Bucket): { from: number; to: number; n: number } {
  // The query API hands user input through; an unknown bucket must not become NaN points.
  if (!Object.hasOwn(BUCKET_MS, bucket)) throw new LivestatsError('LS_ERR_BAD_QUERY', `Unknown bucket ${String(bucket)}`)
  const size = BUCKET_MS[bucket]
  const r = alignRange(from, to, size)
  const n = (r.to - r.from) / size
  if (n > MAX_POINTS) {
    throw new LivestatsError('LS_ERR_BAD_QUERY', `${n} ${bucket} buckets requested; the limit is ${MAX_POINTS}`)
  }
  return { from: r.from, to: r.to, n }
}

export interface Span {
  bucket: Bucket
  from: number
  to: number
}

/**
 * Covers a minute-aligned [from, to) with the fewest rollup rows: whole days in the middle, whole
 * hours around them, minutes at the ragged ends. Summing pageviews over these spans reads at most
 * a few hundred rows whatever the range length.
 */
export function coverRange(from: number, to: number): Span[] {
  const spans: Span[] = []
  const H = BUCKET_MS.hour
  const D = BUCKET_MS.day
  const hFrom = Math.min(ceilTo(from, H), to)
  const hTo = Math.max(floorTo(to, H), hFrom)
  const dFrom = Math.min(ceilTo(hFrom, D), hTo)
  const dTo = Math.max(floorTo(hTo, D), dFrom)
  const push = (bucket: Bucket, a: number, b: number): void => {
    if (a < b) spans.push({ bucket, from: a, to: b })
  }
  push('minute', from, hFrom)
  push('hour', hFrom, dFrom)
  push('day', dFrom, dTo)
  push('hour', dTo, hTo)
  push('minute', hTo, to)
  return spans
}
