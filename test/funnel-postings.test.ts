/**
 * The page-view postings funnels read on SQLite (src/hub/store/sqlite-postings.ts): pending page
 * views count before any timer flush, a rolled-back append leaves none behind, a visit merge after
 * a flush is followed through its alias (and a freed visit id is never given again), a SIGKILL
 * before any flush loses nothing, pruning drops whole old chunks, and an older file (schema 6) is
 * filled on upgrade to answer as appends would.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { fileRows, tempDbFile } from './helpers/sqlite-file'
import type { GoalSpec } from '../src/hub/goals/spec'
import { createSqliteStore, type SqliteStoreOptions } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION, migrate } from '../src/hub/store/sqlite-schema'
import type { Range, StoredEvent } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { prng } from './helpers/prng'

const MIN = 60_000
const T = Date.UTC(2025, 0, 15, 10, 0, 0)
const SITE = 'a.example'
const RANGE: Range = { site: SITE, from: T - 60 * MIN, to: T + 180 * MIN }
const page = (p: string): GoalSpec => ({ kind: 'page', page: p })
/** No idle flush during a test: only close writes postings. */
const NO_TIMER: SqliteStoreOptions = { postingsIdleMs: 3_600_000 }
/** Every append writes its postings (the pending limit is one). */
const EACH: SqliteStoreOptions = { postingsIdleMs: 3_600_000, postingsFlushEntries: 1 }

const tempFile = (): { file: string; cleanup: () => void } => tempDbFile('postings')

const pv = (visitor: string, m: number, path: string): StoredEvent => pageview({ site: SITE, visitor, ts: T + m * MIN, path })

const rows = (file: string, sql: string): unknown[] => fileRows(file, sql)

