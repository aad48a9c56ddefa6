/**
 * Visit postings on SQLite: per (site, dimension, value) the ids of the visits with that country,
 * region, city, browser, OS or device, packed as Float64 chunks, so a funnel filtered by one of
 * them reads the matching visits' ids (a month of `country=DE` on the shop bench: 445,481 ids,
 * 3.5 MB) instead of every visit row of the range (3.7 M rows, 400 MB of pages, TEXT compared).
 * These six are a visit's first page view's and never change afterwards (visits.ts `join`
 * changes only the entry and source), so a visit's entries are written once, when it is made.
 *
 * Kept off the commit path as the page-view postings are (sqlite-postings.ts): the append
 * transaction pushes a new visit's values into a pending buffer in memory (`add`), which reads see;
 * `flush` writes them grouped by key with the watermark `visits:posted` (every visit with an id at
 * or below it is in the postings; ids are given in increasing order), next to the page-view flush.
 * A rolled-back append truncates the buffer to where it stood at `begin`; `recover` (at start)
 * re-reads the visits above the watermark. A chunk is appended to, merged with the key's trailing
 * chunks while those are no larger (as the page-view postings are), never rewritten in place.
 *
 * Entries are not removed when a visit goes: a merged-away or pruned visit's id matches no page view
 * or event, and the reader asks only about visits that have them. Whole chunks go with retention
 * (`prune`), once every visit in them is older than the cutoff.
 */
import type Database from 'better-sqlite3'
import type { Filter } from './filters'
import type { Visit } from './visits'

/** The posted dimensions; a dimension's code is its index (append only, never reorder). */
export const VISIT_POSTED = ['country', 'region', 'city', 'browser', 'os', 'device'] as const
export type PostedDimension = (typeof VISIT_POSTED)[number]

/** Ids per full chunk: 8,192 × 8 B = 64 KiB of blob. */
const CHUNK = 8_192
const WATERMARK = 'visits:posted'
/** Trailing chunks a flush looks at to merge. */
const TAIL = 16

export const VISIT_POSTINGS_TABLE = `
  -- data: n Float64 visit ids; max_start: the latest start of those visits when they were made
  CREATE TABLE visit_postings (
    site INTEGER NOT NULL, dim INTEGER NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL,
    min_id INTEGER NOT NULL, max_id INTEGER NOT NULL, max_start INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (site, dim, value, seq)
  ) WITHOUT ROWID;
`

/** The filters as (posted dimension, value) pairs when every one is "is" on a posted dimension; else null. */
export function postedFilters(filters: readonly Filter[]): { dim: PostedDimension; value: string }[] | null {
  const out: { dim: PostedDimension; value: string }[] = []
  for (const f of filters) {
    const dim = VISIT_POSTED.find((d) => d === f.dim)
    if (dim === undefined || f.op !== 'is' || f.value === '') return null // no postings of visits without a value
    out.push({ dim, value: f.value })
  }
  return out
}

interface Entry {
  site: number
  dim: number
  value: string
  id: number
  start: number
}

/** The pending buffer, one growable array per column (about 25 B an entry). */
class Pending {
  length = 0
  site = new Int32Array(1024)
  dim = new Uint8Array(1024)
  id = new Float64Array(1024)
  start = new Float64Array(1024)
  value: string[] = []

  push(site: number, dim: number, value: string, id: number, start: number): void {
    const i = this.length
    if (i === this.site.length) this.grow()
    this.site[i] = site
    this.dim[i] = dim
    this.id[i] = id
    this.start[i] = start
    this.value[i] = value
    this.length = i + 1
  }

  entry(i: number): Entry {
    return { site: this.site[i] as number, dim: this.dim[i] as number, value: this.value[i] as string, id: this.id[i] as number, start: this.start[i] as number }
  }

  truncate(n: number): void {
    this.length = Math.min(n, this.length)
    this.value.length = this.length
  }

  private grow(): void {
    const n = this.site.length * 2
    const site = new Int32Array(n)
    site.set(this.site)
    const dim = new Uint8Array(n)
    dim.set(this.dim)
    const id = new Float64Array(n)
    id.set(this.id)
    const start = new Float64Array(n)
    start.set(this.start)
    Object.assign(this, { site, dim, id, start })
  }
}

