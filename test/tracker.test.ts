import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import os from 'node:os'
import WebSocket from 'ws'
import { tracker, percentile, type Tracker } from '../src/tracker/index'
import { JOB_BUCKETS_MS } from '../src/protocol/limits'
import { FakeHub, recorder, until } from './tracker.fakehub'

const quiet = { warn: () => {} }
const base = { interval: 60_000, handleSignals: false }

describe('tracker: seed 000 calls', () => {
  let hub: FakeHub
  let t: Tracker
  before(async () => {
    hub = await new FakeHub().start()
    t = tracker({ ...base, name: 'seed', hub: hub.url }, quiet)
  })
  after(async () => {
    await t.close()
    await hub.stop()
  })

  it('counts bytes as the seed says, plus Buffers and numbers', async () => {
    t.bytes.sent('héllo') // 6 UTF-8 bytes
    t.bytes.sent(Buffer.alloc(10))
    t.bytes.sent(new Uint8Array(4))
    t.bytes.sent(100)
    t.bytes.sent(12345 as unknown as string) // a number is a byte count, not String(12345)
    t.bytes.received('€') // 3
    t.bytes.received({ toString: () => 'abcd' }) // the seed's String(data)
    t.database.read([1, 2, 3])
    t.database.read('[{"a":1},{"a":2}]') // a JSON array
    t.database.written([{}])
    t.database.written(7)
    t.flush()
    await until(() => hub.ofType('db').length === 1)
    const [b] = hub.ofType('bytes')
    assert.ok(b)
    assert.equal(b.sent, 6 + 10 + 4 + 100 + 12345)
    assert.equal(b.received, 3 + 4)
    const [d] = hub.ofType('db')
    assert.equal(d?.read, 5)
    assert.equal(d?.written, 8)
  })

  it('stamps every event with app, instance (host:pid), at and a unique id', async () => {
    const all = [...hub.events.values()]
    assert.ok(all.length >= 3)
    for (const e of all) {
      assert.ok('app' in e && e.app === 'seed')
      assert.ok('instance' in e && e.instance === `${os.hostname()}:${process.pid}`)
      assert.ok('at' in e && typeof e.at === 'number' && Math.abs(e.at - Date.now()) < 10_000)
      assert.match(e.id, /^[A-Za-z0-9_-]{8,64}$/)
    }
    assert.equal(new Set(all.map((e) => e.id)).size, all.length)
  })

  it('sends process metrics with every flush', async () => {
    const [p] = hub.ofType('process')
    assert.ok(p)
    assert.equal(p.pid, process.pid)
    assert.equal(p.host, os.hostname())
    for (const k of ['cpu', 'rss', 'heapUsed', 'heapTotal', 'lag', 'uptime'] as const) {
      assert.ok(typeof p[k] === 'number' && p[k] >= 0, k)
    }
    assert.ok(p.rss > 0 && p.heapTotal >= p.heapUsed)
  })

  it('sends nothing for bytes and db when nothing happened', async () => {
    const before = hub.events.size
    t.flush()
    await until(() => hub.events.size === before + 1)
    assert.equal(hub.ofType('bytes').length, 1)
    assert.equal(hub.ofType('process').length, 2)
  })

  it('reports job durations as a histogram good for p50 / p95 / p99', async () => {
    // durations well inside buckets, so scheduling jitter on a loaded machine cannot move them
    const durations = [...Array(50).fill(30), ...Array(45).fill(70), ...Array(5).fill(200)] as number[]
    for (const d of durations) t.job.start('render', Date.now() - d).stop()
    t.job.start('render').stop(new Error('boom'))
    t.job.start('render').stop()
    t.flush()
    await until(() => hub.ofType('job').length === 1)
    const [j] = hub.ofType('job')
    assert.ok(j)
    assert.equal(j.name, 'render')
    assert.equal(j.count, 102)
    assert.equal(j.failed, 1)
    assert.equal(j.error, 'Error: boom')
    assert.equal(j.hist.length, JOB_BUCKETS_MS.length + 1)
    assert.equal(j.hist.reduce((a, b) => a + b, 0), 102)
    assert.ok(j.min >= 0 && j.min < 20, `min ${j.min}`)
    assert.ok(j.max >= 200 && j.max < 250, `max ${j.max}`)
    const p50 = percentile(j.hist, 0.5, j.min, j.max)
    const p95 = percentile(j.hist, 0.95, j.min, j.max)
    const p99 = percentile(j.hist, 0.99, j.min, j.max)
    assert.ok(p50 > 25 && p50 <= 50, `p50 ${p50}`) // 30 ms
    assert.ok(p95 > 50 && p95 <= 100, `p95 ${p95}`) // 70 ms
    assert.ok(p99 > 100 && p99 <= j.max, `p99 ${p99}`) // 200 ms
    assert.ok(p50 <= p95 && p95 <= p99)
  })

  it('lists running jobs oldest first, with their start time, until stopped', async () => {
    const now = Date.now()
    const young = t.job.start('young', now - 1000)
    const stuck = t.job.start('stuck', now - 60_000) // appended after, but older
    const n = hub.ofType('process').length
    t.flush()
    await until(() => hub.ofType('process').length === n + 1)
    const p = hub.ofType('process')[n]
    assert.equal(p?.runningCount, 2)
    assert.deepEqual(p?.running.map((r) => r.name), ['stuck', 'young'])
    assert.ok(Math.abs((p?.running[0]?.started ?? 0) - (now - 60_000)) < 50)
    young.stop()
    stuck.stop()
    assert.equal(t.stats().running, 0)
  })
})

