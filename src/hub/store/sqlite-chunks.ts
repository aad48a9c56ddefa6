/**
 * Fact rows column-wise, for reads that visit every row of a range (issue 12.6: a broad filter
 * such as page=!/ keeps about 300,000 page views and 120,000 visits of a day). Handing each row
 * from SQLite to JavaScript costs about 0.5-1.5 µs on the machines measured (the step call and one
 * conversion per column); a typed array of the same column is read at a few ns a row.
 *
 * Two kinds of rows:
 * - page views: the `pv` rows of a site with `ts` in [from, to), in (ts, rid) order;
 * - visits: the `visits` rows of a site with `start` in [from, to), in id order.
 *
 * Columns are typed arrays of the block's `n` rows:
 * - dict ids (`i32`): Int32Array, 0 for NULL (dict ids start at 1). Visits hold their strings as
 *   text; here they are the strings' dict ids (every visit value is a page view's value too, so in
 *   the dict); a string the dict lacks gets a negative id, unique within the read (`Blocks.text`);
 * - numbers (`f64`): Float64Array (times in ms, 53-bit visitor keys, visit ids, figures), NaN for NULL.
 *
 * A read returns blocks in time order: the stored chunk of each whole hour that has a valid one,
 * and one block read from the table for each span without (the open hour, partial hours at the
 * range's edges, hours whose chunk a later write made stale). Consumers loop over the blocks and
 * never see where a block came from.
 */
import type Database from 'better-sqlite3'
import type { Dict } from './sqlite-dict'
import { StatementCache } from './sqlite-statements'

/** pv columns and their array type. */
export const PV_COLUMNS = {
  ts: 'f64', visit: 'f64', vid: 'f64', path: 'i32', ref: 'i32', utm_source: 'i32', utm_medium: 'i32', utm_campaign: 'i32',
  utm_term: 'i32', keyword: 'i32', country: 'i32', region: 'i32', city: 'i32', browser: 'i32', os: 'i32', device: 'i32',
  engaged_ms: 'f64', writing_ms: 'f64', scroll: 'f64',
} as const

/** visits columns and their array type (`duration` is end - start; the text columns are dict ids). */
export const VISIT_COLUMNS = {
  id: 'f64', start: 'f64', duration: 'f64', pageviews: 'f64', engaged_n: 'f64', engaged_ms: 'f64', writing_ms: 'f64',
  entry: 'i32', exit: 'i32', ref_host: 'i32', utm_source: 'i32', utm_medium: 'i32', utm_campaign: 'i32', utm_term: 'i32',
  keyword: 'i32', country: 'i32', region: 'i32', city: 'i32', browser: 'i32', os: 'i32', device: 'i32',
} as const

export type PvColumn = keyof typeof PV_COLUMNS
export type VisitColumn = keyof typeof VISIT_COLUMNS
export type Column = Float64Array | Int32Array

/** `n` rows; each column asked for, an array of `n`. */
export interface Block<C extends string> {
  n: number
  cols: Record<C, Column>
}

/** The blocks of one read, and the strings of the negative ids it gave (visits only). */
export interface Blocks<C extends string> {
  blocks: Block<C>[]
  /** The string of an id a block holds: the dict's for positive ids, the read's own for negative ones. */
  text(id: number): string | undefined
}

/** SQL expression of each visits column (text columns map to dict ids in JavaScript). */
const VISIT_SQL: Readonly<Record<VisitColumn, string>> = {
  id: 'id', start: 'start', duration: 'end - start', pageviews: 'pageviews', engaged_n: 'engaged_n',
  engaged_ms: 'engaged_ms', writing_ms: 'writing_ms', entry: 'entry', exit: 'exit', ref_host: 'ref_host',
  utm_source: 'utm_source', utm_medium: 'utm_medium', utm_campaign: 'utm_campaign', utm_term: 'utm_term',
  keyword: 'keyword', country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
}

function alloc(type: 'f64' | 'i32', n: number): Column {
  return type === 'f64' ? new Float64Array(n) : new Int32Array(n)
}

