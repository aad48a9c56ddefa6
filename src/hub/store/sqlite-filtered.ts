/**
 * Filtered queries on SQLite (what a filter means: filters.ts). Unfiltered queries read rollups;
 * these read the fact rows: `pv` for page views (its visit's source is on each row, so a source
 * filter costs no join), `ce` for custom events, `visits` for visit figures. A range is one
 * sequential read of (site, time) keys; conditions compare dict ids; filters that cross from one
 * kind to another (a page filter on visits, an entry page or event filter on page views) become an
 * `IN` over the other table, bounded by the site's longest visit.
 */
import type Database from 'better-sqlite3'
import type { Filter, FilterDimension } from './filters'
import type { Dict } from './sqlite-dict'
import { StatementCache } from './sqlite-statements'
import { Tallies, type Tally, type Tallied, type VisitsTallied } from './sqlite-tally'
import type { SqliteVisits } from './sqlite-visits'
import { VISIT_COLUMN, listColumn } from './sqlite-visits'
import type { EventDimension, EventRow, GoalFigures, SeriesPoint, TopRow, VisitDimension, VisitTotals } from './types'
import type { GoalSpec } from '../goals/spec'
import { countDistinct } from '../goals/distinct'
import type { PostingRows, Postings } from './sqlite-postings'
import { NO_VALUE, VISIT_GAP_MS, isVisitDimension } from './visits'

type Param = number | string
type PropFilter = Extract<Filter, { dim: 'prop' }>
export interface Cond {
  sql: string
  params: Param[]
}

const TRUE: Cond = { sql: '1', params: [] }
const FALSE: Cond = { sql: '0', params: [] }

/** pv columns (dict ids) of the filters a page view answers itself. */
const PV_COLUMN: Partial<Record<FilterDimension, string>> = {
  page: 'path', referrer: 'ref', utm_source: 'utm_source', utm_medium: 'utm_medium', utm_campaign: 'utm_campaign',
  utm_term: 'utm_term', keyword: 'keyword', country: 'country', region: 'region', city: 'city', browser: 'browser',
  os: 'os', device: 'device',
}
/** ce columns (dict ids) of the filters a custom event answers itself. */
const CE_COLUMN: Partial<Record<FilterDimension, string>> = {
  page: 'path', country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
  event: 'name',
}
/** visits columns (text) of the filters a visit answers itself. */
const VISITS_COLUMN: Partial<Record<FilterDimension, string>> = {
  ...VISIT_COLUMN, country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
}
/**
 * Most pages whose postings a query reads (sqlite-postings.ts) instead of the pv rows of the range:
 * each page's chunks are read whole, and a rarely viewed page's chunk spans weeks, so a `contains`
 * matching hundreds of pages (page=~blog: 830) reads more than the range's pv rows.
 */
const POSTED_PATHS = 16
/** Top-list dimensions counted over page views, and their pv column. */
const PV_TOP: Readonly<Record<string, string>> = {
  page: 'path', country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
}

/** Sorted as the rollup lists are: most first, then by value. */
function rank<T extends { value: string }>(rows: T[], n: (r: T) => number, limit: number): T[] {
  return rows.sort((a, b) => n(b) - n(a) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, limit)
}

export class FilteredQueries {
  private readonly cache: StatementCache
  private readonly tallies: Tallies

  constructor(db: Database.Database, private readonly dict: Dict, private readonly visits: SqliteVisits,
    private readonly postings: Postings) {
    this.tallies = new Tallies(db)
    this.cache = new StatementCache(db, 500)
  }

  private stmt(sql: string): Database.Statement {
    return this.cache.get(sql)
  }

  /** A condition on a dict-id column. */
  private ids(col: string, f: Filter): Cond {
    if (f.value === NO_VALUE && f.op !== 'contains') return { sql: `${col} IS ${f.op === 'is' ? '' : 'NOT '}NULL`, params: [] }
    if (f.op === 'contains') {
      const ids = this.dict.containing(f.value)
      return ids.length === 0 ? FALSE : { sql: `${col} IN (SELECT value FROM json_each(?))`, params: [JSON.stringify(ids)] }
    }
    const id = this.dict.lookup(f.value)
    if (f.op === 'is') return id === null ? FALSE : { sql: `${col} = ?`, params: [id] }
    return id === null ? TRUE : { sql: `${col} IS NOT ?`, params: [id] }
  }

