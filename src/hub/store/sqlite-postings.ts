/**
 * Page-view postings for funnel and page-goal reads on SQLite: per (site, path) the page views as
 * packed columns (visit, 53-bit visitor key, ts, events rowid) in chunks of up to CHUNK entries,
 * so a step that matches 1.6 million page views reads a few hundred blobs instead of 1.6 million
 * index rows. They replace the path-major covering index `pv_path` (schema 14), which cost every
 * page view a random b-tree insert inside the append transaction.
 *
 * Kept off the commit path: the append transaction only pushes each counted page view into a
 * pending buffer in memory (`add`), which reads see as well; `flush` writes the pending entries
 * grouped by key, in one transaction with the watermark `funnel:rid` (every pv row with a rid at
 * or below it is in the postings), when FLUSH_PENDING are waiting, when the store is idle, and on
 * close. A rolled-back append truncates the buffer to where it stood at `begin`. Nothing is lost
 * on a crash: `recover` (at start) re-reads the pv rows above the watermark (events rowid range
 * joined to pv by its key) into the buffer.
 *
 * Chunks of a key are appended to, never rewritten in place: a flush writes a key's new entries as
 * one more chunk, merged with the key's trailing chunks while those are no larger than it (a binary
 * counter), so an entry is rewritten at most log2(CHUNK) times and a key has at most a few small
 * chunks besides its full ones, however few entries each flush brings.
 *
 * Visit merges (a late page view bridging two visits: `from` is deleted, its rows join `into`)
 * leave an alias row; reads map visit ids through them (chains followed). Visit ids are never
 * reused (sqlite-visits.ts takes each new id above every id seen), so an alias is never ambiguous.
 */
import type Database from 'better-sqlite3'

/** Entries per full chunk: 2,048 × 32 B = 64 KiB of blob. */
export const CHUNK = 2_048
/**
 * Pending entries past which the append path flushes (memory: 48 B each). A flush costs about
 * 40 µs per (site, path) it touches, so the fewer flushes the better; reads see pending entries
 * without one. See SqliteStoreOptions.postingsFlushEntries.
 */
export const FLUSH_PENDING = 200_000
const WATERMARK = 'funnel:rid'
/** Trailing chunks a flush looks at to merge (a binary counter over CHUNK needs about log2(CHUNK)). */
const TAIL = 16

export const POSTINGS_TABLES = `
  -- data: n Float64 visit ids, then n visitor keys, n times (ms), n events rowids
  CREATE TABLE funnel_postings (
    site INTEGER NOT NULL, path INTEGER NOT NULL, seq INTEGER NOT NULL,
    min_ts INTEGER NOT NULL, max_ts INTEGER NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (site, path, seq)
  ) WITHOUT ROWID;
  -- visit \`visit\` was merged into \`into_visit\` (its last page view at \`end\`, for pruning)
  CREATE TABLE funnel_aliases (
    site INTEGER NOT NULL, visit INTEGER NOT NULL, into_visit INTEGER NOT NULL, end INTEGER NOT NULL,
    PRIMARY KEY (site, visit)
  ) WITHOUT ROWID;
`

/** A step's page views as columns (index i is one page view), times in [lo, hi]. */
export interface PostingRows {
  visit: Float64Array
  visitor: Float64Array
  ts: Float64Array
  seq: Float64Array
}

/** Columns of one chunk (views on its blob, or arrays being built). */
interface Cols {
  n: number
  visit: Float64Array
  vid: Float64Array
  ts: Float64Array
  rid: Float64Array
}

function decode(data: Buffer, n: number): Cols {
  // a Float64Array view needs an 8-byte aligned offset: small blobs can sit anywhere in Buffer's pool
  const bytes = data.byteOffset % 8 === 0 ? data : Buffer.from(data)
  const all = new Float64Array(bytes.buffer, bytes.byteOffset, 4 * n)
  return { n, visit: all.subarray(0, n), vid: all.subarray(n, 2 * n), ts: all.subarray(2 * n, 3 * n), rid: all.subarray(3 * n, 4 * n) }
}

function encode(c: Cols, from: number, to: number): Buffer {
  const n = to - from
  const all = new Float64Array(4 * n)
  all.set(c.visit.subarray(from, to), 0)
  all.set(c.vid.subarray(from, to), n)
  all.set(c.ts.subarray(from, to), 2 * n)
  all.set(c.rid.subarray(from, to), 3 * n)
  return Buffer.from(all.buffer, all.byteOffset, all.byteLength)
}

