/**
 * Filters (filters.ts) as conditions on column blocks (sqlite-chunks.ts): the same rows as
 * `FilteredQueries.pvWhere` and `visitWhere` select (sqlite-filtered.ts), decided in JavaScript
 * loops over typed arrays instead of a WHERE clause. What can be decided once per read is: a value
 * becomes the dict ids it stands for (a Uint8Array indexed by dict id), and a filter that crosses
 * from one kind of row to another (an entry page or event filter on page views, a page or event
 * filter on visits) becomes the Set of visit ids it selects, computed once per read over the same
 * window the SQL condition uses (the site's longest visit, VISIT_GAP_MS for custom events).
 *
 * A block's selection is a Uint8Array of its rows (1: kept), each condition clearing the rows it
 * rejects in one loop over its column.
 */
import type { Filter, FilterDimension } from './filters'
import type { Block, Blocks, Column, ColumnReader, PvColumn, VisitColumn } from './sqlite-chunks'
import type { Dict } from './sqlite-dict'
import type { FilteredQueries } from './sqlite-filtered'
import type { SqliteVisits } from './sqlite-visits'
import { VisitIds } from './visit-ids'
import { NO_VALUE, VISIT_GAP_MS } from './visits'

/** pv columns (dict ids) of the filters a page view answers itself (as sqlite-filtered.ts). */
const PV_COL: Partial<Record<FilterDimension, PvColumn>> = {
  page: 'path', referrer: 'ref', utm_source: 'utm_source', utm_medium: 'utm_medium', utm_campaign: 'utm_campaign',
  utm_term: 'utm_term', keyword: 'keyword', country: 'country', region: 'region', city: 'city', browser: 'browser',
  os: 'os', device: 'device',
}
/** visits columns of the filters a visit answers itself, with their SQL column. */
const VISIT_COL: Partial<Record<FilterDimension, [VisitColumn, string]>> = {
  entry_page: ['entry', 'entry'], exit_page: ['exit', 'exit'], referrer: ['ref_host', 'ref_host'], utm_source: ['utm_source', 'utm_source'],
  utm_medium: ['utm_medium', 'utm_medium'], utm_campaign: ['utm_campaign', 'utm_campaign'], utm_term: ['utm_term', 'utm_term'],
  keyword: ['keyword', 'keyword'], country: ['country', 'country'], region: ['region', 'region'], city: ['city', 'city'],
  browser: ['browser', 'browser'], os: ['os', 'os'], device: ['device', 'device'],
}

/**
 * A condition on a dict-id column: 0 (NULL) gives `nul`, an id in `set` `hit`, another positive id
 * `miss`; a negative id (a visit's string the dict lacks) is decided by `text` on its string.
 */
interface IdCond<C extends string> {
  kind: 'id'
  col: C
  set: Uint8Array
  hit: boolean
  miss: boolean
  nul: boolean
  text: (s: string) => boolean
}
/** Rows whose visit id (column `col`) is in `ids` give `hit`, others `!hit`; a NULL visit (NaN) fails. */
interface SetCond<C extends string> {
  kind: 'set'
  col: C
  ids: VisitIds
  hit: boolean
}
/**
 * `withOtherPage`: a visit with an entry or exit other than `path`, or with more page views than
 * `views` counts for it (its page views of `path` in the window, filled by a PageNeed).
 */
interface OtherCond {
  kind: 'other'
  path: number
  views: VisitIds
}
type Cond<C extends string> = IdCond<C> | SetCond<C> | OtherCond

/**
 * A visit-id multiset that must be filled from page views before the visit conditions run (a page
 * filter matching more pages than the postings serve, or page=!P's page views of P): the visit of
 * each page view with ts in [from, to) whose path is in `paths`, once per page view.
 */
export interface PageNeed {
  from: number
  to: number
  paths: Uint8Array
  ids: VisitIds
}