  /** A condition on a text column. */
  private text(col: string, f: Filter): Cond {
    // `referrer=` (NO_VALUE): the visits without one; `referrer=!`: those with one
    if (f.value === NO_VALUE && f.op !== 'contains') return { sql: `${col} IS ${f.op === 'is' ? '' : 'NOT '}NULL`, params: [] }
    if (f.op === 'is') return { sql: `${col} = ?`, params: [f.value] }
    if (f.op === 'not') return { sql: `${col} IS NOT ?`, params: [f.value] }
    return { sql: `${col} LIKE ? ESCAPE '\\'`, params: [`%${f.value.replace(/[\\%_]/g, (c) => `\\${c}`)}%`] }
  }

  /**
   * Custom events in [from, to) (a condition on `ce` rows) by a property: `is` and `contains` keep
   * those with the key and a matching value, `not` those without the key or with another value.
   */
  private prop(site: number, from: number, to: number, f: PropFilter): Cond {
    const key = this.dict.lookup(f.key)
    if (f.op === 'not') {
      const id = key === null ? null : this.dict.lookup(f.value)
      if (id === null) return TRUE
      return { sql: 'rid NOT IN (SELECT rid FROM cp WHERE site = ? AND ts >= ? AND ts < ? AND key = ? AND value = ?)', params: [site, from, to, key as number, id] }
    }
    const v = key === null ? FALSE : this.ids('value', f)
    if (v === FALSE) return FALSE
    return { sql: `rid IN (SELECT rid FROM cp WHERE site = ? AND ts >= ? AND ts < ? AND key = ? AND ${v.sql})`, params: [site, from, to, key as number, ...v.params] }
  }

  /** Visits of page views in [from, to) with an event matching `f` (its name, or a property). */
  private withEvent(site: number, from: number, to: number, f: Filter): Cond {
    const sub = this.eventSelect(site, from, to, f)
    return { sql: `(${sub.sql})`, params: sub.params }
  }

  private eventSelect(site: number, from: number, to: number, f: Filter): Cond {
    const c = f.dim === 'prop' ? this.prop(site, from, to, f) : this.ids('name', f)
    return { sql: `SELECT visit FROM ce WHERE site = ? AND ts >= ? AND ts < ? AND visit IS NOT NULL AND ${c.sql}`, params: [site, from, to, ...c.params] }
  }

  /**
   * The visit ids (repeated as often as they match) of the custom events of `site` in [from, to)
   * (ms) matching `f` (an `event` or `prop` filter): `withEvent`'s list, for the column-wise
   * conditions of sqlite-col-filter.ts.
   */
  eventVisits(site: number, from: number, to: number, f: Filter): number[] {
    const sub = this.eventSelect(site, from, to, f)
    return (this.stmt(sub.sql).raw().all(...sub.params) as [number][]).map((r) => r[0])
  }

  /** Page views in [from, to) matching every filter (a WHERE on `pv`). */
  pvWhere(site: number, from: number, to: number, filters: readonly Filter[]): Cond {
    return join([{ sql: 'site = ? AND ts >= ? AND ts < ?', params: [site, from, to] }, this.pvFilter(site, from, to, filters)])
  }

  /** The filters of page views in [from, to), without the range itself (`1` when none). */
  private pvFilter(site: number, from: number, to: number, filters: readonly Filter[]): Cond {
    const span = this.visits.maxSpan(site)
    const parts: Cond[] = [TRUE]
    for (const f of filters) {
      const col = f.dim === 'prop' ? undefined : PV_COLUMN[f.dim]
      if (col !== undefined) parts.push(this.ids(col, f))
      else if (f.dim === 'event' || f.dim === 'prop') {
        const sub = this.withEvent(site, from - span - VISIT_GAP_MS, to + span + VISIT_GAP_MS, f)
        parts.push({ sql: `visit IN ${sub.sql}`, params: sub.params })
      } else {
        parts.push(this.ofVisits('visit', VISITS_COLUMN[f.dim as FilterDimension] as string, f, [site, from - span, to], 'start < ?'))
      }
    }
    return join(parts)
  }

