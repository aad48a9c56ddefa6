/**
 * The visit postings funnels read for country, region, city, browser, OS and device filters on
 * SQLite (src/hub/store/sqlite-visit-postings.ts). Each answer is checked against the same filter
 * as "contains" (which reads the visit rows, as every filter did before): visits still pending,
 * flushed, merged by late page views, after a rolled-back append, after a SIGKILL before any
 * flush, after a prune, and on a file upgraded from schema 17.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { fileRows, tempDbFile } from './helpers/sqlite-file'
import type { GoalSpec } from '../src/hub/goals/spec'
import { createSqliteStore, type SqliteStore, type SqliteStoreOptions } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION } from '../src/hub/store/sqlite-schema'
import type { Filter } from '../src/hub/store/filters'
import type { Range, StoredEvent } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { prng } from './helpers/prng'

const MIN = 60_000
const DAY = 86_400_000
const T = Date.UTC(2025, 0, 15, 10, 0, 0)
const SITE = 'a.example'
const RANGE: Range = { site: SITE, from: T - 60 * MIN, to: T + 600 * MIN }
const page = (p: string): GoalSpec => ({ kind: 'page', page: p })
const STEPS = [page('/'), page('/pricing'), page('/signup')]
const NO_TIMER: SqliteStoreOptions = { postingsIdleMs: 3_600_000 }
const EACH: SqliteStoreOptions = { postingsIdleMs: 3_600_000, postingsFlushEntries: 1 }
const COUNTRIES = ['DE', 'NL', 'US', null]
const BROWSERS = ['Firefox', 'Chrome', 'Safari']

const tempFile = (): { file: string; cleanup: () => void } => tempDbFile('vpostings')

const rows = (file: string, sql: string): unknown[] => fileRows(file, sql)

/**
 * 80 visitors over ten hours, each with its own country and browser, wandering /, /pricing,
 * /signup and a blog page, in shuffled order (late page views bridge and merge visits).
 */
function traffic(seed: number, offset = 0): StoredEvent[] {
  const rand = prng(seed)
  const out: StoredEvent[] = []
  for (let v = 0; v < 80; v++) {
    const who = { visitor: `v${seed}-${v}`, country: COUNTRIES[v % 4] ?? null, browser: BROWSERS[v % 3] as string }
    let m = offset + Math.floor(rand() * 540)
    for (let n = 1 + Math.floor(rand() * 6); n > 0; n--) {
      const path = ['/', '/pricing', '/signup', '/blog'][Math.floor(rand() * 4)] as string
      out.push(pageview({ site: SITE, ts: T + m * MIN, path, ...who }))
      m += rand() < 0.2 ? 40 : 1 + Math.floor(rand() * 20)
    }
  }
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[out[i], out[j]] = [out[j] as StoredEvent, out[i] as StoredEvent]
  }
  return out
}

const is = (dim: 'country' | 'browser', value: string): Filter => ({ dim, op: 'is', value })
const contains = (dim: 'country' | 'browser', value: string): Filter => ({ dim, op: 'contains', value })

/** Every "is" filter (visit postings) answers as its "contains" (visit rows; no value contains another). */
async function same(s: SqliteStore, range: Range = RANGE): Promise<number> {
  let seen = 0
  const cases: [Filter[], Filter[]][] = [
    ...['DE', 'NL', 'US', 'FR'].map((c): [Filter[], Filter[]] => [[is('country', c)], [contains('country', c)]]),
    [[is('browser', 'Chrome')], [contains('browser', 'Chrome')]],
    [[is('country', 'DE'), is('browser', 'Firefox')], [contains('country', 'DE'), contains('browser', 'Firefox')]],
  ]
  for (const [a, b] of cases) {
    const want = await s.funnel({ ...range, filters: b }, STEPS)
    assert.deepEqual(await s.funnel({ ...range, filters: a }, STEPS), want, JSON.stringify(a))
    seen += want[0]?.visits ?? 0
  }
  return seen
}

