/**
 * Stored hour chunks (src/hub/store/sqlite-chunk-store.ts) on a real SQLite file. After every step
 * of random traffic over many hours and two sites (late page views into closed hours, visits
 * bridged and given a new source, engaged time and scroll arriving after their hour closed, close
 * and reopen, a SIGKILL mid-write, a prune at an unaligned bound, a file upgraded from schema 19):
 * - ColumnReader's blocks, concatenated, equal TableRows' rows of the whole range (ranges with
 *   ragged edges), read on a connection of its own;
 * - every stored chunk equals its hour's table rows, and no visits chunk holds an open visit;
 * - reads of settled hours are served from stored chunks.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { fileRows, fileValue, tempDbFile } from './helpers/sqlite-file'
import { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION } from '../src/hub/store/sqlite-schema'
import { ColumnReader, PV_COLUMNS, TableRows, VISIT_COLUMNS, type Block, type Column, type PvColumn, type VisitColumn } from '../src/hub/store/sqlite-chunks'
import { KIND_PV, PV_CODES, VISIT_CODES, columnOf } from '../src/hub/store/sqlite-chunk-store'
import { Dict } from '../src/hub/store/sqlite-dict'
import type { SessionRecord, StoredEvent } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { prng } from './helpers/prng'

const MIN = 60_000
const HOUR = 3_600_000
const T = Date.UTC(2025, 0, 15, 0, 0, 0)
const SITES = ['a.example', 'b.example']
const NO_TIMER: SqliteStoreOptions = { postingsIdleMs: 3_600_000 }
const ALL_PV = Object.keys(PV_COLUMNS) as PvColumn[]
const ALL_VISITS = Object.keys(VISIT_COLUMNS) as VisitColumn[]

const one = fileValue

/**
 * `hours` hours of page views from `start`, in time order except that about one in `lateEvery`
 * goes back up to five hours; visitors from a pool of 300 (late ones bridge and restart visits),
 * a fifth with a referrer and some with a campaign (a late first page view changes a visit's source).
 */
function traffic(seed: number, start: number, hours: number, lateEvery = 25): StoredEvent[] {
  const r = prng(seed)
  const out: StoredEvent[] = []
  let ts = start
  while (ts < start + hours * HOUR) {
    ts += Math.floor(r() * 3 * MIN)
    const late = r() * lateEvery < 1 ? Math.floor(r() * 5 * HOUR) : 0
    out.push(pageview({
      ts: Math.max(start, ts - late), site: SITES[Math.floor(r() * SITES.length)] as string,
      visitor: `v${Math.floor(r() * 300)}`, path: `/p${Math.floor(r() * 6)}`, bot: r() < 0.03,
      refHost: r() < 0.2 ? `ref${Math.floor(r() * 4)}.example` : null, utmSource: r() < 0.05 ? 'news' : null,
      utmCampaign: r() < 0.03 ? `c${Math.floor(r() * 3)}` : null, region: r() < 0.5 ? null : 'North Holland',
    }))
  }
  return out
}

/** Sessions with engaged time and scroll for `n` of `events` (page views, most hours old by now). */
function sessions(seed: number, events: readonly StoredEvent[], n: number): SessionRecord[] {
  const r = prng(seed)
  const out: SessionRecord[] = []
  for (let i = 0; i < n; i++) {
    const e = events[Math.floor(r() * events.length)] as StoredEvent
    if (e.bot || e.visitor === null || e.path === null) continue
    const readingMs = 1000 + Math.floor(r() * 60_000)
    const writingMs = Math.floor(r() * 5000)
    out.push({
      id: `s${seed}-${i}`, site: e.site, visitor: e.visitor, started: e.ts, ended: e.ts + readingMs + writingMs, pageviews: 1,
      readingMs, writingMs, idleMs: 0, hiddenMs: 0, entry: e.path, exit: e.path,
      pages: [{ path: e.path, at: e.ts, viewed: true, readingMs, writingMs, idleMs: 0, hiddenMs: 0, scroll: Math.floor(r() * 100) }],
    })
  }
  return out
}

/** Appends `events` in random batches of 1 to 40, and (`withSessions`) every tenth batch sessions of what came before. */
async function feed(s: SqliteStore, events: readonly StoredEvent[], seed: number, withSessions = true): Promise<void> {
  const r = prng(seed)
  let batches = 0
  for (let i = 0; i < events.length;) {
    const n = 1 + Math.floor(r() * 40)
    await s.append(events.slice(i, i + n))
    i += n
    if (++batches % 10 === 0 && withSessions) await s.appendSessions(sessions(seed + batches, events.slice(0, i), 3))
  }
}