describe('funnel postings on SQLite', () => {
  it('counts page views still pending (no timer flush yet), and a rolled-back append adds none', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      await s.append([pv('a', 0, '/x'), pv('a', 1, '/y'), pv('b', 2, '/x')])
      assert.deepEqual(rows(file, 'SELECT count(*) FROM funnel_postings'), [[0]], 'nothing flushed yet')
      assert.deepEqual(await s.funnel(RANGE, [page('/x'), page('/y')]), [{ visits: 2, visitors: 2 }, { visits: 1, visitors: 1 }])
      // c's /x is pushed, then the batch fails and rolls back; d's /q then takes the same events rowid
      const bad = { ...pv('e', 5, '/y'), screen: {} as unknown as number }
      await assert.rejects(s.append([pv('c', 4, '/x'), bad]))
      await s.append([pv('d', 4, '/q')])
      assert.deepEqual(await s.funnel(RANGE, [page('/x'), page('/y')]), [{ visits: 2, visitors: 2 }, { visits: 1, visitors: 1 }])
      assert.deepEqual(await s.funnel(RANGE, [page('/q'), page('/x')]), [{ visits: 1, visitors: 1 }, { visits: 0, visitors: 0 }])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('follows a visit merged after its page views were flushed, and never gives its id again', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, EACH)
    try {
      await s.init()
      // two visits of x (40 minutes apart: over the 30-minute gap)
      await s.append([pv('x', 0, '/a'), pv('x', 40, '/b')])
      assert.deepEqual(rows(file, 'SELECT sum(n) FROM funnel_postings'), [[2]])
      assert.deepEqual(await s.funnel(RANGE, [page('/a'), page('/b')]), [{ visits: 1, visitors: 1 }, { visits: 0, visitors: 0 }])
      // a late page view at 20 bridges them: the later visit joins the earlier one
      await s.append([pv('x', 20, '/c')])
      assert.deepEqual(rows(file, 'SELECT count(*) FROM funnel_aliases'), [[1]])
      assert.deepEqual(await s.funnel(RANGE, [page('/a'), page('/b')]), [{ visits: 1, visitors: 1 }, { visits: 1, visitors: 1 }])
      // y's new visit must not take the merged visit's id (its alias would fold y into x's visit)
      await s.append([pv('y', 50, '/a'), pv('y', 51, '/b')])
      const ids = rows(file, 'SELECT visit FROM funnel_aliases UNION ALL SELECT id FROM visits') as [number][]
      assert.equal(new Set(ids.map((r) => r[0])).size, ids.length)
      assert.deepEqual(await s.funnel(RANGE, [page('/a'), page('/b'), page('/c')]),
        [{ visits: 2, visitors: 2 }, { visits: 2, visitors: 2 }, { visits: 0, visitors: 0 }])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('writes pending page views once appends pause', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, { postingsIdleMs: 20 })
    try {
      await s.init()
      await s.append([pv('a', 0, '/x'), pv('a', 1, '/y')])
      for (let i = 0; i < 250 && (rows(file, 'SELECT count(*) FROM funnel_postings') as [number][])[0]?.[0] === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      assert.deepEqual(rows(file, 'SELECT sum(n) FROM funnel_postings'), [[2]])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('loses no page view when the process is SIGKILLed before any flush', async () => {
    const { file, cleanup } = tempFile()
    const events = [pv('a', 0, '/x'), pv('a', 1, '/y'), pv('b', 2, '/x'), pv('c', 3, '/y'), pv('c', 4, '/x'), pv('c', 5, '/y')]
    const first = createSqliteStore(file, NO_TIMER)
    await first.init()
    await first.append([pv('z', -30, '/x')])
    assert.equal((await first.funnel(RANGE, [page('/x'), page('/y')]))[0]?.visits, 1) // flushed: the watermark moves
    await first.close()
    const script = `
      const mod = await import(${JSON.stringify(join(__dirname, '../src/hub/store/sqlite.ts'))})
      const { createSqliteStore } = mod.default ?? mod
      const s = createSqliteStore(${JSON.stringify(file)}, { postingsIdleMs: 3600000 })
      await s.init()
      await s.append(${JSON.stringify(events.slice(0, 3))})
      await s.append(${JSON.stringify(events.slice(3))})
      process.kill(process.pid, 'SIGKILL')`
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' })
    assert.equal(child.signal, 'SIGKILL', child.stderr)
    assert.deepEqual(rows(file, 'SELECT sum(n) FROM funnel_postings'), [[1]], 'only z was flushed')
    const s = createSqliteStore(file, NO_TIMER)
    try {
      await s.init()
      assert.deepEqual(rows(file, 'SELECT sum(n) FROM funnel_postings'), [[7]], 'init rebuilt the six page views above the watermark')
      // /x then /y: a (0, 1) and c (4, 5); z and b stop at /x
      assert.deepEqual(await s.funnel(RANGE, [page('/x'), page('/y')]), [{ visits: 4, visitors: 4 }, { visits: 2, visitors: 2 }])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('prunes chunks older than the cutoff and the older page views of those that straddle it', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, EACH)
    const DAY = 86_400_000
    try {
      await s.init()
      // three old page views of /x, flushed as one chunk; then two new ones in a chunk of their own
      await s.append([pv('o1', -2 * 24 * 60, '/x'), pv('o2', -2 * 24 * 60 + 1, '/x'), pv('o3', -2 * 24 * 60 + 2, '/x')])
      await s.append([pv('n1', 0, '/x'), pv('n1', 1, '/y'), pv('n2', 2, '/x')])
      // one chunk of /z holds a page view before the cutoff and one after
      await s.append([pv('o4', -2 * 24 * 60, '/z'), pv('n3', 3, '/z')])
      assert.deepEqual(rows(file, "SELECT n FROM funnel_postings WHERE path = (SELECT id FROM dict WHERE value = '/x') ORDER BY seq"), [[3], [2]])
      await s.prune(T - DAY)
      assert.deepEqual(rows(file, 'SELECT count(*) FROM funnel_postings WHERE min_ts < ?'.replace('?', String(T - DAY))), [[0]])
      assert.deepEqual(rows(file, "SELECT n FROM funnel_postings WHERE path = (SELECT id FROM dict WHERE value = '/z')"), [[1]])
      assert.deepEqual(rows(file, "SELECT n FROM funnel_postings WHERE path = (SELECT id FROM dict WHERE value = '/x') ORDER BY seq"), [[2]])
      const all = { site: SITE, from: T - 3 * DAY, to: T + DAY }
      assert.deepEqual(await s.funnel(all, [page('/x'), page('/y')]), [{ visits: 2, visitors: 2 }, { visits: 1, visitors: 1 }])
      assert.deepEqual(await s.funnel(all, [page('/z'), page('/x')]), [{ visits: 1, visitors: 1 }, { visits: 0, visitors: 0 }])
      assert.deepEqual(await s.conversions(all, [{ kind: 'page', page: '/z' }]), [{ visitors: 1, conversions: 1 }])
    } finally {
      await s.close()
      cleanup()
    }
  })

  it('fills the postings of an older file on upgrade, answering as appends would', async () => {
    const fresh = tempFile()
    const old = tempFile()
    const events: StoredEvent[] = []
    for (let v = 0; v < 40; v++) {
      const paths = ['/', '/pricing', '/signup', '/blog/a', '/blog/b']
      for (let i = 0; i < 1 + (v % 5); i++) events.push(pv(`v${v}`, v * 3 + i, paths[(v + i * 2) % 5] as string))
    }
    const a = createSqliteStore(fresh.file)
    await a.init()
    await a.append(events)
    // the same page views as a Livestats before visits, facts and postings stored them (schema 6):
    // the upgrade makes visits and pv rows from them, then the postings from the pv rows
    const db = new Database(old.file)
    migrate(db, 6)
    const ins = db.prepare(`INSERT INTO events (id, ts, type, site, visitor, path, bot, browser, os, device, country)
      VALUES (?,?,?,?,?,?,0,?,?,?,?)`)
    for (const e of events) ins.run(e.id, e.ts, e.type, e.site, e.visitor, e.path, e.browser, e.os, e.device, e.country)
    db.prepare('INSERT INTO sites (name, first, last) VALUES (?, ?, ?)').run(SITE, T - 60 * MIN, T + 180 * MIN)
    // the migration itself fills them (in pages) and sets the watermark: init's recovery has nothing left
    migrate(db)
    assert.deepEqual(db.prepare('SELECT sum(n) FROM funnel_postings').raw().get(), [events.length])
    assert.deepEqual(db.prepare("SELECT value FROM meta WHERE key = 'funnel:rid'").raw().get(), [String(events.length)])
    db.close()
    const b = createSqliteStore(old.file)
    try {
      await b.init()
      assert.equal(await b.getMeta('schema_version'), String(SCHEMA_VERSION))
      assert.deepEqual(rows(old.file, "SELECT count(*) FROM sqlite_master WHERE name = 'pv_path'"), [[0]])
      assert.deepEqual(rows(old.file, 'SELECT sum(n) FROM funnel_postings'), [[events.length]])
      for (const steps of [[page('/'), page('/pricing'), page('/signup')], [page('/blog/*'), page('/')], [page('/pricing'), page('/blog/**')]]) {
        const want = await a.funnel(RANGE, steps)
        assert.ok((want[0]?.visits ?? 0) > 5)
        assert.deepEqual(await b.funnel(RANGE, steps), want, JSON.stringify(steps))
      }
    } finally {
      await a.close()
      await b.close()
      fresh.cleanup()
      old.cleanup()
    }
  })
  it('counts a pattern of 40 pages over 24,000 visits as a brute-force count does (rows page by page, out of time order)', async () => {
    // page by page, a pattern's rows jump back over thousands of visits: the walk keeps only which
    // visits reached step 1 and settles when each did for the visits with rows in step 2
    const { file, cleanup } = tempFile()
    const s = createSqliteStore(file, { postingsIdleMs: 3_600_000, postingsFlushEntries: 5_000 })
    const rand = prng(29)
    const pages = [...Array.from({ length: 40 }, (_, i) => `/blog/p${i}`), '/signup', '/']
    const events: StoredEvent[] = []
    // one visit's paths in time order (1 min apart), and its visitor
    const visits: { who: string; paths: string[] }[] = []
    for (let v = 0; v < 24_000; v++) {
      // visits 5 s apart; a visitor's second visit 15,000 visits (about 21 h) after the first
      const who = `u${v % 15_000}`
      const paths = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pages[Math.floor(rand() * pages.length)] as string)
      paths.forEach((path, i) => events.push(pageview({ site: SITE, visitor: who, ts: T + v * 5_000 + i * MIN, path })))
      visits.push({ who, paths })
    }
    events.sort((a, b) => a.ts - b.ts)
    const expect = (steps: ((p: string) => boolean)[]) => steps.map((_, k) => {
      const reached = visits.filter(({ paths }) => {
        let i = -1
        for (const step of steps.slice(0, k + 1)) {
          i = paths.findIndex((p, j) => j > i && step(p))
          if (i < 0) return false
        }
        return true
      })
      return { visits: reached.length, visitors: new Set(reached.map((r) => r.who)).size }
    })
    const blog = (p: string) => p.startsWith('/blog/')
    try {
      await s.init()
      for (let i = 0; i < events.length; i += 5_000) await s.append(events.slice(i, i + 5_000))
      const range: Range = { site: SITE, from: T, to: T + 30 * 24 * 60 * MIN }
      const counts = await s.funnel(range, [page('/blog/**'), page('/signup')])
      assert.ok((counts[0]?.visits ?? 0) > 10_000, 'most visits saw a blog page')
      assert.deepEqual(counts, expect([blog, (p) => p === '/signup']))
      assert.deepEqual(await s.funnel(range, [page('/blog/**'), page('/signup'), page('/')]), expect([blog, (p) => p === '/signup', (p) => p === '/']))
      assert.deepEqual(await s.funnel(range, [page('/blog/**'), page('/blog/**')]), expect([blog, blog]))
    } finally {
      await s.close()
      cleanup()
    }
  })
})
