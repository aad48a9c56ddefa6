/**
 * The SQLite raw events without events_site_type_ts (schema 17): counted page views and custom
 * events are found through their fact rows, everything else through the partial indexes
 * events_bots and events_rest. Pruning in small chunks leaves no raw row without its fact row nor
 * the reverse, the feed keeps the old order of ties, and a file from schema 16 answers the same.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import Database from 'better-sqlite3'
import { fileRows } from './helpers/sqlite-file'
import { createSqliteStore, type SqliteStore } from '../src/hub/store/sqlite'
import { SCHEMA_VERSION } from '../src/hub/store/sqlite-schema'
import type { StoredEvent } from '../src/hub/store/types'
import { pageview, processEvent } from './helpers/store-contract'

const T0 = Date.UTC(2025, 0, 15, 10, 0, 0)
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const site = 'a.example'

async function withFile(body: (file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-raw-'))
  try {
    await body(join(dir, 'raw.db'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const rows = (file: string, sql: string): unknown[] => fileRows(file, sql)

/** Counted raw events without their fact row, and fact rows without their raw event. */
function strays(file: string): number[] {
  const [[a], [b], [c]] = [
    `SELECT count(*) FROM events e WHERE e.type IN ('pageview', 'event') AND e.bot = 0 AND e.visitor IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM pv WHERE pv.rid = e.rowid) AND NOT EXISTS (SELECT 1 FROM ce WHERE ce.rid = e.rowid)`,
    'SELECT count(*) FROM pv WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.rowid = pv.rid)',
    'SELECT count(*) FROM ce WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.rowid = ce.rid)',
  ].map((q) => rows(file, q)[0]) as [[number], [number], [number]]
  return [a, b, c]
}

/** What a store answers about a site's raw events and rollups, for before/after comparisons. */
async function answers(s: SqliteStore) {
  return {
    feed: await s.feed(site, 100),
    all: await s.feed(null, 100),
    // not a whole bucket: counted from the raw page views
    totals: await s.totals({ site, from: T0 + MIN, to: T0 + 3 * HOUR + 7 * MIN }),
    series: await s.series({ site, from: T0, to: T0 + DAY }, 'hour'),
    bots: await s.bots({ site, from: T0, to: T0 + DAY }),
    events: await s.countEvents(),
  }
}