function range(a: Float64Array, from: number, to: number): [number, number] {
  let min = Infinity
  let max = -Infinity
  for (let i = from; i < to; i++) {
    const t = a[i] as number
    if (t < min) min = t
    if (t > max) max = t
  }
  return [min, max]
}

/** The pending buffer: one growable Float64Array per column. */
class Pending {
  length = 0
  site: Float64Array = new Float64Array(1024)
  path: Float64Array = new Float64Array(1024)
  visit: Float64Array = new Float64Array(1024)
  vid: Float64Array = new Float64Array(1024)
  ts: Float64Array = new Float64Array(1024)
  rid: Float64Array = new Float64Array(1024)

  push(site: number, path: number, visit: number, vid: number, ts: number, rid: number): void {
    const i = this.length
    if (i === this.site.length) this.grow()
    this.site[i] = site
    this.path[i] = path
    this.visit[i] = visit
    this.vid[i] = vid
    this.ts[i] = ts
    this.rid[i] = rid
    this.length = i + 1
  }

  private grow(): void {
    const more = (a: Float64Array): Float64Array => {
      const b = new Float64Array(a.length * 2)
      b.set(a)
      return b
    }
    this.site = more(this.site)
    this.path = more(this.path)
    this.visit = more(this.visit)
    this.vid = more(this.vid)
    this.ts = more(this.ts)
    this.rid = more(this.rid)
  }

  clear(): void {
    this.length = 0
    if (this.site.length > 2 * FLUSH_PENDING) {
      // a recovery or a back-fill grew it: do not keep that memory
      for (const k of ['site', 'path', 'visit', 'vid', 'ts', 'rid'] as const) this[k] = new Float64Array(1024)
    }
  }
}

export class Postings {
  private readonly pending = new Pending()
  private mark = 0
  private aliases: Map<number, Map<number, number>> | null = null
  /** (site, path) → its trailing chunks' [seq, n], oldest first: a flush skips reading them back. */
  private tails = new Map<string, [number, number][]>()
  private readonly q: ReturnType<typeof prepare>
  private readonly flushTx: Database.Transaction<() => number>

  constructor(private readonly db: Database.Database) {
    this.q = prepare(db)
    this.flushTx = db.transaction(() => this.write())
  }

  /** Page views waiting for a flush. */
  get size(): number {
    return this.pending.length
  }

  /** Starts an append transaction: a rollback comes back to here. */
  begin(): void {
    this.mark = this.pending.length
  }

  /** The append transaction rolled back: its page views never were. */
  rollback(): void {
    this.pending.length = Math.min(this.mark, this.pending.length)
    this.aliases = null
  }

  /** A counted page view (inside the append transaction): memory only. */
  add(site: number, path: number | null, visit: number, vid: number, ts: number, rid: number): void {
    if (path !== null) this.pending.push(site, path, visit, vid, ts, rid)
  }

  /** Visit `from` was merged into `into` (inside the append transaction). */
  alias(site: number, from: number, into: number, end: number): void {
    this.q.addAlias.run(site, from, into, end)
    this.aliases = null // rare: read them again at the next funnel
  }

  /**
   * Writes the pending page views, in their own transaction, and moves the watermark. Returns how
   * many were written. Entries at or below the stored watermark (another connection flushed them)
   * are skipped.
   */
  flush(): number {
    if (this.pending.length === 0) return 0
    try {
      return this.flushTx.immediate()
    } catch (err) {
      this.tails.clear() // what the rolled-back flush cached never was
      throw err
    }
  }

  /** Loads the page views above the watermark (a crash lost them from memory) and flushes them. */
  recover(): number {
    const w = this.watermark()
    const top = this.q.maxRid.get()?.[0] ?? 0
    if (top <= w) return 0
    for (const [site, path, visit, vid, ts, rid] of this.q.above.iterate(w)) this.pending.push(site, path, visit, vid, ts, rid)
    const n = this.pending.length
    this.flush()
    // even with no page view above it, the watermark moves past the events that were not page views
    this.q.setMeta.run(WATERMARK, String(top))
    return n
  }

