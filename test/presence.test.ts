import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryPresence } from '../src/hub/presence/memory'
import { MemoryBus } from '../src/hub/bus/memory'
import { channels } from '../src/hub/bus/types'
import type { BusMessage } from '../src/hub/bus/messages'
import type { HistoryBatch } from '../src/hub/presence/types'
import { cid, client, fakeClock, leave, pageview, presence } from './helpers/presence'

const S = 'example.com'

function setup(opts: { rate?: { burst: number; perSecond: number } } = {}) {
  const clock = fakeClock()
  const batches: HistoryBatch[] = []
  const bus = new MemoryBus()
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, bus, sink: (b) => batches.push(b), ...opts })
  const msgs: BusMessage[] = []
  bus.subscribe(channels.site(S), (m) => msgs.push(m))
  return { clock, p, bus, batches, msgs }
}

test('counts visitors by state, per site and per page', () => {
  const { p } = setup()
  assert.equal(p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1')), null)
  assert.equal(p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2')), null)
  assert.equal(p.accept(pageview(S, cid(3), 'v3', '/b'), client('c3')), null)
  assert.equal(p.accept(presence(S, cid(2), 'v2', 'writing'), client('c2')), null)
  assert.equal(p.accept(presence(S, cid(3), 'v3', 'idle'), client('c3')), null)
  assert.deepEqual(p.countsOf(S), { total: 3, reading: 1, writing: 1, idle: 1, hidden: 0 })
  assert.deepEqual(p.pagesOf(S), [
    { path: '/a', total: 2, reading: 1, writing: 1, idle: 0, hidden: 0 },
    { path: '/b', total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 },
  ])
  assert.deepEqual(p.countsOf('other.org'), { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })
})

test('a hidden visitor is idle (and counted in hidden, a part of idle): total = reading + writing + idle', () => {
  const { p } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2'))
  p.accept(pageview(S, cid(3), 'v3', '/b'), client('c3'))
  p.accept(presence(S, cid(1), 'v1', 'hidden'), client('c1'))
  p.accept(presence(S, cid(2), 'v2', 'idle'), client('c2'))
  p.accept(presence(S, cid(3), 'v3', 'hidden'), client('c3'))
  assert.deepEqual(p.countsOf(S), { total: 3, reading: 0, writing: 0, idle: 3, hidden: 2 })
  assert.deepEqual(p.pagesOf(S), [
    { path: '/a', total: 2, reading: 0, writing: 0, idle: 2, hidden: 1 },
    { path: '/b', total: 1, reading: 0, writing: 0, idle: 1, hidden: 1 },
  ])
  // a hidden tab beside an idle one: the visitor is idle, not hidden
  p.accept(pageview(S, cid(4), 'v3', '/b'), client('c4'))
  p.accept(presence(S, cid(4), 'v3', 'idle'), client('c4'))
  assert.deepEqual(p.countsOf(S), { total: 3, reading: 0, writing: 0, idle: 3, hidden: 1 })
  p.accept(presence(S, cid(1), 'v1', 'reading'), client('c1'))
  const c = p.countsOf(S)
  assert.equal(c.total, c.reading + c.writing + c.idle)
  assert.deepEqual(c, { total: 3, reading: 1, writing: 0, idle: 2, hidden: 0 })
})

test('a visitor with three tabs counts once, in the state of the most active tab', () => {
  const { p } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  p.accept(pageview(S, cid(2), 'v1', '/a'), client('c2'))
  p.accept(pageview(S, cid(3), 'v1', '/b'), client('c3'))
  p.accept(presence(S, cid(1), 'v1', 'hidden'), client('c1'))
  p.accept(presence(S, cid(2), 'v1', 'idle'), client('c2'))
  p.accept(presence(S, cid(3), 'v1', 'writing'), client('c3'))
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
  assert.deepEqual(p.pagesOf(S), [
    { path: '/a', total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 },
    { path: '/b', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 },
  ])
  assert.equal(p.snapshotOf(S).connections, 3)
  p.connectionClosed('c3')
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 })
  assert.deepEqual(p.pagesOf(S).map((x) => x.path), ['/a'])
})

test('a page change moves the visitor between pages', () => {
  const { p, msgs } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  p.accept(presence(S, cid(1), 'v1', 'writing', '/b?x=1'), client('c1'))
  assert.deepEqual(p.pagesOf(S), [{ path: '/b', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 }])
  const last = msgs.at(-1)
  assert.ok(last?.type === 'presence')
  assert.equal(last.op, 'update')
  assert.deepEqual(last.from, { path: '/a', state: 'reading' })
  assert.deepEqual(last.pages.map((x) => [x.path, x.total]), [['/b', 1], ['/a', 0]])
})

test('closing a WebSocket ends every tab it carried at once', () => {
  const { p, msgs } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('ws1'))
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('ws1'))
  p.accept(pageview(S, cid(3), 'v3', '/a'), client('ws2'))
  p.connectionClosed('ws1')
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
  const leaves = msgs.filter((m) => m.type === 'presence' && m.op === 'leave')
  assert.equal(leaves.length, 2)
  assert.ok(leaves.every((m) => m.type === 'presence' && m.reason === 'close'))
})