/** The blocks' rows of `cols` as one array per column. */
function concat<C extends string>(blocks: readonly Block<C>[], cols: readonly C[]): Record<string, number[]> {
  const out: Record<string, number[]> = {}
  for (const c of cols) out[c] = blocks.flatMap((b) => [...(b.cols[c] as Column)])
  out.n = [blocks.reduce((a, b) => a + b.n, 0)]
  return out
}

interface Served {
  chunkRows: number
  tableRows: number
}

/** Reads of the file on a read-only connection of their own. */
function withReader<R>(file: string, body: (reader: ColumnReader, table: TableRows, ids: Map<string, number>) => R): R {
  const db = new Database(file, { readonly: true })
  try {
    const dict = new Dict(db)
    const ids = new Map(db.prepare<[], [string, number]>('SELECT name, id FROM sites').raw().all())
    return body(new ColumnReader(db, dict), new TableRows(db, dict), ids)
  } finally {
    db.close()
  }
}

/**
 * ColumnReader against TableRows over `n` random ranges with ragged edges (every column, and a
 * few columns); returns the rows served from chunks and from the tables.
 */
function sameReads(file: string, seed: number, n: number, span: [number, number]): Served {
  return withReader(file, (reader, table, ids) => {
    const r = prng(seed)
    for (let i = 0; i < n; i++) {
      const site = ids.get(SITES[i % SITES.length] as string)
      if (site === undefined) continue
      const from = span[0] + Math.floor(r() * (span[1] - span[0]))
      const to = i % 9 === 0 ? from + Math.floor(r() * 5 * MIN) : from + Math.floor(r() * 14 * HOUR)
      const at = `site ${site} ${new Date(from).toISOString()} to ${new Date(to).toISOString()}`
      for (const cols of [ALL_PV, ['ts', 'vid', 'path'] as PvColumn[]]) {
        assert.deepEqual(concat(reader.pv(site, from, to, cols).blocks, cols), concat([table.pv(site, from, to, cols)], cols), `pv ${at}`)
      }
      for (const cols of [ALL_VISITS, ['start', 'pageviews', 'duration', 'ref_host'] as VisitColumn[]]) {
        assert.deepEqual(concat(reader.visits(site, from, to, cols).blocks, cols),
          concat([table.visits(site, from, to, cols, new Map())], cols), `visits ${at}`)
      }
    }
    return { chunkRows: reader.served.chunkRows, tableRows: reader.served.tableRows }
  })
}

/** Every stored chunk equals its hour's table rows; returns how many there are of each kind. */
function storedExact(file: string): [number, number] {
  const count: [number, number] = [0, 0]
  withReader(file, (_reader, table) => {
    const hours = fileRows<[number, number, number, number]>(file, 'SELECT site, kind, t, n FROM chunk_hours ORDER BY site, kind, t')
    for (const [site, kind, t, n] of hours) {
      const at = `site ${site} kind ${kind} hour ${new Date(t).toISOString()}`
      const blobs = fileRows<[number, Buffer]>(file, 'SELECT col, data FROM chunk_cols WHERE site = ? AND kind = ? AND t = ? ORDER BY col', site, kind, t)
      const codes: readonly string[] = kind === KIND_PV ? PV_CODES : VISIT_CODES
      assert.equal(blobs.length, codes.length, at)
      const types = (kind === KIND_PV ? PV_COLUMNS : VISIT_COLUMNS) as Record<string, 'f64' | 'i32'>
      const want = kind === KIND_PV ? table.pv(site, t, t + HOUR, ALL_PV) : table.visits(site, t, t + HOUR, ALL_VISITS, new Map())
      assert.equal(n, want.n, at)
      for (const [col, data] of blobs) {
        const name = codes[col] as string
        const got = columnOf(types[name] as 'f64' | 'i32', n, data)
        assert.deepEqual(got, (want.cols as Record<string, Column>)[name], `${at} column ${name}`)
      }
      if (kind !== KIND_PV) {
        assert.equal(one(file, 'SELECT count(*) FROM visits WHERE site = ? AND rolled = 0 AND start >= ? AND start < ?', site, t, t + HOUR), 0, `${at}: an open visit`)
      }
      count[kind as 0 | 1]++
    }
  })
  return count
}

