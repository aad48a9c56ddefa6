/**
 * A filtered History view on SQLite in one read of each fact table (issue 12.6). Read call by
 * call, a view read the range's `pv` rows once per figure (series, totals, and the top list of each
 * page-view dimension) and its `visits` rows once per figure: up to 20 sequential reads of the same
 * rows. Here one column-wise read of each (sqlite-chunks.ts) feeds every figure whose range holds a
 * row, as the separate calls align their ranges differently (the series by its bucket, totals and
 * visit totals to the minute, top lists to the hour): the read covers their union, and a filter's
 * condition over the union (sqlite-col-filter.ts) selects the same rows of each part as it does
 * over that part alone (a row's visit and its custom events are within the site's longest visit of
 * the row, and the conditions' windows are widened by that).
 *
 * Rows come as typed arrays in time order, so each range is a run of rows found by binary search,
 * and each figure is a loop over a column: page views per dict id into an Int32Array, visitor keys
 * into a Float64Array for goals/distinct.ts. The reads ask only for the columns the lists and
 * filters use.
 */
import type { Filter } from './filters'
import type { Block, ColumnReader, PvColumn, VisitColumn } from './sqlite-chunks'
import type { ColumnFilter, ColumnFilters } from './sqlite-col-filter'
import { fillNeeds } from './sqlite-col-filter'
import { PvCounts, VisitCounts, lowerBound, maxId } from './sqlite-col-tally'
import type { Dict } from './sqlite-dict'
import type { FilteredQueries } from './sqlite-filtered'
import { visitList } from './sqlite-filtered'
import { countDistinct } from '../goals/distinct'
import type { Dimension, SeriesPoint, TopRow, VisitDimension, VisitTotals } from './types'
import { NO_VALUE, listsNone } from './visits'

/** The page-view lists of a view, with their pv column. */
const PV_DIMS: readonly (readonly [Dimension, PvColumn])[] = [
  ['page', 'path'], ['country', 'country'], ['region', 'region'], ['city', 'city'], ['browser', 'browser'], ['os', 'os'], ['device', 'device'],
]
/** The visit lists, with their visits column. */
const VISIT_DIMS: readonly (readonly [VisitDimension, VisitColumn])[] = [
  ['entry_page', 'entry'], ['exit_page', 'exit'], ['referrer', 'ref_host'], ['utm_source', 'utm_source'], ['utm_medium', 'utm_medium'],
  ['utm_campaign', 'utm_campaign'], ['utm_term', 'utm_term'], ['keyword', 'keyword'],
]

/** The lists a view counts (the others, custom events, are read apart). */
export const VIEW_DIMS: ReadonlySet<Dimension> = new Set([...PV_DIMS.map(([d]) => d), ...VISIT_DIMS.map(([d]) => d)])

/** [from, to) of each figure of one view, ms; the series' `n` points of `size` ms from its `from`. */
export interface ViewRanges {
  series: { from: number; size: number; n: number }
  /** Totals and visit totals (minute-aligned). */
  minute: { from: number; to: number }
  /** Top lists (hour-aligned). */
  hour: { from: number; to: number }
}

/** What `SqliteStore.view` takes from one view's reads (bots and custom events are read apart). */
export interface ViewFigures {
  series: SeriesPoint[]
  totals: { pageviews: number; visitors: number }
  visitTotals: VisitTotals
  tops: Partial<Record<Dimension, TopRow[]>>
}

/** A growable Float64Array of visitor keys. */
class Keys {
  a = new Float64Array(1024)
  n = 0

  reserve(more: number): void {
    if (this.n + more <= this.a.length) return
    const next = new Float64Array(Math.max(this.a.length * 2, this.n + more))
    next.set(this.a.subarray(0, this.n))
    this.a = next
  }
}

/** Which minute-range figures a read computes: totals of page views ('pv'), visit totals ('visits'), or both. */
export type Sides = 'both' | 'pv' | 'visits'

/** One filtered view's figures from its reads: column-wise (ViewQueries) or through SQL (sqlite-view-sql.ts). */
export interface ViewReader {
  /**
   * The series, totals, visit totals and the `dims` lists (page-view and visit dimensions; others
   * are left out) of site id `site` under `filters`.
   */
  read(site: number, r: ViewRanges, dims: readonly Dimension[], limit: number, filters: readonly Filter[]): ViewFigures
}

