/**
 * Stored hour chunks of the fact rows, column-wise (issue 12.6): what `ColumnReader`
 * (sqlite-chunks.ts) serves for whole hours instead of handing every `pv` and `visits` row from
 * SQLite to JavaScript. Per (site, kind, hour t) one `chunk_hours` row marks the chunk valid and
 * holds its row count `n`; per column one `chunk_cols` BLOB holds the column's `n` values as the
 * typed array ColumnReader hands out (Float64Array or Int32Array, little-endian: the store refuses
 * to open on a big-endian machine), so a read fetches only the columns it asks for and turns each
 * blob into an array without per-row work. A zero-length blob stands for a column that is NULL on
 * every row (NaN or 0), the usual case for UTM, keyword, region, city, scroll.
 *
 * Rule: a `chunk_hours` row, when present, holds exactly
 * - kind pv (0): the `pv` rows of the site with ts in [t, t + 1 h), in (ts, rid) order, every
 *   PV_COLUMNS column;
 * - kind visits (1): the `visits` rows of the site with start in [t, t + 1 h), in (start, id) order, every
 *   VISIT_COLUMNS column, text as dict ids (the build adds a string the dict lacks); written only
 *   when none of them is open (rolled = 0), as an open visit changes with every page view.
 * An hour without a row is read from the table. So:
 * - every write that changes those rows drops the row in the same transaction (`touch`,
 *   `touchSpan`): a pv insert (Facts.pageview), engaged time and scroll (Facts.engage), a visit's
 *   page views moving or taking its new source (Facts.merged, Facts.resource); a visit inserted,
 *   grown, rewritten (a new first page view, a reopen), given engaged time, or deleted by a merge
 *   (sqlite-visits.ts); a prune drops the chunks of every hour starting before its bound (the hour
 *   holding the bound loses some rows) in each of its transactions. Closing a visit (rolled = 1)
 *   changes no column. A later migration that rewrites pv or visits must delete the rows it
 *   changes (or all: `DELETE FROM chunk_hours`).
 * - the check costs a Set lookup per write: the writer keeps, per site and kind, the hours that
 *   have a row (loaded at start, after a rollback, and when another connection committed since:
 *   PRAGMA data_version, read once per write transaction), and only a write into one of those
 *   hours touches SQLite. Writes into the open hour and open visits never find one.
 * - chunks are (re)built off the hot path, at most one per append transaction (`work`), only for
 *   hours that have settled: an hour once the site's newest page view is two hours past its start,
 *   a stale one also an hour (of the site's traffic) after its last invalidation; at start the hours
 *   of the last two days without a chunk are queued. A chunk never built reads from the table:
 *   always exact, only slower.
 * - schema 20 builds every closed hour's pv chunks (before the hour of each site's latest page
 *   view), schema 21 its visits chunks.
 */
import { endianness } from 'node:os'
import type Database from 'better-sqlite3'
import { PV_COLUMNS, VISIT_COLUMNS, type Column, type PvColumn, type VisitColumn } from './sqlite-chunk-columns'
import type { Dict } from './sqlite-dict'
import { BUCKET_MS } from './time'

const HOUR = BUCKET_MS.hour

/** Chunk kinds as stored in `kind`. */
export const KIND_PV = 0
export const KIND_VISITS = 1
export type Kind = typeof KIND_PV | typeof KIND_VISITS

/** Column codes as stored in `col`: the index into these lists. Append only, never reorder. */
export const PV_CODES: readonly PvColumn[] = Object.keys(PV_COLUMNS) as PvColumn[]
export const VISIT_CODES: readonly VisitColumn[] = Object.keys(VISIT_COLUMNS) as VisitColumn[]

/** How far back the writer queues hours without a chunk at start, ms. */
const RECENT_MS = 2 * 86_400_000
/** A visits chunk with an open visit is tried again once the site's traffic moved on this much, ms. */
const RETRY_OPEN_MS = 15 * 60_000