  /**
   * Rows (page views or custom events, by their `visit` column) whose visit's text column `col`
   * matches `f`, among the visits of `site` that started from `window[1]` (to `window[2]`, compared
   * by `upper`). "Is not" is "not in the visits that are": the few visits with the value, not the
   * many without it (a visit of the window with another value, or none, is in neither list).
   */
  private ofVisits(visitCol: string, col: string, f: Filter, window: Param[], upper: string): Cond {
    const sub = `SELECT id FROM visits WHERE site = ? AND start >= ? AND ${upper}`
    if (f.op === 'not' && f.value !== NO_VALUE) {
      return { sql: `${visitCol} IS NOT NULL AND ${visitCol} NOT IN (${sub} AND ${col} = ?)`, params: [...window, f.value] }
    }
    const c = this.text(col, f)
    return { sql: `${visitCol} IN (${sub} AND ${c.sql})`, params: [...window, ...c.params] }
  }

  /** Visits that started in [from, to) matching every filter (a WHERE on `visits`; funnels read it too). */
  visitWhere(site: number, from: number, to: number, filters: readonly Filter[]): Cond {
    const span = this.visits.maxSpan(site)
    const parts: Cond[] = [{ sql: 'site = ? AND start >= ? AND start < ?', params: [site, from, to] }]
    for (const f of filters) {
      const col = f.dim === 'prop' ? undefined : VISITS_COLUMN[f.dim]
      if (col !== undefined) parts.push(this.text(col, f))
      else if (f.dim === 'page' && f.op === 'not') parts.push(this.withOtherPage(site, from, to, span, f.value))
      else if (f.dim === 'page') parts.push(this.withPage(site, from, to + span, f))
      else {
        const sub = this.withEvent(site, from - VISIT_GAP_MS, to + span + VISIT_GAP_MS + 1, f)
        parts.push({ sql: `id IN ${sub.sql}`, params: sub.params })
      }
    }
    return join(parts)
  }

  /**
   * When `filters` is one page "contains" of more pages than the postings serve (page=~blog: 830),
   * the end (exclusive) to which a read of the range's page views under `filters` must go for
   * their visit ids to be those `visitWhere` selects from visits that started before `to` (its
   * window: to + the site's longest visit); else null. sqlite-view.ts then collects the ids in the
   * page-view read it makes anyway (`visitsAmong`), where `visitWhere` would read the same page
   * views again in a subquery and insert each match into a temporary b-tree (about 1.5 µs a match).
   */
  pageVisitsEnd(site: number, to: number, filters: readonly Filter[]): number | null {
    const f = filters[0]
    if (filters.length !== 1 || f === undefined || f.dim !== 'page' || f.op !== 'contains') return null
    if (this.dict.containing(f.value).length <= POSTED_PATHS) return null
    return to + this.visits.maxSpan(site) + 1
  }

  /** Visits of `site` that started in [from, to) among `ids` (sorted, distinct): `visitWhere` for `pageVisitsEnd`'s filter. */
  visitsAmong(site: number, from: number, to: number, ids: readonly number[]): Cond {
    return { sql: 'site = ? AND start >= ? AND start < ? AND id IN (SELECT value FROM json_each(?))', params: [site, from, to, JSON.stringify(ids)] }
  }

  /**
   * Visits with a page view in [from, to] of a page `f` ("is" or "contains") matches: the page
   * views come from the postings (sqlite-postings.ts, per page), not from reading every page view
   * of the range, unless they are more than POSTED_PATHS pages; the visit ids go to SQLite as one
   * sorted list.
   */
  private withPage(site: number, from: number, to: number, f: Filter): Cond {
    const { paths, posted } = this.pagePaths(f)
    if (paths.length === 0) return FALSE
    if (!posted) {
      return { sql: 'id IN (SELECT visit FROM pv WHERE site = ? AND ts >= ? AND ts <= ? AND path IN (SELECT value FROM json_each(?)))', params: [site, from, to, JSON.stringify(paths)] }
    }
    return { sql: 'id IN (SELECT value FROM json_each(?))', params: [JSON.stringify(this.postedVisits(site, paths, from, to))] }
  }

