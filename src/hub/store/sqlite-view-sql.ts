/**
 * A filtered History view on SQLite through SQL aggregate functions: the read `SqliteStore.view`
 * makes with `columnReads: false` (by default sqlite-view.ts reads the same rows column-wise, from
 * stored hour chunks where there are; from the table alone, rows cost about 3 µs each to hand over
 * that way, against 0.2-0.7 µs a call here). In one read of each fact table (issue 12.6). Read call by
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
 *   SELECT ls_view_visits2(start, pageviews, end - start, engaged_n, engaged_ms, writing_ms, ref_host, utm_source)
 *     FROM visits WHERE …
 *
 * The call into JavaScript per row (about 120 ns) and each argument's conversion (about 15 ns,
 * NULL too) are most of the time per row, so each read passes the columns its lists use and no
 * others (a shape per number of lists). The visit totals are summed in the same call: seven SQL
 * sums cost more (about 330 ns a visit, filtered by range) than four more arguments.
 */
import type Database from 'better-sqlite3'
import type { Filter } from './filters'
import type { Cond, FilteredQueries } from './sqlite-filtered'
import { visitList } from './sqlite-filtered'
import { addEngaged, addVisit, type Tallied, type VisitsTallied } from './sqlite-tally'
import { countDistinct } from '../goals/distinct'
import { StatementCache } from './sqlite-statements'
import type { Dimension, TopRow, VisitDimension, VisitTotals } from './types'
import { listColumn } from './sqlite-visits'
import type { ViewFigures, ViewRanges, ViewReader } from './sqlite-view'

/** The page-view lists of a view, in the order of ls_view_pv's arguments after ts and vid, with their pv column. */
const PV_DIMS: readonly (readonly [Dimension, string])[] = [
  ['page', 'path'], ['country', 'country'], ['region', 'region'], ['city', 'city'], ['browser', 'browser'], ['os', 'os'], ['device', 'device'],
]
/** The visit lists, in the order of ls_view_visits's arguments after the visit's figures. */
const VISIT_DIMS: readonly VisitDimension[] = ['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword']

/** What one view's two reads fill. */
class ViewTally {
  /** Visitor keys of each series point's page views. */
  readonly points: number[][]
  /** Visitor keys of the page views in the minute range, `n` of them. */
  keys = new Float64Array(1024)
  n = 0
  /** Per PV_DIMS entry: groups by dict id. */
  readonly pv: Map<number, Tallied>[] = PV_DIMS.map(() => new Map())
  /** Per visit list asked for, in the order of ls_view_visits's values: groups by value. */
  readonly visits: Map<string, VisitsTallied>[]
  /** Visit ids of the page views read, `nVisits` of them, when the visits read is among them (FilteredQueries.pageVisitsEnd). */
  visitIds = new Float64Array(0)
  nVisits = 0
  readonly visitTotals: VisitTotals = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
  private readonly sFrom: number
  private readonly sTo: number
  private readonly size: number
  private readonly mFrom: number
  private readonly mTo: number
  private readonly hFrom: number
  private readonly hTo: number

  constructor(r: ViewRanges, visitLists: number) {
    this.sFrom = r.series.from
    this.size = r.series.size
    this.sTo = r.series.from + r.series.n * r.series.size
    this.mFrom = r.minute.from
    this.mTo = r.minute.to
    this.hFrom = r.hour.from
    this.hTo = r.hour.to
    this.points = Array.from({ length: r.series.n }, () => [])
    this.visits = Array.from({ length: visitLists }, () => new Map())
  }

  /** A page view for the series and totals; true when the top lists count it too (the hour range holds it). */
  keyed(ts: number, vid: number): boolean {
    if (ts >= this.sFrom && ts < this.sTo) this.points[Math.floor((ts - this.sFrom) / this.size)]?.push(vid)
    if (ts >= this.mFrom && ts < this.mTo) {
      if (this.n === this.keys.length) {
        const more = new Float64Array(this.keys.length * 2)
        more.set(this.keys)
        this.keys = more
      }
      this.keys[this.n++] = vid
    }
    return ts >= this.hFrom && ts < this.hTo
  }