export class ViewQueries implements ViewReader {
  constructor(private readonly reader: ColumnReader, private readonly dict: Dict, private readonly filters: ColumnFilters,
    private readonly filtered: FilteredQueries) {}

  /**
   * The series, totals, visit totals and the `dims` lists (page-view and visit dimensions; others
   * are left out) of site id `site` under `filters`, from one read of `pv` and one of `visits`.
   */
  read(site: number, r: ViewRanges, dims: readonly Dimension[], limit: number, filters: readonly Filter[], sides: Sides = 'both'): ViewFigures {
    const want = new Set(dims)
    const pvDims = PV_DIMS.filter(([d]) => want.has(d))
    const visitDims = VISIT_DIMS.filter(([d]) => want.has(d))
    const sTo = r.series.from + r.series.n * r.series.size
    const from = Math.min(r.series.from, r.minute.from, r.hour.from)
    const to = Math.max(sTo, r.minute.to, r.hour.to)
    // a call may ask for page views only or visits only (a top list: SqliteStore.top): each
    // side's filters are compiled, and its rows read, when a figure of that side is asked for
    const minute = r.minute.from < r.minute.to
    const vf = visitDims.length > 0 || (minute && sides !== 'pv') ? this.filters.visits(site, r.hour.from, r.hour.to, filters) : null
    const needs = vf?.needs ?? []
    const pf = pvDims.length > 0 || r.series.n > 0 || (minute && sides !== 'visits') ? this.filters.pv(site, from, to, filters) : null

    // page views: a page filter of many pages on the visits needs the visits of its page views,
    // which this read gives when it goes on to the end of that filter's window
    let readFrom = from
    let readTo = to
    for (const need of needs) {
      readFrom = Math.min(readFrom, need.from)
      readTo = Math.max(readTo, need.to)
    }
    const cols = new Set<PvColumn>(['ts', 'vid', ...pvDims.map(([, c]) => c), ...(pf?.columns() ?? [])])
    if (want.has('page')) for (const c of ['engaged_ms', 'writing_ms', 'scroll'] as const) cols.add(c)
    if (needs.length > 0) for (const c of ['path', 'visit'] as const) cols.add(c)
    const kept: [Block<PvColumn>, Int32Array][] = []
    if (pf !== null || needs.length > 0) {
      const pvs = this.reader.pv(site, readFrom, readTo, [...cols])
      for (const b of pvs.blocks) {
        fillNeeds(needs, b)
        if (pf !== null && !pf.none) kept.push([b, pf.rows(b, pvs.text)])
      }
    }
    const blocks = kept.map(([b]) => b)
    const counts = pvDims.map(([d, c]) => new PvCounts(c, maxId(blocks, c) + 1, d === 'page'))
    const points = new Int32Array(r.series.n + 1)
    const keys = new Keys()
    const { from: sFrom, size } = r.series
    for (const [b, rows] of kept) {
      const ts = b.cols.ts as Float64Array
      const vid = b.cols.vid as Float64Array
      // totals: the minute range
      const mLo = lowerBound(ts, rows, r.minute.from)
      const mHi = lowerBound(ts, rows, r.minute.to)
      keys.reserve(mHi - mLo)
      const a = keys.a
      let n = keys.n
      for (let k = mLo; k < mHi; k++) a[n++] = vid[rows[k] as number] as number
      keys.n = n
      // the series: page views per point first, then the keys in place
      const sHi = lowerBound(ts, rows, sTo)
      for (let k = lowerBound(ts, rows, sFrom); k < sHi; k++) {
        const p = Math.floor(((ts[rows[k] as number] as number) - sFrom) / size) + 1
        points[p] = (points[p] as number) + 1
      }
      // top lists: the hour range
      const hLo = lowerBound(ts, rows, r.hour.from)
      const hHi = lowerBound(ts, rows, r.hour.to)
      for (const c of counts) c.add(b, rows, hLo, hHi)
    }
    const series = this.series(r, kept, points)

    const tops: Partial<Record<Dimension, TopRow[]>> = {}
    pvDims.forEach(([d], i) => {
      tops[d] = this.filtered.pvList((counts[i] as PvCounts).groups(limit), limit)
    })
    const { visitTotals, lists } = this.visits(site, r, visitDims, limit, vf)
    visitDims.forEach(([d], i) => {
      tops[d] = lists[i] ?? []
    })
    return { series, totals: { pageviews: keys.n, visitors: countDistinct(keys.a, keys.n) }, visitTotals, tops }
  }

