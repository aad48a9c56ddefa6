/**
 * Unique visitors over unaligned ranges from the closed hours' visitor keys (hour_visitors,
 * src/hub/store/sqlite-hour-keys.ts), on SQLite. Every answer of `totals` is checked against the
 * pv scan it replaces (count(DISTINCT vid) of the range's page views, read on a connection of its
 * own), and every stored row against its hour's page views: random traffic over many hours with
 * late page views into closed hours, a SIGKILL mid-hour, a prune at an unaligned bound, a site
 * with no page views, and a file upgraded from schema 18.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { fileRows, fileValue, tempDbFile } from './helpers/sqlite-file'
import { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION } from '../src/hub/store/sqlite-schema'
import type { StoredEvent } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { prng } from './helpers/prng'

const MIN = 60_000
const HOUR = 3_600_000
const T = Date.UTC(2025, 0, 15, 0, 0, 0)
const SITES = ['a.example', 'b.example']
const NO_TIMER: SqliteStoreOptions = { postingsIdleMs: 3_600_000 }

const tempFile = (): { file: string; cleanup: () => void } => tempDbFile('hourkeys')

const read = fileRows

const one = fileValue

/**
 * `hours` hours of page views from `start`, in time order except that about one in `lateEvery`
 * goes back up to five hours; visitors from a pool of 300, so hours share them.
 */
function traffic(seed: number, start: number, hours: number, lateEvery = 25): StoredEvent[] {
  const r = prng(seed)
  const out: StoredEvent[] = []
  let ts = start
  while (ts < start + hours * HOUR) {
    ts += Math.floor(r() * 4 * MIN)
    const late = r() * lateEvery < 1 ? Math.floor(r() * 5 * HOUR) : 0
    out.push(pageview({
      ts: Math.max(start, ts - late), site: SITES[Math.floor(r() * SITES.length)] as string,
      visitor: `v${Math.floor(r() * 300)}`, path: `/p${Math.floor(r() * 5)}`, bot: r() < 0.03,
    }))
  }
  return out
}

/** Appends `events` in random batches of 1 to 40. */
async function feed(s: SqliteStore, events: readonly StoredEvent[], seed: number): Promise<void> {
  const r = prng(seed)
  for (let i = 0; i < events.length;) {
    const n = 1 + Math.floor(r() * 40)
    await s.append(events.slice(i, i + n))
    i += n
  }
}

/** Each stored row holds exactly its hour's distinct pv keys, sorted; returns how many rows there are. */
function rowsExact(file: string): number {
  const rows = read<[number, number, Buffer]>(file, 'SELECT site, t, keys FROM hour_visitors ORDER BY site, t')
  for (const [site, t, keys] of rows) {
    const want = read<[number]>(file, 'SELECT DISTINCT vid FROM pv WHERE site = ? AND ts >= ? AND ts < ? ORDER BY vid', site, t, t + HOUR)
    const copy = new Float64Array(keys.length / 8)
    new Uint8Array(copy.buffer).set(keys)
    assert.deepEqual([...copy], want.map((w) => w[0]), `site ${site} hour ${new Date(t).toISOString()}`)
  }
  return rows.length
}

/** Compares `totals` with the pv scan over `n` random ranges of whole minutes (mostly unaligned to hours); returns how many had visitors. */
async function sameTotals(s: SqliteStore, file: string, seed: number, n: number, span: [number, number]): Promise<number> {
  const r = prng(seed)
  let some = 0
  for (let i = 0; i < n; i++) {
    const site = SITES[i % SITES.length] as string
    const a = span[0] + Math.floor(r() * (span[1] - span[0]) / MIN) * MIN
    const len = (1 + Math.floor(r() * ((span[1] - a) / MIN))) * MIN
    // some ranges start or end on an hour, and some are given in unaligned milliseconds
    const from = i % 7 === 0 ? Math.floor(a / HOUR) * HOUR : a + (i % 5 === 0 ? 1234 : 0)
    const to = i % 11 === 0 ? Math.ceil((a + len) / HOUR) * HOUR : a + len + (i % 3 === 0 ? 777 : 0)
    const got = await s.totals({ site, from, to })
    const lo = Math.floor(from / MIN) * MIN
    const hi = Math.ceil(to / MIN) * MIN
    const want = one(file, `SELECT count(DISTINCT vid) FROM pv WHERE site = (SELECT id FROM sites WHERE name = ?)
      AND ts >= ? AND ts < ?`, site, lo, hi)
    assert.equal(got.visitors, want, `${site} ${new Date(from).toISOString()} to ${new Date(to).toISOString()}`)
    if (want > 0) some++
  }
  return some
}

