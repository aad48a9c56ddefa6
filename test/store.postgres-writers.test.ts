/**
 * N writers on one PostgreSQL schema: store instances with pools of their own append overlapping
 * batches at once (every batch sent by two or three of them, some at the same moment), and the
 * result must equal one store fed each batch once: every event stored once, the same rollups,
 * unique visitors, visits and filtered answers, and no deadlock.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import { createPostgresStore, type PostgresStore } from '../src/hub/store/postgres'
import { PG_SCHEMA_VERSION } from '../src/hub/store/postgres-schema'
import type { Dimension, Range, Store, StoredEvent } from '../src/hub/store/types'
import { Oracle } from './helpers/analytics-oracle'
import { dropSchema, POSTGRES_URL, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'
import { pageview, prng } from './helpers/store-contract'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0)
const SITES = ['a.example', 'b.example']
const DIMS: Dimension[] = ['page', 'referrer', 'utm_source', 'browser', 'country', 'event', 'entry_page', 'exit_page']

/** Visitors on two sites over four hours; every visitor's page views at distinct times. */
function traffic(seed: number): StoredEvent[] {
  const r = prng(seed)
  const out: StoredEvent[] = []
  for (let v = 0; v < 60; v++) {
    const site = SITES[v % 2] as string
    const agent = { site, visitor: `v${v}`, browser: r() < 0.5 ? 'Chrome' : 'Firefox', country: r() < 0.5 ? 'DE' : 'NL' }
    let ts = T0 + Math.floor(r() * 2 * HOUR) + v
    for (let i = 0, n = 1 + Math.floor(r() * 12); i < n; i++) {
      out.push(pageview({ ...agent, ts, path: `/p${Math.floor(r() * 5)}`, refHost: i === 0 && r() < 0.5 ? 'search.example' : null,
        utmSource: i === 0 && r() < 0.3 ? 'news' : null }))
      if (r() < 0.2) out.push(pageview({ ...agent, type: 'event', ts: ts + 1000, name: r() < 0.5 ? 'signup' : 'play' }))
      ts += Math.floor((1 + r() * 45) * MIN) + 13
    }
  }
  out.push(pageview({ visitor: 'bot', bot: true, ts: T0 + HOUR, path: '/p1', browser: 'Googlebot' }))
  return out
}

/** Batches in shuffled order, so a visitor's page views land in batches that run at the same time on different writers. */
function batches(events: StoredEvent[], seed: number): StoredEvent[][] {
  const r = prng(seed)
  const shuffled = [...events].sort(() => r() - 0.5)
  const out: StoredEvent[][] = []
  for (let i = 0; i < shuffled.length;) {
    const n = 5 + Math.floor(r() * 30)
    out.push(shuffled.slice(i, i + n))
    i += n
  }
  return out
}

async function answers(s: Store, site: string): Promise<unknown> {
  const day: Range = { site, from: T0 - DAY / 2, to: T0 + DAY / 2 }
  const out: Record<string, unknown> = {
    totals: await s.totals(day), visits: await s.visitTotals(day), bots: await s.bots(day),
    minutes: await s.series({ site, from: T0, to: T0 + 6 * HOUR }, 'minute'),
    hours: await s.series(day, 'hour'), days: await s.series(day, 'day'), count: await s.countEvents(site),
    filtered: await s.visitTotals({ ...day, filters: [{ dim: 'page', op: 'is', value: '/p1' }] }),
    filteredTotals: await s.totals({ ...day, filters: [{ dim: 'event', op: 'is', value: 'signup' }] }),
  }
  for (const dim of DIMS) out[dim] = await s.top(day, dim, 100)
  return out
}