/**
 * Reads rows of `pv` and `visits` from the tables into blocks. This is the table side of a read:
 * the stored chunks (written at hour close) are served beside it by the chunk store.
 */
export class TableRows {
  private readonly cache: StatementCache

  constructor(db: Database.Database, private readonly dict: Dict) {
    this.cache = new StatementCache(db, 100)
  }

  /** The pv rows of `site` with ts in [from, to), columns `cols`, as one block. */
  pv(site: number, from: number, to: number, cols: readonly PvColumn[]): Block<PvColumn> {
    const rows = this.cache.get(`SELECT ${cols.length === 0 ? '1' : cols.join(', ')} FROM pv WHERE site = ? AND ts >= ? AND ts < ?
      ORDER BY ts, rid`).raw().all(site, from, to) as (number | null)[][]
    const n = rows.length
    const out = {} as Record<PvColumn, Column>
    cols.forEach((c, j) => {
      const type = PV_COLUMNS[c]
      const a = alloc(type, n)
      const none = type === 'f64' ? NaN : 0
      for (let i = 0; i < n; i++) a[i] = (rows[i] as (number | null)[])[j] ?? none
      out[c] = a
    })
    return { n, cols: out }
  }

  /**
   * The visits of `site` with start in [from, to), columns `cols`, as one block; text columns as
   * dict ids, a string the dict lacks as a negative id from `extra` (string → id, shared by a read).
   */
  visits(site: number, from: number, to: number, cols: readonly VisitColumn[], extra: Map<string, number>): Block<VisitColumn> {
    const rows = this.cache.get(`SELECT ${cols.length === 0 ? '1' : cols.map((c) => VISIT_SQL[c]).join(', ')} FROM visits
      WHERE site = ? AND start >= ? AND start < ? ORDER BY id`).raw().all(site, from, to) as (number | string | null)[][]
    const n = rows.length
    const out = {} as Record<VisitColumn, Column>
    const ids = new Map<string, number>()
    cols.forEach((c, j) => {
      const type = VISIT_COLUMNS[c]
      const a = alloc(type, n)
      if (type === 'f64') {
        for (let i = 0; i < n; i++) a[i] = ((rows[i] as (number | null)[])[j] as number | null) ?? NaN
      } else {
        for (let i = 0; i < n; i++) {
          const v = (rows[i] as (string | null)[])[j] ?? null
          if (v === null) continue
          let id = ids.get(v)
          if (id === undefined) {
            id = this.dict.lookup(v) ?? extra.get(v) ?? -(extra.size + 1)
            if (id < 0) extra.set(v, id)
            ids.set(v, id)
          }
          a[i] = id
        }
      }
      out[c] = a
    })
    return { n, cols: out }
  }
}

/**
 * The reads consumers make. Until chunks are stored this reads the tables only; the chunk store
 * (written at hour close) replaces whole hours with their stored chunk behind the same calls.
 */
export class ColumnReader {
  private readonly table: TableRows

  constructor(db: Database.Database, private readonly dict: Dict) {
    this.table = new TableRows(db, dict)
  }

  /** The pv rows of `site` with ts in [from, to) (ms), columns `cols`, in blocks in time order. */
  pv(site: number, from: number, to: number, cols: readonly PvColumn[]): Blocks<PvColumn> {
    const blocks = from < to ? [this.table.pv(site, from, to, cols)] : []
    return { blocks, text: (id) => this.dict.values([id]).get(id) }
  }

  /** The visits of `site` with start in [from, to) (ms), columns `cols`, in blocks in time order. */
  visits(site: number, from: number, to: number, cols: readonly VisitColumn[]): Blocks<VisitColumn> {
    const extra = new Map<string, number>()
    const blocks = from < to ? [this.table.visits(site, from, to, cols, extra)] : []
    const back = new Map<number, string>()
    return {
      blocks,
      text: (id) => {
        if (id > 0) return this.dict.values([id]).get(id)
        if (back.size !== extra.size) for (const [s, i] of extra) back.set(i, s)
        return back.get(id)
      },
    }
  }
}