type VisitValues = Pick<Visit, 'id' | 'start' | PostedDimension>

export class VisitPostings {
  private pending = new Pending()
  private mark = 0
  private readonly q: ReturnType<typeof prepare>
  private readonly flushTx: Database.Transaction<() => number>

  constructor(db: Database.Database) {
    this.q = prepare(db)
    this.flushTx = db.transaction(() => this.write(this.watermark()))
  }

  /** Starts an append transaction: a rollback comes back to here. */
  begin(): void {
    this.mark = this.pending.length
  }

  /** The append transaction rolled back: its visits never were. */
  rollback(): void {
    this.pending.truncate(this.mark)
  }

  /** A visit just made (inside the append transaction): memory only. */
  add(site: number, v: VisitValues): void {
    for (let dim = 0; dim < VISIT_POSTED.length; dim++) {
      const value = v[VISIT_POSTED[dim] as PostedDimension]
      if (value !== null) this.pending.push(site, dim, value, v.id, v.start)
    }
  }

  /** Writes the pending entries in their own transaction and moves the watermark; returns how many. */
  flush(): number {
    if (this.pending.length === 0) return 0
    const n = this.flushTx.immediate()
    // only once committed: a flush that failed leaves its entries pending for the next one
    this.pending = new Pending()
    this.mark = 0
    return n
  }

  /** Loads the visits above the watermark (a crash lost them from memory) and flushes them. */
  recover(): number {
    const w = this.watermark()
    for (const v of this.q.above.iterate(w)) this.add(v.site, v)
    const n = this.pending.length
    this.flush()
    return n
  }

  /** Fills the postings from every stored visit (schema 18), in pages of 200,000 visits. */
  backfill(): void {
    let after = 0
    for (;;) {
      const rows = this.q.page.all(after)
      if (rows.length === 0) break
      for (const v of rows) this.add(v.site, v)
      after = (rows[rows.length - 1] as VisitValues).id
      this.write(0)
      this.pending = new Pending()
    }
    this.q.setMeta.run(WATERMARK, String(after))
  }

  /**
   * Ids of the visits of site id `site` whose `dim` is `value`, among ids [lo, hi] (and maybe a few
   * outside it), pending ones included, as one array per chunk.
   */
  ids(site: number, dim: PostedDimension, value: string, lo: number, hi: number): Float64Array[] {
    const code = VISIT_POSTED.indexOf(dim)
    const out: Float64Array[] = []
    for (const [data, n] of this.q.chunks.iterate(site, code, value, lo, hi)) out.push(decode(data, n))
    const p = this.pending
    const mine: number[] = []
    for (let i = 0; i < p.length; i++) {
      if (p.site[i] === site && p.dim[i] === code && p.value[i] === value) mine.push(p.id[i] as number)
    }
    if (mine.length > 0) out.push(Float64Array.from(mine))
    return out
  }

  /**
   * Retention, after the visits that started and ended before `before` went: drops the chunks of
   * site id `site` whose visits all did (each started before `before − span` when made, and a start
   * only moves earlier; `span`: the site's longest visit).
   */
  prune(site: number, before: number, span: number): void {
    this.q.prune.run(site, before - span)
  }

  private watermark(): number {
    return Number(this.q.getMeta.get(WATERMARK)?.[0] ?? 0)
  }

  /** The flush's body (in a transaction): entries above `w` grouped by key, appended, watermark moved. */
  private write(w: number): number {
    const groups = new Map<string, Entry[]>()
    let top = w
    let m = 0
    const p = this.pending
    for (let i = 0; i < p.length; i++) {
      if ((p.id[i] as number) <= w) continue
      const e = p.entry(i)
      m++
      if (e.id > top) top = e.id
      const key = `${e.site}\u0000${e.dim}\u0000${e.value}`
      const g = groups.get(key)
      if (g === undefined) groups.set(key, [e])
      else g.push(e)
    }
    for (const g of groups.values()) this.append(g)
    if (top > w) this.q.setMeta.run(WATERMARK, String(top))
    return m
  }