describe('SQLite hour visitor keys', () => {
  it('answers unaligned ranges as the pv scan does, with late page views, a SIGKILL and a prune', async () => {
    const { file, cleanup } = tempFile()
    let s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      const first = traffic(1, T, 30)
      await feed(s, first.slice(0, first.length / 2), 2)
      assert.ok(rowsExact(file) > 20, 'closed hours have rows')
      assert.ok((await sameTotals(s, file, 3, 150, [T - HOUR, T + 16 * HOUR])) > 100)
      await feed(s, first.slice(first.length / 2), 4)
      await s.close()
      // killed in the middle of an hour: the next process reseeds the open hour from pv
      const script = `
        const mod = await import(${JSON.stringify(join(__dirname, '../src/hub/store/sqlite.ts'))})
        const { createSqliteStore } = mod.default ?? mod
        const s = createSqliteStore(${JSON.stringify(file)}, { postingsIdleMs: 3600000 })
        await s.init()
        const events = ${JSON.stringify(traffic(5, T + 30 * HOUR, 3))}
        for (let i = 0; i < events.length; i += 7) await s.append(events.slice(i, i + 7))
        await s.append(${JSON.stringify(traffic(6, T + 33 * HOUR, 0.5, 3))})
        process.kill(process.pid, 'SIGKILL')`
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
      assert.equal(child.signal, 'SIGKILL', child.stderr)
      s = createSqliteStore(file, NO_TIMER)
      await s.init()
      assert.ok((await sameTotals(s, file, 7, 150, [T - HOUR, T + 34 * HOUR])) > 100)
      // late page views into closed hours, with the open hour moving on
      await feed(s, traffic(8, T + 33 * HOUR, 6, 3), 9)
      assert.ok(rowsExact(file) > 30)
      assert.ok((await sameTotals(s, file, 10, 200, [T - HOUR, T + 40 * HOUR])) > 150)
      await s.prune(T + 10 * HOUR + 17 * MIN + 5)
      assert.equal(one(file, 'SELECT count(*) FROM hour_visitors WHERE t < ?', T + 10 * HOUR + 17 * MIN + 5), 0)
      assert.ok(rowsExact(file) > 20)
      assert.ok((await sameTotals(s, file, 11, 200, [T - HOUR, T + 40 * HOUR])) > 100)
      // a late page view into the hour the prune cut, and into one before it
      await s.append([pageview({ ts: T + 10 * HOUR + 30 * MIN, site: 'a.example', visitor: 'late1' }), pageview({ ts: T + 2 * HOUR, site: 'a.example', visitor: 'late2' })])
      rowsExact(file)
      assert.ok((await sameTotals(s, file, 12, 100, [T, T + 40 * HOUR])) > 50)
      // a site with no page views, and one never seen
      await s.append([{ ...pageview({ ts: T + 5 * HOUR, site: 'c.example' }), type: 'event', name: 'signup' }])
      assert.deepEqual(await s.totals({ site: 'c.example', from: T + 7 * MIN, to: T + 20 * HOUR + 3 * MIN }), { pageviews: 0, visitors: 0 })
      assert.deepEqual(await s.totals({ site: 'z.example', from: T + 7 * MIN, to: T + 20 * HOUR + 3 * MIN }), { pageviews: 0, visitors: 0 })
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('fills the rows of a schema-18 file on upgrade', async () => {
    const { file, cleanup } = tempFile()
    const a = createSqliteStore(file, NO_TIMER)
    await a.init()
    await feed(a, traffic(20, T, 26), 21)
    await a.close()
    // the file as schema 18 left it
    const db = new Database(file)
    db.exec("DROP TABLE chunk_hours; DROP TABLE chunk_cols; DROP TABLE hour_visitors; UPDATE meta SET value = '18' WHERE key = 'schema_version'")
    db.close()
    const b = createSqliteStore(file, NO_TIMER)
    try {
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      // every hour with page views before each site's latest one has its row
      const open = one(file, 'SELECT count(DISTINCT site) FROM pv')
      const hours = one(file, `SELECT count(*) FROM (SELECT DISTINCT site, ts / ${HOUR} FROM pv)`)
      assert.equal(rowsExact(file), hours - open)
      assert.ok((await sameTotals(b, file, 22, 200, [T - HOUR, T + 27 * HOUR])) > 150)
      await feed(b, traffic(23, T + 25 * HOUR, 3, 4), 24)
      rowsExact(file)
      assert.ok((await sameTotals(b, file, 25, 100, [T, T + 29 * HOUR])) > 50)
    } finally {
      await b.close()
      cleanup()
    }
  })

  it('reopens an hour whose row was written when a page view without a visitor closed it', async () => {
    const { file, cleanup } = tempFile()
    const a = createSqliteStore(file, NO_TIMER)
    await a.init()
    const site = 'a.example'
    await a.append([pageview({ ts: T + 10 * MIN, site, visitor: 'x1' }), pageview({ ts: T + 20 * MIN, site, visitor: 'x2' })])
    // the store API takes a page view without a visitor (ingest never makes one): it has no pv row
    await a.append([pageview({ ts: T + HOUR + 5 * MIN, site, visitor: null })])
    assert.equal(rowsExact(file), 1)
    await a.close()
    // after a restart the hour of the latest pv row is the open one again
    const b = createSqliteStore(file, NO_TIMER)
    try {
      await b.init()
      await b.append([pageview({ ts: T + 30 * MIN, site, visitor: 'x3' })])
      rowsExact(file)
      assert.deepEqual(await b.totals({ site, from: T - 3 * MIN, to: T + HOUR + 7 * MIN }), { pageviews: 4, visitors: 3 })
      await b.append([pageview({ ts: T + 2 * HOUR, site, visitor: 'x4' })])
      assert.equal(rowsExact(file), 1)
      assert.deepEqual(await b.totals({ site, from: T - 3 * MIN, to: T + HOUR + 7 * MIN }), { pageviews: 4, visitors: 3 })
    } finally {
      await b.close()
      cleanup()
    }
  })
})
