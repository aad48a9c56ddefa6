/**
 * Unfiltered top lists counted from column blocks (sqlite-chunks.ts) instead of the rollups
 * (issue 12.6). A day's `rollup_top` holds about 92,000 page rows and `rollup_vtop` 57,000 entry
 * rows: `GROUP BY value` over them is a b-tree sort, 25-75 ms for the History overview's lists. The
 * same range's pv rows (a day: about 300,000) or visits (about 120,000) come as typed arrays from
 * the stored hour chunks, and a count per dict id in a typed array is a few ns a row; only the ids
 * that can make the list are resolved to strings.
 *
 * The lists are the rollup path's, row for row: the same rows (values with a count), ranked most
 * first, then by value in SQLite's binary (UTF-8) order, the referrer list with its Direct / None
 * row (visits without a referrer, `NO_VALUE`) ranked among them. Counted from the fact rows, they
 * hold what the facts hold: the caller keeps the rollups for ranges that reach back before the
 * site's first stored page view (pruned, or not yet written), and for `event`. A page view without
 * a visitor (the store takes one; ingest always sets a visitor) has no pv row, so it counts in the
 * rollup lists only.
 */
import type Database from 'better-sqlite3'
import type { ColumnReader, PvColumn, VisitColumn } from './sqlite-chunks'
import { VisitCounts, kthLargest, maxId } from './sqlite-col-tally'
import type { Dict } from './sqlite-dict'
import type { Dimension, TopRow, VisitDimension } from './types'
import { NO_VALUE, isVisitDimension, listsNone } from './visits'

/** The pv column of each page-view dimension a column list counts. */
const PV_DIM: Partial<Record<Dimension, PvColumn>> = {
  page: 'path', country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
}

/** The visits column of each visit dimension. */
const VISIT_DIM: Readonly<Record<VisitDimension, VisitColumn>> = {
  entry_page: 'entry', exit_page: 'exit', referrer: 'ref_host', utm_source: 'utm_source', utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign', utm_term: 'utm_term', keyword: 'keyword',
}

/**
 * A UTF-16 code unit moved so that code unit order is code point (and so UTF-8 byte) order:
 * surrogates (U+D800-DFFF, halves of code points above U+FFFF) go above U+E000-FFFF.
 */
function unit(c: number): number {
  return c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800
}

/**
 * Compares two strings as SQLite's BINARY collation does (memcmp of their UTF-8): JavaScript's `<`
 * compares UTF-16 code units and puts a character above U+FFFF before one in U+E000-FFFF.
 * @returns negative, 0 or positive
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return unit(x) - unit(y)
  }
  return a.length - b.length
}

/** Sorted as the rollup SQL sorts (`ORDER BY n DESC, value`), the first `limit`. */
function ranked<T extends { value: string }>(rows: T[], n: (r: T) => number, limit: number): T[] {
  return rows.sort((a, b) => n(b) - n(a) || compareUtf8(a.value, b.value)).slice(0, limit)
}

/** Whether `ColumnTops.top` can list this dimension (every page-view and visit dimension but `event`). */
export function columnListed(dim: Dimension): boolean {
  return isVisitDimension(dim) || PV_DIM[dim] !== undefined
}

/**
 * The dimensions whose lists are cheaper from columns: those with thousands of values an hour, whose
 * rollup rows for a day are tens of thousands. The others have a few to a few hundred values an hour
 * and their rollup rows group in about 0.1-6 ms, less than reading the range's column (4-14 ms).
 * Measured on the 10 M bench file, 24 h, CPU ms median of 5, rollups against columns: page 94.6 /
 * 6.5, referrer 38.1 / 17.4, entry_page 80.6 / 20.4, exit_page 86.8 / 16.6; browser 0.3 / 4.4,
 * country 1.3 / 10.6, keyword 6.0 / 11.9, utm_term 4.8 / 11.6.
 */