/** ASCII-only lower case, as SQLite's LIKE compares. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32))
}

function membership(ids: readonly number[]): Uint8Array {
  let max = 0
  for (const id of ids) if (id > max) max = id
  const set = new Uint8Array(max + 1)
  for (const id of ids) if (id > 0) set[id] = 1
  return set
}

/** The compiled filters of one read of one kind of rows. */
export class ColumnFilter<C extends string> {
  /** Set when a condition keeps no row (a value never stored, a `contains` matching nothing). */
  none = false
  /** Conditions that must be filled from page views first (visits only). */
  readonly needs: PageNeed[] = []
  /** @internal */
  readonly conds: Cond<C>[] = []

  /** The columns a selection reads. */
  columns(): C[] {
    const out = new Set<string>()
    for (const c of this.conds) {
      if (c.kind === 'other') ['entry', 'exit', 'id', 'pageviews'].forEach((x) => out.add(x))
      else out.add(c.col)
    }
    return [...out] as C[]
  }

  /** Whether every row is kept (no conditions). */
  get all(): boolean {
    return !this.none && this.conds.length === 0
  }

  /**
   * The indexes of the rows of `b` kept, ascending (a fresh array): loops over a block's figures
   * visit those rows only, so a narrow filter costs little past its own column.
   */
  rows(b: Block<C>, text: Blocks<C>['text']): Int32Array {
    if (this.all) {
      const out = new Int32Array(b.n)
      for (let i = 0; i < b.n; i++) out[i] = i
      return out
    }
    const keep = this.select(b, text)
    let n = 0
    for (let i = 0; i < b.n; i++) n += keep[i] as number
    const out = new Int32Array(n)
    for (let i = 0, k = 0; i < b.n; i++) if (keep[i] === 1) out[k++] = i
    return out
  }

  /**
   * The rows of `b` kept, 1 each (a fresh array); `text` resolves negative ids (Blocks.text).
   * Needs the columns `columns()` names.
   */
  select(b: Block<C>, text: Blocks<C>['text']): Uint8Array {
    const n = b.n
    const keep = new Uint8Array(n)
    if (this.none) return keep
    keep.fill(1)
    for (const c of this.conds) {
      if (c.kind === 'id') idCond(c, b.cols[c.col] as Int32Array, keep, n, text)
      else if (c.kind === 'set') {
        const a = b.cols[c.col] as Float64Array
        const { hit } = c
        const { counts, base, map } = c.ids.lookup()
        if (counts !== null) {
          const len = counts.length
          for (let i = 0; i < n; i++) {
            if (keep[i] === 0) continue
            const j = (a[i] as number) - base
            // NaN (no visit) fails either way
            if (j !== j || (j >= 0 && j < len && (counts[j] as number) > 0) !== hit) keep[i] = 0
          }
        } else {
          for (let i = 0; i < n; i++) {
            if (keep[i] === 0) continue
            const v = a[i] as number
            if (v !== v || map.has(v) !== hit) keep[i] = 0
          }
        }
      } else {
        const cols = b.cols as unknown as Record<string, Column>
        const entry = cols.entry as Int32Array
        const exit = cols.exit as Int32Array
        const id = cols.id as Float64Array
        const pageviews = cols.pageviews as Float64Array
        const { path, views } = c
        for (let i = 0; i < n; i++) {
          if (keep[i] === 0 || entry[i] !== path || exit[i] !== path) continue
          // few rows enter and exit on `path`: `count` per row is cheap enough here. As
          // `FilteredQueries.otherPageVisits`: two or more views of `path`, fewer than the visit's.
          const p = pageviews[i] as number
          const seen = views.count(id[i] as number)
          if (!(p > 1 && seen >= 2 && p > seen)) keep[i] = 0
        }
      }
    }
    return keep
  }
}

