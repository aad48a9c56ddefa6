import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION, migrate } from '../src/hub/store/sqlite-schema'
import { VISITS_BACKFILL } from '../src/hub/store/sqlite-visits-schema'
import type { Filter } from '../src/hub/store/filters'
import { pageview, storeContract, type Backing } from './helpers/store-contract'

/** A real file in a fresh temp directory (WAL and SHM files land beside it). */
function tempFile(): { file: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-store-'))
  return { file: join(dir, 'test.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
}

async function sqliteBacking(): Promise<Backing> {
  const { file, cleanup } = tempFile()
  return { open: () => createSqliteStore(file), cleanup }
}

storeContract('sqlite', sqliteBacking)

describe('SqliteStore specifics', () => {
  it('runs in WAL mode with synchronous=NORMAL and records the schema version', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file)
    try {
      await s.init()
      await s.init()
      assert.equal(await s.getMeta('schema_version'), String(SCHEMA_VERSION))
      await s.appendSessions([{
        id: 'session-0001', site: 'a.example', visitor: 'a', started: 1, ended: 2, pageviews: 1,
        readingMs: 1, writingMs: 0, idleMs: 0, hiddenMs: 0, entry: '/', exit: '/',
      }])
      await s.close()
      const db = new Database(file, { readonly: true })
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal')
      assert.equal((db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n, 1)
      db.close()
    } finally {
      await s.close()
      await cleanup()
    }
  })

  it('moves a file from schema 3 (ids unique hub-wide) to ids unique per site or app, keeping every row', async () => {
    const { file, cleanup } = tempFile()
    const ts = Date.UTC(2025, 0, 15, 10, 0, 0)
    const old = [pageview({ ts, visitor: 'a' }), pageview({ ts: ts + 1, visitor: 'b' }), pageview({ ts: ts + 2, visitor: 'a' })]
    const v3 = new Database(file)
    migrate(v3, 3)
    const insert = v3.prepare(`INSERT INTO events (id, ts, type, site, visitor, path, bot, ip) VALUES (?, ?, 'pageview', ?, ?, '/', 0, ?)`)
    for (const e of old) insert.run(e.id, e.ts, e.site, e.visitor, '203.0.113.0')
    // every append wrote its site's row (schema 1); the visit and fact back-fills find the site by it
    v3.prepare('INSERT INTO sites (name, first, last) VALUES (?, ?, ?)').run('a.example', ts, ts + 2)
    v3.close()
    const s = createSqliteStore(file)
    try {
      await s.init()
      assert.equal(await s.getMeta('schema_version'), String(SCHEMA_VERSION))
      assert.equal(await s.countEvents(), 3)
      // the old rows still dedupe their resends, and their ids are free on another site
      assert.equal((await s.append(old)).duplicates, 3)
      assert.equal((await s.append(old.map((e) => ({ ...e, site: 'b.example' })))).stored, 3)
      assert.deepEqual((await s.feed('a.example', 10)).map((f) => f.id), old.map((e) => e.id).reverse())
      await s.close()
      const db = new Database(file, { readonly: true })
      const key = db.prepare(`SELECT sql FROM sqlite_master WHERE name = 'events_key'`).get() as { sql: string }
      db.close()
      assert.match(key.sql, /\(site, type, id\)$/, 'the plain-column key of schema 8')
    } finally {
      await s.close()
      await cleanup()
    }
  })

  it('adds the keyword column to a file from schema 4, keeping its rows', async () => {
    const { file, cleanup } = tempFile()
    const ts = Date.UTC(2025, 0, 15, 10, 0, 0)
    const v4 = new Database(file)
    migrate(v4, 4)
    v4.prepare(`INSERT INTO events (id, ts, type, site, visitor, path, bot, ip) VALUES ('old00001', ?, 'pageview', 'a.example', 'v', '/', 0, '0.0.0.0')`).run(ts)
    v4.close()
    const s = createSqliteStore(file)
    try {
      await s.init()
      assert.equal(await s.getMeta('schema_version'), String(SCHEMA_VERSION))
      assert.equal(await s.countEvents(), 1)
      assert.equal((await s.append([pageview({ ts, keyword: 'livestats' })])).stored, 1)
      assert.deepEqual(await s.top({ site: 'a.example', from: ts - 3_600_000, to: ts + 3_600_000 }, 'keyword', 5), [
        { value: 'livestats', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
      ])
    } finally {
      await s.close()
      await cleanup()
    }
  })

  it('adds the region and city columns to a file from schema 8, keeping its rows', async () => {
    const { file, cleanup } = tempFile()
    const ts = Date.UTC(2025, 0, 15, 10, 0, 0)
    const v8 = new Database(file)
    migrate(v8, 8)
    v8.prepare(`INSERT INTO events (id, ts, type, site, visitor, path, bot, country) VALUES ('old00001', ?, 'pageview', 'a.example', 'v', '/', 0, 'DE')`).run(ts)
    v8.close()
    const s = createSqliteStore(file)
    try {
      await s.init()
      assert.equal(await s.getMeta('schema_version'), String(SCHEMA_VERSION))
      assert.equal(await s.countEvents(), 1)
      assert.equal((await s.append([pageview({ ts, country: 'DE', region: 'Bavaria', city: 'Munich' })])).stored, 1)
      const r = { site: 'a.example', from: ts - 3_600_000, to: ts + 3_600_000 }
      assert.deepEqual(await s.top(r, 'region', 5), [{ value: 'Bavaria', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'city', 5), [{ value: 'Munich', pageviews: 1 }])
    } finally {
      await s.close()
      await cleanup()
    }
  })

  it('loses no committed batch when the process is SIGKILLed, and counts on after it', async () => {
    const { file, cleanup } = tempFile()
    const ts = Date.UTC(2025, 0, 15, 10, 0, 0)
    const events = [pageview({ ts, visitor: 'a' }), pageview({ ts: ts + 1, visitor: 'b' })]
    const script = `
      const mod = await import(${JSON.stringify(join(__dirname, '../src/hub/store/sqlite.ts'))})
      const { createSqliteStore } = mod.default ?? mod
      const s = createSqliteStore(${JSON.stringify(file)})
      await s.init()
      await s.append(${JSON.stringify(events)})
      process.kill(process.pid, 'SIGKILL')`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.signal, 'SIGKILL', child.stderr)
    const s = createSqliteStore(file)
    try {
      await s.init()
      assert.equal(await s.countEvents(), 2)
      await s.append([pageview({ ts: ts + 2, visitor: 'a' }), pageview({ ts: ts + 3, visitor: 'c' })])
      assert.deepEqual(await s.series({ site: 'a.example', from: ts, to: ts + 60_000 }, 'minute'), [
        { t: ts, pageviews: 4, visitors: 3 },
      ])
    } finally {
      await s.close()
      await cleanup()
    }
  })
})

describe('SqliteStore facts back-fill', () => {
  it('upgrades a file from schema 6 to visits and filterable facts that answer as appends would', async () => {
    const T = Date.UTC(2025, 0, 15, 8, 0, 0)
    const MIN = 60_000
    const rows = []
    for (let v = 0; v < 25; v++) {
      let ts = T + v * 7 * MIN
      for (let i = 0; i < 1 + (v % 4); i++) {
        rows.push(pageview({ visitor: `v${v}`, ts, path: `/p${(v + i) % 5}`, refHost: i === 0 && v % 3 === 0 ? 'r.example' : null,
          country: v % 2 === 0 ? 'DE' : 'NL', utmSource: i === 0 && v % 5 === 0 ? 'mail' : null }))
        if (v % 4 === 1) rows.push(pageview({ visitor: `v${v}`, ts: ts + 1000, type: 'event', name: v % 8 === 1 ? 'signup' : 'play', path: '/p1' }))
        ts += (5 + ((v * 11 + i * 17) % 40)) * MIN
      }
    }
    const fresh = tempFile()
    const old = tempFile()
    const a = createSqliteStore(fresh.file)
    let b = createSqliteStore(old.file)
    try {
      await a.init()
      await a.append(rows)
      // the same rows as an older Livestats stored them, before visits and facts existed
      const v6 = new Database(old.file)
      migrate(v6, 6)
      const ins = v6.prepare(`INSERT INTO events (id, ts, type, site, visitor, path, ref_host, utm_source, country, name, bot, browser, os, device)
        VALUES (?,?,?,?,?,?,?,?,?,?,0,?,?,?)`)
      for (const e of rows) ins.run(e.id, e.ts, e.type, e.site, e.visitor, e.path, e.refHost, e.utmSource, e.country, e.name, e.browser, e.os, e.device)
      v6.prepare(`INSERT INTO sites (name, first, last) VALUES ('a.example', ?, ?)`).run(T, T + 86_400_000)
      v6.close()
      await b.close()
      b = createSqliteStore(old.file)
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      const range = { site: 'a.example', from: T - 3_600_000, to: T + 8 * 3_600_000 }
      const cases: Filter[][] = [[], [{ dim: 'country', op: 'is', value: 'DE' }], [{ dim: 'page', op: 'is', value: '/p1' }],
        [{ dim: 'referrer', op: 'not', value: 'r.example' }], [{ dim: 'event', op: 'is', value: 'signup' }],
        [{ dim: 'entry_page', op: 'contains', value: 'P2' }, { dim: 'utm_source', op: 'not', value: 'x' }]]
      for (const filters of cases) {
        const q = { ...range, filters }
        for (const s of [a, b]) assert.ok((await s.visitTotals({ ...range })).visits > 20)
        assert.deepEqual(await b.visitTotals(q), await a.visitTotals(q), JSON.stringify(filters))
        // page-view rollups came from the older Livestats: this file has none, only raw rows
        if (filters.length === 0) continue
        assert.deepEqual(await b.totals(q), await a.totals(q))
        assert.deepEqual(await b.series(q, 'hour'), await a.series(q, 'hour'))
        for (const dim of ['page', 'referrer', 'utm_source', 'entry_page', 'exit_page', 'country', 'event'] as const) {
          assert.deepEqual(await b.top(q, dim, 50), await a.top(q, dim, 50), `${dim} ${JSON.stringify(filters)}`)
        }
      }
    } finally {
      await a.close()
      await b.close()
      await fresh.cleanup()
      await old.cleanup()
    }
  })
})

describe('SqliteStore visits back-fill', () => {
  it('fills visits from raw page views on upgrade exactly as appends would have', async () => {
    const { file, cleanup } = tempFile()
    let s = createSqliteStore(file)
    const T = Date.UTC(2025, 0, 15, 23, 0, 0)
    const MIN = 60_000
    try {
      await s.init()
      const rows = []
      // 40 visitors over three hours around midnight, gaps of 7 to 47 minutes, out of order
      for (let v = 0; v < 40; v++) {
        let ts = T + v * 3 * MIN
        for (let i = 0; i < 1 + (v % 5); i++) {
          rows.push(pageview({ site: `s${v % 2}.example`, visitor: `v${v}`, ts, path: `/p${(v + i) % 7}`, refHost: i === 0 ? `r${v % 3}.example` : null }))
          ts += (7 + ((v * 13 + i * 29) % 41)) * MIN
        }
      }
      rows.push(pageview({ visitor: 'bot', bot: true, ts: T }))
      await s.append(rows.reverse().slice(0, 50))
      await s.append(rows.slice(50))
      const range = (site: string) => ({ site, from: T - 3_600_000, to: T + 6 * 3_600_000 })
      const read = async () => Promise.all(['s0.example', 's1.example'].flatMap((site) => [
        s.visitTotals(range(site)), s.top(range(site), 'entry_page', 100), s.top(range(site), 'exit_page', 100),
      ]))
      const incremental = await read()
      assert.ok((incremental[0] as { visits: number }).visits > 20)
      await s.close()
      const db = new Database(file)
      db.exec('DELETE FROM visits; DELETE FROM rollup_visits; DELETE FROM rollup_vtop; DELETE FROM visit_state;')
      db.exec(VISITS_BACKFILL)
      db.close()
      s = createSqliteStore(file)
      await s.init()
      assert.deepEqual(await read(), incremental)
    } finally {
      await s.close()
      await cleanup()
    }
  })
})
