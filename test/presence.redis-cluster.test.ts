/**
 * Redis presence with several nodes in one process, on the real Redis (127.0.0.1:6379), each test
 * under its own key prefix: counts across nodes, a killed node's tabs leaving within the lease
 * bound, fencing of a paused node, a tab moving between nodes, identities swept, and a cut
 * connection to Redis (partial view, then exact again after it returns).
 */
import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { Redis } from 'ioredis'
import { channels } from '../src/hub/bus/types'
import type { PresenceChange } from '../src/hub/bus/messages'
import { clusterKeys, siteKeys } from '../src/hub/redis/keys'
import type { LiveCounts } from '../src/hub/presence/types'
import { cid, client, pageview, presence } from './helpers/presence'
import { cleanup, rawRedis, redisNode, testPrefix, type TestNode } from './helpers/redis'
import { REDIS_URL, redisMissing } from './helpers/services'
import { startTcpProxy } from './helpers/tcp-proxy'
import { sleep, until } from './helpers/wait'

const S = 'example.com'
/** Short leases so the failure tests take seconds: the bound is leaseMs + reapMs + tickMs + reap time. */
const FAST = { leaseMs: 1500, renewMs: 300, reapMs: 200, tickMs: 50 }
const counts = (total: number, reading: number, writing = 0, idle = 0, hidden = 0): LiveCounts => ({ total, reading, writing, idle, hidden })

/** As a SIGKILL looks from Redis: no more renewals, no leaves, connections gone. */
function kill(n: TestNode): void {
  n.p.stopTimers()
  n.link.cmd.disconnect()
  n.link.sub.disconnect()
}