  visitOf(id: number): void {
    if (this.nVisits === this.visitIds.length) {
      const more = new Float64Array(Math.max(1024, this.visitIds.length * 2))
      more.set(this.visitIds)
      this.visitIds = more
    }
    this.visitIds[this.nVisits++] = id
  }

  /** The distinct visit ids `visitOf` saw, ascending. */
  distinctVisits(): number[] {
    const ids = this.visitIds.subarray(0, this.nVisits).sort()
    const out: number[] = []
    for (let i = 0; i < ids.length; i++) if (i === 0 || ids[i] !== ids[i - 1]) out.push(ids[i] as number)
    return out
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

  count(i: number, key: number | null): void {
    if (key !== null) this.group(i, key).n++
  }

  page(path: number | null, engagedMs: number | null, writingMs: number | null, scroll: number | null): void {
    if (path === null) return
    const g = this.group(0, path)
    g.n++
    addEngaged(g, engagedMs, writingMs, scroll)
  }

  /** A visit of the read (the hour range): into the totals when the minute range holds it. */
  visited(start: number, pageviews: number, durationMs: number, engagedN: number | null, engagedMs: number | null, writingMs: number | null): void {
    if (start < this.mFrom || start >= this.mTo) return
    const t = this.visitTotals
    t.visits++
    if (pageviews === 1) t.bounces++
    t.pageviews += pageviews
    t.durationMs += durationMs
    if (engagedN !== null && engagedN > 0) t.engagedVisits++
    t.engagedMs += engagedMs ?? 0
    t.writingMs += writingMs ?? 0
  }

  /** A visit of the hour range with value `value` (null: none) in the `i`th list asked for. */
  visit(i: number, value: string | null, pageviews: number, durationMs: number): void {
    if (value !== null) addVisit(this.visits[i] as Map<string, VisitsTallied>, value, pageviews, durationMs)
  }
}

type Step = (total: null, next: null) => void
type Id = number | null
type Text = string | null

export class SqlViewQueries implements ViewReader {
  private current: ViewTally | null = null
  private readonly cache: StatementCache