  /** The distinct visit ids (ascending) of the page views of `paths` (dict ids) in [from, to] (ms), from the postings. */
  postedVisits(site: number, paths: readonly number[], from: number, to: number): number[] {
    const visits = this.postingsOf(site, paths, from, to).visit.sort()
    const ids: number[] = []
    for (let i = 0; i < visits.length; i++) if (i === 0 || visits[i] !== visits[i - 1]) ids.push(visits[i] as number)
    return ids
  }

  /**
   * The path ids a page filter ("is" or "contains") selects, and whether their visits come from
   * the postings (`postedVisits`) or from reading the range's page views (more than POSTED_PATHS).
   */
  pagePaths(f: Filter): { paths: number[]; posted: boolean } {
    let paths: number[]
    if (f.op === 'contains') paths = this.dict.containing(f.value)
    else {
      const id = this.dict.lookup(f.value)
      paths = id === null ? [] : [id]
    }
    return { paths, posted: paths.length <= POSTED_PATHS }
  }

  /**
   * Visits (started in [from, to)) with a page view of another page than `path`: all but those
   * whose every page view is of `path`. Such a visit enters and exits on `path`; of the few that do
   * with more than one page view, those with fewer page views of `path` (in the postings) than page
   * views have another. Neither reads every page view of the range (the set of visits with another
   * page would be nearly every visit, built anew by each query), nor every visit: one that enters
   * and exits on `path` with more than one page view has two of them in the postings' window (its
   * first and last, within the site's longest visit of its start), so only the visits with two or
   * more are looked up (1,467 of 121,037 for page=!/ on a day of 10 M events; reading the range's
   * visits for entry and exit cost 22 ms).
   */
  private withOtherPage(site: number, from: number, to: number, span: number, path: string): Cond {
    const id = this.dict.lookup(path)
    if (id === null) return TRUE
    return {
      sql: '(entry IS NOT ? OR exit IS NOT ? OR id IN (SELECT value FROM json_each(?)))',
      params: [path, path, JSON.stringify(this.otherPageVisits(site, from, to, span, id, path))],
    }
  }

  /**
   * `withOtherPage`'s list (ascending): the visits of `site` that started in [from, to) entering and
   * exiting on `path` (dict id `id`) with a page view of another page.
   */
  otherPageVisits(site: number, from: number, to: number, span: number, id: number, path: string): number[] {
    const views = this.postingsOf(site, [id], from, to + span).visit
    const seen = new Map<number, number>()
    for (let i = 0; i < views.length; i++) {
      const v = views[i] as number
      seen.set(v, (seen.get(v) ?? 0) + 1)
    }
    const twice: number[] = []
    for (const [v, n] of seen) if (n >= 2) twice.push(v)
    const other: number[] = []
    if (twice.length > 0) {
      // by rowid: through visits_start SQLite would read every visit of the range
      const both = this.stmt(`SELECT id, pageviews FROM visits NOT INDEXED WHERE id IN (SELECT value FROM json_each(?)) AND site = ? AND start >= ?
        AND start < ? AND entry = ? AND exit = ? AND pageviews > 1`).raw().all(JSON.stringify(twice), site, from, to, path, path) as [number, number][]
      for (const [v, pageviews] of both) if (pageviews > (seen.get(v) ?? 0)) other.push(v)
    }
    return other.sort((a, b) => a - b)
  }

  /** Custom events in [from, to) matching every filter. */
  private ceWhere(site: number, from: number, to: number, filters: readonly Filter[]): Cond {
    const span = this.visits.maxSpan(site)
    const parts: Cond[] = [{ sql: 'site = ? AND ts >= ? AND ts < ?', params: [site, from, to] }]
    for (const f of filters) {
      const col = f.dim === 'prop' ? undefined : CE_COLUMN[f.dim]
      if (col !== undefined) parts.push(this.ids(col, f))
      else if (f.dim === 'prop') parts.push(this.prop(site, from, to, f))
      else parts.push(this.ofVisits('visit', VISITS_COLUMN[f.dim] as string, f, [site, from - span - VISIT_GAP_MS, to + VISIT_GAP_MS], 'start <= ?'))
    }
    return join(parts)
  }