test('heartbeats that change nothing publish nothing', () => {
  const { p, msgs } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  const before = msgs.length
  for (let i = 0; i < 5; i++) p.accept(presence(S, cid(1), 'v1', 'reading'), client('c1'))
  assert.equal(msgs.length, before)
})

test('an HTTP-only tab ends after two missed heartbeats, not before', () => {
  const { p, clock } = setup()
  p.accept(presence(S, cid(1), 'v1', 'reading', '/a', 2), client(null))
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('ws')) // a WebSocket tab never expires
  clock.t += 4000 // two intervals: not yet (grace)
  p.tick()
  assert.equal(p.countsOf(S).total, 2)
  p.accept(presence(S, cid(1), 'v1', 'reading'), client(null)) // a heartbeat resets the clock
  clock.t += 4900
  p.tick()
  assert.equal(p.countsOf(S).total, 2)
  clock.t += 200
  p.tick()
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
  clock.t += 3_600_000
  p.tick()
  assert.equal(p.countsOf(S).total, 1)
})

test('presence for an unknown connection is refused and leaves the counts alone', () => {
  const { p } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  assert.equal(p.accept(presence(S, cid(9), 'v9', 'writing'), client('c9')), 'LS_ERR_UNKNOWN_CONNECTION')
  assert.equal(p.accept(presence('nowhere.org', cid(9), 'v9', 'writing'), client('c9')), 'LS_ERR_UNKNOWN_CONNECTION')
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
  assert.deepEqual(p.siteNames(), [S])
})

test('a presence with url reopens a tab (hub restart), but not right after its leave', () => {
  const { p, clock } = setup()
  assert.equal(p.accept(presence(S, cid(1), 'v1', 'writing', '/a'), client('c1')), null)
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
  assert.equal(p.accept(leave(S, cid(1), 'v1'), client(null)), null)
  assert.equal(p.countsOf(S).total, 0)
  assert.equal(p.accept(presence(S, cid(1), 'v1', 'writing', '/a'), client('c1')), 'LS_ERR_UNKNOWN_CONNECTION')
  assert.equal(p.countsOf(S).total, 0)
  assert.equal(p.accept(leave(S, cid(1), 'v1'), client(null)), null, 'a second leave is harmless')
  clock.t += 61_000
  p.tick()
  assert.equal(p.accept(presence(S, cid(1), 'v1', 'writing', '/a'), client('c1')), null)
  assert.equal(p.countsOf(S).total, 1)
})

test('a heartbeat storm is rate limited without corrupting the counts; human-speed changes pass', () => {
  const { p, clock } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2'))
  const codes: (string | null)[] = []
  for (let i = 0; i < 100; i++) {
    codes.push(p.accept(presence(S, cid(1), 'v1', i % 2 === 0 ? 'writing' : 'idle'), client('c1')))
  }
  assert.equal(codes.filter((c) => c === null).length, 20)
  assert.ok(codes.slice(20).every((c) => c === 'LS_ERR_RATE_LIMITED'))
  // the last accepted message (index 19) set idle
  assert.deepEqual(p.countsOf(S), { total: 2, reading: 1, writing: 0, idle: 1, hidden: 0 })
  // the other connection is not affected
  assert.equal(p.accept(presence(S, cid(2), 'v2', 'writing'), client('c2')), null)
  // after the storm, a person's pace (a change every 300 ms) always passes
  clock.t += 5000
  for (let i = 0; i < 30; i++) {
    clock.t += 300
    assert.equal(p.accept(presence(S, cid(1), 'v1', i % 2 === 0 ? 'reading' : 'writing'), client('c1')), null)
  }
  assert.deepEqual(p.countsOf(S), { total: 2, reading: 0, writing: 2, idle: 0, hidden: 0 })
})

test('bots are never counted', () => {
  const { p } = setup()
  assert.equal(p.accept(pageview(S, cid(1), 'bot', '/a'), client('c1', { bot: true })), null)
  assert.equal(p.countsOf(S).total, 0)
  assert.deepEqual(p.siteNames(), [])
})

test('sites are isolated, and a socket moving tabs keeps them apart', () => {
  const { p } = setup()
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
  p.accept(pageview('b.org', cid(1), 'v1', '/a'), client('c2'))
  p.accept(presence('b.org', cid(1), 'v1', 'writing'), client('c2'))
  assert.deepEqual(p.countsOf(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
  assert.deepEqual(p.countsOf('b.org'), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
  assert.deepEqual(p.siteNames().sort(), ['b.org', S])
  // the tab reconnected on a new socket: closing the old one no longer ends it
  p.accept(presence(S, cid(1), 'v1', 'reading'), client('c3'))
  p.connectionClosed('c1')
  assert.equal(p.countsOf(S).total, 1)
  p.connectionClosed('c3')
  assert.equal(p.countsOf(S).total, 0)
})
