/**
 * SqliteStoreOptions.mmapMiB: the store's connection reads the file through a memory map of the
 * size asked for (SQLite caps it just under 2 GiB), none with 0; the worker store's connection too.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { MMAP_MIB_DEFAULT, createSqliteStore, type SqliteStoreOptions } from '../src/hub/store/sqlite'
import { createSqliteWorkerStore } from '../src/hub/store/sqlite-worker'
import { pageview } from './helpers/store-contract'

const MIB = 1024 * 1024
/** better-sqlite3's SQLITE_MAX_MMAP_SIZE: a larger mmap_size reads back as this. */
const SQLITE_MAX_MMAP = 0x7fff0000

function tempFile(): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-mmap-'))
  return { file: join(dir, 'test.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

async function mmapBytes(opts: SqliteStoreOptions): Promise<number> {
  const { file, cleanup } = tempFile()
  const s = createSqliteStore(file, opts)
  try {
    await s.init()
    return s.mmapBytes()
  } finally {
    await s.close()
    cleanup()
  }
}

describe('SqliteStoreOptions.mmapMiB', () => {
  it('sets PRAGMA mmap_size on the store connection, 0 turning it off', async () => {
    assert.equal(await mmapBytes({ mmapMiB: 16 }), 16 * MIB)
    assert.equal(await mmapBytes({ mmapMiB: 0 }), 0)
    assert.equal(await mmapBytes({ mmapMiB: 4096 }), SQLITE_MAX_MMAP, 'capped by SQLite')
    assert.equal(await mmapBytes({}), MMAP_MIB_DEFAULT * MIB)
  })

  // The worker's connection is on another thread; the process's memory maps show whether it maps the file.
  it('maps the file from the worker store connection, and not with 0', { skip: !existsSync('/proc/self/maps') }, async () => {
    for (const [mib, mapped] of [[8, true], [0, false]] as const) {
      const { file, cleanup } = tempFile()
      const s = createSqliteWorkerStore(file, { mmapMiB: mib })
      try {
        await s.init()
        assert.equal((await s.append([pageview()])).stored, 1)
        assert.equal(await s.countEvents(), 1)
        // the -shm file beside it is mapped either way (WAL mode)
        const maps = readFileSync('/proc/self/maps', 'utf8').split('\n')
        assert.equal(maps.some((line) => line.endsWith(` ${file}`)), mapped, `mmapMiB ${mib}`)
      } finally {
        await s.close()
        cleanup()
      }
    }
  })
})