  /**
   * The page views of `paths` in [from, to] from the postings, as the pv rows hold them: a prune
   * deletes pv rows before a time but leaves the postings' chunks that straddle it, so reads start
   * at the site's first pv row (a late page view older than a past prune would reopen that gap).
   */
  private postingsOf(site: number, paths: readonly number[], from: number, to: number): PostingRows {
    const first = (this.stmt('SELECT ts FROM pv WHERE site = ? ORDER BY ts LIMIT 1').raw().get(site) as [number] | undefined)?.[0]
    return this.postings.read(site, paths, Math.max(from, first ?? to + 1), to)
  }

  /**
   * The path ids a page view must have when every filter is a page "is" or "contains" (their
   * intersection), else null (or when they are more than POSTED_PATHS): such page views are in the
   * postings, per page, so a query that needs only their time and visitor reads those instead of
   * every page view of the range.
   */
  private pagesOnly(filters: readonly Filter[]): number[] | null {
    let ids: number[] | null = null
    for (const f of filters) {
      if (f.dim !== 'page' || f.op === 'not') return null
      const id = f.op === 'is' ? this.dict.lookup(f.value) : null
      const mine = f.op === 'contains' ? this.dict.containing(f.value) : id === null ? [] : [id]
      ids = ids === null ? mine : ids.filter((x) => mine.includes(x))
    }
    return ids !== null && ids.length > POSTED_PATHS ? null : ids
  }

  /** The visitor keys of the page views in each [from, to) of `spans`, one per page view (sqlite-hour-keys.ts). */
  keys(site: number, spans: readonly (readonly [number, number])[]): Tally {
    const stmt = this.stmt('SELECT ls_tally_keys(vid) FROM pv WHERE site = ? AND ts >= ? AND ts < ?').raw()
    return this.tallies.run(() => {
      for (const [from, to] of spans) stmt.get(site, from, to)
    })
  }

  totals(site: number, from: number, to: number, filters: readonly Filter[]): { pageviews: number; visitors: number } {
    const pages = this.pagesOnly(filters)
    if (pages !== null) {
      const views = pages.length === 0 ? null : this.postingsOf(site, pages, from, to - 1)
      return { pageviews: views?.visitor.length ?? 0, visitors: views === null ? 0 : countDistinct(views.visitor) }
    }
    const w = this.pvWhere(site, from, to, filters)
    const stmt = this.stmt(`SELECT ls_tally_keys(vid) FROM pv WHERE ${w.sql}`).raw()
    const t = this.tallies.run(() => stmt.get(...w.params))
    return { pageviews: t.n, visitors: countDistinct(t.keys, t.n) }
  }

  /**
   * Fills `out` (zeroed points from `from`, `size` apart) with the filtered page views and visitors:
   * counted per point in JavaScript (sqlite-tally.ts), as GROUP BY would sort every row first.
   */
  series(site: number, from: number, size: number, out: SeriesPoint[], filters: readonly Filter[]): void {
    const pages = this.pagesOnly(filters)
    if (pages !== null) {
      if (pages.length > 0) this.pointsOf(this.postingsOf(site, pages, from, from + out.length * size - 1), from, size, out)
      return
    }
    const w = this.pvWhere(site, from, from + out.length * size, filters)
    const stmt = this.stmt(`SELECT ls_tally_points(ts, vid) FROM pv WHERE ${w.sql}`).raw()
    for (const [i, visitors] of this.tallies.run(() => stmt.get(...w.params), from, size).points) {
      const p = out[i]
      if (p === undefined) continue
      p.pageviews = visitors.length
      p.visitors = countDistinct(visitors)
    }
  }

  /** Fills `out` as `series` does from page views in the postings. */
  private pointsOf(views: PostingRows, from: number, size: number, out: SeriesPoint[]): void {
    const per: number[][] = out.map(() => [])
    for (let i = 0; i < views.ts.length; i++) per[Math.floor(((views.ts[i] as number) - from) / size)]?.push(views.visitor[i] as number)
    for (const [i, visitors] of per.entries()) {
      const p = out[i] as SeriesPoint
      p.pageviews = visitors.length
      p.visitors = countDistinct(visitors)
    }
  }

