/**
 * Visits, independent of the database: what a visit is, how a page view joins one, and what a
 * visit adds to the rollups. Every store keeps a visits table up to date inside its append
 * transaction (see `sqlite-visits.ts`) and feeds each visit it changed through `VisitDeltas`.
 *
 * A visit is one visitor's human page views on one site with no gap over `VISIT_GAP_MS` between
 * two consecutive ones (a gap of exactly 30 minutes still continues it). Its start is its first
 * page view, its end its last, its duration end − start (0 for a single page view, a bounce).
 * Entry page and source (referrer, UTM, keyword) are the first page view's, exit page the last's;
 * the source is the visit's, not each page view's: a page view belongs to the source its visit came from;
 * country, browser, OS and device are the same for every page view of a visit (the visitor id
 * hashes IP and user agent).
 *
 * Joining is order-independent: a page view joins every visit that starts at most GAP after it and
 * ends at most GAP before it (at most two, which it then bridges into one), so batches that arrive
 * late or out of order give the same visits as sorted ones. A visit counts in the range, bucket
 * and hour where it starts (as Plausible does), even when later page views fall after the range.
 */
import { BUCKET_MS, BUCKETS, floorTo } from './time'
import type { StoredEvent, TopRow, VisitDimension } from './types'

/** The longest gap between two page views of one visit, ms. */
export const VISIT_GAP_MS = 30 * 60_000

/** Visit dimensions' codes in visit rollups are indexes into this list: append only, never reorder. */
export const VISIT_DIMENSIONS: readonly VisitDimension[] = Object.freeze([
  'entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword',
])
export const VISIT_DIM_CODE: Readonly<Record<VisitDimension, number>> = Object.freeze(
  Object.fromEntries(VISIT_DIMENSIONS.map((d, i) => [d, i])) as Record<VisitDimension, number>,
)

export function isVisitDimension(d: string): d is VisitDimension {
  return Object.hasOwn(VISIT_DIM_CODE, d)
}

/** One visit as the store keeps it. `id` is the store's own key. */
export interface Visit {
  id: number
  visitor: string
  start: number
  end: number
  pageviews: number
  entry: string | null
  exit: string | null
  refHost: string | null
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
  utmTerm: string | null
  keyword: string | null
  country: string | null
  region: string | null
  city: string | null
  browser: string | null
  os: string | null
  device: string | null
  /** Presence tab stints attributed to the visit, and their reading + writing and writing time, ms. */
  engagedN: number
  engagedMs: number
  writingMs: number
}

/** A new visit of one page view (id 0 until the store assigns one). */
export function visitOf(e: StoredEvent): Visit {
  return {
    id: 0, visitor: e.visitor ?? '', start: e.ts, end: e.ts, pageviews: 1, entry: e.path, exit: e.path,
    refHost: e.refHost, utmSource: e.utmSource, utmMedium: e.utmMedium, utmCampaign: e.utmCampaign,
    utmTerm: e.utmTerm, keyword: e.keyword, country: e.country, region: e.region, city: e.city, browser: e.browser, os: e.os, device: e.device, engagedN: 0, engagedMs: 0, writingMs: 0,
  }
}

/** Whether a page view at `ts` belongs with visit `v` (within GAP of its span). */
export function touches(v: Visit, ts: number): boolean {
  return ts >= v.start - VISIT_GAP_MS && ts <= v.end + VISIT_GAP_MS
}

/**
 * `into` grown by page view `e` and, when `e` bridges two visits, by `other` (the later one, which
 * the store then deletes). Mutates and returns `into`. A page view at the same ms as the current
 * entry or exit replaces it only as the exit (the later arrival is taken as the later view).
 */
export function join(into: Visit, e: StoredEvent, other: Visit | null): Visit {
  if (other !== null) {
    if (other.start < into.start) setEntry(into, other)
    if (other.end >= into.end) {
      into.end = other.end
      into.exit = other.exit
    }
    into.pageviews += other.pageviews
    into.engagedN += other.engagedN
    into.engagedMs += other.engagedMs
    into.writingMs += other.writingMs
  }
  if (e.ts < into.start) {
    into.start = e.ts
    into.entry = e.path
    into.refHost = e.refHost
    into.utmSource = e.utmSource
    into.utmMedium = e.utmMedium
    into.utmCampaign = e.utmCampaign
    into.utmTerm = e.utmTerm
    into.keyword = e.keyword
  }
  if (e.ts >= into.end) {
    into.end = e.ts
    into.exit = e.path
  }
  into.pageviews++
  return into
}

function setEntry(into: Visit, from: Visit): void {
  into.start = from.start
  into.entry = from.entry
  into.refHost = from.refHost
  into.utmSource = from.utmSource
  into.utmMedium = from.utmMedium
  into.utmCampaign = from.utmCampaign
  into.utmTerm = from.utmTerm
  into.keyword = from.keyword
}

/** A visit's value of a visit dimension. */
export function visitValue(v: Visit, dim: VisitDimension): string | null {
  switch (dim) {
    case 'entry_page': return v.entry
    case 'exit_page': return v.exit
    case 'referrer': return v.refHost
    case 'utm_source': return v.utmSource
    case 'utm_medium': return v.utmMedium
    case 'utm_campaign': return v.utmCampaign
    case 'utm_term': return v.utmTerm
    case 'keyword': return v.keyword
  }
}