function idCond<C extends string>(c: IdCond<C>, a: Int32Array, keep: Uint8Array, n: number, text: (id: number) => string | undefined): void {
  const { set, hit, miss, nul } = c
  const len = set.length
  let neg: Map<number, boolean> | undefined
  for (let i = 0; i < n; i++) {
    if (keep[i] === 0) continue
    const x = a[i] as number
    let ok: boolean
    if (x > 0) ok = x < len && set[x] === 1 ? hit : miss
    else if (x === 0) ok = nul
    else {
      neg ??= new Map()
      let v = neg.get(x)
      if (v === undefined) neg.set(x, (v = c.text(text(x) ?? '')))
      ok = v
    }
    if (!ok) keep[i] = 0
  }
}

/** Compiles filters for page-view and visit blocks of one site. */
export class ColumnFilters {
  constructor(private readonly dict: Dict, private readonly store: SqliteVisits, private readonly filtered: FilteredQueries,
    private readonly columns: ColumnReader) {}

  /**
   * A condition on a dict-id column with `ids` / `text` semantics of sqlite-filtered.ts (`ids` on
   * pv, `text` on visits: the same rows, as a visit's strings are dict strings or negative ids).
   * Null when the condition keeps every row; `false` when none.
   */
  private idCond<C extends string>(col: C, f: Filter): IdCond<C> | null | false {
    const empty = new Uint8Array(0)
    if (f.value === NO_VALUE && f.op !== 'contains') {
      // `referrer=`: rows without a value; `referrer=!`: rows with one
      const is = f.op === 'is'
      return { kind: 'id', col, set: empty, hit: !is, miss: !is, nul: is, text: () => !is }
    }
    if (f.op === 'contains') {
      const ids = this.dict.containing(f.value)
      const part = asciiLower(f.value)
      return { kind: 'id', col, set: membership(ids), hit: true, miss: false, nul: false, text: (s) => asciiLower(s).includes(part) }
    }
    const id = this.dict.lookup(f.value)
    const value = f.value
    if (f.op === 'is') return { kind: 'id', col, set: membership(id === null ? [] : [id]), hit: true, miss: false, nul: false, text: (s) => s === value }
    if (id === null) return { kind: 'id', col, set: empty, hit: true, miss: true, nul: true, text: (s) => s !== value }
    return { kind: 'id', col, set: membership([id]), hit: false, miss: true, nul: true, text: (s) => s !== value }
  }

  /**
   * `FilteredQueries.visitIdsWhere` from visit blocks: the ids of the visits of `site` that started
   * in [from, to) whose column `col` matches `f` ("is not" of a value: those that have the value, the
   * caller keeps the rest). The visits' own column read: through SQL each visit of the window was
   * a table row fetched by rowid and a text compare (entry_page=/ on a day of 10 M events: ~120,000).
   */
  private visitIdsWhere(site: number, col: VisitColumn, f: Filter, from: number, to: number): number[] {
    const c = this.idCond(col, f.op === 'not' && f.value !== NO_VALUE ? { ...f, op: 'is' } : f)
    if (c === false) return []
    const sel = new ColumnFilter<VisitColumn>()
    if (c !== null) sel.conds.push(c)
    const { blocks, text } = this.columns.visits(site, from, to, ['id', col])
    const out: number[] = []
    for (const b of blocks) {
      const id = b.cols.id as Float64Array
      const rows = sel.rows(b, text)
      for (let k = 0; k < rows.length; k++) out.push(id[rows[k] as number] as number)
    }
    return out
  }

