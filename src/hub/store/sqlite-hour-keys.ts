/**
 * The visitor keys of closed hours, so unique visitors over a range that is not exactly one
 * minute, hour or day need not read every page view of it (a sliding 24 hours of 10 million events:
 * about 307,000 `pv` rows). Each row of `hour_visitors` holds one hour's distinct `pv.vid` values
 * (the 53-bit visitor keys, sqlite-dict.ts), sorted, as a Float64Array BLOB (native byte order).
 *
 * Rule: a row, when present, holds exactly the keys of its hour's `pv` rows; an hour without one
 * is read from `pv`. So it is written only from `pv`, in the transaction that changes those rows:
 * - append (sqlite.ts writeRollups): every hour a batch touched, and the hour that was open before
 *   it, is written once it is no longer the open hour (rollup.ts), and dropped while it is: a
 *   closed hour's row is committed with its final count, and a late page view into a closed hour
 *   (RECOUNT) rewrites it;
 * - prune deletes the rows of hours starting before its bound in each chunk's transaction (the
 *   hour holding the bound loses some page views, so its row goes too);
 * - schema 19 fills the rows of every hour before each site's latest page view's, the hour the
 *   store reopens at start (`reseed`). `pv.vid` never changes (visit merges move `visit`).
 * A range's visitors are then the distinct keys of the rows of its whole hours and of the page
 * views of the rest (the partial hours at its edges, the open hour, hours without a row).
 */
import type Database from 'better-sqlite3'
import { countDistinct } from '../goals/distinct'
import type { FilteredQueries } from './sqlite-filtered'
import { BUCKET_MS } from './time'

const HOUR = BUCKET_MS.hour

const TABLE = `CREATE TABLE hour_visitors (
  site INTEGER NOT NULL, t INTEGER NOT NULL, keys BLOB NOT NULL,
  PRIMARY KEY (site, t)
) WITHOUT ROWID`

export class HourKeys {
  private readonly keysOf: Database.Statement<[number, number, number], number>
  private readonly put: Database.Statement<[number, number, Buffer]>
  private readonly drop: Database.Statement<[number, number]>
  private readonly dropBefore: Database.Statement<[number, number]>
  private readonly read: Database.Statement<[number, number, number], [number, Buffer]>

  constructor(db: Database.Database) {
    this.keysOf = db.prepare<[number, number, number], number>('SELECT vid FROM pv WHERE site = ? AND ts >= ? AND ts < ?').pluck()
    this.put = db.prepare<[number, number, Buffer]>(`INSERT INTO hour_visitors (site, t, keys) VALUES (?, ?, ?)
      ON CONFLICT (site, t) DO UPDATE SET keys = excluded.keys`)
    this.drop = db.prepare<[number, number]>('DELETE FROM hour_visitors WHERE site = ? AND t = ?')
    this.dropBefore = db.prepare<[number, number]>('DELETE FROM hour_visitors WHERE site = ? AND t < ?')
    this.read = db.prepare<[number, number, number], [number, Buffer]>(
      'SELECT t, keys FROM hour_visitors WHERE site = ? AND t >= ? AND t < ? ORDER BY t').raw()
  }

  /** Writes the row of the hour starting at `t` from its page views (none: no row). */
  write(site: number, t: number): void {
    const all = Float64Array.from(this.keysOf.all(site, t, t + HOUR)).sort()
    let n = 0
    for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i] as number
    if (n === 0) this.drop.run(site, t)
    else this.put.run(site, t, Buffer.from(all.buffer, 0, n * 8))
  }

  /** The hour starting at `t` is the open one: no row. */
  open(site: number, t: number): void {
    this.drop.run(site, t)
  }

  /** Page views before `before` are being pruned: the rows of the hours they are in go. */
  prune(site: number, before: number): void {
    this.dropBefore.run(site, before)
  }

  /** Distinct visitor keys of the page views in [from, to) (`filtered` reads the ones of `pv`). */
  visitors(site: number, from: number, to: number, filtered: FilteredQueries): number {
    const first = Math.ceil(from / HOUR) * HOUR
    const last = Math.floor(to / HOUR) * HOUR
    const rows = first < last ? this.read.all(site, first, last) : []
    const spans: [number, number][] = []
    let at = from
    let stored = 0
    for (const [t, keys] of rows) {
      if (t > at) spans.push([at, t])
      at = t + HOUR
      stored += keys.length
    }
    if (to > at) spans.push([at, to])
    const read = filtered.keys(site, spans)
    if (rows.length === 0) return countDistinct(read.keys, read.n)
    const all = new Float64Array(read.n + stored / 8)
    all.set(read.keys.subarray(0, read.n))
    // blobs are copied byte-wise: a Buffer's offset need not be a multiple of 8
    const bytes = new Uint8Array(all.buffer)
    let offset = read.n * 8
    for (const [, keys] of rows) {
      bytes.set(keys, offset)
      offset += keys.length
    }
    return countDistinct(all)
  }
}

/**
 * Schema 19: the table, and the rows of every hour before the one of each site's latest page view
 * (that hour is the open one when the store starts), from `pv`.
 */
export function hourKeysMigration(db: Database.Database): void {
  db.exec(TABLE)
  const keys = new HourKeys(db)
  const bounds = db.prepare<[], [number, number | null, number | null]>(`SELECT id, (SELECT min(ts) FROM pv WHERE site = id),
    (SELECT max(ts) FROM pv WHERE site = id) FROM sites`).raw().all()
  for (const [site, min, max] of bounds) {
    if (min === null || max === null) continue
    const open = Math.floor(max / HOUR) * HOUR
    for (let t = Math.floor(min / HOUR) * HOUR; t < open; t += HOUR) keys.write(site, t)
  }
}
