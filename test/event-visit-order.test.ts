/**
 * Which visit a custom event belongs to when two of its visitor's visits are near it (docs/api.md,
 * Filters: the one that started at or before it), whatever order the page views and the event
 * arrive in. Visit A is one page view of /signup at T with a Signup event a second later; visit B
 * starts 30.5 minutes after A's page view, so the event is within a gap of both. The event belongs
 * to A: `event=Signup` selects one visit, entered on /signup.
 *
 * SQLite gives an event its visit when it is stored, PostgreSQL at query time: an event stored
 * while only B was known was left in B when A's page view came later (adoption took only events
 * with no visit). Found by a differential run of random, shuffled traffic through both stores.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { createPostgresStore } from '../src/hub/store/postgres'
import type { Store, StoredEvent } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { dropSchema, schemaUrl, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'

const MIN = 60_000
const T = Date.UTC(2025, 2, 10, 10, 0, 0)
const SITE = 'order.test'
const RANGE = { site: SITE, from: T - 60 * MIN, to: T + 120 * MIN, filters: [{ dim: 'event', op: 'is', value: 'Signup' }] } as const

const pvA = (): StoredEvent => pageview({ site: SITE, visitor: 'u', ts: T, path: '/signup' })
const evA = (): StoredEvent => pageview({ site: SITE, visitor: 'u', ts: T + 1000, path: '/signup', type: 'event', name: 'Signup', data: '{"plan":"pro"}' })
const pvB = (): StoredEvent => pageview({ site: SITE, visitor: 'u', ts: T + 30 * MIN + 500, path: '/' })

/** The batches in each arrival order: in time order, and B and the event before A. */
const ORDERS: [string, () => StoredEvent[][]][] = [
  ['in time order', () => [[pvA()], [evA()], [pvB()]]],
  ['B, then the event, then A', () => [[pvB()], [evA()], [pvA()]]],
]

async function check(store: Store): Promise<void> {
  assert.deepEqual(await store.visitTotals({ site: SITE, from: RANGE.from, to: RANGE.to }).then((v) => v.visits), 2, 'two visits')
  const v = await store.visitTotals(RANGE)
  assert.equal(v.visits, 1)
  assert.equal(v.bounces, 1)
  assert.deepEqual((await store.top(RANGE, 'entry_page', 10)).map((r) => [r.value, r.visits]), [['/signup', 1]])
}

describe('a custom event between two visits belongs to the one that started before it', () => {
  for (const [name, batches] of ORDERS) {
    it(`SQLite, ${name}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'livestats-order-'))
      const s = createSqliteStore(join(dir, 'test.db'))
      try {
        await s.init()
        for (const b of batches()) await s.append(b)
        await check(s)
      } finally {
        await s.close()
        rmSync(dir, { recursive: true, force: true })
      }
    })
    it(`PostgreSQL, ${name}`, { skip: postgresMissingSync() }, async () => {
      const schema = testSchema()
      const s = createPostgresStore(schemaUrl(schema))
      try {
        await s.init()
        for (const b of batches()) await s.append(b)
        await check(s)
      } finally {
        await s.close()
        await dropSchema(schema)
      }
    })
  }
})