  /** The page views of `site` in [from, to) (ms) matching every filter: `FilteredQueries.pvWhere`. */
  pv(site: number, from: number, to: number, filters: readonly Filter[]): ColumnFilter<PvColumn> {
    const out = new ColumnFilter<PvColumn>()
    const span = this.store.maxSpan(site)
    for (const f of filters) {
      const col = f.dim === 'prop' ? undefined : PV_COL[f.dim]
      if (col !== undefined) {
        const c = this.idCond(col, f)
        if (c === false) out.none = true
        else if (c !== null) out.conds.push(c)
        // pv rows hold dict ids only: an "is" or "contains" no dict string matches keeps no row
        if (c && !c.nul && !c.miss && !c.set.includes(1)) out.none = true
      } else if (f.dim === 'event' || f.dim === 'prop') {
        const ids = this.filtered.eventVisits(site, from - span - VISIT_GAP_MS, to + span + VISIT_GAP_MS, f)
        out.conds.push({ kind: 'set', col: 'visit', ids: new VisitIds(ids), hit: true })
      } else {
        const [col] = VISIT_COL[f.dim] as [VisitColumn, string]
        const ids = this.visitIdsWhere(site, col, f, from - span, to)
        out.conds.push({ kind: 'set', col: 'visit', ids: new VisitIds(ids), hit: !(f.op === 'not' && f.value !== NO_VALUE) })
      }
    }
    return out
  }

  /**
   * The visits of `site` that started in [from, to) (ms) matching every filter:
   * `FilteredQueries.visitWhere`. A page filter of more pages than the postings serve leaves a
   * `PageNeed` for the caller to fill from page views before selecting.
   */
  visits(site: number, from: number, to: number, filters: readonly Filter[]): ColumnFilter<VisitColumn> {
    const out = new ColumnFilter<VisitColumn>()
    const span = this.store.maxSpan(site)
    for (const f of filters) {
      const col = f.dim === 'prop' ? undefined : VISIT_COL[f.dim]
      if (col !== undefined) {
        const c = this.idCond(col[0], f)
        if (c === false) out.none = true
        else if (c !== null) out.conds.push(c)
      } else if (f.dim === 'page' && f.op === 'not') {
        const id = this.dict.lookup(f.value)
        if (id === null) continue
        // the page views of `path` per visit come from the view's own read of page views (the
        // postings' look-up, `FilteredQueries.otherPageVisits`, cost 50 ms a day of 10 M events)
        const need: PageNeed = { from, to: to + span + 1, paths: membership([id]), ids: new VisitIds() }
        out.needs.push(need)
        out.conds.push({ kind: 'other', path: id, views: need.ids })
      } else if (f.dim === 'page') {
        const { paths, posted } = this.filtered.pagePaths(f)
        if (paths.length === 0) out.none = true
        else if (posted) out.conds.push({ kind: 'set', col: 'id', ids: new VisitIds(this.filtered.postedVisits(site, paths, from, to + span)), hit: true })
        else {
          // withPage reads page views with ts in [from, to + span] (whole ms)
          const need: PageNeed = { from, to: to + span + 1, paths: membership(paths), ids: new VisitIds() }
          out.needs.push(need)
          out.conds.push({ kind: 'set', col: 'id', ids: need.ids, hit: true })
        }
      } else {
        const ids = this.filtered.eventVisits(site, from - VISIT_GAP_MS, to + span + VISIT_GAP_MS + 1, f)
        out.conds.push({ kind: 'set', col: 'id', ids: new VisitIds(ids), hit: true })
      }
    }
    return out
  }
}

/** Adds to each need's ids the visits of the page views of block `b` (columns ts, path, visit) it asks for. */
export function fillNeeds(needs: readonly PageNeed[], b: Block<PvColumn>): void {
  if (needs.length === 0) return
  const ts = b.cols.ts as Float64Array
  const path = b.cols.path as Int32Array
  const visit = b.cols.visit as Float64Array
  for (const need of needs) {
    const { from, to, paths, ids } = need
    const len = paths.length
    for (let i = 0; i < b.n; i++) {
      const t = ts[i] as number
      if (t < from || t >= to) continue
      const p = path[i] as number
      if (p > 0 && p < len && paths[p] === 1) {
        const v = visit[i] as number
        if (v === v) ids.add(v)
      }
    }
  }
}
