/**
 * Fact rows column-wise, for reads that visit every row of a range (issue 12.6: a broad filter
 * such as page=!/ keeps about 300,000 page views and 120,000 visits of a day). Handing each row
 * from SQLite to JavaScript costs about 0.5-1.5 µs on the machines measured (the step call and one
 * conversion per column); a typed array of the same column is read at a few ns a row.
 *
 * Two kinds of rows:
 * - page views: the `pv` rows of a site with `ts` in [from, to), in (ts, rid) order;
 * - visits: the `visits` rows of a site with `start` in [from, to), in (start, id) order (the
 *   order of the index visits_start, so no sort; ids alone are not in time order: a late page
 *   view makes a visit with a new id and an old start).
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
import { BUCKET_MS } from './time'
import type { Dict } from './sqlite-dict'
import { StatementCache } from './sqlite-statements'
import { ChunkReads, KIND_PV, KIND_VISITS, type StoredChunk } from './sqlite-chunk-store'
import { PV_COLUMNS, VISIT_COLUMNS, type Column, type PvColumn, type VisitColumn } from './sqlite-chunk-columns'

export { PV_COLUMNS, VISIT_COLUMNS, type Column, type PvColumn, type VisitColumn } from './sqlite-chunk-columns'

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

const HOUR = BUCKET_MS.hour

function alloc(type: 'f64' | 'i32', n: number): Column {
  return type === 'f64' ? new Float64Array(n) : new Int32Array(n)
}

/**
 * The arrays one table read fills, row by row, from the aggregate functions below: `none[j]` is
 * what NULL becomes in column j (NaN, or 0 for dict ids); a text column (`text[j]`) gets the
 * 1-based slot of its string in `strings` (0 for NULL), made dict ids once the statement is done.
 */
interface Fill {
  n: number
  arrays: Column[]
  none: number[]
  text: readonly boolean[]
  strings: string[]
  slots: Map<string, number>
}

/** Doubles every array of `f` (a fill starts at 1,024 rows). */
function grow(f: Fill): void {
  f.arrays = f.arrays.map((a) => {
    const b = a instanceof Float64Array ? new Float64Array(a.length * 2) : new Int32Array(a.length * 2)
    b.set(a)
    return b
  })
}

/** The fill the running statement writes (a statement runs to its end before another starts: they cannot mix). */
let filling: Fill | null = null
const registered = new WeakSet<Database.Database>()

type Step = (total: null, next: null) => void

/**
 * Registers `ls_rows_pv(col, ...)` and `ls_rows_visits(col, ...)` on `db` (once per connection):
 * one step call per row, arguments the row's columns, written into `filling`. A row handed to an
 * aggregate costs about 0.65 µs against 3-4 µs through `.raw().all()` and a copy (measured on the
 * 10 M-event bench file, docs/benchmarks.md).
 */
function register(db: Database.Database): void {
  if (registered.has(db)) return
  registered.add(db)
  const pv = (_: null, ...v: (number | null)[]): void => {
    const f = filling as Fill
    if (f.n === (f.arrays[0]?.length ?? Infinity)) grow(f)
    const i = f.n++
    for (let j = 0; j < v.length; j++) {
      const x = v[j] as number | null
      const a = f.arrays[j] as Column
      a[i] = x === null ? (f.none[j] as number) : x
    }
  }
  const visits = (_: null, ...v: (number | string | null)[]): void => {
    const f = filling as Fill
    if (f.n === (f.arrays[0]?.length ?? Infinity)) grow(f)
    const i = f.n++
    for (let j = 0; j < v.length; j++) {
      const x = v[j] as number | string | null
      const a = f.arrays[j] as Column
      if (x === null) a[i] = f.none[j] as number
      else if (!f.text[j]) a[i] = x as number
      else {
        let slot = f.slots.get(x as string)
        if (slot === undefined) {
          slot = f.strings.push(x as string)
          f.slots.set(x as string, slot)
        }
        a[i] = slot
      }
    }
  }
  db.aggregate('ls_rows_pv', { start: null, step: pv as unknown as Step, varargs: true, result: () => (filling as Fill).n })
  db.aggregate('ls_rows_visits', { start: null, step: visits as unknown as Step, varargs: true, result: () => (filling as Fill).n })
}

/**
 * Reads rows of `pv` and `visits` from the tables into blocks. This is the table side of a read:
 * the stored chunks (written at hour close) are served beside it by the chunk store.
 */
export class TableRows {
  private readonly cache: StatementCache

  constructor(db: Database.Database, private readonly dict: Dict) {
    this.cache = new StatementCache(db, 100)
    register(db)
  }

  /**
   * Runs `sql` (one aggregate over a subquery's rows; its ORDER BY stays, as the outer query is an
   * aggregate, and the index gives that order without a sort) into a fill of `types`; returns it
   * with arrays of exactly `n` rows.
   */
  private fill(sql: string, types: readonly ('f64' | 'i32')[], text: readonly boolean[], args: number[]): Fill {
    const f: Fill = {
      n: 0, arrays: types.map((t) => alloc(t, 1024)), none: types.map((t) => (t === 'f64' ? NaN : 0)),
      text, strings: [], slots: new Map(),
    }
    const prev = filling
    filling = f
    try {
      // with no column the step still counts the rows (`1` as the one argument, not kept)
      this.cache.get(sql).pluck().get(...args)
    } finally {
      filling = prev
    }
    f.arrays = f.arrays.map((a) => a.slice(0, f.n))
    return f
  }