describe('PostgreSQL store with concurrent writers', { skip: postgresMissingSync() }, () => {
  it('three store instances appending overlapping batches at once store each event once and count as one store does', async () => {
    const shared = testSchema()
    const single = testSchema()
    const writers = [0, 1, 2].map(() => createPostgresStore(POSTGRES_URL, { schema: shared, poolMax: 3 }))
    const one = createPostgresStore(POSTGRES_URL, { schema: single, poolMax: 2 })
    try {
      // N nodes starting at once migrate once
      await Promise.all([...writers, one].map((w) => w.init()))
      const events = traffic(7)
      const list = batches(events, 11)
      for (const b of list) await one.append(b)
      // every batch goes to two writers at the same moment, and every third one to a third writer later
      const r = prng(5)
      const work: [PostgresStore, StoredEvent[]][][] = writers.map(() => [])
      list.forEach((b, i) => {
        const a = i % 3
        const c = (a + 1 + Math.floor(r() * 2)) % 3
        work[a]?.push([writers[a] as PostgresStore, b])
        work[c]?.push([writers[c] as PostgresStore, b])
        if (i % 3 === 0) work[3 - a - c]?.push([writers[3 - a - c] as PostgresStore, b])
      })
      let stored = 0
      let duplicates = 0
      await Promise.all(work.map(async (jobs) => {
        // two appends in flight per writer, as a hub's pool would have
        const lanes = [jobs.filter((_, k) => k % 2 === 0), jobs.filter((_, k) => k % 2 === 1)]
        await Promise.all(lanes.map(async (lane) => {
          for (const [w, b] of lane) {
            const res = await w.append(b)
            stored += res.stored
            duplicates += res.duplicates
          }
        }))
      }))
      assert.equal(stored, events.length, 'every event stored by exactly one writer')
      assert.ok(duplicates > 0)
      const w0 = writers[0] as PostgresStore
      assert.equal(await w0.countEvents(), events.length)
      for (const site of SITES) assert.deepEqual(await answers(w0, site), await answers(one, site), site)
      // and both equal the rules, computed by hand
      const o = new Oracle(events)
      for (const site of SITES) {
        assert.deepEqual(await w0.visitTotals({ site, from: T0 - DAY / 2, to: T0 + DAY / 2 }), o.visitTotals(site, T0 - DAY / 2, T0 + DAY / 2, []))
        assert.deepEqual(await w0.top({ site, from: T0 - DAY / 2, to: T0 + DAY / 2 }, 'entry_page', 100), o.top(site, 'entry_page', T0 - DAY / 2, T0 + DAY / 2, 100, []))
        assert.deepEqual(await w0.series({ site, from: T0, to: T0 + 6 * HOUR }, 'hour'), o.series(site, T0, T0 + 6 * HOUR, 'hour', []))
      }
      const versions = await w0['pool'].query<{ version: number }>('SELECT version FROM ls_schema ORDER BY version')
      assert.deepEqual(versions.rows.map((x) => x.version), Array.from({ length: PG_SCHEMA_VERSION }, (_, i) => i + 1))
    } finally {
      await Promise.all([...writers, one].map((w) => w.close()))
      await dropSchema(shared)
      await dropSchema(single)
    }
  })

  it('one batch resent to three instances at the same moment, 30 times: stored once each time, no deadlock', async () => {
    const schema = testSchema()
    const writers = [0, 1, 2].map(() => createPostgresStore(POSTGRES_URL, { schema, poolMax: 2 }))
    try {
      await Promise.all(writers.map((w) => w.init()))
      let total = 0
      for (let k = 0; k < 30; k++) {
        // the same visitors in every batch: page views and events of one visitor meet on every writer
        const batch = Array.from({ length: 40 }, (_, i) => pageview({ visitor: `v${i % 7}`, ts: T0 + k * MIN + i * 100, path: `/${i % 3}` }))
        const res = await Promise.all(writers.map((w) => w.append([...batch].reverse())))
        assert.equal(res.reduce((n, x) => n + x.stored, 0), batch.length)
        for (let i = 0; i < batch.length; i++) assert.equal(res.filter((x) => x.fresh[batch.length - 1 - i]).length, 1)
        total += batch.length
      }
      const w = writers[0] as PostgresStore
      assert.equal(await w.countEvents(), total)
      assert.deepEqual(await w.totals({ site: 'a.example', from: T0, to: T0 + HOUR }), { pageviews: total, visitors: 7 })
      // 30 minutes of page views a minute apart: each of the 7 visitors made one visit
      assert.equal((await w.visitTotals({ site: 'a.example', from: T0, to: T0 + HOUR })).visits, 7)
    } finally {
      await Promise.all(writers.map((w) => w.close()))
      await dropSchema(schema)
    }
  })

  it('refuses a schema written by a newer Livestats', async () => {
    const schema = testSchema()
    const s = createPostgresStore(POSTGRES_URL, { schema })
    try {
      await s.init()
      const c = new pg.Client({ connectionString: POSTGRES_URL })
      await c.connect()
      await c.query(`INSERT INTO "${schema}".ls_schema (version) VALUES ($1)`, [PG_SCHEMA_VERSION + 1])
      await c.end()
      await assert.rejects(s.init(), /newer than this Livestats/)
    } finally {
      await s.close()
      await dropSchema(schema)
    }
  })
})
