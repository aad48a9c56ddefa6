import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryPresence } from '../src/hub/presence/memory'
import { MemoryBus } from '../src/hub/bus/memory'
import { channels } from '../src/hub/bus/types'
import type { BusMessage } from '../src/hub/bus/messages'
import type { HistoryBatch } from '../src/hub/presence/types'
import { cid, client, fakeClock, leave, pageview, presence } from './helpers/presence'

const S = 'example.com'

test('once a minute: max and time-weighted mean of the live counts', () => {
  const clock = fakeClock(Date.UTC(2025, 0, 1, 12, 0, 0))
  const batches: HistoryBatch[] = []
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, sink: (b) => batches.push(b) })
  p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1')) // 1 reading for the whole minute
  clock.t += 15_000
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2')) // a second one for 30 s, writing 3 s of it
  p.accept(presence(S, cid(2), 'v2', 'writing'), client('c2'))
  clock.t += 3_000
  p.accept(presence(S, cid(2), 'v2', 'reading'), client('c2'))
  clock.t += 27_000
  p.connectionClosed('c2')
  clock.t += 15_000 // 12:01:00
  p.tick()
  const samples = batches.flatMap((b) => b.samples)
  assert.equal(samples.length, 1)
  const s = samples[0]
  assert.ok(s)
  assert.equal(s.minute, Date.UTC(2025, 0, 1, 12, 0, 0))
  assert.equal(s.totalMax, 2)
  assert.equal(s.totalMean, 1.5)
  assert.equal(s.writingMax, 1)
  assert.equal(s.writingMean, 3 / 60)
  assert.equal(s.readingMax, 2)
  assert.equal(s.readingMean, (60 + 27) / 60)
  assert.equal(s.idleMax, 0)
  // the next minute starts from the counts that hold, not from zero
  clock.t += 60_000
  p.tick()
  const next = batches.flatMap((b) => b.samples)[1]
  assert.deepEqual([next?.totalMax, next?.totalMean, next?.readingMean], [1, 1, 1])
})

test('a finished tab becomes a session with its time in each state', () => {
  const clock = fakeClock()
  const batches: HistoryBatch[] = []
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, sink: (b) => batches.push(b) })
  const t0 = clock.t
  p.accept(pageview(S, cid(1), 'v1', '/a', t0 - 3), client('c1'))
  clock.t += 10_000
  p.accept(presence(S, cid(1), 'v1', 'writing'), client('c1'))
  clock.t += 5_000
  p.accept(pageview(S, cid(1), 'v1', '/b', t0 + 15_000 - 2), client('c1'))
  clock.t += 2_000
  p.accept(presence(S, cid(1), 'v1', 'hidden'), client('c1'))
  clock.t += 20_000
  p.accept(presence(S, cid(1), 'v1', 'idle'), client('c1'))
  clock.t += 1_000
  p.accept(leave(S, cid(1), 'v1'), client(null))
  p.flush()
  const sessions = batches.flatMap((b) => b.sessions)
  assert.equal(sessions.length, 1)
  assert.deepEqual(sessions[0], {
    id: sessions[0]?.id, site: S, visitor: 'v1', started: t0, ended: t0 + 38_000, pageviews: 1,
    readingMs: 10_000, writingMs: 7_000, hiddenMs: 20_000, idleMs: 1_000, entry: '/a', exit: '/b',
    // per page, from the time stamped on each page view: the store matches them to the stored views
    pages: [
      { path: '/a', at: t0 - 3, viewed: true, readingMs: 10_000, writingMs: 5_000, idleMs: 0, hiddenMs: 0 },
      { path: '/b', at: t0 + 15_000 - 2, viewed: true, readingMs: 0, writingMs: 2_000, idleMs: 1_000, hiddenMs: 20_000 },
    ],
  })
})