describe('SQLite raw events through the fact tables (schema 17)', () => {
  it('prunes in chunks across ties in time, leaving no raw row without its fact row nor the reverse', () => withFile(async (file) => {
    const s = createSqliteStore(file, { pruneChunk: 3 })
    try {
      await s.init()
      const batch: StoredEvent[] = []
      // 7 page views and 5 custom events at each of a few identical times, so chunks end inside a tie
      for (let t = 0; t < 4; t++) {
        for (let i = 0; i < 7; i++) batch.push(pageview({ ts: T0 + t * MIN, visitor: `v${i}` }))
        for (let i = 0; i < 5; i++) batch.push(pageview({ ts: T0 + t * MIN, type: 'event', name: 'e', visitor: `v${i}`, data: `{"k":"${i}"}` }))
        batch.push(pageview({ ts: T0 + t * MIN, visitor: 'bot', bot: true }), processEvent({ ts: T0 + t * MIN }))
      }
      await s.append(batch)
      await s.append(batch.map((e) => ({ ...e, id: `${e.id}-late`, ts: e.ts + 2 * HOUR })))
      assert.equal(await s.prune(T0 + 2 * MIN), 2 * 14)
      assert.deepEqual(strays(file), [0, 0, 0])
      assert.deepEqual(rows(file, `SELECT min(ts) FROM events`), [[T0 + 2 * MIN]])
      for (const table of ['pv', 'ce', 'cp']) assert.deepEqual(rows(file, `SELECT min(ts) FROM ${table}`), [[T0 + 2 * MIN]], table)
      assert.equal(await s.prune(T0 + HOUR), 2 * 14)
      assert.equal(await s.countEvents(), 4 * 14)
      assert.deepEqual(strays(file), [0, 0, 0])
      assert.deepEqual(rows(file, 'SELECT count(*) FROM cp'), [[4 * 5]])
    } finally {
      await s.close()
    }
  }))

  it('feeds ties in time by visitor, then newest stored first, as the raw index did', () => withFile(async (file) => {
    const s = createSqliteStore(file)
    try {
      await s.init()
      await s.append([
        pageview({ ts: T0, visitor: 'b', path: '/b1' }), pageview({ ts: T0, visitor: 'c', path: '/c' }),
        pageview({ ts: T0 + 1, visitor: 'a', path: '/later' }), pageview({ ts: T0, visitor: 'a', path: '/a' }),
      ])
      await s.append([pageview({ ts: T0, visitor: 'b', path: '/b2' }), pageview({ ts: T0, visitor: 'z', bot: true, path: '/bot' })])
      assert.deepEqual((await s.feed(site, 10)).map((f) => f.path), ['/later', '/c', '/b2', '/b1', '/a'])
      assert.deepEqual((await s.feed(site, 3, T0 + 1)).map((f) => f.path), ['/c', '/b2', '/b1'])
    } finally {
      await s.close()
    }
  }))

  it('upgrades a file from schema 16: the index goes, events_rest comes, every answer stays', () => withFile(async (file) => {
    let s = createSqliteStore(file)
    try {
      await s.init()
      const batch: StoredEvent[] = []
      for (let i = 0; i < 200; i++) {
        const ts = T0 + ((i * 7919) % (5 * HOUR))
        batch.push(pageview({ ts, visitor: `v${i % 37}`, path: `/p${i % 5}` }))
        if (i % 9 === 0) batch.push(pageview({ ts, type: 'event', name: 'x', visitor: `v${i % 37}` }))
        if (i % 13 === 0) batch.push(pageview({ ts, visitor: 'crawler', bot: true }))
        if (i % 17 === 0) batch.push(processEvent({ ts }))
      }
      await s.append(batch.sort((a, b) => a.ts - b.ts))
      const before = await answers(s)
      await s.close()
      // the file as schema 16 left it: the raw index, no events_rest (nor schema 18's visit postings, nor 19's hour keys, nor 20's chunks)
      const db = new Database(file)
      db.exec(`DROP INDEX events_rest; CREATE INDEX events_site_type_ts ON events (site, type, ts, bot, visitor);
        DROP TABLE visit_postings; DELETE FROM meta WHERE key = 'visits:posted'; DROP TABLE hour_visitors; DROP TABLE chunk_hours; DROP TABLE chunk_cols;
        UPDATE meta SET value = '16' WHERE key = 'schema_version'`)
      db.close()
      s = createSqliteStore(file)
      await s.init()
      assert.equal(await s.getMeta('schema_version'), String(SCHEMA_VERSION))
      const indexes = rows(file, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name`)
      assert.deepEqual(indexes, [['events_bots'], ['events_key'], ['events_rest']])
      assert.deepEqual(await answers(s), before)
      // the open buckets were seeded from pv: a known visitor in the open hour adds none, a new one adds one
      const counted = batch.filter((e) => e.type === 'pageview' && !e.bot)
      const last = Math.max(...counted.map((e) => e.ts))
      const hour = last - (last % HOUR)
      const seen = (from: number) => counted.find((e) => e.ts >= from && e.ts < from + HOUR)?.visitor ?? 'none'
      const [open] = await s.series({ site, from: hour, to: hour + HOUR }, 'hour')
      await s.append([pageview({ ts: last + 1, visitor: seen(hour) }), pageview({ ts: last + 2, visitor: 'new' })])
      assert.deepEqual(await s.series({ site, from: hour, to: hour + HOUR }, 'hour'), [
        { t: hour, pageviews: (open?.pageviews ?? 0) + 2, visitors: (open?.visitors ?? 0) + 1 },
      ])
      // a late page view in a closed hour is recounted from pv
      const [first] = await s.series({ site, from: T0, to: T0 + HOUR }, 'hour')
      await s.append([pageview({ ts: T0 + 5, visitor: seen(T0) }), pageview({ ts: T0 + 6, visitor: 'late' })])
      assert.deepEqual(await s.series({ site, from: T0, to: T0 + HOUR }, 'hour'), [
        { t: T0, pageviews: (first?.pageviews ?? 0) + 2, visitors: (first?.visitors ?? 0) + 1 },
      ])
      assert.equal(await s.prune(T0 + DAY), before.events + 4)
      assert.deepEqual(strays(file), [0, 0, 0])
    } finally {
      await s.close()
    }
  }))
})
