/**
 * A filtered History view on SQLite in one read of each fact table (issue 12.6). Read call by
 * call, a view read the range's `pv` rows once per figure (series, totals, and the top list of each
 * page-view dimension) and its `visits` rows once per figure (visit totals, each visit dimension's
 * list): up to 20 sequential reads of the same rows. Here two aggregate functions see each row once
 * and route it to every figure whose range holds it, as the separate calls align their ranges
 * differently (the series by its bucket, totals and visit totals to the minute, top lists to the
 * hour): the read covers their union, and a filter's condition over the union selects the same
 * rows of each part as it does over that part alone (a row's visit and its custom events are within
 * the site's longest visit of the row, and the conditions' windows are widened by that).
 *
 *   SELECT ls_view_pv(ts, vid, path, country, …, engaged_ms, writing_ms, scroll) FROM pv WHERE …
 *   SELECT ls_view_visits(start, pageviews, end - start, …, entry, exit, ref_host, …) FROM visits WHERE …
 *
 * Columns of lists not asked for are passed as NULL: each argument costs its conversion to a
 * JavaScript value, the larger part of the time per row.
 */
import type Database from 'better-sqlite3'
import type { Filter } from './filters'
import type { FilteredQueries } from './sqlite-filtered'
import { visitList } from './sqlite-filtered'
import type { Tallied, VisitsTallied } from './sqlite-tally'
import { countDistinct } from '../goals/distinct'
import { StatementCache } from './sqlite-statements'
import type { Dimension, SeriesPoint, TopRow, VisitDimension, VisitTotals } from './types'
import { VISIT_COLUMN } from './sqlite-visits'

/** The page-view lists of a view, in the order of ls_view_pv's arguments after ts and vid, with their pv column. */
const PV_DIMS: readonly (readonly [Dimension, string])[] = [
  ['page', 'path'], ['country', 'country'], ['region', 'region'], ['city', 'city'], ['browser', 'browser'], ['os', 'os'], ['device', 'device'],
]
/** The visit lists, in the order of ls_view_visits's arguments after the visit's figures. */
const VISIT_DIMS: readonly VisitDimension[] = ['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword']

/** [from, to) of each figure of one view, ms; the series' `n` points of `size` ms from its `from`. */
export interface ViewRanges {
  series: { from: number; size: number; n: number }
  /** Totals and visit totals (minute-aligned). */
  minute: { from: number; to: number }
  /** Top lists (hour-aligned). */
  hour: { from: number; to: number }
}

/** What one view's two reads fill. */
class ViewTally {
  /** Visitor keys of each series point's page views. */
  readonly points: number[][]
  /** Visitor keys of the page views in the minute range, `n` of them. */
  keys = new Float64Array(1024)
  n = 0
  /** Per PV_DIMS entry: groups by dict id. */
  readonly pv: Map<number, Tallied>[] = PV_DIMS.map(() => new Map())
  readonly visitTotals: VisitTotals = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
  /** Per VISIT_DIMS entry: groups by value. */
  readonly visits: Map<string, VisitsTallied>[] = VISIT_DIMS.map(() => new Map())
  private readonly sFrom: number
  private readonly sTo: number

  constructor(readonly r: ViewRanges) {
    this.sFrom = r.series.from
    this.sTo = r.series.from + r.series.n * r.series.size
    this.points = Array.from({ length: r.series.n }, () => [])
  }

  private group(i: number, key: number): Tallied {
    const m = this.pv[i] as Map<number, Tallied>
    let g = m.get(key)
    if (g === undefined) {
      g = { n: 0, engagedViews: 0, engagedMs: 0, writingMs: 0, scrollViews: 0, scrollSum: 0 }
      m.set(key, g)
    }
    return g
  }

  private count(i: number, key: number | null): void {
    if (key !== null) this.group(i, key).n++
  }

  pageview(ts: number, vid: number, path: number | null, country: number | null, region: number | null, city: number | null,
    browser: number | null, os: number | null, device: number | null, engagedMs: number | null, writingMs: number | null, scroll: number | null): void {
    if (ts >= this.sFrom && ts < this.sTo) this.points[Math.floor((ts - this.sFrom) / this.r.series.size)]?.push(vid)
    if (ts >= this.r.minute.from && ts < this.r.minute.to) {
      if (this.n === this.keys.length) {
        const more = new Float64Array(this.keys.length * 2)
        more.set(this.keys)
        this.keys = more
      }
      this.keys[this.n++] = vid
    }
    if (ts < this.r.hour.from || ts >= this.r.hour.to) return
    if (path !== null) {
      const g = this.group(0, path)
      g.n++
      if (engagedMs !== null) {
        g.engagedViews++
        g.engagedMs += engagedMs
        g.writingMs += writingMs ?? 0
      }
      if (scroll !== null) {
        g.scrollViews++
        g.scrollSum += scroll
      }
    }
    this.count(1, country)
    this.count(2, region)
    this.count(3, city)
    this.count(4, browser)
    this.count(5, os)
    this.count(6, device)
  }