/** Whether two states of a visit have the same source (what its page views' fact rows carry). */
export function sameSource(a: Visit, b: Visit): boolean {
  return a.refHost === b.refHost && a.utmSource === b.utmSource && a.utmMedium === b.utmMedium &&
    a.utmCampaign === b.utmCampaign && a.utmTerm === b.utmTerm && a.keyword === b.keyword
}

/** Additive visit figures: one rollup row, or a whole range summed. */
export interface VisitSums {
  visits: number
  bounces: number
  /** Page views of these visits. */
  pageviews: number
  /** Sum of their durations, ms. */
  durationMs: number
  /** Visits with presence data, and their engaged (reading + writing) and writing time, ms. */
  engagedVisits: number
  engagedMs: number
  writingMs: number
}

export function zeroSums(): VisitSums {
  return { visits: 0, bounces: 0, pageviews: 0, durationMs: 0, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
}

function addVisit(s: VisitSums, v: Visit, sign: number): void {
  s.visits += sign
  if (v.pageviews === 1) s.bounces += sign
  s.pageviews += sign * v.pageviews
  s.durationMs += sign * (v.end - v.start)
  if (v.engagedN > 0) s.engagedVisits += sign
  s.engagedMs += sign * v.engagedMs
  s.writingMs += sign * v.writingMs
}

const SIZES: readonly number[] = BUCKETS.map((b) => BUCKET_MS[b])

/**
 * The rollup changes of one transaction: per site, the visit sums per bucket of each granularity
 * (by visit start) and per hour × visit dimension × value. Feed it each changed visit as it was
 * before the transaction (`remove`) and as it is after (`add`).
 */
export class VisitDeltas {
  /** site → per granularity (index into BUCKETS): bucket start → sums. */
  readonly series = new Map<number, Map<number, VisitSums>[]>()
  /** site → hour start → per visit dimension code: value → sums. */
  readonly top = new Map<number, Map<number, Map<string, VisitSums>[]>>()

  add(site: number, v: Visit): void {
    this.apply(site, v, 1)
  }

  remove(site: number, v: Visit): void {
    this.apply(site, v, -1)
  }

  private apply(site: number, v: Visit, sign: number): void {
    let series = this.series.get(site)
    if (series === undefined) this.series.set(site, (series = SIZES.map(() => new Map())))
    for (let g = 0; g < SIZES.length; g++) {
      const t = floorTo(v.start, SIZES[g] as number)
      const m = series[g] as Map<number, VisitSums>
      let s = m.get(t)
      if (s === undefined) m.set(t, (s = zeroSums()))
      addVisit(s, v, sign)
    }
    let hours = this.top.get(site)
    if (hours === undefined) this.top.set(site, (hours = new Map()))
    const hour = floorTo(v.start, BUCKET_MS.hour)
    let dims = hours.get(hour)
    if (dims === undefined) hours.set(hour, (dims = VISIT_DIMENSIONS.map(() => new Map())))
    for (let code = 0; code < VISIT_DIMENSIONS.length; code++) {
      this.bump(dims[code] as Map<string, VisitSums>, visitValue(v, VISIT_DIMENSIONS[code] as VisitDimension), v, sign)
    }
  }

  private bump(m: Map<string, VisitSums>, value: string | null, v: Visit, sign: number): void {
    if (value === null) return
    let s = m.get(value)
    if (s === undefined) m.set(value, (s = zeroSums()))
    addVisit(s, v, sign)
  }
}

/** Whether a rollup delta changes nothing (a visit removed and added back unchanged). */
export function isZero(s: VisitSums): boolean {
  return s.visits === 0 && s.bounces === 0 && s.pageviews === 0 && s.durationMs === 0 && s.engagedVisits === 0 &&
    s.engagedMs === 0 && s.writingMs === 0
}

/**
 * The value of the row of visits without a value in a dimension's top list, and of the filter that
 * selects them (`referrer=` in the API): "Direct / None" in the dashboard. Only `referrer` lists it
 * (where a visit without a value is a visit of its own kind, as Plausible shows it); the other visit
 * dimensions list the visits that have one. No stored value is '' (ingest keeps an absent one null).
 */
export const NO_VALUE = ''

/** Whether a visit dimension's top list has a NO_VALUE row. */
export function listsNone(dim: VisitDimension): boolean {
  return dim === 'referrer'
}

/** The sums over every value of a list (before its limit) that a list with a NO_VALUE row is read with. */
export interface Listed {
  listedVisits: number
  listedBounces: number
  listedPageviews: number
  listedDuration: number
}

/**
 * A visit list ranked by visits (then value), `limit` long, with the NO_VALUE row put in its place:
 * the range's visits (`all`) minus those of every value (`listed`, the whole list before its limit).
 */
export function withNone(rows: TopRow[], all: VisitSums, listed: VisitSums, limit: number): TopRow[] {
  const none = {
    value: NO_VALUE, pageviews: all.pageviews - listed.pageviews, visits: all.visits - listed.visits,
    bounces: all.bounces - listed.bounces, durationMs: all.durationMs - listed.durationMs,
  }
  if (none.visits <= 0) return rows
  // NO_VALUE sorts before every other value: it goes before the first row with no more visits
  const at = rows.findIndex((r) => (r.visits ?? 0) <= none.visits)
  const out = rows.slice()
  out.splice(at === -1 ? out.length : at, 0, none)
  return out.slice(0, limit)
}
