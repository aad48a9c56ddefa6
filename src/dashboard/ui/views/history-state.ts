/**
 * What History shows, as the page URL holds it, so a view can be bookmarked and sent, and back and
 * forward step through the filters tried: `?site=S&range=7d&page=/pricing&country=!DE&compare=previous#history`.
 * Filters use the read API's own syntax (docs/api.md, Filters), so the URL's filter parameters go
 * to the API as they are.
 */
export type Op = 'is' | 'not' | 'contains'
export type Compare = 'previous' | 'year'

export interface UiFilter {
  dim: string
  op: Op
  value: string
}

export interface HistoryState {
  /** `1h`, `24h`, `7d`, `30d`; ignored while `custom` is set. */
  range: string
  custom: { from: number; to: number } | null
  filters: UiFilter[]
  compare: Compare | null
}

/** Every dimension that filters, with its label: the API's FILTER_DIMENSIONS. */
export const FILTER_LABELS: Readonly<Record<string, string>> = {
  page: 'Page', entry_page: 'Entry page', exit_page: 'Exit page', referrer: 'Referrer', utm_source: 'UTM source',
  utm_medium: 'UTM medium', utm_campaign: 'UTM campaign', utm_term: 'UTM term', keyword: 'Keyword', country: 'Country',
  region: 'Region', city: 'City', browser: 'Browser', os: 'OS', device: 'Device', event: 'Event',
}
/** Dimensions where an empty value filters for none (`referrer=`: the direct visits): the visit dimensions. */
const NONE_DIMS = new Set(['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword'])
const RANGES = new Set(['1h', '24h', '7d', '30d'])
const OP_TEXT: Readonly<Record<Op, string>> = { is: 'is', not: 'is not', contains: 'contains' }

/** The state a URL's query string holds; anything missing or unknown falls back to the default. */
export function readState(search: string): HistoryState {
  const q = new URLSearchParams(search)
  const filters: UiFilter[] = []
  const add = (dim: string, raw: string): void => {
    const op: Op = raw.startsWith('!') ? 'not' : raw.startsWith('~') ? 'contains' : 'is'
    const value = op !== 'is' || raw.startsWith('\\') ? raw.slice(1) : raw
    if (value !== '' || (op !== 'contains' && NONE_DIMS.has(dim))) filters.push({ dim, op, value })
  }
  for (const dim of Object.keys(FILTER_LABELS)) for (const raw of q.getAll(dim)) add(dim, raw)
  // custom event properties: prop:plan=pro
  for (const [dim, raw] of q) if (isPropDim(dim)) add(dim, raw)
  const from = Number(q.get('from'))
  const to = Number(q.get('to'))
  const custom = q.has('from') && Number.isFinite(from) && Number.isFinite(to) && to > from ? { from, to } : null
  const r = q.get('range') ?? '24h'
  const c = q.get('compare')
  return { range: RANGES.has(r) ? r : '24h', custom, filters, compare: c === 'previous' || c === 'year' ? c : null }
}

/** A custom event property filter's dimension: `prop:KEY` (docs/api.md, Filters). */
export function isPropDim(dim: string): boolean {
  return dim.startsWith('prop:') && dim.length > 5
}

/** A filter's query parameter value: `X`, `!X`, `~X`, a leading `!`, `~` or `\` escaped for "is". */
export function filterValue(f: UiFilter): string {
  if (f.op === 'not') return `!${f.value}`
  if (f.op === 'contains') return `~${f.value}`
  return /^[!~\\]/.test(f.value) ? `\\${f.value}` : f.value
}

/** Writes the state into `url` (keeping its site and hash), dropping parameters a former state set. */
export function writeState(url: URL, st: HistoryState): void {
  const props = [...url.searchParams.keys()].filter(isPropDim)
  for (const k of ['range', 'from', 'to', 'compare', ...Object.keys(FILTER_LABELS), ...props]) url.searchParams.delete(k)
  if (st.custom !== null) {
    url.searchParams.set('from', String(st.custom.from))
    url.searchParams.set('to', String(st.custom.to))
  } else if (st.range !== '24h') url.searchParams.set('range', st.range)
  for (const f of st.filters) url.searchParams.append(f.dim, filterValue(f))
  if (st.compare !== null) url.searchParams.set('compare', st.compare)
}

/** The read API's query for this state. */
export function apiQuery(site: string, st: HistoryState): [string, string][] {
  const q: [string, string][] = [['site', site]]
  if (st.custom === null) q.push(['range', st.range])
  else q.push(['from', String(st.custom.from)], ['to', String(st.custom.to)])
  for (const f of st.filters) q.push([f.dim, filterValue(f)])
  return q
}

/** "Country is not DE", "Referrer is Direct / None" */
export function filterText(f: UiFilter): string {
  const label = isPropDim(f.dim) ? `Property ${f.dim.slice(5)}` : FILTER_LABELS[f.dim] ?? f.dim
  return `${label} ${OP_TEXT[f.op]} ${shownValue(f.dim, f.value)}`
}

/** A value as the lists show it: '' is the row of visits without one, "Direct / None" for referrers. */
export function shownValue(dim: string, value: string): string {
  return value !== '' ? value : dim === 'referrer' ? 'Direct / None' : '(none)'
}

/** The state with `f` added: a filter "is" replaces an earlier "is" on the same dimension. */
export function withFilter(st: HistoryState, f: UiFilter): HistoryState {
  const kept = st.filters.filter((x) => !(x.dim === f.dim && (f.op === 'is' ? x.op === 'is' : x.op === f.op && x.value === f.value)))
  return { ...st, filters: [...kept, f] }
}