describe('tracker: limits and bad input', () => {
  it('caps distinct job names and folds the rest into (other)', async () => {
    const hub = await new FakeHub().start()
    const log = recorder()
    const t = tracker({ ...base, name: 'cap', hub: hub.url, maxJobNames: 3 }, log)
    for (const n of ['a', 'b', 'c', 'd', 'e', 'a']) t.job.start(n).stop()
    t.flush()
    await until(() => hub.ofType('job').length === 4)
    const jobs = Object.fromEntries(hub.ofType('job').map((j) => [j.name, j.count]))
    assert.deepEqual(jobs, { a: 2, b: 1, c: 1, '(other)': 2 })
    assert.equal(log.lines.filter((l) => l.includes('distinct job names')).length, 1)
    await t.close()
    await hub.stop()
  })

  it('warns once per kind, counts a defined value and never throws', async () => {
    const hub = await new FakeHub().start()
    const log = recorder()
    const t = tracker({ ...base, name: 'bad', hub: hub.url }, log)
    const anyT = t as unknown as Record<string, Record<string, (...a: unknown[]) => unknown>>
    for (let i = 0; i < 3; i++) {
      t.bytes.sent(undefined)
      t.bytes.received(null)
      t.bytes.sent(-5)
      t.database.read('not an array')
      t.database.written({ rows: 1 })
      t.bytes.sent({ toString() { throw new Error('nope') } })
      ;(anyT.job?.start?.(undefined) as { stop(): void }).stop()
    }
    const j = t.job.start('twice')
    j.stop()
    j.stop()
    j.stop()
    const long = 'x'.repeat(10 * 1024)
    const lj = t.job.start(long)
    assert.equal(lj.name.length, 200)
    lj.stop()
    t.job.start(long).stop()
    t.job.start('when', 'yesterday' as unknown as number).stop()
    t.flush()
    await until(() => hub.ofType('process').length === 1)
    assert.equal(hub.ofType('bytes').length, 0, 'bad input counts 0')
    assert.equal(hub.ofType('db').length, 0)
    const names = hub.ofType('job').map((e) => [e.name.length > 20 ? `x*${e.name.length}` : e.name, e.count])
    assert.deepEqual(names.sort(), [['(unnamed)', 3], ['twice', 1], ['when', 1], ['x*200', 2]])
    const kinds = (s: string) => log.lines.filter((l) => l.includes(s)).length
    assert.equal(kinds('bytes.sent/received got'), 1, 'undefined, null and -5 are one kind')
    assert.equal(kinds('database.read/written expects'), 1)
    assert.equal(kinds('stopped twice'), 1)
    assert.equal(kinds('was cut to 200'), 1)
    assert.equal(kinds('needs a name'), 1)
    assert.equal(kinds('internal error in bytes.sent'), 1)
    assert.equal(kinds('start time'), 1)
    await t.close()
    await hub.stop()
  })

  it('survives a logger that throws and a config that is not an object', async () => {
    const throwing = { warn: () => { throw new Error('logger down') } }
    const t = tracker('nonsense' as unknown as object, throwing)
    t.bytes.sent(undefined)
    t.database.read(42n)
    t.job.start('x').stop()
    t.flush()
    assert.deepEqual(await t.close(), { delivered: true, pending: 0 })
  })
})

describe('tracker: port server (dashboards dial the tracker)', () => {
  it('streams frames to a dialler, backlog first, and drops what it acks', async () => {
    const t = tracker({ ...base, name: 'srv', port: 0, host: '127.0.0.1' }, quiet)
    const { port } = await t.ready()
    assert.ok(typeof port === 'number' && port > 0)
    t.bytes.sent('1234')
    t.flush() // nobody dialled yet: kept in the backlog
    assert.equal(t.stats().buffered, 2)
    const ws = new WebSocket(`ws://127.0.0.1:${port}`)
    const got: { seq: number; events: { type: string; sent?: number }[] }[] = []
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as (typeof got)[number] & { v: number }
      assert.equal(f.v, 1)
      got.push(f)
      ws.send(JSON.stringify({ type: 'ack', seq: f.seq, stored: f.events.length, duplicates: 0, rejected: [] }))
    })
    await until(() => got.length === 1)
    assert.deepEqual(got[0]?.events.map((e) => e.type), ['bytes', 'process'])
    assert.equal(got[0]?.events[0]?.sent, 4)
    t.job.start('live').stop()
    t.flush()
    await until(() => got.length === 2)
    assert.deepEqual(got[1]?.events.map((e) => e.type), ['job', 'process'])
    await until(() => t.stats().buffered === 0)
    assert.equal(t.stats().peers, 1)
    const closed = new Promise((r) => ws.once('close', r))
    assert.equal((await t.close()).delivered, true)
    await closed
  })

  it('warns (and does not throw) when the port is taken', async () => {
    const a = tracker({ ...base, name: 'a', port: 0, host: '127.0.0.1' }, quiet)
    const { port } = await a.ready()
    const log = recorder()
    const b = tracker({ ...base, name: 'b', port: port ?? 0, host: '127.0.0.1' }, log)
    assert.deepEqual(await b.ready(), { port: null })
    assert.match(log.lines.join('\n'), /cannot listen on port/)
    await Promise.all([a.close(), b.close()])
  })
})