export const CHUNK_TABLES = `
  CREATE TABLE chunk_hours (
    site INTEGER NOT NULL, kind INTEGER NOT NULL, t INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (site, kind, t)
  ) WITHOUT ROWID;
  -- blobs of up to a few hundred KB: a rowid table (its key an index) keeps the key pages small
  CREATE TABLE chunk_cols (
    site INTEGER NOT NULL, kind INTEGER NOT NULL, t INTEGER NOT NULL, col INTEGER NOT NULL, data BLOB NOT NULL,
    UNIQUE (site, kind, t, col)
  );
`

/** Throws on a big-endian machine: chunk blobs are the typed arrays' bytes, little-endian. */
export function checkEndianness(): void {
  if (endianness() !== 'LE') throw new Error('Livestats SQLite store: stored hour chunks need a little-endian machine')
}

/** The bytes of a column (zero-length when every row is NULL: NaN or 0). */
function bytesOf(a: Column): Buffer {
  const none = a instanceof Float64Array ? (x: number) => Number.isNaN(x) : (x: number) => x === 0
  let all = true
  for (let i = 0; i < a.length; i++) {
    if (!none(a[i] as number)) {
      all = false
      break
    }
  }
  return all ? Buffer.alloc(0) : Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

/**
 * The typed array of `n` rows of type `type` from a stored blob, or null when its length does not
 * fit (never written so: read the table). A blob aligned for the type is viewed in place; one at
 * an odd offset (a Buffer from Node's pool) is copied byte-wise.
 */
export function columnOf(type: 'f64' | 'i32', n: number, blob: Buffer): Column | null {
  const width = type === 'f64' ? 8 : 4
  if (blob.length === 0) return type === 'f64' ? new Float64Array(n).fill(NaN) : new Int32Array(n)
  if (blob.length !== n * width) return null
  if (blob.byteOffset % width === 0) {
    return type === 'f64' ? new Float64Array(blob.buffer, blob.byteOffset, n) : new Int32Array(blob.buffer, blob.byteOffset, n)
  }
  const out = type === 'f64' ? new Float64Array(n) : new Int32Array(n)
  new Uint8Array(out.buffer).set(blob)
  return out
}

const VISIT_EXPR: Readonly<Record<VisitColumn, string>> = { ...Object.fromEntries(VISIT_CODES.map((c) => [c, c])), duration: 'end - start' } as Record<VisitColumn, string>
/** The rows of an hour, in chunk order (the first column, ts or id, checks it), one column per output column. */
const ROWS_SQL = [
  `SELECT ${PV_CODES.map((c, i) => `${c} AS c${i}`).join(', ')} FROM pv WHERE site = ? AND ts >= ? AND ts < ? ORDER BY ts, rid`,
  `SELECT ${VISIT_CODES.map((c, i) => `${VISIT_EXPR[c]} AS c${i}`).join(', ')} FROM visits WHERE site = ? AND start >= ? AND start < ? ORDER BY start, id`,
] as const
/**
 * The same, each column as one JSON array built by SQLite: about half the CPU of handing over
 * every row (an hour of 18,700 page views: ~25-40 ms against ~70-120 ms), the row-by-row
 * conversion being most of a build's cost. An aggregate takes the rows of its ordered subquery in
 * order (SQLite does not flatten an ordered subquery into an aggregate); the build checks it.
 */
const JSON_SQL = ROWS_SQL.map((sql, kind) => `SELECT ${(kind === KIND_PV ? PV_CODES : VISIT_CODES).map((_, i) => `json_group_array(c${i})`).join(', ')}
  FROM (${sql})`)

type Value = number | string | null

/** Writes chunks from the tables (the migration and the writer share it). */
class Builder {
  private readonly rows: Database.Statement<[number, number, number], Value[]>[]
  private readonly json: Database.Statement<[number, number, number], string[]>[]
  private readonly anyOpen: Database.Statement<[number, number, number], [number]>
  private readonly putHour: Database.Statement<[number, number, number, number]>
  private readonly putCol: Database.Statement<[number, number, number, number, Buffer]>

  constructor(db: Database.Database, private readonly dict: Dict) {
    this.rows = ROWS_SQL.map((sql) => db.prepare<[number, number, number], Value[]>(sql).raw())
    this.json = JSON_SQL.map((sql) => db.prepare<[number, number, number], string[]>(sql).raw())
    this.anyOpen = db.prepare<[number, number, number], [number]>(
      'SELECT 1 FROM visits WHERE site = ? AND rolled = 0 AND start >= ? AND start < ? LIMIT 1').raw()
    this.putHour = db.prepare<[number, number, number, number]>(`INSERT INTO chunk_hours (site, kind, t, n) VALUES (?, ?, ?, ?)
      ON CONFLICT (site, kind, t) DO UPDATE SET n = excluded.n`)
    this.putCol = db.prepare<[number, number, number, number, Buffer]>(`INSERT INTO chunk_cols (site, kind, t, col, data)
      VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, kind, t, col) DO UPDATE SET data = excluded.data`)
  }

  /** Writes the chunk of `kind` of the hour starting at `t`; false (nothing written) when a visit of it is open. */
  build(kind: Kind, site: number, t: number): boolean {
    if (kind === KIND_VISITS && this.anyOpen.get(site, t, t + HOUR) !== undefined) return false
    const codes: readonly string[] = kind === KIND_PV ? PV_CODES : VISIT_CODES
    const types = (kind === KIND_PV ? PV_COLUMNS : VISIT_COLUMNS) as Record<string, 'f64' | 'i32'>
    let cols = ((this.json[kind] as Database.Statement<[number, number, number], string[]>).get(site, t, t + HOUR) ?? [])
      .map((text) => JSON.parse(text) as Value[])
    // ts rises (pv), (start, id) rises (visits); else (never seen) the rows one by one, ordered for sure
    if (!(kind === KIND_PV ? ordered(cols[0] ?? [], null) : ordered(cols[1] ?? [], cols[0] ?? []))) {
      const rows = (this.rows[kind] as Database.Statement<[number, number, number], Value[]>).all(site, t, t + HOUR)
      cols = codes.map((_, j) => rows.map((r) => r[j] ?? null))
    }
    const n = cols[0]?.length ?? 0
    this.putHour.run(site, kind, t, n)
    // an hour's strings repeat (a few browsers, countries, pages): a small map before the dict's large one
    const ids = new Map<string, number>()
    codes.forEach((c, j) => {
      const values = cols[j] ?? []
      let a: Column
      if (types[c] === 'f64') {
        a = new Float64Array(n)
        for (let i = 0; i < n; i++) a[i] = (values[i] as number | null) ?? NaN
      } else {
        a = new Int32Array(n)
        for (let i = 0; i < n; i++) {
          const v = values[i] ?? null
          // visits hold text: the dict's id (added when new, so every id is positive)
          if (v === null) continue
          if (typeof v === 'number') {
            a[i] = v
            continue
          }
          let id = ids.get(v)
          if (id === undefined) ids.set(v, (id = this.dict.id(v) as number))
          a[i] = id
        }
      }
      this.putCol.run(site, kind, t, j, bytesOf(a))
    })
    return true
  }
}

/** Whether `keys` never fall, and where two are equal, `then` (when given) rises. */
function ordered(keys: readonly Value[], then: readonly Value[] | null): boolean {
  for (let i = 1; i < keys.length; i++) {
    const a = keys[i - 1] as number
    const b = keys[i] as number
    if (b < a || (b === a && then !== null && (then[i] as number) <= (then[i - 1] as number))) return false
  }
  return true
}

/** One hour waiting for its chunk: built once the site's newest page view reaches `notBefore`. */
interface Pending {
  kind: Kind
  t: number
  notBefore: number
}

/** Per site: the hours with a valid chunk, the newest page view, what waits to be built. */
interface SiteChunks {
  readonly valid: [Set<number>, Set<number>]
  /** The site's newest counted page view, ms (NaN before any). */
  now: number
  /** Hours before this were queued once closed (NaN: none yet). */
  horizon: number
  /** Hours before this were pruned: not built again. */
  prunedTo: number
  /** Min-heap by notBefore. */
  readonly queue: Pending[]
}

/**
 * The writer's side: drops chunks that writes make stale, and builds settled hours' chunks, in the
 * transactions of the store's writes. One per connection that writes.
 */
export class ChunkWriter {
  private readonly sites = new Map<number, SiteChunks>()
  private readonly builder: Builder
  private readonly version: Database.Statement<[], number>
  private readonly allValid: Database.Statement<[], [number, number, number]>
  private readonly drop: Database.Statement<[number, number, number]>
  private readonly dropHoursBefore: Database.Statement<[number, number]>
  private readonly dropColsBefore: Database.Statement<[number, number]>
  private readonly latest: Database.Statement<[], [number, number | null, number]>
  private seenVersion = -1
  /** Chunks built and dropped since start (tests and benches read them). */
  readonly stats = { built: 0, dropped: 0 }

  constructor(db: Database.Database, dict: Dict) {
    checkEndianness()
    this.builder = new Builder(db, dict)
    this.version = db.prepare<[], number>('PRAGMA data_version').pluck()
    this.allValid = db.prepare<[], [number, number, number]>('SELECT site, kind, t FROM chunk_hours').raw()
    this.drop = db.prepare<[number, number, number]>('DELETE FROM chunk_hours WHERE site = ? AND kind = ? AND t = ?')
    this.dropHoursBefore = db.prepare<[number, number]>('DELETE FROM chunk_hours WHERE site = ? AND t < ?')
    this.dropColsBefore = db.prepare<[number, number]>('DELETE FROM chunk_cols WHERE site = ? AND t < ?')
    this.latest = db.prepare<[], [number, number | null, number]>('SELECT id, (SELECT max(ts) FROM pv WHERE site = id), first FROM sites').raw()
    this.load()
    this.queueRecent()
  }

  private site(id: number): SiteChunks {
    let s = this.sites.get(id)
    if (s === undefined) {
      this.sites.set(id, (s = { valid: [new Set(), new Set()], now: Number.NaN, horizon: Number.NaN, prunedTo: Number.NEGATIVE_INFINITY, queue: [] }))
    }
    return s
  }

  /** Reads which hours have a chunk (at start, after a rollback, after another connection's commit). */
  load(): void {
    for (const s of this.sites.values()) {
      s.valid[0].clear()
      s.valid[1].clear()
    }
    for (const [site, kind, t] of this.allValid.iterate()) this.site(site).valid[kind as Kind].add(t)
    this.seenVersion = this.version.get() as number
  }

  /** Queues the hours of the last two days of each site that have no chunk. */
  private queueRecent(): void {
    for (const [id, max, first] of this.latest.iterate()) {
      if (max === null) continue
      const s = this.site(id)
      const open = max - (max % HOUR)
      s.now = Math.max(Number.isNaN(s.now) ? max : s.now, max)
      s.horizon = open
      const from = Math.max(open - RECENT_MS, first - (first % HOUR))
      for (let t = from; t < open; t += HOUR) {
        for (const kind of [KIND_PV, KIND_VISITS] as const) if (!s.valid[kind].has(t)) this.push(s, { kind, t, notBefore: t + 2 * HOUR })
      }
    }
  }

  /** At the start of each write transaction: another connection may have built or dropped chunks. */
  sync(): void {
    if (this.version.get() !== this.seenVersion) this.load()
  }

  /** A write changed the rows of `kind` at time `ts` (pv ts, visit start) of site id `site`. */
  touch(kind: Kind, site: number, ts: number): void {
    const s = this.sites.get(site)
    if (s === undefined) return
    const t = ts - (ts % HOUR)
    if (s.valid[kind].has(t)) this.invalidate(s, kind, site, t)
  }

  /** A write changed the rows of `kind` with times in [from, to] (both included). */
  touchSpan(kind: Kind, site: number, from: number, to: number): void {
    const s = this.sites.get(site)
    if (s === undefined || s.valid[kind].size === 0) return
    for (let t = from - (from % HOUR); t <= to; t += HOUR) if (s.valid[kind].has(t)) this.invalidate(s, kind, site, t)
  }

  private invalidate(s: SiteChunks, kind: Kind, site: number, t: number): void {
    s.valid[kind].delete(t)
    this.drop.run(site, kind, t)
    this.stats.dropped++
    const now = Number.isNaN(s.now) ? t : s.now
    this.push(s, { kind, t, notBefore: Math.max(t + 2 * HOUR, now + HOUR) })
  }

  /**
   * The site's newest counted page view is now at least `ts` (each append, per site): hours that
   * closed since are queued, to be built once settled. `first`: the append's oldest event, where a
   * site new to this writer starts.
   */
  advance(site: number, ts: number, first: number): void {
    if (!Number.isFinite(ts)) return
    const s = this.site(site)
    if (!(ts <= s.now)) s.now = ts
    const open = s.now - (s.now % HOUR)
    if (Number.isNaN(s.horizon)) s.horizon = Math.min(open, first - (first % HOUR))
    for (; s.horizon < open; s.horizon += HOUR) {
      this.push(s, { kind: KIND_PV, t: s.horizon, notBefore: s.horizon + 2 * HOUR })
      this.push(s, { kind: KIND_VISITS, t: s.horizon, notBefore: s.horizon + 2 * HOUR })
    }
  }

  /** Builds at most one due chunk (end of an append transaction). Returns whether it built one. */
  work(): boolean {
    for (const [id, s] of this.sites) {
      // entries for hours that got a chunk or were pruned meanwhile go without costing the build
      for (let skipped = 0; skipped < 16; skipped++) {
        const head = s.queue[0]
        if (head === undefined || !(head.notBefore <= s.now)) break
        this.pop(s)
        if (s.valid[head.kind].has(head.t) || head.t < s.prunedTo) continue
        if (this.builder.build(head.kind, id, head.t)) {
          s.valid[head.kind].add(head.t)
          this.stats.built++
        } else {
          this.push(s, { ...head, notBefore: s.now + RETRY_OPEN_MS })
        }
        return true
      }
    }
    return false
  }

  /** Rows before `before` are being pruned (each prune transaction): the chunks of hours starting before it go. */
  prune(site: number, before: number): void {
    const s = this.site(site)
    if (before > s.prunedTo) s.prunedTo = before
    this.dropHoursBefore.run(site, before)
    this.dropColsBefore.run(site, before)
    for (const v of s.valid) for (const t of v) if (t < before) v.delete(t)
  }

  private push(s: SiteChunks, p: Pending): void {
    const q = s.queue
    q.push(p)
    for (let i = q.length - 1; i > 0;) {
      const up = (i - 1) >> 1
      if ((q[up] as Pending).notBefore <= p.notBefore) break
      q[i] = q[up] as Pending
      q[up] = p
      i = up
    }
  }

  private pop(s: SiteChunks): void {
    const q = s.queue
    const last = q.pop() as Pending
    if (q.length === 0) return
    q[0] = last
    for (let i = 0; ;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < q.length && (q[l] as Pending).notBefore < (q[m] as Pending).notBefore) m = l
      if (r < q.length && (q[r] as Pending).notBefore < (q[m] as Pending).notBefore) m = r
      if (m === i) break
      const x = q[m] as Pending
      q[m] = q[i] as Pending
      q[i] = x
      i = m
    }
  }
}