  visit(start: number, pageviews: number, durationMs: number, engagedN: number | null, engagedMs: number | null, writingMs: number | null,
    entry: string | null, exit: string | null, ref: string | null, us: string | null, um: string | null, uc: string | null,
    ut: string | null, kw: string | null): void {
    if (start >= this.r.minute.from && start < this.r.minute.to) {
      const t = this.visitTotals
      t.visits++
      if (pageviews === 1) t.bounces++
      t.pageviews += pageviews
      t.durationMs += durationMs
      if (engagedN !== null && engagedN > 0) t.engagedVisits++
      t.engagedMs += engagedMs ?? 0
      t.writingMs += writingMs ?? 0
    }
    if (start < this.r.hour.from || start >= this.r.hour.to) return
    // one call per list, not an array of values per visit
    this.visitOf(0, entry, pageviews, durationMs)
    this.visitOf(1, exit, pageviews, durationMs)
    this.visitOf(2, ref, pageviews, durationMs)
    this.visitOf(3, us, pageviews, durationMs)
    this.visitOf(4, um, pageviews, durationMs)
    this.visitOf(5, uc, pageviews, durationMs)
    this.visitOf(6, ut, pageviews, durationMs)
    this.visitOf(7, kw, pageviews, durationMs)
  }

  private visitOf(i: number, value: string | null, pageviews: number, durationMs: number): void {
    if (value === null) return
    const m = this.visits[i] as Map<string, VisitsTallied>
    let g = m.get(value)
    if (g === undefined) {
      g = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0 }
      m.set(value, g)
    }
    g.visits++
    if (pageviews === 1) g.bounces++
    g.pageviews += pageviews
    g.durationMs += durationMs
  }
}

/** What `SqliteStore.view` takes from one view's reads (bots and custom events are read apart). */
export interface ViewFigures {
  series: SeriesPoint[]
  totals: { pageviews: number; visitors: number }
  visitTotals: VisitTotals
  tops: Partial<Record<Dimension, TopRow[]>>
}

export class ViewQueries {
  private current: ViewTally | null = null
  private readonly cache: StatementCache

  constructor(db: Database.Database, private readonly filtered: FilteredQueries) {
    this.cache = new StatementCache(db, 200)
    // as in sqlite-tally.ts: the accumulator stays null, the steps fill the tally `run` set
    const pv = (_: null, ts: number, vid: number, path: number | null, country: number | null, region: number | null, city: number | null,
      browser: number | null, os: number | null, device: number | null, e: number | null, w: number | null, s: number | null): void =>
      this.tally().pageview(ts, vid, path, country, region, city, browser, os, device, e, w, s)
    db.aggregate('ls_view_pv', { start: null, step: pv as unknown as (total: null, next: null) => void, result: () => this.tally().n })
    const visit = (_: null, start: number, pageviews: number, duration: number, en: number | null, em: number | null, wm: number | null,
      entry: string | null, exit: string | null, ref: string | null, us: string | null, um: string | null, uc: string | null,
      ut: string | null, kw: string | null): void => this.tally().visit(start, pageviews, duration, en, em, wm, entry, exit, ref, us, um, uc, ut, kw)
    db.aggregate('ls_view_visits', { start: null, step: visit as unknown as (total: null, next: null) => void, result: () => this.tally().visitTotals.visits })
  }

  private tally(): ViewTally {
    if (this.current === null) throw new Error('ls_view_* called outside ViewQueries.read')
    return this.current
  }

  /**
   * The series, totals, visit totals and the `dims` lists (page-view and visit dimensions; others
   * are left out) of site id `site` under `filters`, from one read of `pv` and one of `visits`.
   */
  read(site: number, r: ViewRanges, dims: readonly Dimension[], limit: number, filters: readonly Filter[]): ViewFigures {
    const t = (this.current = new ViewTally(r))
    try {
      const want = new Set(dims)
      const sTo = r.series.from + r.series.n * r.series.size
      const from = Math.min(r.series.from, r.minute.from, r.hour.from)
      const to = Math.max(sTo, r.minute.to, r.hour.to)
      const pvArgs = [...PV_DIMS.map(([d, col]) => (want.has(d) ? col : 'NULL')),
        ...(want.has('page') ? ['engaged_ms', 'writing_ms', 'scroll'] : ['NULL', 'NULL', 'NULL'])]
      const pw = this.filtered.pvWhere(site, from, to, filters)
      this.cache.get(`SELECT ls_view_pv(ts, vid, ${pvArgs.join(', ')}) FROM pv WHERE ${pw.sql}`).raw().get(...pw.params)
      // visits by their start: minute and hour ranges only (the series counts page views)
      const vFrom = Math.min(r.minute.from, r.hour.from)
      const vTo = Math.max(r.minute.to, r.hour.to)
      const visitArgs = VISIT_DIMS.map((d) => (want.has(d) ? VISIT_COLUMN[d] : 'NULL'))
      const vw = this.filtered.visitWhere(site, vFrom, vTo, filters)
      this.cache.get(`SELECT ls_view_visits(start, pageviews, end - start, engaged_n, engaged_ms, writing_ms, ${visitArgs.join(', ')})
        FROM visits WHERE ${vw.sql}`).raw().get(...vw.params)
      const series = t.points.map((keys, i) => ({ t: r.series.from + i * r.series.size, pageviews: keys.length, visitors: countDistinct(keys) }))
      const tops: Partial<Record<Dimension, TopRow[]>> = {}
      PV_DIMS.forEach(([d], i) => {
        if (want.has(d)) tops[d] = this.filtered.pvList(t.pv[i] as Map<number, Tallied>, limit)
      })
      VISIT_DIMS.forEach((d, i) => {
        if (want.has(d)) tops[d] = visitList(t.visits[i] as Map<string, VisitsTallied>, limit)
      })
      return { series, totals: { pageviews: t.n, visitors: countDistinct(t.keys, t.n) }, visitTotals: t.visitTotals, tops }
    } finally {
      this.current = null
    }
  }
}