export const COLUMN_WINS: ReadonlySet<Dimension> = new Set<Dimension>(['page', 'referrer', 'entry_page', 'exit_page'])

/** Row indexes 0 to n - 1: every row of a block, as the counters take a row list (one shared array, grown as needed). */
let identity = new Int32Array(0)
function allRows(n: number): Int32Array {
  if (identity.length < n) {
    identity = new Int32Array(Math.max(n, identity.length * 2))
    for (let i = 0; i < identity.length; i++) identity[i] = i
  }
  return identity.subarray(0, n)
}

export class ColumnTops {
  private readonly firstPv: Database.Statement<[number], [number | null]>

  constructor(db: Database.Database, private readonly columns: ColumnReader, private readonly dict: Dict) {
    this.firstPv = db.prepare<[number], [number | null]>('SELECT min(ts) FROM pv WHERE site = ?').raw()
  }

  /**
   * Whether the fact rows of site id `site` hold everything from `from` (ms) on: a prune deletes
   * the pv rows (and visits) before its bound but keeps the rollups, so a range starting before
   * the first stored page view may have rollup rows the facts lack.
   */
  covers(site: number, from: number): boolean {
    const first = this.firstPv.get(site)?.[0] ?? null
    return first !== null && from >= first
  }

  /**
   * The top `limit` rows of `dim` (a page-view dimension of `PV_DIM` or a visit dimension) over
   * the hour-aligned range [from, to) ms of site id `site`, unfiltered: page-view dimensions as
   * `{ value, pageviews }` (page views with that value; a page's engaged figures are the caller's),
   * visit dimensions as `{ value, pageviews, visits, bounces, durationMs }` of the visits that
   * started in the range, ranked by visits; the referrer list with its NO_VALUE row.
   */
  top(site: number, dim: Dimension, from: number, to: number, limit: number): TopRow[] {
    return isVisitDimension(dim) ? this.visitTop(site, dim, from, to, limit) : this.pvTop(site, dim, from, to, limit)
  }

  private pvTop(site: number, dim: Dimension, from: number, to: number, limit: number): TopRow[] {
    const col = PV_DIM[dim]
    if (col === undefined) throw new Error(`ColumnTops: no pv column for ${dim}`)
    const { blocks } = this.columns.pv(site, from, to, [col])
    // every row counts: a plain loop per block (no row list), 0 being NULL
    const n = new Int32Array(maxId(blocks, col) + 1)
    for (const b of blocks) {
      const a = b.cols[col] as Int32Array
      for (let i = 0; i < b.n; i++) {
        const id = a[i] as number
        n[id] = (n[id] as number) + 1
      }
    }
    n[0] = 0
    // only the ids counting at least the limit-th largest can be listed (ties at the limit go by value)
    const least = Math.max(1, kthLargest(n, limit))
    const ids: number[] = []
    for (let id = 1; id < n.length; id++) if ((n[id] as number) >= least) ids.push(id)
    const names = this.dict.values(ids)
    return ranked(ids.map((id): TopRow => ({ value: names.get(id) ?? '', pageviews: n[id] as number })), (r) => r.pageviews, limit)
  }

  private visitTop(site: number, dim: VisitDimension, from: number, to: number, limit: number): TopRow[] {
    const col = VISIT_DIM[dim]
    const { blocks, text } = this.columns.visits(site, from, to, [col, 'pageviews', 'duration'])
    // negative ids (strings the dict lacks) and NULL (the NO_VALUE row, where listed) go to a Map
    const counts = new VisitCounts(col, maxId(blocks, col) + 1, listsNone(dim) ? NO_VALUE : null)
    for (const b of blocks) counts.add(b, allRows(b.n))
    const rows = [...counts.groups(limit, this.dict, text)].map(([value, g]): TopRow => ({
      value, pageviews: g.pageviews, visits: g.visits, bounces: g.bounces, durationMs: g.durationMs,
    }))
    return ranked(rows, (r) => r.visits ?? 0, limit)
  }
}