/** Both checks; returns the chunk counts and what the reads were served from. */
function check(file: string, seed: number, span: [number, number]): { chunks: [number, number]; served: Served } {
  const chunks = storedExact(file)
  return { chunks, served: sameReads(file, seed, 40, span) }
}

describe('SQLite stored hour chunks', () => {
  it('read as the tables do through late page views, merges, engaged time, reopen, a SIGKILL and a prune', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    let s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      const first = traffic(1, T, 30)
      await feed(s, first.slice(0, first.length / 2), 2)
      let c = check(file, 3, [T - HOUR, T + 16 * HOUR])
      assert.ok(c.chunks[0] > 5 && c.chunks[1] > 5, `chunks ${c.chunks}`)
      assert.ok(c.served.chunkRows > 0, `served ${JSON.stringify(c.served)}`)
      await feed(s, first.slice(first.length / 2), 4)
      check(file, 5, [T - HOUR, T + 31 * HOUR])
      // engaged time and scroll for page views of hours that have chunks by now
      await s.appendSessions(sessions(6, first.slice(0, first.length / 2), 60))
      check(file, 7, [T - HOUR, T + 31 * HOUR])
      await s.close()
      // reopened: late page views into closed hours, more sessions
      s = createSqliteStore(file, NO_TIMER)
      await s.init()
      await feed(s, traffic(8, T + 28 * HOUR, 4, 3), 9)
      c = check(file, 10, [T - HOUR, T + 33 * HOUR])
      assert.ok(c.chunks[0] > 5 && c.chunks[1] > 5, `chunks ${c.chunks}`)
      await s.close()
      // killed in the middle of writes: every commit kept its chunks exact
      const script = `
        const mod = await import(${JSON.stringify(join(__dirname, '../src/hub/store/sqlite.ts'))})
        const { createSqliteStore } = mod.default ?? mod
        const s = createSqliteStore(${JSON.stringify(file)}, { postingsIdleMs: 3600000 })
        await s.init()
        const events = ${JSON.stringify(traffic(11, T + 32 * HOUR, 4, 3))}
        const sessions = ${JSON.stringify(sessions(12, first, 40))}
        for (let i = 0; i < events.length; i += 7) {
          await s.append(events.slice(i, i + 7))
          if (i % 70 === 0) await s.appendSessions(sessions.splice(0, 4))
        }
        process.kill(process.pid, 'SIGKILL')`
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
      assert.equal(child.signal, 'SIGKILL', child.stderr)
      c = check(file, 13, [T - HOUR, T + 37 * HOUR])
      s = createSqliteStore(file, NO_TIMER)
      await s.init()
      await feed(s, traffic(14, T + 35 * HOUR, 5, 4), 15)
      c = check(file, 16, [T - HOUR, T + 41 * HOUR])
      assert.ok(c.chunks[0] > 5, `chunks ${c.chunks}`)
      // a prune at an unaligned bound: the hours before it, and the one holding it, lose their chunks
      const bound = T + 10 * HOUR + 17 * MIN + 5
      await s.prune(bound)
      assert.equal(one(file, 'SELECT count(*) FROM chunk_hours WHERE t < ?', bound), 0)
      assert.equal(one(file, 'SELECT count(*) FROM chunk_cols WHERE t < ?', bound), 0)
      c = check(file, 17, [T - HOUR, T + 41 * HOUR])
      assert.ok(c.chunks[0] > 5, `chunks ${c.chunks}`)
      // late page views into the hour the prune cut and into one before it, then hours move on
      await s.append([pageview({ ts: T + 10 * HOUR + 30 * MIN, site: 'a.example', visitor: 'late1' }), pageview({ ts: T + 2 * HOUR, site: 'a.example', visitor: 'late2' })])
      await feed(s, traffic(18, T + 40 * HOUR, 4, 4), 19)
      check(file, 20, [T - HOUR, T + 45 * HOUR])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('reads table rows as SQL gives them: over 1,024 rows (the arrays grow), NULL as NaN or 0, text as dict ids, no columns', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    const s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      await feed(s, traffic(40, T, 120, 1e9), 41, false)
      const site = one(file, "SELECT id FROM sites WHERE name = 'a.example'")
      const [from, to] = [T + 7 * MIN, T + 119 * HOUR]
      const db = new Database(file, { readonly: true })
      try {
        const dict = new Dict(db)
        const table = new TableRows(db, dict)
        const pvRows = db.prepare(`SELECT ${ALL_PV.join(', ')} FROM pv WHERE site = ? AND ts >= ? AND ts < ? ORDER BY ts, rid`)
          .raw().all(site, from, to) as (number | null)[][]
        assert.ok(pvRows.length > 1024)
        const pv = table.pv(site, from, to, ALL_PV)
        assert.equal(pv.n, pvRows.length)
        ALL_PV.forEach((c, j) => {
          const none = PV_COLUMNS[c] === 'f64' ? NaN : 0
          assert.deepEqual([...pv.cols[c]], pvRows.map((r) => r[j] ?? none), c)
        })
        assert.equal(table.pv(site, from, to, []).n, pvRows.length)
        const visitRows = db.prepare(`SELECT ${ALL_VISITS.map((c) => (c === 'duration' ? 'end - start' : c)).join(', ')} FROM visits
          WHERE site = ? AND start >= ? AND start < ? ORDER BY start, id`).raw().all(site, from, to) as (number | string | null)[][]
        assert.ok(visitRows.length > 1024)
        const visits = table.visits(site, from, to, ALL_VISITS, new Map())
        assert.equal(visits.n, visitRows.length)
        ALL_VISITS.forEach((c, j) => {
          const want = visitRows.map((r) => {
            const v = r[j] ?? null
            if (v === null) return VISIT_COLUMNS[c] === 'f64' ? NaN : 0
            return typeof v === 'string' ? dict.lookup(v) : v
          })
          assert.deepEqual([...visits.cols[c]], want, c)
        })
        assert.equal(table.visits(site, from, to, [], new Map()).n, visitRows.length)
        assert.equal(table.pv(site, T - HOUR, T, ['ts']).n, 0)
      } finally {
        db.close()
      }
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('serves whole settled hours from stored chunks, and the edges and the open hour from the tables', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    const s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      await feed(s, traffic(30, T, 12, 1e9), 31, false)
      const site = one(file, "SELECT id FROM sites WHERE name = 'a.example'")
      const stored = one(file, 'SELECT count(*) FROM chunk_hours WHERE site = ? AND kind = 0 AND t >= ? AND t < ?', site, T + 2 * HOUR, T + 8 * HOUR)
      assert.equal(stored, 6)
      const inRange = one(file, 'SELECT count(*) FROM pv WHERE site = ? AND ts >= ? AND ts < ?', site, T + 2 * HOUR + 5 * MIN, T + 8 * HOUR + 9 * MIN)
      const edges = one(file, 'SELECT count(*) FROM pv WHERE site = ? AND ((ts >= ? AND ts < ?) OR (ts >= ? AND ts < ?))', site,
        T + 2 * HOUR + 5 * MIN, T + 3 * HOUR, T + 8 * HOUR, T + 8 * HOUR + 9 * MIN)
      withReader(file, (reader) => {
        const got = reader.pv(site, T + 2 * HOUR + 5 * MIN, T + 8 * HOUR + 9 * MIN, ['ts', 'vid', 'path'])
        assert.equal(got.blocks.reduce((a, b) => a + b.n, 0), inRange)
        // hours 3 to 8 whole from their chunks (one block each), the two edges from the table
        assert.equal(reader.served.chunkBlocks, 5)
        assert.equal(reader.served.tableRows, edges)
        assert.equal(reader.served.chunkRows, inRange - edges)
        // the open hour has no chunk
        const open = T + 11 * HOUR
        reader.pv(site, open, open + HOUR, ['ts'])
        assert.equal(reader.served.chunkBlocks, 5)
      })
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('drops the chunks of the hours a visit leaves: a new first page view, a bridge, a rolled-back append', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    const s = createSqliteStore(file, NO_TIMER)
    const site = 'a.example'
    /** A page view of a new visitor every 10 minutes up to `to`, one append each: hours close and settle. */
    const filler = async (from: number, to: number) => {
      for (let ts = from; ts < to; ts += 10 * MIN) await s.append([pageview({ ts, site, visitor: `f${ts}`, path: '/f' })])
    }
    const hours = (t: number) => one(file, 'SELECT count(*) FROM chunk_hours WHERE kind = 1 AND t = ?', t)
    try {
      await s.init()
      // x: one visit starting in hour 1; y: a visit in hour 0 and one in hour 1, 40 minutes apart
      await s.append([pageview({ ts: T + HOUR + 5 * MIN, site, visitor: 'x' }), pageview({ ts: T + 40 * MIN, site, visitor: 'y' }),
        pageview({ ts: T + HOUR + 20 * MIN, site, visitor: 'y' })])
      await filler(T, T + 5 * HOUR)
      assert.equal(hours(T) + hours(T + HOUR), 2)
      check(file, 50, [T, T + 5 * HOUR])
      // x's late page view in hour 0 moves the visit's start out of hour 1
      await s.append([pageview({ ts: T + 50 * MIN, site, visitor: 'x' })])
      check(file, 51, [T, T + 5 * HOUR])
      await filler(T + 5 * HOUR, T + 8 * HOUR)
      assert.equal(hours(T) + hours(T + HOUR), 2)
      // y's late page view bridges its two visits: the one of hour 1 goes
      await s.append([pageview({ ts: T + HOUR + 2 * MIN, site, visitor: 'y' })])
      check(file, 52, [T, T + 8 * HOUR])
      await filler(T + 8 * HOUR, T + 11 * HOUR)
      assert.equal(hours(T) + hours(T + HOUR), 2)
      // an append that fails (a value SQLite cannot bind) after a late page view dropped a chunk rolls the drop back: the next one drops it again
      await assert.rejects(s.append([pageview({ ts: T + 30 * MIN, site, visitor: 'z' }), { ...pageview({ site }), title: {} as unknown as string }]))
      assert.equal(hours(T), 1)
      await s.append([pageview({ ts: T + 30 * MIN, site, visitor: 'z' })])
      check(file, 53, [T, T + 11 * HOUR])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('rewrites the visits chunks of a schema-20 file, which held them in id order', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    const a = createSqliteStore(file, NO_TIMER)
    await a.init()
    await feed(a, traffic(60, T, 20, 5), 61, false)
    await a.close()
    // an hour's visits chunk as the first schema 20 wrote it: its blobs in id order
    const db = new Database(file)
    const [site, t] = db.prepare<[], [number, number]>(`SELECT h.site, h.t FROM chunk_hours h WHERE h.kind = 1 AND h.n > 1 AND (SELECT count(*) FROM visits v
      WHERE v.site = h.site AND v.start >= h.t AND v.start < h.t + ${HOUR} AND v.id < (SELECT max(id) FROM visits w WHERE w.site = v.site
      AND w.start >= h.t AND w.start < v.start)) > 0 LIMIT 1`).raw().get() ?? [0, 0]
    assert.ok(site > 0, 'an hour whose id order is not its start order')
    const ids = db.prepare<[number, number, number], number>('SELECT id FROM visits WHERE site = ? AND start >= ? AND start < ? ORDER BY id').pluck().all(site, t, t + HOUR)
    db.prepare('UPDATE chunk_cols SET data = ? WHERE site = ? AND kind = 1 AND t = ? AND col = 0').run(Buffer.from(Float64Array.from(ids).buffer), site, t)
    db.exec("UPDATE meta SET value = '20' WHERE key = 'schema_version'")
    db.close()
    const b = createSqliteStore(file, NO_TIMER)
    try {
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      const c = check(file, 62, [T - HOUR, T + 21 * HOUR])
      assert.ok(c.chunks[1] > 10, `chunks ${c.chunks}`)
    } finally {
      await b.close()
      cleanup()
    }
  })

  it('fills the chunks of a schema-19 file on upgrade', async () => {
    const { file, cleanup } = tempDbFile('chunks')
    const a = createSqliteStore(file, NO_TIMER)
    await a.init()
    await feed(a, traffic(40, T, 26), 41)
    await a.close()
    // the file as schema 19 left it
    const db = new Database(file)
    db.exec("DROP TABLE chunk_hours; DROP TABLE chunk_cols; UPDATE meta SET value = '19' WHERE key = 'schema_version'")
    db.close()
    const b = createSqliteStore(file, NO_TIMER)
    try {
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      // every hour before each site's latest page view's has its pv chunk
      const hours = one(file, `SELECT sum(n) FROM (SELECT (max(ts) / ${HOUR}) - (min(ts) / ${HOUR}) AS n FROM pv GROUP BY site)`)
      const c = check(file, 42, [T - HOUR, T + 27 * HOUR])
      assert.equal(c.chunks[0], hours)
      assert.ok(c.chunks[1] > 40, `chunks ${c.chunks}`)
      await feed(b, traffic(43, T + 25 * HOUR, 4, 4), 44)
      check(file, 45, [T - HOUR, T + 30 * HOUR])
    } finally {
      await b.close()
      cleanup()
    }
  })
})
