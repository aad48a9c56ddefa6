import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHub } from '../src/hub/hub'
import { dashboard } from '../src/dashboard/index'
import { tracker } from '../src/tracker/index'
import { recorder, until } from './tracker.fakehub'

const dir = mkdtempSync(path.join(os.tmpdir(), 'livestats-tracker-hub-'))
const base = { interval: 60_000, handleSignals: false }

describe('tracker against the real hub', () => {
  it('every event the tracker makes passes the hub validation and is stored', async () => {
    const hub = createHub({ port: 0, host: '127.0.0.1', db: path.join(dir, 'a.db') })
    const { url } = await hub.listen()
    const log = recorder()
    const t = tracker({ ...base, name: 'svc', hub: url }, log)
    t.bytes.sent('héllo')
    t.bytes.received(Buffer.alloc(64))
    t.database.read([1, 2, 3])
    t.database.written(2)
    t.job.start('ok').stop()
    t.job.start('bad').stop(new Error('x'.repeat(2000)))
    t.job.start('y'.repeat(10_000)).stop()
    t.job.start('still-running', Date.now() - 5000)
    t.flush() // bytes, db, 3 jobs, process
    const r = await t.close() // + a final process event
    assert.deepEqual(r, { delivered: true, pending: 0 })
    assert.equal(await hub.store.countEvents(), 7)
    assert.deepEqual(log.lines.filter((l) => /rejected|refused/.test(l)), [])
    await hub.close()
  })

  it('hub restarted while the app runs: what was buffered is stored exactly once', async () => {
    const db = path.join(dir, 'b.db')
    const first = createHub({ port: 0, host: '127.0.0.1', db })
    const { url, port } = await first.listen()
    const t = tracker({ ...base, name: 'svc', hub: url, buffer: 50 }, { warn() {} })
    t.bytes.sent(1)
    t.flush()
    await until(() => t.stats().buffered === 0)
    await first.close()
    await until(() => t.stats().hub !== 'open')
    for (let i = 0; i < 80; i++) {
      t.job.start('tick').stop()
      t.flush() // job + process each
    }
    assert.equal(t.stats().buffered, 50)
    const second = createHub({ port, host: '127.0.0.1', db })
    await second.listen()
    await until(() => t.stats().buffered === 0, 10_000)
    assert.equal(await second.store.countEvents(), 2 + 50)
    await t.close()
    await second.close()
  })

  it("seed 000's direction: dashboard() dials the tracker's port and stores what it streams", async () => {
    const t = tracker({ ...base, name: 'dialled', port: 0, host: '127.0.0.1' }, { warn() {} })
    const { port } = await t.ready()
    t.bytes.sent('before the dashboard came') // waits in the backlog
    t.flush()
    const quiet = { info() {}, warn() {}, error() {} }
    const d = dashboard({ port: 0, host: '127.0.0.1', db: path.join(dir, 'c.db'), urls: [`ws://127.0.0.1:${port}`] }, quiet)
    await d.ready
    await until(() => t.stats().peers === 1 && t.stats().buffered === 0, 10_000)
    t.job.start('live').stop()
    const r = await t.close()
    assert.equal(r.delivered, true)
    assert.equal(await d.hub.store.countEvents(), 2 + 2) // bytes + process, then job + process at close
    await d.close()
  })
})
