/**
 * HTTP figures of a tracked process (`t.http(server)` in the tracker): the aggregates the
 * process-series fold keeps per minute, per route and per second, and the figures read from them.
 * Response times are histograms over `JOB_BUCKETS_MS`, as job durations are.
 */
import { percentile } from '../../protocol/histogram'
import type { HttpRouteSample } from '../../protocol/schema'

/** Responses folded together: a minute, a route's minute, a second, or a running total. */
export interface HttpAgg {
  requests: number
  /** Per status class: 2xx (and below), 3xx, 4xx, 5xx (and above). */
  status: number[]
  /** Sum of response times, ms. */
  sum: number
  /** Shortest response, ms; Infinity while none. */
  min: number
  max: number
  hist: number[]
}

/** An `HttpAgg` as stored with a process minute (`min` null when none). */
export interface HttpMinute {
  requests: number
  status: number[]
  sum: number
  min: number | null
  max: number
  hist: number[]
}

/** HTTP figures over a span: requests per second, status classes and response-time quantiles, ms. */
export interface HttpFigures {
  requests: number
  requestsPerSec: number
  status: number[]
  p50: number
  p95: number
  p99: number
  max: number
}

/** One method and route over the last hour, with its last 60 s (`recent`) in the live rates. */
export interface RouteStats extends HttpFigures {
  method: string
  route: string
  /** Live rates only: responses of this route in the last 60 s (they add up to the process's). */
  recent?: number
}

export function newHttpAgg(): HttpAgg {
  return { requests: 0, status: [0, 0, 0, 0], sum: 0, min: Infinity, max: 0, hist: [] }
}

/** Adds a tracker's route entry (or another aggregate's figures) into `into`. */
export function addHttp(into: HttpAgg, r: Pick<HttpRouteSample, 'count' | 'status' | 'sum' | 'min' | 'max' | 'hist'>): void {
  if (r.count <= 0) return
  into.requests += r.count
  for (let i = 0; i < 4; i++) into.status[i] = (into.status[i] ?? 0) + (r.status[i] ?? 0)
  into.sum += r.sum
  into.min = Math.min(into.min, r.min)
  into.max = Math.max(into.max, r.max)
  for (let i = 0; i < r.hist.length; i++) into.hist[i] = (into.hist[i] ?? 0) + (r.hist[i] ?? 0)
}

/** Adds one aggregate into another. */
export function mergeHttp(into: HttpAgg, a: HttpAgg | HttpMinute): void {
  addHttp(into, { count: a.requests, status: a.status, sum: a.sum, min: a.min ?? Infinity, max: a.max, hist: a.hist })
}

/** Figures of an aggregate spread over `secs` seconds. */
export function figures(a: HttpAgg, secs: number): HttpFigures {
  const lo = a.min === Infinity ? 0 : a.min
  return {
    requests: a.requests, requestsPerSec: a.requests / Math.max(1, secs), status: a.status.slice(),
    p50: percentile(a.hist, 0.5, lo, a.max), p95: percentile(a.hist, 0.95, lo, a.max), p99: percentile(a.hist, 0.99, lo, a.max),
    max: a.max,
  }
}

export function toStored(a: HttpAgg): HttpMinute {
  return { requests: a.requests, status: a.status.slice(), sum: a.sum, min: a.min === Infinity ? null : a.min, max: a.max, hist: a.hist.slice() }
}

export function fromStored(m: HttpMinute): HttpAgg {
  return { requests: m.requests, status: m.status.slice(), sum: m.sum, min: m.min ?? Infinity, max: m.max, hist: m.hist.slice() }
}

/** A stored minute's HTTP figures (the JSON a store wrote for `ProcessMinute.http`); null when none. */
export function parseHttp(text: string | null | undefined): HttpMinute | null {
  return text === null || text === undefined || text === '' ? null : (JSON.parse(text) as HttpMinute)
}
