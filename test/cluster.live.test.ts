/**
 * Two hubs in one process on the real Redis (their own key prefix), as `livestats serve --redis`
 * builds them: a tab on hub C shows on hub A's /live, /api/live, /metrics and feed; a lost bus message makes
 * A's dashboards take a new snapshot; Redis cut away from C (a TCP proxy): C says partial on
 * /api/live, /live and /healthz, and is exact again once Redis returns.
 */
import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { createHub, type Hub } from '../src/hub/hub'
import type { ServerMessage, SnapshotMessage } from '../src/hub/live/protocol'
import { siteKeys } from '../src/hub/redis/keys'
import type { Ack, ErrorReply } from '../src/protocol/messages'
import { CollectClient, id, quiet } from './helpers/hub'
import { dashboard } from './helpers/live'
import { cleanup, rawRedis, testPrefix } from './helpers/redis'
import { REDIS_URL, redisMissing } from './helpers/services'
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy'
import { until } from './helpers/wait'

const S = 'cluster.test'
const portOf = (url: string): number => Number(new URL(url).port)
const ok = (m: Ack | ErrorReply): void => {
  assert.equal(m.type, 'ack')
  assert.deepEqual((m as Ack).rejected, [])
}
const json = async (url: string): Promise<Record<string, unknown>> => (await fetch(url)).json() as Promise<Record<string, unknown>>
const snapshots = (ms: ServerMessage[]): SnapshotMessage[] => ms.filter((m): m is SnapshotMessage => m.type === 'snapshot')