  /**
   * Fills the postings from every stored pv row (schema 16), flushing every million entries, and
   * sets the watermark to the newest event.
   */
  backfill(): void {
    this.q.setMeta.run(WATERMARK, '0')
    // pages of rows by key (a connection cannot write while a statement iterates)
    const page = this.db.prepare<[number, number, number], [number, number, number, number, number, number]>(`SELECT site, path,
      visit, vid, ts, rid FROM pv WHERE (site, ts, rid) > (?, ?, ?) ORDER BY site, ts, rid LIMIT 100000`).raw()
    let after: [number, number, number] = [-1, 0, 0]
    for (;;) {
      const rows = page.all(...after)
      if (rows.length === 0) break
      for (const [site, path, visit, vid, ts, rid] of rows) if (path !== null) this.pending.push(site, path, visit, vid, ts, rid)
      const last = rows[rows.length - 1] as [number, number, number, number, number, number]
      after = [last[0], last[4], last[5]]
      if (this.pending.length >= 1_000_000) this.write(false)
    }
    this.write(false)
    this.q.setMeta.run(WATERMARK, String(this.q.maxRid.get()?.[0] ?? 0))
  }

  private watermark(): number {
    return Number(this.q.getMeta.get(WATERMARK)?.[0] ?? 0)
  }

  /** The flush's body (in a transaction): groups by key, appends, moves the watermark. */
  private write(watermark = true): number {
    const p = this.pending
    const n = p.length
    const w = watermark ? this.watermark() : -Infinity
    // entries by key, in arrival order (a comparison sort of 200,000 entries cost a third of a flush)
    const groups = new Map<string, number[]>()
    let m = 0
    let top = w
    for (let i = 0; i < n; i++) {
      const rid = p.rid[i] as number
      if (rid <= w) continue
      m++
      if (rid > top) top = rid
      const key = `${p.site[i] as number}:${p.path[i] as number}`
      const g = groups.get(key)
      if (g === undefined) groups.set(key, [i])
      else g.push(i)
    }
    for (const g of groups.values()) {
      const c: Cols = { n: g.length, visit: new Float64Array(g.length), vid: new Float64Array(g.length), ts: new Float64Array(g.length), rid: new Float64Array(g.length) }
      for (let k = 0; k < g.length; k++) {
        const j = g[k] as number
        c.visit[k] = p.visit[j] as number
        c.vid[k] = p.vid[j] as number
        c.ts[k] = p.ts[j] as number
        c.rid[k] = p.rid[j] as number
      }
      const j = g[0] as number
      this.append(p.site[j] as number, p.path[j] as number, c)
    }
    if (watermark && top > w) this.q.setMeta.run(WATERMARK, String(top))
    p.clear()
    this.mark = 0
    return m
  }

  /** Appends entries to a key: merged with its trailing chunks while they are no larger, split at CHUNK. */
  private append(site: number, path: number, fresh: Cols): void {
    const key = `${site}:${path}`
    let tail = this.tails.get(key)
    if (tail === undefined) {
      tail = this.q.tail.all(site, path, TAIL).reverse()
      if (this.tails.size >= 100_000) this.tails.clear()
      this.tails.set(key, tail)
    }
    // merge the newest chunks while each is no larger than what merges into it
    let k = tail.length
    let total = fresh.n
    while (k > 0) {
      const t = (tail[k - 1] as [number, number])[1]
      if (t >= CHUNK || t > total || t + total > CHUNK) break
      total += t
      k--
    }
    let seq = tail.length === 0 ? 0 : (tail[tail.length - 1] as [number, number])[0] + 1
    let c = fresh
    if (k < tail.length) {
      seq = (tail[k] as [number, number])[0]
      const parts: Cols[] = []
      for (const [data, n] of this.q.from.iterate(site, path, seq)) parts.push(decode(data, n))
      parts.push(fresh)
      c = concat(parts)
      this.q.dropFrom.run(site, path, seq)
      tail.length = k
    }
    for (let from = 0; from < c.n; from += CHUNK) {
      const to = Math.min(c.n, from + CHUNK)
      const [min, max] = range(c.ts, from, to)
      this.q.insert.run(site, path, seq, min, max, to - from, encode(c, from, to))
      tail.push([seq++, to - from])
    }
    if (tail.length > TAIL) tail.splice(0, tail.length - TAIL)
  }

  /**
   * The page views of site id `site` on the given path ids with ts in [lo, hi], pending ones
   * included, visit ids mapped through the aliases, as one set of columns.
   */
  read(site: number, paths: readonly number[], lo: number, hi: number): PostingRows {
    const parts = this.parts(site, paths, lo, hi)
    if (parts.length === 1) return parts[0] as PostingRows
    return joinColumns(parts, ['visit', 'visitor', 'ts', 'seq'])
  }