describe('Redis presence across nodes', () => {
  let why: string | false = false
  const nodes: TestNode[] = []
  const prefixes: string[] = []
  let raw: Redis
  before(async () => {
    why = await redisMissing()
    if (why === false) raw = rawRedis()
  })
  after(async () => {
    for (const n of nodes) await n.close().catch(() => {})
    for (const p of prefixes) await cleanup(p)
    if (why === false) raw.disconnect()
  })
  async function cluster(ctx: TestContext, count: number, opts = FAST): Promise<{ prefix: string; ns: TestNode[] } | null> {
    if (why !== false) {
      ctx.skip(why)
      return null
    }
    const prefix = testPrefix()
    prefixes.push(prefix)
    const ns: TestNode[] = []
    for (let i = 0; i < count; i++) ns.push(await redisNode(prefix, opts))
    nodes.push(...ns)
    return { prefix, ns }
  }

  test('a visitor with tabs on two nodes counts once, in the most active state, on every node', async (ctx) => {
    const c = await cluster(ctx, 3)
    if (c === null) return
    const [a, b, n3] = c.ns as [TestNode, TestNode, TestNode]
    await a.watch(S)
    b.p.accept(pageview(S, cid(1), 'v1', '/a'), client('b1'))
    n3.p.accept(pageview(S, cid(2), 'v1', '/b'), client('c1'))
    n3.p.accept(presence(S, cid(2), 'v1', 'writing'), client('c1'))
    n3.p.accept(pageview(S, cid(3), 'v2', '/a'), client('c2'))
    await b.settle()
    await n3.settle()
    for (const n of c.ns) {
      assert.deepEqual(await n.p.countStates(S), counts(2, 1, 1))
      assert.deepEqual(await n.p.pages(S), [
        { path: '/a', ...counts(2, 2) },
        { path: '/b', ...counts(1, 0, 1) },
      ])
      assert.equal((await n.p.snapshot(S)).connections, 3)
    }
    // node C's changes reached node A's subscribers, with the cluster's counts
    await a.settle()
    const seen = a.messages.filter((m): m is PresenceChange => m.type === 'presence')
    assert.equal(seen.length, 4)
    assert.deepEqual(seen.at(-1)?.counts, counts(2, 1, 1))
    // keys from different nodes never collide
    assert.equal(new Set(seen.map((m) => m.key)).size, 3)
    n3.p.connectionClosed('c1', client('c1'))
    await n3.settle()
    assert.deepEqual(await a.p.countStates(S), counts(2, 2))
  })

  test('a killed node counts until its lease lapses, then its tabs leave within the bound and its identity is swept', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    await a.watch(S)
    a.p.accept(pageview(S, cid(1), 'va', '/a'), client('a1'))
    for (let i = 0; i < 20; i++) b.p.accept(pageview(S, cid(100 + i), `vb${i}`, `/p${i % 3}`), client(`b${i}`))
    await b.settle()
    assert.equal((await a.p.countStates(S)).total, 21)
    const dead = b.p.nodeId
    const killed = Date.now()
    kill(b)
    await sleep(FAST.leaseMs / 3)
    assert.equal((await a.p.countStates(S)).total, 21, 'a node counts while its lease holds')
    await until('the killed node\'s tabs to leave', async () => (await a.p.countStates(S)).total === 1, 10_000)
    const ghostMs = Date.now() - killed
    const bound = FAST.leaseMs + FAST.reapMs + FAST.tickMs
    ctx.diagnostic(`killed node's tabs counted for ${ghostMs} ms (lease ${FAST.leaseMs} ms, bound ${bound} ms + reap time)`)
    assert.ok(ghostMs <= bound + 1000, `ghosts for ${ghostMs} ms, bound ${bound} ms (+1 s for a loaded machine)`)
    assert.deepEqual(await a.p.pages(S), [{ path: '/a', ...counts(1, 1) }])
    assert.equal((await a.p.snapshot(S)).connections, 1)
    // each reaped tab was published as a leave, reason expired
    await a.settle()
    const expired = a.messages.filter((m) => m.type === 'presence' && m.op === 'leave' && m.reason === 'expired')
    assert.equal(expired.length, 20)
    const k = clusterKeys(c.prefix)
    await until('the dead identity to be swept', async () => (await raw.zscore(k.nodes, dead)) === null)
    assert.equal(await raw.exists(k.nodeSites + dead), 0)
    assert.equal(await raw.scard(siteKeys(c.prefix, S).index + dead), 0)
  })

  test('a node paused past its lease is fenced: its late write is refused, it re-registers and re-publishes, never counted twice', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    a.p.accept(pageview(S, cid(1), 'v1', '/a'), client('a1'))
    for (let i = 0; i < 5; i++) b.p.accept(pageview(S, cid(10 + i), `w${i}`, '/b'), client(`b${i}`))
    await b.settle()
    assert.equal((await a.p.countStates(S)).total, 6)
    // watch A's figure all along: it must never exceed the truth (6 visitors)
    let max = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        max = Math.max(max, (await a.p.countStates(S)).total)
        await sleep(10)
      }
    })()
    const old = b.p.nodeId
    b.p.stopTimers() // SIGSTOP: no renewals
    await until('the paused node to be reaped', async () => (await a.p.countStates(S)).total === 1, 10_000)
    // resumed: its first write is refused by the script (FENCED), so nothing stale lands
    b.p.accept(presence(S, cid(10), 'w0', 'writing'), client('b0'))
    await b.settle()
    b.p.startTimers()
    await until('the paused node to come back under a new identity', () => b.p.nodeId !== old && b.p.scope === 'cluster')
    await until('its tabs to count again', async () => (await a.p.countStates(S)).total === 6)
    watching = false
    await watcher
    assert.ok(max <= 6, `counted ${max} visitors, truth is 6`)
    assert.deepEqual(await a.p.countStates(S), counts(6, 5, 1))
    const tabs = await raw.hgetall(siteKeys(c.prefix, S).tabs)
    assert.equal(Object.keys(tabs).length, 6)
    assert.ok(Object.values(tabs).every((v) => !v.includes(old)), 'no entry left under the fenced identity')
    await until('the fenced identity to be swept', async () => (await raw.zscore(clusterKeys(c.prefix).nodes, old)) === null)
  })

  test('a tab that reconnects on another node moves there and is never counted twice', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    a.p.accept(pageview(S, cid(1), 'v1', '/a'), client('a1'))
    a.p.accept(pageview(S, cid(2), 'v2', '/a'), client('a2'))
    await a.settle()
    // the client of tab 1 lost its socket to A and reopened on B before A noticed
    b.p.accept(presence(S, cid(1), 'v1', 'writing', '/a'), client('b1'))
    await b.settle()
    assert.deepEqual(await a.p.countStates(S), counts(2, 1, 1))
    assert.equal((await a.p.snapshot(S)).connections, 2)
    // A notices its socket closed: its leave for a tab B holds changes nothing
    a.p.connectionClosed('a1', client('a1'))
    await a.settle()
    assert.deepEqual(await b.p.countStates(S), counts(2, 1, 1))
    assert.equal((await b.p.snapshot(S)).connections, 2)
    b.p.connectionClosed('b1', client('b1'))
    await b.settle()
    assert.deepEqual(await a.p.countStates(S), counts(1, 1))
  })

  test('a paused node that resumes does not take back a tab that moved to a live node', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    a.p.accept(pageview(S, cid(1), 'v1', '/a'), client('a1'))
    await a.settle()
    a.p.stopTimers()
    await until('A to be reaped', async () => (await b.p.countStates(S)).total === 0, 10_000)
    b.p.accept(presence(S, cid(1), 'v1', 'reading', '/a'), client('b1'))
    await b.settle()
    const old = a.p.nodeId
    a.p.startTimers()
    await until('A to re-register', () => a.p.nodeId !== old && a.p.scope === 'cluster')
    await a.settle()
    const tabs = await raw.hgetall(siteKeys(c.prefix, S).tabs)
    assert.equal(Object.keys(tabs).length, 1)
    assert.ok((tabs[cid(1)] ?? '').includes(b.p.nodeId), 'B still holds the tab')
    assert.equal((await a.p.countStates(S)).total, 1)
    a.p.connectionClosed('a1', client('a1'))
    await a.settle()
    assert.deepEqual(await b.p.countStates(S), counts(1, 1))
  })

  test('a process on node B is listed on node A and its samples reach A\'s subscribers; it goes with B', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    const seen: string[] = []
    await new Promise<void>((resolve) => {
      a.bus.subscribe(channels.processes, (m) => {
        if (m.type === 'process') seen.push(m.process.key)
      })
      // the subscription is live once a ping on the subscriber connection comes back
      void a.link.sub.ping().then(() => resolve(), () => resolve())
    })
    const started = Date.now() - 2000
    assert.equal(b.p.accept({
      event: {
        type: 'process', id: 'proc000001', app: 'api', instance: 'h:1', pid: 1, host: 'h', cpu: 3, rss: 10, heapUsed: 5,
        heapTotal: 8, lag: 1, uptime: 60, running: [{ name: 'export', started }], runningCount: 1,
      }, ts: Date.now(), visitor: null, row: null,
    }, client('tracker')), null)
    await b.settle()
    await a.settle()
    const list = await a.p.processes()
    assert.deepEqual(list.map((x) => [x.key, x.app, x.runningCount]), [['api/h:1', 'api', 1]])
    assert.ok((list[0]?.running[0]?.ageMs ?? 0) >= 2000)
    await until('the sample on A\'s processes channel', () => seen.includes('api/h:1'))
    kill(b)
    await until('B\'s process to go with its lease', async () => (await a.p.processes()).length === 0, 10_000)
  })

  test('node identities do not accumulate across restarts', async (ctx) => {
    const c = await cluster(ctx, 1)
    if (c === null) return
    const k = clusterKeys(c.prefix)
    for (let i = 0; i < 3; i++) {
      const n = await redisNode(c.prefix, FAST)
      n.p.accept(pageview(S, cid(i), `v${i}`, '/a'), client(`x${i}`))
      await n.settle()
      await n.close() // a clean stop: leaves, then the lease is dropped
    }
    for (let i = 0; i < 2; i++) {
      const n = await redisNode(c.prefix, FAST)
      nodes.push(n)
      n.p.accept(pageview(S, cid(10 + i), `k${i}`, '/a'), client(`k${i}`))
      await n.settle()
      kill(n) // a crash: nothing cleaned
    }
    await until('every stopped or killed identity to be swept', async () => (await raw.zcard(k.nodes)) === 1, 10_000)
    assert.equal(await raw.zscore(k.nodes, (c.ns[0] as TestNode).p.nodeId) !== null, true)
    assert.deepEqual(await (c.ns[0] as TestNode).p.countStates(S), counts(0, 0))
    assert.deepEqual(await raw.keys(`${k.nodeSites}*`), [])
  })

  test('Redis cut off: the node counts its own tabs and says partial; exact within 2 s of Redis returning, even emptied', async (ctx) => {
    if (why !== false) return ctx.skip(why)
    const prefix = testPrefix()
    prefixes.push(prefix)
    const proxy = await startTcpProxy([{ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }])
    ctx.after(() => proxy.close())
    const opts = { ...FAST, leaseMs: 4000 } // the outage below is shorter than the lease
    const a = await redisNode(prefix, opts)
    const b = await redisNode(prefix, opts, `redis://127.0.0.1:${proxy.port}`)
    nodes.push(a, b)
    await b.watch(S)
    a.p.accept(pageview(S, cid(1), 'va', '/a'), client('a1'))
    b.p.accept(pageview(S, cid(2), 'vb', '/a'), client('b1'))
    b.p.accept(pageview(S, cid(3), 'vc', '/b'), client('b2'))
    await a.settle()
    await b.settle()
    assert.deepEqual(await b.p.countStates(S), counts(3, 3))
    proxy.cut()
    await until('B to notice', () => b.p.partial)
    assert.equal(b.p.scope, 'node')
    // ingest goes on while Redis is away; B's reads are its own tabs, flagged partial
    assert.equal(b.p.accept(presence(S, cid(2), 'vb', 'writing'), client('b1')), null)
    b.p.connectionClosed('b2', client('b2'))
    assert.deepEqual(await b.p.countStates(S), counts(1, 0, 1))
    const snap = await b.p.snapshot(S)
    assert.equal(snap.partial, true)
    assert.equal(snap.connections, 1)
    // its own dashboards saw its own change, and were asked to resync
    assert.ok(b.messages.some((m) => m.type === 'resync' && m.reason === 'mode'))
    assert.ok(b.messages.some((m) => m.type === 'presence' && m.visitor === 'vb' && m.state === 'writing' && m.counts.total === 2))
    // A still counts B's entries as they were (B's lease holds)
    assert.deepEqual(await a.p.countStates(S), counts(3, 3))
    await sleep(500)
    proxy.restore()
    const back = Date.now()
    await until('B to count the cluster again', () => b.p.scope === 'cluster', 5000)
    const exactMs = Date.now() - back
    ctx.diagnostic(`exact again ${exactMs} ms after Redis returned`)
    assert.ok(exactMs <= 2000, `exact after ${exactMs} ms`)
    assert.deepEqual(await a.p.countStates(S), counts(2, 1, 1))
    assert.deepEqual(await b.p.countStates(S), counts(2, 1, 1))
    assert.equal((await a.p.snapshot(S)).connections, 2)
    assert.equal((await b.p.snapshot(S)).partial, undefined)
    // the same again, with B emptied during the outage: its entries must go
    proxy.cut()
    await until('B to notice', () => b.p.partial)
    b.p.connectionClosed('b1', client('b1'))
    proxy.restore()
    await until('B exact again', () => b.p.scope === 'cluster', 5000)
    assert.deepEqual(await a.p.countStates(S), counts(1, 1))
    assert.deepEqual(await b.p.pages(S), [{ path: '/a', ...counts(1, 1) }])
  })

  test('Redis restarted empty (keys gone, connections killed): every node re-registers and re-publishes', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    a.p.accept(pageview(S, cid(1), 'v1', '/a'), client('a1'))
    b.p.accept(pageview(S, cid(2), 'v2', '/b'), client('b1'))
    b.p.accept(presence(S, cid(2), 'v2', 'idle'), client('b1'))
    await a.settle()
    await b.settle()
    const ids = [a.p.nodeId, b.p.nodeId]
    const clientIds = await Promise.all([a, b].flatMap((n) => [n.link.cmd.client('ID'), n.link.sub.client('ID')]))
    await cleanup(c.prefix) // what a restart without persistence leaves
    for (const id of clientIds) await raw.client('KILL', 'ID', String(id))
    await until('both nodes to re-register', () => a.p.nodeId !== ids[0] && b.p.nodeId !== ids[1] && a.p.scope === 'cluster' && b.p.scope === 'cluster', 5000)
    await until('counts to be exact', async () => (await a.p.countStates(S)).total === 2, 3000)
    assert.deepEqual(await a.p.countStates(S), counts(2, 1, 0, 1))
    assert.deepEqual(await b.p.pages(S), [{ path: '/a', ...counts(1, 1) }, { path: '/b', ...counts(1, 0, 0, 1) }])
    assert.deepEqual((await a.p.sites()), [S])
  })

  test('an undelivered change is noticed as a gap in the site seq and repaired by a resync', async (ctx) => {
    const c = await cluster(ctx, 2)
    if (c === null) return
    const [a, b] = c.ns as [TestNode, TestNode]
    await a.watch(S)
    b.p.accept(pageview(S, cid(1), 'v1', '/a'), client('b1'))
    await b.settle()
    await a.settle()
    // a change whose message never arrived: the seq moved, nothing was published
    await raw.incr(siteKeys(c.prefix, S).seq)
    b.p.accept(pageview(S, cid(2), 'v2', '/a'), client('b2'))
    await b.settle()
    await until('a resync for the gap', () => a.messages.some((m) => m.type === 'resync' && m.reason === 'gap'), 2000)
    const snap = await a.p.snapshot(S)
    const last = a.messages.filter((m): m is PresenceChange => m.type === 'presence').at(-1)
    assert.equal(snap.seq, last?.seq)
    assert.deepEqual(snap.counts, counts(2, 2))
    // messages of the channel name site:… are what dashboards subscribe to
    assert.ok(a.bus.channels.includes(channels.site(S)))
  })
})