test('a tab that changes page without a page view (an SPA heartbeat, a reopened tab) records the page, not as viewed', () => {
  const clock = fakeClock()
  const batches: HistoryBatch[] = []
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, sink: (b) => batches.push(b) })
  const t0 = clock.t
  p.accept(presence(S, cid(1), 'v1', 'reading', '/x'), client('c1')) // reopens after a hub restart
  clock.t += 4_000
  p.accept(presence(S, cid(1), 'v1', 'reading', '/y'), client('c1')) // the URL moved
  clock.t += 6_000
  p.accept(pageview(S, cid(1), 'v1', '/y', clock.t), client('c1')) // the same page viewed again: a page of its own
  clock.t += 1_000
  p.accept(leave(S, cid(1), 'v1'), client(null))
  p.flush()
  const [s] = batches.flatMap((b) => b.sessions)
  assert.deepEqual(s?.pages, [
    { path: '/x', at: t0, viewed: false, readingMs: 4_000, writingMs: 0, idleMs: 0, hiddenMs: 0 },
    { path: '/y', at: t0 + 4_000, viewed: false, readingMs: 6_000, writingMs: 0, idleMs: 0, hiddenMs: 0 },
    { path: '/y', at: t0 + 10_000, viewed: true, readingMs: 1_000, writingMs: 0, idleMs: 0, hiddenMs: 0 },
  ])
  assert.equal(s?.readingMs, 11_000)
})

test('an expired HTTP tab ends at its last heartbeat; close() ends the rest', async () => {
  const clock = fakeClock()
  const batches: HistoryBatch[] = []
  const bus = new MemoryBus()
  const msgs: BusMessage[] = []
  bus.subscribe(channels.site(S), (m) => msgs.push(m))
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, bus, sink: (b) => batches.push(b) })
  const t0 = clock.t
  p.accept(presence(S, cid(1), 'v1', 'reading', '/a', 1), client(null))
  p.accept(pageview(S, cid(2), 'v2', '/a'), client('ws'))
  clock.t += 3_500
  p.tick()
  const expired = batches.flatMap((b) => b.sessions)
  assert.equal(expired.length, 1)
  assert.equal(expired[0]?.ended, t0)
  assert.ok(msgs.some((m) => m.type === 'presence' && m.op === 'leave' && m.reason === 'expired'))
  await p.close()
  assert.equal(batches.flatMap((b) => b.sessions).length, 2)
  assert.equal(p.countsOf(S).total, 0)
})

test('the sweep timer is unref\'d and a real one runs', async () => {
  const p = new MemoryPresence({ sweepMs: 20 })
  p.accept(presence(S, cid(1), 'v1', 'reading', '/a', 1), client(null))
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(p.countsOf(S).total, 1)
  await p.close()
})

test('scroll depth: each page of a tab keeps the deepest point its presence and leave reported', () => {
  const clock = fakeClock()
  const batches: HistoryBatch[] = []
  const p = new MemoryPresence({ now: clock.now, sweepMs: 0, sink: (b) => batches.push(b) })
  const scrolled = <T extends { event: object }>(a: T, scroll: number): T => {
    Object.assign(a.event, { scroll })
    return a
  }
  const t0 = clock.t
  p.accept(pageview(S, cid(1), 'v1', '/a', t0), client('c1'))
  p.accept(scrolled(presence(S, cid(1), 'v1', 'reading', '/a'), 30), client('c1'))
  clock.t += 1_000
  p.accept(scrolled(presence(S, cid(1), 'v1', 'reading', '/a'), 60), client('c1'))
  clock.t += 1_000
  p.accept(scrolled(presence(S, cid(1), 'v1', 'idle', '/a'), 20), client('c1')) // back up: the deepest stays
  clock.t += 1_000
  // a route change: the next page starts again, and leave brings its last depth
  p.accept(pageview(S, cid(1), 'v1', '/b', clock.t), client('c1'))
  p.accept(scrolled(presence(S, cid(1), 'v1', 'reading', '/b'), 10), client('c1'))
  clock.t += 1_000
  p.accept(scrolled(leave(S, cid(1), 'v1'), 45), client('c1'))
  // a tab that never reports a depth: its page has none
  p.accept(pageview(S, cid(2), 'v2', '/a', clock.t), client('c2'))
  p.connectionClosed('c2')
  p.flush()
  const pages = batches.flatMap((b) => b.sessions).map((s) => s.pages?.map((x) => [x.path, x.scroll]))
  assert.deepEqual(pages, [[['/a', 60], ['/b', 45]], [['/a', undefined]]])
  assert.ok(!('scroll' in (batches.flatMap((b) => b.sessions)[1]?.pages?.[0] ?? {})))
})