  /** The series' points from the kept rows; `points[p + 1]` holds point p's page views. */
  private series(r: ViewRanges, kept: readonly [Block<PvColumn>, Int32Array][], points: Int32Array): SeriesPoint[] {
    const { from, size, n } = r.series
    const at = new Int32Array(n + 1)
    for (let p = 0; p < n; p++) at[p + 1] = (at[p] as number) + (points[p + 1] as number)
    const start = at.slice()
    const keys = new Float64Array(at[n] as number)
    const sTo = from + n * size
    for (const [b, rows] of kept) {
      const ts = b.cols.ts as Float64Array
      const vid = b.cols.vid as Float64Array
      const hi = lowerBound(ts, rows, sTo)
      for (let k = lowerBound(ts, rows, from); k < hi; k++) {
        const i = rows[k] as number
        const p = Math.floor(((ts[i] as number) - from) / size)
        const j = at[p] as number
        keys[j] = vid[i] as number
        at[p] = j + 1
      }
    }
    return Array.from({ length: n }, (_, p) => {
      const lo = start[p] as number
      const hi = start[p + 1] as number
      return { t: from + p * size, pageviews: hi - lo, visitors: countDistinct(keys.subarray(lo, hi)) }
    })
  }

  /**
   * One read of the visits that started in the hour range (which holds the minute range) kept by
   * `vf`: the totals of those in the minute range, and the lists of `dims`.
   */
  private visits(site: number, r: ViewRanges, dims: readonly (readonly [VisitDimension, VisitColumn])[], limit: number,
    vf: ColumnFilter<VisitColumn> | null): { visitTotals: VisitTotals; lists: TopRow[][] } {
    const t: VisitTotals = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
    if (vf === null || vf.none) return { visitTotals: t, lists: dims.map(() => []) }
    const cols = new Set<VisitColumn>(['start', 'pageviews', 'duration', 'engaged_n', 'engaged_ms', 'writing_ms', ...dims.map(([, c]) => c), ...vf.columns()])
    const vs = this.reader.visits(site, r.hour.from, r.hour.to, [...cols])
    const kept = vs.blocks.map((b) => [b, vf.rows(b, vs.text)] as const)
    const blocks = vs.blocks
    const counts = dims.map(([d, c]) => new VisitCounts(c, maxId(blocks, c) + 1, listsNone(d) ? NO_VALUE : null))
    const { from: mFrom, to: mTo } = r.minute
    for (const [b, rows] of kept) {
      const start = b.cols.start as Float64Array
      const pv = b.cols.pageviews as Float64Array
      const ms = b.cols.duration as Float64Array
      const en = b.cols.engaged_n as Float64Array
      const em = b.cols.engaged_ms as Float64Array
      const wm = b.cols.writing_ms as Float64Array
      // visits come by hour of start, not by start: the minute range is a condition per row
      for (let k = 0; k < rows.length; k++) {
        const i = rows[k] as number
        const s = start[i] as number
        if (s < mFrom || s >= mTo) continue
        const p = pv[i] as number
        t.visits++
        if (p === 1) t.bounces++
        t.pageviews += p
        t.durationMs += ms[i] as number
        if ((en[i] as number) > 0) t.engagedVisits++
        const e = em[i] as number
        const w = wm[i] as number
        t.engagedMs += e === e ? e : 0
        t.writingMs += w === w ? w : 0
      }
      for (const c of counts) c.add(b, rows)
    }
    return { visitTotals: t, lists: counts.map((c) => visitList(c.groups(limit, this.dict, vs.text), limit)) }
  }
}