/** One stored chunk of a read: its hour, row count, and the columns asked for. */
export interface StoredChunk<C extends string> {
  t: number
  n: number
  cols: Record<C, Column>
}

/** The reader's side: the valid chunks of whole hours of a range. */
export class ChunkReads {
  private readonly hoursOnly: Database.Statement<[number, number, number, number], [number, number]>
  private readonly cache = new Map<string, Database.Statement<[number, number, number, number], [number, number, number, Buffer]>>()

  constructor(private readonly db: Database.Database) {
    checkEndianness()
    this.hoursOnly = db.prepare<[number, number, number, number], [number, number]>(
      'SELECT t, n FROM chunk_hours WHERE site = ? AND kind = ? AND t >= ? AND t < ? ORDER BY t').raw()
  }

  /**
   * The chunks of `kind` of the hours starting in [from, to) (hour-aligned) with every column of
   * `cols`, in time order. A chunk missing one of them (a column added after it was written) is
   * left out: its hour reads from the table.
   */
  read<C extends string>(kind: Kind, site: number, from: number, to: number, cols: readonly C[]): StoredChunk<C>[] {
    if (cols.length === 0) return this.hoursOnly.all(site, kind, from, to).map(([t, n]) => ({ t, n, cols: {} as Record<C, Column> }))
    const codes = kind === KIND_PV ? (PV_CODES as readonly string[]) : (VISIT_CODES as readonly string[])
    const types = (kind === KIND_PV ? PV_COLUMNS : VISIT_COLUMNS) as Record<string, 'f64' | 'i32'>
    const want = cols.map((c) => codes.indexOf(c))
    const key = want.join(',')
    let st = this.cache.get(key)
    if (st === undefined) {
      if (this.cache.size >= 100) this.cache.clear()
      st = this.db.prepare<[number, number, number, number], [number, number, number, Buffer]>(`SELECT h.t, h.n, c.col, c.data
        FROM chunk_hours h JOIN chunk_cols c ON c.site = h.site AND c.kind = h.kind AND c.t = h.t AND c.col IN (${key})
        WHERE h.site = ? AND h.kind = ? AND h.t >= ? AND h.t < ? ORDER BY h.t`).raw()
      this.cache.set(key, st)
    }
    const out: StoredChunk<C>[] = []
    let cur: StoredChunk<C> | null = null
    let got = 0
    let bad = false
    const done = () => {
      if (cur !== null && got === cols.length && !bad) out.push(cur)
    }
    for (const [t, n, col, data] of st.iterate(site, kind, from, to)) {
      if (cur === null || cur.t !== t) {
        done()
        cur = { t, n, cols: {} as Record<C, Column> }
        got = 0
        bad = false
      }
      const name = codes[col] as C
      const a = columnOf(types[name] as 'f64' | 'i32', n, data)
      if (a === null) bad = true
      else cur.cols[name] = a
      got++
    }
    done()
    return out
  }
}