  /** The pv rows of `site` with ts in [from, to), columns `cols`, as one block. */
  pv(site: number, from: number, to: number, cols: readonly PvColumn[]): Block<PvColumn> {
    const sel = cols.length === 0 ? '1' : cols.join(', ')
    const f = this.fill(`SELECT ls_rows_pv(${cols.length === 0 ? '' : sel}) FROM (SELECT ${sel} FROM pv
      WHERE site = ? AND ts >= ? AND ts < ? ORDER BY ts, rid)`, cols.map((c) => PV_COLUMNS[c]), [], [site, from, to])
    const out = {} as Record<PvColumn, Column>
    cols.forEach((c, j) => { out[c] = f.arrays[j] as Column })
    return { n: f.n, cols: out }
  }

  /**
   * The visits of `site` with start in [from, to) (in (start, id) order), columns `cols`, as one block; text columns as
   * dict ids, a string the dict lacks as a negative id from `extra` (string → id, shared by a read).
   */
  visits(site: number, from: number, to: number, cols: readonly VisitColumn[], extra: Map<string, number>): Block<VisitColumn> {
    const sel = cols.length === 0 ? '1' : cols.map((c, j) => `${VISIT_SQL[c]} AS c${j}`).join(', ')
    const f = this.fill(`SELECT ls_rows_visits(${cols.map((_, j) => `c${j}`).join(', ')}) FROM (SELECT ${sel} FROM visits
      WHERE site = ? AND start >= ? AND start < ? ORDER BY start, id)`, cols.map((c) => VISIT_COLUMNS[c]),
    cols.map((c) => VISIT_COLUMNS[c] === 'i32'), [site, from, to])
    // slots to dict ids, column by column in row order: the order in which negative ids are given
    const ids = new Int32Array(f.strings.length + 1)
    const out = {} as Record<VisitColumn, Column>
    cols.forEach((c, j) => {
      const a = f.arrays[j] as Column
      if (f.text[j]) {
        for (let i = 0; i < f.n; i++) {
          const slot = a[i] as number
          if (slot === 0) continue
          let id = ids[slot] as number
          if (id === 0) {
            const v = f.strings[slot - 1] as string
            id = this.dict.lookup(v) ?? extra.get(v) ?? -(extra.size + 1)
            if (id < 0) extra.set(v, id)
            ids[slot] = id
          }
          a[i] = id
        }
      }
      out[c] = a
    })
    return { n: f.n, cols: out }
  }
}

/**
 * The reads consumers make: the stored chunks (sqlite-chunk-store.ts) of the whole hours of the
 * range that have a valid one, and the table for the rest (the partial hours at the edges, the
 * open hour, hours without a chunk), in one read transaction so both see the same commit.
 */
export class ColumnReader {
  private readonly table: TableRows
  private readonly chunks: ChunkReads
  /** Rows served from stored chunks and from the tables since start (tests and benches read them). */
  readonly served = { chunkBlocks: 0, chunkRows: 0, tableBlocks: 0, tableRows: 0 }

  constructor(private readonly db: Database.Database, private readonly dict: Dict) {
    this.table = new TableRows(db, dict)
    this.chunks = new ChunkReads(db)
  }

  /** The pv rows of `site` with ts in [from, to) (ms), columns `cols`, in blocks in time order. */
  pv(site: number, from: number, to: number, cols: readonly PvColumn[]): Blocks<PvColumn> {
    const blocks = from < to ? this.read(KIND_PV, site, from, to, cols, (a, b) => this.table.pv(site, a, b, cols)) : []
    return { blocks, text: (id) => this.dict.values([id]).get(id) }
  }

  /** The visits of `site` with start in [from, to) (ms), columns `cols`, in blocks in time order. */
  visits(site: number, from: number, to: number, cols: readonly VisitColumn[]): Blocks<VisitColumn> {
    const extra = new Map<string, number>()
    const blocks = from < to ? this.read(KIND_VISITS, site, from, to, cols, (a, b) => this.table.visits(site, a, b, cols, extra)) : []
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

  /** Stored chunks of the whole hours in [from, to), table blocks for the spans between them. */
  private read<C extends string>(kind: typeof KIND_PV | typeof KIND_VISITS, site: number, from: number, to: number,
    cols: readonly C[], table: (from: number, to: number) => Block<C>): Block<C>[] {
    const first = Math.ceil(from / HOUR) * HOUR
    const last = Math.floor(to / HOUR) * HOUR
    const s = this.served
    return this.db.transaction(() => {
      const stored: StoredChunk<C>[] = first < last ? this.chunks.read(kind, site, first, last, cols) : []
      const out: Block<C>[] = []
      const span = (a: number, b: number) => {
        if (a >= b) return
        const block = table(a, b)
        s.tableBlocks++
        s.tableRows += block.n
        if (block.n > 0) out.push(block)
      }
      let at = from
      for (const c of stored) {
        span(at, c.t)
        at = c.t + HOUR
        s.chunkBlocks++
        s.chunkRows += c.n
        if (c.n > 0) out.push({ n: c.n, cols: c.cols })
      }
      span(at, to)
      return out
    })()
  }
}
