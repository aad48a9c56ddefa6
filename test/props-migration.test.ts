/**
 * Schema 12 (custom event properties, issue 13.1) on a file an earlier Livestats left: the
 * migration fills the property rows from the custom events already stored, so breakdowns, filters
 * and event goals answer the same as for events stored after it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { Dict } from '../src/hub/store/sqlite-dict'
import { propsMigration } from '../src/hub/store/sqlite-props'
import { SCHEMA_VERSION, migrate } from '../src/hub/store/sqlite-schema'
import { pageview } from './helpers/store-contract'

const T0 = Date.UTC(2025, 0, 15, 10)
const range = { site: 'm.test', from: T0, to: T0 + 3_600_000 }

// the migration list runs propsMigration: a file migrated from nothing has the table
const MIGRATIONS_INCLUDE_PROPS = ((): boolean => {
  const db = new Database(':memory:')
  try {
    return migrate(db) === SCHEMA_VERSION && db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'cp'").get() !== undefined
  } finally {
    db.close()
  }
})()

test('the property migration fills the property rows from stored custom events', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-props-'))
  const file = join(dir, 'a.db')
  try {
    let s = createSqliteStore(file)
    await s.init()
    const ev = (visitor: string, ts: number, props: object | null, bot = false) =>
      pageview({ site: 'm.test', visitor, ts, type: 'event', name: 'Signup', data: props === null ? null : JSON.stringify(props), bot })
    await s.append([
      pageview({ site: 'm.test', visitor: 'a', ts: T0 }), ev('a', T0 + 1000, { plan: 'pro', seats: 3 }),
      pageview({ site: 'm.test', visitor: 'b', ts: T0 + 2000 }), ev('b', T0 + 3000, { plan: 'free' }), ev('b', T0 + 4000, null),
      pageview({ site: 'm.test', visitor: 'c', ts: T0 + 5000, bot: true }), ev('c', T0 + 6000, { plan: 'pro' }, true),
    ])
    const before = [await s.eventTop(range, 'prop:plan', 10), await s.eventTop(range, 'prop', 10),
      await s.conversions(range, [{ kind: 'event', event: 'Signup', props: { plan: 'pro' } }])]
    assert.deepEqual(before, [
      [{ value: 'free', events: 1, visitors: 1 }, { value: 'pro', events: 1, visitors: 1 }],
      [{ value: 'plan', events: 2, visitors: 2 }, { value: 'seats', events: 1, visitors: 1 }],
      [{ visitors: 1, conversions: 1 }],
    ])
    await s.close()
    // as the schema before it left the file: no property table; then the migration itself
    const db = new Database(file)
    db.exec('DROP TABLE cp')
    assert.equal(MIGRATIONS_INCLUDE_PROPS, true)
    db.transaction(() => propsMigration(db, new Dict(db)))()
    db.close()
    s = createSqliteStore(file)
    await s.init()
    assert.deepEqual([await s.eventTop(range, 'prop:plan', 10), await s.eventTop(range, 'prop', 10),
      await s.conversions(range, [{ kind: 'event', event: 'Signup', props: { plan: 'pro' } }])], before)
    await s.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