  /**
   * As `read`, one set of columns per chunk (views on the chunk's blob when all of it is in the
   * range): for a reader that copies the rows anyway (the funnel walk), one copy fewer.
   */
  parts(site: number, paths: readonly number[], lo: number, hi: number): PostingRows[] {
    const out: PostingRows[] = []
    const part = (c: Cols, inside: boolean): void => {
      if (inside) {
        out.push({ visit: c.visit, visitor: c.vid, ts: c.ts, seq: c.rid })
        return
      }
      const r: PostingRows = { visit: new Float64Array(c.n), visitor: new Float64Array(c.n), ts: new Float64Array(c.n), seq: new Float64Array(c.n) }
      let m = 0
      for (let i = 0; i < c.n; i++) {
        const t = c.ts[i] as number
        if (t < lo || t > hi) continue
        r.visit[m] = c.visit[i] as number
        r.visitor[m] = c.vid[i] as number
        r.ts[m] = t
        r.seq[m] = c.rid[i] as number
        m++
      }
      if (m > 0) out.push(m === c.n ? r : { visit: r.visit.subarray(0, m), visitor: r.visitor.subarray(0, m), ts: r.ts.subarray(0, m), seq: r.seq.subarray(0, m) })
    }
    for (const [data, n, min, max] of this.q.chunks.iterate(site, JSON.stringify(paths), lo, hi)) {
      part(decode(data, n), min >= lo && max <= hi)
    }
    const p = this.pending
    if (p.length > 0) {
      const want = new Set(paths)
      const c: Cols = { n: 0, visit: new Float64Array(p.length), vid: new Float64Array(p.length), ts: new Float64Array(p.length), rid: new Float64Array(p.length) }
      for (let i = 0; i < p.length; i++) {
        if (p.site[i] !== site || !want.has(p.path[i] as number)) continue
        c.visit[c.n] = p.visit[i] as number
        c.vid[c.n] = p.vid[i] as number
        c.ts[c.n] = p.ts[i] as number
        c.rid[c.n] = p.rid[i] as number
        c.n++
      }
      part(c, false)
    }
    for (const r of out) this.resolve(site, r.visit)
    if (out.length === 0) out.push({ visit: new Float64Array(0), visitor: new Float64Array(0), ts: new Float64Array(0), seq: new Float64Array(0) })
    return out
  }

  /** Maps merged visits' ids to the visit they joined, following chains. */
  private resolve(site: number, visit: Float64Array): void {
    if (this.aliases === null) {
      this.aliases = new Map()
      for (const [s, from, into] of this.q.aliases.iterate()) {
        let m = this.aliases.get(s)
        if (m === undefined) this.aliases.set(s, (m = new Map()))
        m.set(from, into)
      }
    }
    const m = this.aliases.get(site)
    if (m === undefined || m.size === 0) return
    for (let i = 0; i < visit.length; i++) {
      let v = m.get(visit[i] as number)
      if (v === undefined) continue
      for (let next = m.get(v); next !== undefined; next = m.get(v)) v = next
      visit[i] = v
    }
  }

  /**
   * Retention: drops the chunks of site id `site` whose page views are all before `before`,
   * rewrites those that straddle it without their older page views (as the pv rows go), and drops
   * the aliases of visits that ended before it.
   */
  prune(site: number, before: number): void {
    this.q.prune.run(site, before)
    for (const [path, seq, data, n] of this.q.straddling.all(site, before)) {
      const c = decode(data, n)
      const keep: number[] = []
      for (let i = 0; i < n; i++) if ((c.ts[i] as number) >= before) keep.push(i)
      const k = keep.length
      const out: Cols = { n: k, visit: new Float64Array(k), vid: new Float64Array(k), ts: new Float64Array(k), rid: new Float64Array(k) }
      keep.forEach((i, j) => {
        out.visit[j] = c.visit[i] as number
        out.vid[j] = c.vid[i] as number
        out.ts[j] = c.ts[i] as number
        out.rid[j] = c.rid[i] as number
      })
      const [min, max] = range(out.ts, 0, k)
      this.q.rewrite.run(min, max, k, encode(out, 0, k), site, path, seq)
    }
    this.q.pruneAliases.run(site, before)
    this.aliases = null
    this.tails.clear()
  }
}

