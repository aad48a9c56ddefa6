import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createPostgresStore } from '../src/hub/store/postgres'
import { dropSchema, POSTGRES_URL, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'
import { pageview, processEvent, storeContract, type Backing } from './helpers/store-contract'

async function postgresBacking(): Promise<Backing> {
  const schema = testSchema()
  return { open: () => createPostgresStore(POSTGRES_URL, { schema, poolMax: 4 }), cleanup: () => dropSchema(schema) }
}

storeContract('postgres', postgresBacking, { skip: postgresMissingSync() })

describe('PostgresStore specifics', { skip: postgresMissingSync() }, () => {
  it('prunes in chunks of every event type and keeps the rollups and the rest', async () => {
    const schema = testSchema()
    const s = createPostgresStore(POSTGRES_URL, { schema, pruneChunk: 7 })
    try {
      await s.init()
      const T = Date.UTC(2025, 0, 15, 10)
      const old = Array.from({ length: 40 }, (_, i) => i % 4 === 0
        ? processEvent({ ts: T + i, data: `{"count":${i}}` })
        : pageview({ ts: T + i, visitor: `v${i % 5}`, type: i % 4 === 1 ? 'event' : 'pageview', name: i % 4 === 1 ? 'x' : null }))
      await s.append([...old, pageview({ ts: T + 3_600_000, visitor: 'new' })])
      assert.equal(await s.prune(T + 1000), 40)
      assert.equal(await s.countEvents(), 1)
      assert.equal(await s.countEvents('api'), 0)
      const [hour] = await s.series({ site: 'a.example', from: T, to: T + 3_600_000 }, 'hour')
      assert.deepEqual(hour, { t: T, pageviews: 20, visitors: 5 })
      assert.equal(await s.prune(T + 1000), 0)
    } finally {
      await s.close()
      await dropSchema(schema)
    }
  })
})
