/** Query-string parsing for the read API: a bad parameter is LS_ERR_BAD_QUERY naming it. */
import { LivestatsError } from '../../protocol/errors'
import { FILTER_DIMENSIONS, MAX_FILTERS, MAX_FILTER_VALUE, MAX_PROP_KEY, VISIT_LEVEL, type Filter } from '../store/filters'
import { floorTo } from '../store/time'
import type { Bucket, Dimension, EventDimension, Range } from '../store/types'

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 }
export const DIMENSIONS: readonly Dimension[] = [
  'page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'browser', 'os', 'device', 'event', 'keyword', 'country', 'region', 'city',
  'entry_page', 'exit_page', 'utm_term',
]

export function bad(message: string): never {
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

/**
 * `range=1h|24h|7d|30d` (ending now) or `from` and `to`. A named range starts at the start of its
 * unit, as Umami's do: `24h` at 10:37 from 10:00 the day before, `7d` from 00:00 UTC seven days
 * before, `30m` from the minute. The lists (hourly rollups) and the chart (whole buckets) cover
 * whole hours and days, so a range that started mid-hour would give them page views the totals do
 * not count ("Last 7 days": 3,788 page views in the tile, 3,957 under the chart).
 */
export function range(q: URLSearchParams, now: number = Date.now()): Range {
  const s = site(q)
  const from = q.get('from')
  const to = q.get('to')
  if (from !== null || to !== null) {
    const f = from === null ? bad('from is required with to') : time('from', from)
    const t = to === null ? now : time('to', to)
    if (t <= f) bad('to must be after from')
    return { site: s, from: f, to: t, filters: filters(q) }
  }
  const r = q.get('range') ?? '24h'
  const m = /^(\d{1,4})([mhd])$/.exec(r)
  if (m === null) bad(`range must look like 30m, 24h or 7d, got "${r}"`)
  const unit = UNITS[m[2] as string] as number
  return { site: s, from: floorTo(now, unit) - Number(m[1]) * unit, to: now, filters: filters(q) }
}

/**
 * Filters: a parameter named after a dimension (`page`, `referrer`, `country`, ...; FILTER_DIMENSIONS),
 * its value `X` for "is X", `!X` for "is not X", `~X` for "contains X" (ignoring ASCII case); a
 * leading `\` takes the next character as it is (`\!x` is "is !x"). On a visit dimension (`referrer`,
 * `utm_*`, `keyword`, `entry_page`, `exit_page`) an empty value means none: `referrer=` is "no referrer"
 * (direct), `referrer=!` "has a referrer". Repeated or several, they combine with AND.
 */
export function filters(q: URLSearchParams): Filter[] {
  const out: Filter[] = []
  const parse = (dim: string, raw: string): Pick<Filter, 'op' | 'value'> => {
    const op = raw.startsWith('!') ? 'not' : raw.startsWith('~') ? 'contains' : 'is'
    const value = op !== 'is' || raw.startsWith('\\') ? raw.slice(1) : raw
    // an empty value is "none" on a visit's own dimensions (`referrer=`: direct visits; `referrer=!`: the others)
    if (value === '' && !(op !== 'contains' && (VISIT_LEVEL as ReadonlySet<string>).has(dim))) bad(`${dim} filter needs a value: ${dim}=X (is), ${dim}=!X (is not) or ${dim}=~X (contains)`)
    if (value.length > MAX_FILTER_VALUE) bad(`${dim} filter value is longer than ${MAX_FILTER_VALUE} characters`)
    return { op, value }
  }
  for (const dim of FILTER_DIMENSIONS) {
    for (const raw of q.getAll(dim)) out.push({ dim, ...parse(dim, raw) })
  }
  // custom event properties: prop:plan=pro
  for (const [name, raw] of q) {
    if (!name.startsWith('prop:')) continue
    out.push({ dim: 'prop', key: propKey(name.slice(5)), ...parse(name, raw) })
  }
  if (out.length > MAX_FILTERS) bad(`at most ${MAX_FILTERS} filters, got ${out.length}`)
  return out
}

/** `compare=previous` (the range just before, as long) or `compare=year` (the same dates a year before). */
export function compare(q: URLSearchParams, r: Range): Range | null {
  const c = q.get('compare')
  if (c === null || c === '') return null
  if (c === 'previous') return { ...r, from: r.from - (r.to - r.from), to: r.from }
  if (c === 'year') return { ...r, from: yearBefore(r.from), to: yearBefore(r.to) }
  return bad('compare must be previous or year')
}

/** The same UTC date and time a year before (29 February becomes 1 March). */
function yearBefore(t: number): number {
  const d = new Date(t)
  d.setUTCFullYear(d.getUTCFullYear() - 1)
  return d.getTime()
}

export function bucket(q: URLSearchParams, r: Range): Bucket {
  const b = q.get('bucket')
  if (b === null) {
    const span = r.to - r.from
    // under 4 h and 4 days: `3h` and `3d` start at their hour and day, so they last up to one more
    return span < 4 * (UNITS.h as number) ? 'minute' : span < 4 * (UNITS.d as number) ? 'hour' : 'day'
  }
  if (b !== 'minute' && b !== 'hour' && b !== 'day') bad('bucket must be minute, hour or day')
  return b
}

function propKey(key: string): string {
  if (key === '' || key.length > MAX_PROP_KEY) bad(`a property key is 1 to ${MAX_PROP_KEY} characters (prop:KEY)`)
  return key
}

/** `dim`: a dimension of page views or visits, or of custom events (`event`, `prop`, `prop:KEY`). */
export function dimension(q: URLSearchParams): Dimension | EventDimension {
  const d = q.get('dim') ?? 'page'
  if (d === 'prop') return d
  if (d.startsWith('prop:')) return `prop:${propKey(d.slice(5))}`
  if (!(DIMENSIONS as readonly string[]).includes(d)) bad(`dim must be one of ${DIMENSIONS.join(', ')}, prop or prop:KEY`)
  return d as Dimension
}

/** Whether a `dim` counts custom events (answered by `eventTop`, with events and unique visitors). */
export function isEventDimension(d: Dimension | EventDimension): d is EventDimension {
  return d === 'event' || d === 'prop' || d.startsWith('prop:')
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