  /** Appends a key's entries: merged with its trailing chunks while they are no larger, split at CHUNK. */
  private append(entries: readonly Entry[]): void {
    const { site, dim, value } = entries[0] as Entry
    const tail = this.q.tail.all(site, dim, value, TAIL).reverse()
    let k = tail.length
    let total = entries.length
    while (k > 0) {
      const t = (tail[k - 1] as [number, number, number])[1]
      if (t >= CHUNK || t > total || t + total > CHUNK) break
      total += t
      k--
    }
    let seq = tail.length === 0 ? 0 : (tail[tail.length - 1] as [number, number, number])[0] + 1
    const ids: number[] = []
    let maxStart = -Infinity
    if (k < tail.length) {
      seq = (tail[k] as [number, number, number])[0]
      for (const [data, n, ms] of this.q.from.iterate(site, dim, value, seq)) {
        for (const id of decode(data, n)) ids.push(id)
        if (ms > maxStart) maxStart = ms
      }
      this.q.dropFrom.run(site, dim, value, seq)
    }
    const starts: number[] = ids.map(() => maxStart)
    for (const e of entries) {
      ids.push(e.id)
      starts.push(e.start)
    }
    for (let from = 0; from < ids.length; from += CHUNK) {
      const to = Math.min(ids.length, from + CHUNK)
      const part = Float64Array.from(ids.slice(from, to))
      let min = Infinity
      let max = -Infinity
      let ms = -Infinity
      for (let i = from; i < to; i++) {
        const id = ids[i] as number
        if (id < min) min = id
        if (id > max) max = id
        if ((starts[i] as number) > ms) ms = starts[i] as number
      }
      this.q.insert.run(site, dim, value, seq++, min, max, ms, to - from, Buffer.from(part.buffer, part.byteOffset, part.byteLength))
    }
  }
}

function decode(data: Buffer, n: number): Float64Array {
  // a Float64Array view needs an 8-byte aligned offset: small blobs can sit anywhere in Buffer's pool
  const bytes = data.byteOffset % 8 === 0 ? data : Buffer.from(data)
  return new Float64Array(bytes.buffer, bytes.byteOffset, n)
}

function prepare(db: Database.Database) {
  const values = 'id, site, start, country, region, city, browser, os, device'
  return {
    tail: db.prepare<[number, number, string, number], [number, number, number]>(
      'SELECT seq, n, max_start FROM visit_postings WHERE site = ? AND dim = ? AND value = ? ORDER BY seq DESC LIMIT ?').raw(),
    from: db.prepare<[number, number, string, number], [Buffer, number, number]>(
      'SELECT data, n, max_start FROM visit_postings WHERE site = ? AND dim = ? AND value = ? AND seq >= ? ORDER BY seq').raw(),
    dropFrom: db.prepare<[number, number, string, number]>('DELETE FROM visit_postings WHERE site = ? AND dim = ? AND value = ? AND seq >= ?'),
    insert: db.prepare<[number, number, string, number, number, number, number, number, Buffer]>(`INSERT INTO visit_postings
      (site, dim, value, seq, min_id, max_id, max_start, n, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    chunks: db.prepare<[number, number, string, number, number], [Buffer, number]>(`SELECT data, n FROM visit_postings
      WHERE site = ? AND dim = ? AND value = ? AND max_id >= ? AND min_id <= ?`).raw(),
    prune: db.prepare<[number, number]>('DELETE FROM visit_postings WHERE site = ? AND max_start < ?'),
    above: db.prepare<[number], VisitValues & { site: number }>(`SELECT ${values} FROM visits WHERE id > ? ORDER BY id`),
    page: db.prepare<[number], VisitValues & { site: number }>(`SELECT ${values} FROM visits WHERE id > ? ORDER BY id LIMIT 200000`),
    getMeta: db.prepare<[string], [string]>('SELECT value FROM meta WHERE key = ?').raw(),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  }
}

/** Schema 18: the visit postings, filled from the stored visits. */
export function visitPostingsMigration(db: Database.Database): void {
  db.exec(VISIT_POSTINGS_TABLE)
  new VisitPostings(db).backfill()
}
