import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LivestatsError } from '../src/protocol/errors'
import { createSqliteWorkerStore } from '../src/hub/store/sqlite-worker'
import { pageview, storeContract, type Backing } from './helpers/store-contract'

function tempFile(): { file: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-store-w-'))
  return { file: join(dir, 'test.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
}

async function workerBacking(): Promise<Backing> {
  const { file, cleanup } = tempFile()
  return { open: () => createSqliteWorkerStore(file), cleanup }
}

storeContract('sqlite on a worker thread', workerBacking)

describe('SqliteWorkerStore specifics', () => {
  it('keeps LivestatsError codes across the thread and refuses calls once closed', async () => {
    const { file, cleanup } = tempFile()
    const s = createSqliteWorkerStore(file)
    try {
      await s.init()
      await assert.rejects(s.top({ site: 'a.example', from: 0, to: 1 }, 'page', 0),
        (err: unknown) => err instanceof LivestatsError && err.code === 'LS_ERR_BAD_QUERY')
      assert.equal((await s.append([pageview()])).stored, 1)
    } finally {
      await s.close()
      await cleanup()
    }
    await assert.rejects(s.countEvents())
  })
})