function concat(parts: readonly Cols[]): Cols {
  const exact = parts.map((c) => ({ visit: c.visit.subarray(0, c.n), vid: c.vid.subarray(0, c.n), ts: c.ts.subarray(0, c.n), rid: c.rid.subarray(0, c.n) }))
  const cols = joinColumns(exact, ['visit', 'vid', 'ts', 'rid'])
  return { n: cols.ts.length, ...cols }
}

/** The columns `keys` of `parts` end to end (each part's columns are of equal length). */
function joinColumns<K extends string>(parts: readonly Record<K, Float64Array>[], keys: readonly [K, ...K[]]): Record<K, Float64Array> {
  const len = (c: Record<K, Float64Array>): number => c[keys[0]].length
  const n = parts.reduce((s, c) => s + len(c), 0)
  const out = {} as Record<K, Float64Array>
  for (const k of keys) out[k] = new Float64Array(n)
  let at = 0
  for (const c of parts) {
    for (const k of keys) out[k].set(c[k], at)
    at += len(c)
  }
  return out
}

function prepare(db: Database.Database) {
  return {
    tail: db.prepare<[number, number, number], [number, number]>(
      'SELECT seq, n FROM funnel_postings WHERE site = ? AND path = ? ORDER BY seq DESC LIMIT ?').raw(),
    from: db.prepare<[number, number, number], [Buffer, number]>(
      'SELECT data, n FROM funnel_postings WHERE site = ? AND path = ? AND seq >= ? ORDER BY seq').raw(),
    dropFrom: db.prepare<[number, number, number]>('DELETE FROM funnel_postings WHERE site = ? AND path = ? AND seq >= ?'),
    insert: db.prepare<[number, number, number, number, number, number, Buffer]>(
      'INSERT INTO funnel_postings (site, path, seq, min_ts, max_ts, n, data) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    chunks: db.prepare<[number, string, number, number], [Buffer, number, number, number]>(`SELECT data, n, min_ts, max_ts FROM funnel_postings
      WHERE site = ? AND path IN (SELECT value FROM json_each(?)) AND max_ts >= ? AND min_ts <= ?`).raw(),
    addAlias: db.prepare<[number, number, number, number]>(`INSERT INTO funnel_aliases (site, visit, into_visit, end)
      VALUES (?, ?, ?, ?) ON CONFLICT (site, visit) DO UPDATE SET into_visit = excluded.into_visit, end = excluded.end`),
    aliases: db.prepare<[], [number, number, number]>('SELECT site, visit, into_visit FROM funnel_aliases').raw(),
    prune: db.prepare<[number, number]>('DELETE FROM funnel_postings WHERE site = ? AND max_ts < ?'),
    straddling: db.prepare<[number, number], [number, number, Buffer, number]>(
      'SELECT path, seq, data, n FROM funnel_postings WHERE site = ? AND min_ts < ?').raw(),
    rewrite: db.prepare<[number, number, number, Buffer, number, number, number]>(
      'UPDATE funnel_postings SET min_ts = ?, max_ts = ?, n = ?, data = ? WHERE site = ? AND path = ? AND seq = ?'),
    pruneAliases: db.prepare<[number, number]>('DELETE FROM funnel_aliases WHERE site = ? AND end < ?'),
    maxRid: db.prepare<[], [number | null]>('SELECT max(rowid) FROM events').raw(),
    // the page views above the watermark: the events rowid range, each joined to its pv row by key
    above: db.prepare<[number], [number, number, number, number, number, number]>(`SELECT p.site, p.path, p.visit, p.vid,
      p.ts, p.rid FROM events e JOIN sites s ON s.name = e.site JOIN pv p ON p.site = s.id AND p.ts = e.ts AND p.rid = e.rowid
      WHERE e.rowid > ? AND e.type = 'pageview' AND p.path IS NOT NULL ORDER BY e.rowid`).raw(),
    getMeta: db.prepare<[string], [string]>('SELECT value FROM meta WHERE key = ?').raw(),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  }
}

/** Schema 16: the postings and aliases tables, filled from the pv rows, and `pv_path` dropped. */
export function postingsMigration(db: Database.Database): void {
  db.exec(POSTINGS_TABLES)
  new Postings(db).backfill()
  db.exec('DROP INDEX IF EXISTS pv_path')
}