  visitTotals(site: number, from: number, to: number, filters: readonly Filter[]): VisitTotals {
    const w = this.visitWhere(site, from, to, filters)
    const r = this.stmt(`SELECT count(*), coalesce(sum(pageviews = 1), 0), coalesce(sum(pageviews), 0),
      coalesce(sum(end - start), 0), coalesce(sum(engaged_n > 0), 0), coalesce(sum(engaged_ms), 0),
      coalesce(sum(writing_ms), 0) FROM visits WHERE ${w.sql}`).raw().get(...w.params) as number[]
    return {
      visits: r[0] ?? 0, bounces: r[1] ?? 0, pageviews: r[2] ?? 0, durationMs: r[3] ?? 0,
      engagedVisits: r[4] ?? 0, engagedMs: r[5] ?? 0, writingMs: r[6] ?? 0,
    }
  }

  top(site: number, dim: string, from: number, to: number, limit: number, filters: readonly Filter[]): TopRow[] {
    if (isVisitDimension(dim)) return this.topVisits(site, dim, from, to, limit, filters)
    if (dim === 'event') {
      const w = this.ceWhere(site, from, to, filters)
      const rows = this.stmt(`SELECT name, count(*) FROM ce WHERE ${w.sql} AND name IS NOT NULL GROUP BY name`)
        .raw().all(...w.params) as [number, number][]
      const names = this.dict.values(rows.map((r) => r[0]))
      return rank(rows.map(([id, n]) => ({ value: names.get(id) ?? '', pageviews: n })), (r) => r.pageviews, limit)
    }
    const col = PV_TOP[dim]
    if (col === undefined) return []
    const w = this.pvWhere(site, from, to, filters)
    // counted in JavaScript (sqlite-tally.ts): GROUP BY would sort every page view first. Pages
    // carry engaged time and scroll depth too, of the page views that reported them
    const engaged = dim === 'page'
      ? ', ls_tally_engaged(path, engaged_ms, writing_ms, scroll) FILTER (WHERE engaged_ms IS NOT NULL OR scroll IS NOT NULL)'
      : ''
    const stmt = this.stmt(`SELECT ls_tally(${col})${engaged} FROM pv WHERE ${w.sql} AND ${col} IS NOT NULL`).raw()
    return this.pvList(this.tallies.run(() => stmt.get(...w.params)).groups, limit)
  }

  /** A page-view top list from its groups (by dict id), ranked. */
  pvList(tallied: ReadonlyMap<number, Tallied>, limit: number): TopRow[] {
    const groups = [...tallied]
    // only the rows that can make the list need their value (ties at the limit go by value)
    let least = 0
    if (groups.length > limit) least = groups.map(([, g]) => g.n).sort((a, b) => b - a)[limit - 1] ?? 0
    const listed = groups.filter(([, g]) => g.n >= least)
    const names = this.dict.values(listed.map(([id]) => id))
    return rank(listed.map(([id, g]) => {
      const row: TopRow = { value: names.get(id) ?? '', pageviews: g.n }
      if (g.engagedViews > 0) Object.assign(row, { engagedViews: g.engagedViews, engagedMs: g.engagedMs, writingMs: g.writingMs })
      if (g.scrollViews > 0) Object.assign(row, { scrollViews: g.scrollViews, scrollSum: g.scrollSum })
      return row
    }), (r) => r.pageviews, limit)
  }

