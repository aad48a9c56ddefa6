/** Query-string parsing for the read API: a bad parameter is LS_ERR_BAD_QUERY naming it. */
import { LivestatsError } from '../../protocol/errors'
import type { Bucket, Dimension, Range } from '../store/types'

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }
export const DIMENSIONS: readonly Dimension[] = [
  'page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'browser', 'os', 'device', 'event', 'keyword', 'country', 'region', 'city',
  'entry_page', 'exit_page',
]

function bad(message: string): never {
  throw new LivestatsError('LS_ERR_BAD_QUERY', message)
}

function time(name: string, v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) : Date.parse(v)
  if (!Number.isFinite(n)) bad(`${name} must be ms since epoch or an ISO date, got "${v}"`)
  return n
}

export function site(q: URLSearchParams): string {
  const s = q.get('site')
  if (!s) bad('site is required')
  return s
}

/** `range=1h|24h|7d|30d` (ending now) or `from` and `to`. */
export function range(q: URLSearchParams, now: number = Date.now()): Range {
  const s = site(q)
  const from = q.get('from')
  const to = q.get('to')
  if (from !== null || to !== null) {
    const f = from === null ? bad('from is required with to') : time('from', from)
    const t = to === null ? now : time('to', to)
    if (t <= f) bad('to must be after from')
    return { site: s, from: f, to: t }
  }
  const r = q.get('range') ?? '24h'
  const m = /^(\d{1,4})([mhd])$/.exec(r)
  if (m === null) bad(`range must look like 30m, 24h or 7d, got "${r}"`)
  return { site: s, from: now - Number(m[1]) * (UNITS[m[2] as string] as number), to: now }
}

export function bucket(q: URLSearchParams, r: Range): Bucket {
  const b = q.get('bucket')
  if (b === null) {
    const span = r.to - r.from
    return span <= 3 * (UNITS.h as number) ? 'minute' : span <= 3 * (UNITS.d as number) ? 'hour' : 'day'
  }
  if (b !== 'minute' && b !== 'hour' && b !== 'day') bad('bucket must be minute, hour or day')
  return b
}

export function dimension(q: URLSearchParams): Dimension {
  const d = q.get('dim') ?? 'page'
  if (!(DIMENSIONS as readonly string[]).includes(d)) bad(`dim must be one of ${DIMENSIONS.join(', ')}`)
  return d as Dimension
}

export function limit(q: URLSearchParams, dflt: number, max: number): number {
  const v = q.get('limit')
  if (v === null) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > max) bad(`limit must be an integer from 1 to ${max}`)
  return n
}

export function optionalTime(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name)
  return v === null ? undefined : time(name, v)
}
