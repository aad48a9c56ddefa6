/** `--retention DAYS`: the hub prunes raw events older than that at start (then hourly); rollups stay. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHub } from '../src/hub/hub'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { pageview } from './helpers/store-contract'
import { quiet } from './helpers/hub'
import { until } from './helpers/wait'

const DAY = 86_400_000

describe('retention', () => {
  it('prunes raw events past the retention at start and keeps the rollups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-ret-'))
    const db = join(dir, 'r.db')
    try {
      const now = Date.now()
      const seed = createSqliteStore(db)
      await seed.init()
      await seed.append([
        pageview({ id: 'old000000001', site: 'r.test', ts: now - 10 * DAY, visitor: 'a' }),
        pageview({ id: 'new000000001', site: 'r.test', ts: now - 1000, visitor: 'b' }),
      ])
      await seed.close()

      const hub = createHub({ port: 0, store: db, retentionDays: 7, logger: quiet })
      await hub.listen()
      await until('the old raw event to be pruned', async () => (await hub.store.countEvents('r.test')) === 1)
      const old = await hub.store.totals({ site: 'r.test', from: now - 11 * DAY, to: now - 9 * DAY })
      assert.equal(old.pageviews, 1, 'the rollup of the pruned day is kept')
      await hub.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