  constructor(db: Database.Database, private readonly filtered: FilteredQueries) {
    this.cache = new StatementCache(db, 200)
    // As in sqlite-tally.ts, the accumulator stays null and the steps fill the tally `read` set.
    // Each shape takes only the columns it uses: an argument costs about 15 ns a row even when
    // NULL (4 ms a day of page views), and a call about 120 ns.
    const keys = (_: null, ts: number, vid: number): void => {
      this.tally().keyed(ts, vid)
    }
    const page = (_: null, ts: number, vid: number, path: Id, e: Id, w: Id, s: Id): void => {
      const t = this.tally()
      if (t.keyed(ts, vid)) t.page(path, e, w, s)
    }
    const all = (_: null, ts: number, vid: number, path: Id, country: Id, region: Id, city: Id, browser: Id, os: Id, device: Id,
      e: Id, w: Id, s: Id): void => {
      const t = this.tally()
      if (!t.keyed(ts, vid)) return
      t.page(path, e, w, s)
      t.count(1, country)
      t.count(2, region)
      t.count(3, city)
      t.count(4, browser)
      t.count(5, os)
      t.count(6, device)
    }
    for (const [name, step] of [['ls_view_keys', keys], ['ls_view_page', page], ['ls_view_pv', all]] as const) {
      db.aggregate(name, { start: null, step: step as unknown as Step, result: () => this.tally().n })
    }
    const visitOf = (_: null, id: number): void => this.tally().visitOf(id)
    db.aggregate('ls_view_visit', { start: null, step: visitOf as unknown as Step, result: () => this.tally().nVisits })
    // a visit's start, page views, duration and engaged figures (the totals), then its values
    const none = (_: null, start: number, pv: number, ms: number, en: Id, em: Id, wm: Id): void => this.tally().visited(start, pv, ms, en, em, wm)
    const one = (_: null, start: number, pv: number, ms: number, en: Id, em: Id, wm: Id, a: Text): void => {
      const t = this.tally()
      t.visited(start, pv, ms, en, em, wm)
      t.visit(0, a, pv, ms)
    }
    const two = (_: null, start: number, pv: number, ms: number, en: Id, em: Id, wm: Id, a: Text, b: Text): void => {
      const t = this.tally()
      t.visited(start, pv, ms, en, em, wm)
      t.visit(0, a, pv, ms)
      t.visit(1, b, pv, ms)
    }
    const eight = (_: null, start: number, pv: number, ms: number, en: Id, em: Id, wm: Id, a: Text, b: Text, c: Text, d: Text, e: Text,
      f: Text, g: Text, h: Text): void => {
      const t = this.tally()
      t.visited(start, pv, ms, en, em, wm)
      t.visit(0, a, pv, ms)
      t.visit(1, b, pv, ms)
      t.visit(2, c, pv, ms)
      t.visit(3, d, pv, ms)
      t.visit(4, e, pv, ms)
      t.visit(5, f, pv, ms)
      t.visit(6, g, pv, ms)
      t.visit(7, h, pv, ms)
    }
    const shapes = [['ls_view_visits0', none], ['ls_view_visits1', one], ['ls_view_visits2', two], ['ls_view_visits8', eight]] as const
    for (const [name, step] of shapes) db.aggregate(name, { start: null, step: step as unknown as Step, result: () => 0 })
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
    const want = new Set(dims)
    const visitDims = VISIT_DIMS.filter((d) => want.has(d))
    const t = (this.current = new ViewTally(r, visitDims.length))
    try {
      const sTo = r.series.from + r.series.n * r.series.size
      const from = Math.min(r.series.from, r.minute.from, r.hour.from)
      const to = Math.max(sTo, r.minute.to, r.hour.to)
      const others = PV_DIMS.slice(1).some(([d]) => want.has(d))
      const engaged = want.has('page') ? 'engaged_ms, writing_ms, scroll' : 'NULL, NULL, NULL'
      const call = others ? `ls_view_pv(ts, vid, ${PV_DIMS.map(([d, col]) => (want.has(d) ? col : 'NULL')).join(', ')}, ${engaged})`
        : want.has('page') ? `ls_view_page(ts, vid, path, ${engaged})` : 'ls_view_keys(ts, vid)'
      // a page "contains" of many pages: the page views read give the visits' condition, and the
      // read goes on to the end of that condition's window (rows past every range count nowhere else)
      const end = this.filtered.pageVisitsEnd(site, r.hour.to, filters)
      const pw = this.filtered.pvWhere(site, from, end === null ? to : Math.max(to, end), filters)
      this.cache.get(`SELECT ${call}${end === null ? '' : ', ls_view_visit(visit)'} FROM pv WHERE ${pw.sql}`).raw().get(...pw.params)
      const w = end === null ? this.filtered.visitWhere(site, r.hour.from, r.hour.to, filters)
        : this.filtered.visitsAmong(site, r.hour.from, r.hour.to, t.distinctVisits())
      this.visitsRead(visitDims, w)
      const series = t.points.map((keys, i) => ({ t: r.series.from + i * r.series.size, pageviews: keys.length, visitors: countDistinct(keys) }))
      const tops: Partial<Record<Dimension, TopRow[]>> = {}
      PV_DIMS.forEach(([d], i) => {
        if (want.has(d)) tops[d] = this.filtered.pvList(t.pv[i] as Map<number, Tallied>, limit)
      })
      visitDims.forEach((d, i) => {
        tops[d] = visitList(t.visits[i] as Map<string, VisitsTallied>, limit)
      })
      return { series, totals: { pageviews: t.n, visitors: countDistinct(t.keys, t.n) }, visitTotals: t.visitTotals, tops }
    } finally {
      this.current = null
    }
  }

  /**
   * One read of the visits `w` selects, those that started in the hour range (which holds the
   * minute range): the totals of those in the minute range, and the values of the lists asked for.
   */
  private visitsRead(dims: readonly VisitDimension[], w: Cond): void {
    const cols = dims.map(listColumn)
    const values = cols.length <= 2 ? cols : [...cols, ...Array<string>(8 - cols.length).fill('NULL')]
    const name = `ls_view_visits${values.length}`
    this.cache.get(`SELECT ${name}(start, pageviews, end - start, engaged_n, engaged_ms, writing_ms${values.map((v) => `, ${v}`).join('')})
      FROM visits WHERE ${w.sql}`).raw().get(...w.params)
  }
}