describe('two hubs on one Redis', () => {
  let why: string | false = false
  let dir = ''
  let prefix = ''
  let proxy: TcpProxy
  let raw: Redis
  const hubs: { hub: Hub; url: string }[] = []
  before(async () => {
    why = await redisMissing()
    if (why !== false) return
    dir = mkdtempSync(join(tmpdir(), 'livestats-cluster-'))
    prefix = testPrefix()
    raw = rawRedis()
    proxy = await startTcpProxy([{ host: '127.0.0.1', port: Number(new URL(REDIS_URL).port || 6379) }])
    // C reaches Redis through the proxy; both share the salts' key file, so one client is one visitor
    for (const [name, redis] of [['a', REDIS_URL], ['c', `redis://127.0.0.1:${proxy.port}`]] as const) {
      const hub = createHub({
        port: 0, host: '127.0.0.1', store: join(dir, `${name}.db`), keyFile: join(dir, 'salts.key'), logger: quiet,
        redis, redisPrefix: prefix,
      })
      hubs.push({ hub, url: (await hub.listen()).url })
    }
  })
  after(async () => {
    for (const h of hubs) await h.hub.close()
    if (why !== false) return
    await proxy.close()
    await cleanup(prefix)
    raw.disconnect()
    rmSync(dir, { recursive: true, force: true })
  })
  const skip = (ctx: TestContext): boolean => {
    if (why !== false) ctx.skip(why)
    return why !== false
  }

  test('a tab on hub C shows on hub A: /live diffs and feed, /api/live, /healthz', async (ctx) => {
    if (skip(ctx)) return
    const [a, c] = hubs as [{ hub: Hub; url: string }, { hub: Hub; url: string }]
    for (const h of hubs) assert.equal((await json(`${h.url}/healthz`)).presence, 'cluster')
    const d = await dashboard(portOf(a.url), `?site=${S}`)
    await d.waitFor((m) => m.type === 'snapshot')
    const tab = new CollectClient(c.url)
    const cid = id('cid')
    ok(await tab.send({ id: id(), type: 'pageview', site: S, cid, url: `https://${S}/docs`, title: 'Docs' }))
    ok(await tab.send({ id: id(), type: 'presence', site: S, cid, state: 'writing' }))
    await d.waitFor((m) => m.type === 'diff' && m.counts?.writing === 1, 5000)
    await d.waitFor((m) => m.type === 'diff' && m.feed?.some((f) => f.title === 'Docs') === true, 5000)
    assert.deepEqual(await json(`${a.url}/api/live?site=${S}`), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
    assert.deepEqual(await json(`${a.url}/api/live/pages?site=${S}`), { site: S, pages: [{ path: '/docs', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 }] })
    // /metrics live gauges on A are the cluster's too (the tab is on C)
    const metrics = await (await fetch(`${a.url}/metrics`)).text()
    assert.match(metrics, /livestats_live_visitors\{site="cluster.test",state="writing"\} 1/)
    assert.match(metrics, /livestats_live_connections\{site="cluster.test"\} 1/)
    assert.match(metrics, /livestats_live_tabs 1/)
    // the same browser (address and agent) opens a second tab on A: still one visitor
    const tab2 = new CollectClient(a.url)
    ok(await tab2.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/b` }))
    assert.deepEqual(await c.hub.countStates(S), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
    assert.equal((await json(`${c.url}/api/live/pages?site=${S}`) as { pages: unknown[] }).pages.length, 2)
    tab.close()
    await d.waitFor((m) => m.type === 'diff' && m.counts?.writing === 0 && m.counts.reading === 1, 5000)
    tab2.close()
    await d.waitFor((m) => m.type === 'diff' && m.counts?.total === 0, 5000)
    d.close()
  })

  test('a change lost between hubs (a gap in the site seq) makes A\'s dashboard take a new snapshot', async (ctx) => {
    if (skip(ctx)) return
    const [a, c] = hubs as [{ hub: Hub; url: string }, { hub: Hub; url: string }]
    const d = await dashboard(portOf(a.url), `?site=${S}`)
    await d.waitFor((m) => m.type === 'snapshot')
    await until('the subscription to settle', () => snapshots(d.messages).length >= 2 || null, 3000).catch(() => null)
    const before = snapshots(d.messages).length
    await raw.incr(siteKeys(prefix, S).seq) // as if a change's message never arrived
    const tab = new CollectClient(c.url)
    ok(await tab.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/gap` }))
    await until('a new snapshot on A', () => snapshots(d.messages).length > before, 5000)
    const last = snapshots(d.messages).at(-1) as SnapshotMessage
    assert.deepEqual(last.counts, { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
    assert.equal(last.partial, undefined)
    tab.close()
    await until('the tab to leave', async () => (await a.hub.countStates(S)).total === 0, 5000)
    d.close()
  })

  test('Redis cut away from C: C counts its own visitors and says partial; exact again once Redis returns', async (ctx) => {
    if (skip(ctx)) return
    const [a, c] = hubs as [{ hub: Hub; url: string }, { hub: Hub; url: string }]
    const onA = new CollectClient(a.url, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0.0.1' })
    ok(await onA.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/a` }))
    const onC = new CollectClient(c.url, { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0.0.2' })
    const cid = id('cid')
    ok(await onC.send({ id: id(), type: 'pageview', site: S, cid, url: `https://${S}/c` }))
    await until('both visitors on C', async () => (await c.hub.countStates(S)).total === 2, 5000)
    const d = await dashboard(portOf(c.url), `?site=${S}`)
    await d.waitFor((m) => m.type === 'snapshot')
    proxy.cut()
    await until('C to go partial', async () => (await json(`${c.url}/healthz`)).presence === 'node', 5000)
    // ingest goes on; C's figures are its own, flagged
    ok(await onC.send({ id: id(), type: 'presence', site: S, cid, state: 'writing' }))
    assert.deepEqual(await json(`${c.url}/api/live?site=${S}`), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0, partial: true })
    assert.equal((await json(`${c.url}/api/live/pages?site=${S}`)).partial, true)
    await d.waitFor((m) => m.type === 'snapshot' && m.partial === true, 5000)
    assert.equal((await json(`${a.url}/healthz`)).presence, 'cluster')
    proxy.restore()
    await until('C exact again', async () => (await json(`${c.url}/healthz`)).presence === 'cluster', 5000)
    assert.deepEqual(await json(`${c.url}/api/live?site=${S}`), { total: 2, reading: 1, writing: 1, idle: 0, hidden: 0 })
    assert.deepEqual(await json(`${a.url}/api/live?site=${S}`), { total: 2, reading: 1, writing: 1, idle: 0, hidden: 0 })
    await d.waitFor((m) => m.type === 'snapshot' && m.partial === undefined && m.counts.total === 2, 5000)
    onA.close()
    onC.close()
    await until('the tabs to leave', async () => (await a.hub.countStates(S)).total === 0, 5000)
    d.close()
  })
})

describe('a hub started with --redis while Redis is unreachable', () => {
  test('starts, takes events, counts its own visitors and says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-noredis-'))
    // port 1 on loopback: nothing listens there, connections are refused at once
    const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'h.db'), logger: quiet, redis: 'redis://127.0.0.1:1', redisPrefix: testPrefix() })
    try {
      const { url } = await hub.listen()
      assert.equal((await json(`${url}/healthz`)).presence, 'node')
      const tab = new CollectClient(url)
      ok(await tab.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/x` }))
      assert.deepEqual(await json(`${url}/api/live?site=${S}`), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0, partial: true })
      assert.equal(await hub.store.countEvents(S), 1)
      tab.close()
    } finally {
      await hub.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