  /** Custom events per name, per property key (`prop`) or per value of one key (`prop:K`): events and unique visitors. */
  eventTop(site: number, dim: EventDimension, from: number, to: number, limit: number, filters: readonly Filter[]): EventRow[] {
    let rows: [number, number, number][]
    if (dim === 'event') {
      const w = this.ceWhere(site, from, to, filters)
      rows = this.stmt(`SELECT name, count(*), count(DISTINCT vid) FROM ce WHERE ${w.sql} AND name IS NOT NULL GROUP BY name`)
        .raw().all(...w.params) as [number, number, number][]
    } else {
      const parts: Cond[] = [{ sql: 'site = ? AND ts >= ? AND ts < ?', params: [site, from, to] }]
      if (dim !== 'prop') {
        const key = this.dict.lookup(dim.slice(5))
        if (key === null) return []
        parts.push({ sql: 'key = ?', params: [key] })
      }
      // every cp row is a counted custom event's: only filters need its ce row
      if (filters.length > 0) {
        const w = this.ceWhere(site, from, to, filters)
        parts.push({ sql: `rid IN (SELECT rid FROM ce WHERE ${w.sql})`, params: w.params })
      }
      const w = join(parts)
      const col = dim === 'prop' ? 'key' : 'value'
      rows = this.stmt(`SELECT ${col}, count(*), count(DISTINCT vid) FROM cp WHERE ${w.sql} GROUP BY ${col}`)
        .raw().all(...w.params) as [number, number, number][]
    }
    const names = this.dict.values(rows.map((r) => r[0]))
    return rank(rows.map(([id, events, visitors]) => ({ value: names.get(id) ?? '', events, visitors })), (r) => r.events, limit)
  }

  /**
   * A goal's converting visitors and conversions in [from, to): a page goal's page views (its
   * pattern run over the stored paths in the dict, the page views then selected by those ids: from
   * the postings, or the pv rows when filters need their columns), an event goal's custom events
   * (by name id and property ids).
   */
  conversion(site: number, from: number, to: number, filters: readonly Filter[], goal: GoalSpec): GoalFigures {
    let r: [number, number] | undefined
    if (goal.kind === 'page') {
      const ids = this.dict.pageIds(goal.page)
      if (ids.length === 0) return { visitors: 0, conversions: 0 }
      if (filters.length === 0) {
        const views = this.postingsOf(site, ids, from, to - 1)
        return { visitors: countDistinct(views.visitor), conversions: views.visitor.length }
      }
      const w = this.pvWhere(site, from, to, filters)
      r = this.stmt(`SELECT count(DISTINCT vid), count(*) FROM pv WHERE ${w.sql} AND path IN (SELECT value FROM json_each(?))`)
        .raw().get(...w.params, JSON.stringify(ids)) as [number, number] | undefined
    } else {
      const name = this.dict.lookup(goal.event)
      if (name === null) return { visitors: 0, conversions: 0 }
      const parts = [this.ceWhere(site, from, to, filters), { sql: 'name = ?', params: [name] }]
      for (const [key, value] of Object.entries(goal.props ?? {})) parts.push(this.prop(site, from, to, { dim: 'prop', key, op: 'is', value }))
      const w = join(parts)
      r = this.stmt(`SELECT count(DISTINCT vid), count(*) FROM ce WHERE ${w.sql}`).raw().get(...w.params) as [number, number] | undefined
    }
    return { visitors: r?.[0] ?? 0, conversions: r?.[1] ?? 0 }
  }


  private topVisits(site: number, dim: VisitDimension, from: number, to: number, limit: number, filters: readonly Filter[]): TopRow[] {
    const col = listColumn(dim)
    const w = this.visitWhere(site, from, to, filters)
    // counted in JavaScript (sqlite-tally.ts), as top pages: GROUP BY would sort the visits first
    const stmt = this.stmt(`SELECT ls_tally_visits(${col}, pageviews, end - start) FROM visits WHERE ${w.sql} AND ${col} IS NOT NULL`).raw()
    return visitList(this.tallies.run(() => stmt.get(...w.params)).visits, limit)
  }
}

/** A visit-dimension top list from its groups (by value), ranked by visits. */
export function visitList(groups: ReadonlyMap<string, VisitsTallied>, limit: number): TopRow[] {
  return rank([...groups].map(([value, g]) => ({ value, pageviews: g.pageviews, visits: g.visits, bounces: g.bounces, durationMs: g.durationMs })),
    (r) => r.visits, limit)
}

function join(parts: Cond[]): Cond {
  return { sql: parts.map((p) => p.sql).join(' AND '), params: parts.flatMap((p) => p.params) }
}