describe('visit postings on SQLite', () => {
  it('answers as the visit rows do, pending, flushed, merged, and after a rolled-back append', async () => {
    for (const opts of [NO_TIMER, EACH]) {
      const { file, cleanup } = tempFile()
      const s = createSqliteStore(file, opts)
      try {
        await s.init()
        const events = traffic(1)
        for (let i = 0; i < events.length; i += 25) await s.append(events.slice(i, i + 25))
        assert.ok((await same(s)) > 20)
        // the batch fails after its first page view made a visit: that visit never was
        const bad = { ...pageview({ site: SITE, ts: T + 5 * MIN, visitor: 'x' }), screen: {} as unknown as number }
        await assert.rejects(s.append([pageview({ site: SITE, ts: T + 4 * MIN, path: '/', visitor: 'gone', country: 'DE' }), bad]))
        await s.append(traffic(2))
        assert.ok((await same(s)) > 40)
        await s.close()
        const flushed = rows(file, "SELECT count(*) FROM visit_postings WHERE dim = 0 AND value = 'DE'") as [number][]
        assert.ok((flushed[0]?.[0] ?? 0) > 0, 'close wrote them')
        const again = createSqliteStore(file, opts)
        await again.init()
        assert.ok((await same(again)) > 40)
        await again.close()
      } finally {
        await s.close()
        cleanup()
      }
    }
  })

  it('loses no visit when the process is SIGKILLed before any flush', async () => {
    const { file, cleanup } = tempFile()
    const first = createSqliteStore(file, NO_TIMER)
    await first.init()
    await first.append(traffic(3).slice(0, 30))
    await first.close()
    const script = `
      const mod = await import(${JSON.stringify(join(__dirname, '../src/hub/store/sqlite.ts'))})
      const { createSqliteStore } = mod.default ?? mod
      const s = createSqliteStore(${JSON.stringify(file)}, { postingsIdleMs: 3600000 })
      await s.init()
      await s.append(${JSON.stringify(traffic(3).slice(30))})
      process.kill(process.pid, 'SIGKILL')`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.signal, 'SIGKILL', child.stderr)
    const s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      assert.deepEqual(rows(file, "SELECT value FROM meta WHERE key = 'visits:posted'"), rows(file, 'SELECT CAST(max(id) AS TEXT) FROM visits'))
      assert.ok((await same(s)) > 20)
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('drops whole chunks with retention and still answers for what is left', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, EACH)
    try {
      await s.init()
      await s.append(traffic(4, -3 * 24 * 60))
      await s.append(traffic(5))
      const before = rows(file, 'SELECT count(*) FROM visit_postings') as [[number]]
      await s.prune(T - DAY)
      const after = rows(file, 'SELECT count(*) FROM visit_postings') as [[number]]
      assert.ok(after[0][0] < before[0][0], 'the old chunks went')
      assert.ok((await same(s, { site: SITE, from: T - 4 * DAY, to: T + DAY })) > 20)
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('fills the postings of a schema-17 file on upgrade', async () => {
    const { file, cleanup } = tempFile()
    const a = createSqliteStore(file, EACH)
    await a.init()
    await a.append(traffic(6))
    const want = await a.funnel({ ...RANGE, filters: [contains('country', 'DE')] }, STEPS)
    await a.close()
    // the file as schema 17 left it
    const db = new Database(file)
    db.exec("DROP TABLE chunk_hours; DROP TABLE chunk_cols; DROP TABLE hour_visitors; DROP TABLE visit_postings; DELETE FROM meta WHERE key = 'visits:posted'; UPDATE meta SET value = '17' WHERE key = 'schema_version'")
    db.close()
    const b = createSqliteStore(file, NO_TIMER)
    try {
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      assert.deepEqual(rows(file, "SELECT value FROM meta WHERE key = 'visits:posted'"), rows(file, 'SELECT CAST(max(id) AS TEXT) FROM visits'))
      assert.deepEqual(await b.funnel({ ...RANGE, filters: [is('country', 'DE')] }, STEPS), want)
      assert.ok((await same(b)) > 20)
    } finally {
      await b.close()
      cleanup()
    }
  })
})