/** Builds the chunks of `kinds` of every closed hour (before the hour of each site's latest page view). */
function buildClosed(db: Database.Database, dict: Dict, kinds: readonly Kind[]): void {
  const builder = new Builder(db, dict)
  const bounds = db.prepare<[], [number, number | null, number | null, number | null]>(`SELECT id, (SELECT max(ts) FROM pv WHERE site = id),
    (SELECT min(ts) FROM pv WHERE site = id), (SELECT min(start) FROM visits WHERE site = id) FROM sites`).raw().all()
  for (const [site, max, minPv, minVisit] of bounds) {
    if (max === null) continue
    const open = max - (max % HOUR)
    const lo = Math.min(minPv ?? max, minVisit ?? max)
    for (let t = lo - (lo % HOUR); t < open; t += HOUR) for (const kind of kinds) builder.build(kind, site, t)
  }
}

/** Schema 20: the tables, and the pv chunks of every closed hour of every site, from `pv`. */
export function chunksMigration(db: Database.Database, dict: Dict): void {
  checkEndianness()
  db.exec(CHUNK_TABLES)
  buildClosed(db, dict, [KIND_PV])
}

/**
 * Schema 21: the visits chunks of every closed hour where none is open, in (start, id) order. The
 * first schema 20 (on main for an hour, 2026-11-30) wrote them in id order: they go first.
 */
export function visitChunksMigration(db: Database.Database, dict: Dict): void {
  checkEndianness()
  db.exec(`DELETE FROM chunk_hours WHERE kind = ${KIND_VISITS}; DELETE FROM chunk_cols WHERE kind = ${KIND_VISITS};`)
  buildClosed(db, dict, [KIND_VISITS])
}
