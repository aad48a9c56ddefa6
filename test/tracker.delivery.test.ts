import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { tracker } from '../src/tracker/index'
import { backoff, collectUrl } from '../src/tracker/hub-client'
import { FakeHub, freePort, recorder, until } from './tracker.fakehub'

const quiet = { warn: () => {} }
const base = { interval: 60_000, handleSignals: false }

describe('tracker delivery', () => {
  it('while the hub is down keeps the newest events up to the cap, then delivers them exactly once', async () => {
    const port = await freePort()
    const log = recorder()
    const t = tracker({ ...base, name: 'down', hub: `ws://127.0.0.1:${port}`, buffer: 100 }, log)
    for (let i = 0; i < 5000; i++) t.flush() // 5000 process events, hub down
    assert.equal(t.stats().buffered, 100)
    assert.equal(t.stats().dropped, 4900)
    assert.equal(log.lines.filter((l) => l.includes('dropping the oldest')).length, 1)
    const hub = await new FakeHub(port).start()
    await until(() => t.stats().buffered === 0 && t.stats().hub === 'open', 10_000)
    const got = hub.ofType('process')
    assert.equal(got.length, 100)
    assert.equal(hub.duplicates, 0)
    const dropped = got.map((p) => p.dropped ?? 0)
    assert.ok(dropped.every((d) => d === 1), 'each kept sample reports the one dropped before it')
    const ats = got.map((p) => p.uptime)
    assert.deepEqual(ats, [...ats].sort((a, b) => a - b), 'oldest first')
    await t.close()
    await hub.stop()
  })

  it('resends frames the hub took but never acknowledged; the hub stores them once', async () => {
    const hub = await new FakeHub(0, { ack: false }).start()
    const t = tracker({ ...base, name: 'resend', hub: hub.url }, quiet)
    t.bytes.sent(10)
    t.flush()
    await until(() => hub.events.size === 2)
    assert.equal(t.stats().buffered, 2, 'kept until acknowledged')
    const port = Number(new URL(hub.url).port)
    await hub.stop()
    const back = await new FakeHub(port).start()
    for (const [id, e] of hub.events) back.events.set(id, e) // the hub had committed them
    await until(() => t.stats().buffered === 0, 10_000)
    assert.equal(back.frames, 1)
    assert.equal(back.duplicates, 2, 'resent with the same ids')
    await t.close()
    await back.stop()
  })

  it('30 minutes down at 10,000 calls/s, compressed: memory stays bounded, the kept ones arrive', async () => {
    const port = await freePort()
    const t = tracker({ ...base, name: 'long', hub: `ws://127.0.0.1:${port}`, buffer: 2000, maxJobNames: 5 }, quiet)
    const s = 'x'.repeat(1024)
    global.gc?.()
    const heap0 = process.memoryUsage().heapUsed
    let max = 0
    for (let sec = 0; sec < 1800; sec++) {
      for (let i = 0; i < 3334; i++) { // 3 calls each: 10,002 calls per simulated second
        t.bytes.sent(s)
        t.database.read([1, 2])
        t.job.start(`job${i % 8}`).stop()
      }
      t.flush() // one simulated second: bytes, db, 6 job events, process
      max = Math.max(max, t.stats().buffered)
    }
    assert.equal(max, 2000, 'the buffer never grows past its cap')
    assert.equal(t.stats().dropped, 1800 * 9 - 2000)
    global.gc?.()
    const grew = process.memoryUsage().heapUsed - heap0
    assert.ok(grew < 64 * 1024 * 1024, `heap grew ${grew} bytes`)
    const hub = await new FakeHub(port).start()
    await until(() => t.stats().buffered === 0, 10_000)
    assert.equal(hub.events.size, 2000)
    assert.equal(hub.duplicates, 0)
    const last = hub.ofType('bytes').at(-1)
    assert.equal(last?.sent, 3334 * 1024)
    await t.close()
    await hub.stop()
  })

  it('close() resolves within its deadline when the hub is unreachable', async () => {
    const port = await freePort()
    const t = tracker({ ...base, name: 'gone', hub: `ws://127.0.0.1:${port}` }, quiet)
    t.bytes.sent('abc')
    const t0 = Date.now()
    const r = await t.close({ timeout: 300 })
    const took = Date.now() - t0
    assert.ok(took >= 250 && took < 1500, `took ${took} ms`)
    assert.deepEqual(r, { delivered: false, pending: 2 })
    assert.deepEqual(await t.close(), r, 'close twice: same answer')
  })

  it('close() resolves as soon as everything is acknowledged', async () => {
    const hub = await new FakeHub().start()
    const t = tracker({ ...base, name: 'quick', hub: hub.url, token: 'secret-token-123456' }, quiet)
    t.job.start('j').stop()
    const t0 = Date.now()
    assert.deepEqual(await t.close(), { delivered: true, pending: 0 })
    assert.ok(Date.now() - t0 < 1000)
    assert.deepEqual(hub.ofType('job').map((j) => j.name), ['j'])
    assert.equal(hub.auth[0], 'Bearer secret-token-123456')
    await hub.stop()
  })

  it('reads LIVESTATS_HUB once, at construction', async () => {
    const hub = await new FakeHub().start()
    process.env.LIVESTATS_HUB = hub.url
    const t = tracker({ ...base, name: 'env' }, quiet)
    delete process.env.LIVESTATS_HUB
    t.bytes.received(1)
    assert.equal((await t.close()).delivered, true)
    assert.equal(hub.ofType('bytes')[0]?.received, 1)
    await hub.stop()
  })
})

describe('tracker delivery helpers', () => {
  it('backs off exponentially with jitter, capped at 30 s', () => {
    assert.equal(backoff(0, () => 1), 250)
    assert.equal(backoff(0, () => 0), 125)
    assert.equal(backoff(3, () => 1), 2000)
    assert.equal(backoff(50, () => 1), 30_000)
    const spread = new Set(Array.from({ length: 20 }, () => backoff(4)))
    assert.ok(spread.size > 1, 'jittered')
    for (const d of spread) assert.ok(d >= 2000 && d <= 4000)
  })

  it('dials /collect unless the URL names a path', () => {
    assert.equal(collectUrl('ws://127.0.0.1:3000'), 'ws://127.0.0.1:3000/collect')
    assert.equal(collectUrl('https://stats.example.com/'), 'wss://stats.example.com/collect')
    assert.equal(collectUrl('ws://h:1/custom/collect'), 'ws://h:1/custom/collect')
    assert.throws(() => collectUrl('ftp://h'))
  })
})
