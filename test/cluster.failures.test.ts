/**
 * Node failures with real hub processes (`livestats serve --redis`, default lease 5 s) on the real
 * Redis under this run's key prefix: a SIGKILLed node's visitors leave the other node's counts
 * within the lease bound and its identity is swept; a SIGSTOPped node is reaped while frozen, and
 * on SIGCONT is fenced, re-registers and counts again, never more than the truth in between.
 * Needs the build (node scripts/build.mjs).
 */
import { after, before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'
import { createHub, type Hub } from '../src/hub/hub'
import { clusterKeys } from '../src/hub/redis/keys'
import type { Ack, ErrorReply } from '../src/protocol/messages'
import { startChildHub, type ChildHub } from './helpers/child-hub'
import { CollectClient, id, quiet } from './helpers/hub'
import { cleanup, rawRedis, testPrefix } from './helpers/redis'
import { REDIS_URL, redisMissing } from './helpers/services'
import { until } from './helpers/wait'

const S = 'failures.test'
/** Default lease 5 s + reap period 0.5 s + timer tick 0.1 s; the reap itself takes a few ms. */
const BOUND_MS = 5600
const ua = (i: number): string => `Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0.${i}.0`

describe('cluster node failures (hub processes)', () => {
  let why: string | false = false
  let dir = ''
  let prefix = ''
  let raw: Redis
  let a: Hub
  let aUrl = ''
  const children: ChildHub[] = []
  before(async () => {
    why = await redisMissing()
    if (why !== false) return
    dir = mkdtempSync(join(tmpdir(), 'livestats-failures-'))
    prefix = testPrefix()
    raw = rawRedis()
    a = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'a.db'), keyFile: join(dir, 'salts.key'), geoip: 'off', logger: quiet, redis: REDIS_URL, redisPrefix: prefix })
    aUrl = (await a.listen()).url
  })
  after(async () => {
    for (const c of children) {
      c.proc.kill('SIGCONT')
      c.proc.kill('SIGKILL')
    }
    if (why !== false) return
    await a.close()
    await cleanup(prefix)
    raw.disconnect()
    rmSync(dir, { recursive: true, force: true })
  })
  async function node(ctx: TestContext, name: string): Promise<ChildHub | null> {
    if (why !== false) {
      ctx.skip(why)
      return null
    }
    const c = await startChildHub(['--port', '0', '--db', join(dir, `${name}.db`), '--key-file', join(dir, 'salts.key'), '--geoip', 'off', '--redis', REDIS_URL, '--redis-prefix', prefix])
    children.push(c)
    return c
  }
  const total = async (): Promise<number> => (await a.countStates(S)).total
  async function tabs(url: string, n: number, from: number): Promise<CollectClient[]> {
    const out: CollectClient[] = []
    for (let i = 0; i < n; i++) {
      const t = new CollectClient(url, { 'user-agent': ua(from + i) })
      t.ws.on('error', () => {})
      const m: Ack | ErrorReply = await t.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/p${i % 3}` })
      assert.equal(m.type, 'ack')
      out.push(t)
    }
    return out
  }

  test('a SIGKILLed node: its visitors count until its lease lapses, then leave within the bound; its identity is swept', async (ctx) => {
    const k = await node(ctx, 'k')
    if (k === null) return
    const own = await tabs(aUrl, 2, 0)
    const theirs = await tabs(k.url, 10, 100)
    await until('all 12 visitors on A', async () => (await total()) === 12, 10_000)
    const nodes = clusterKeys(prefix).nodes
    assert.equal(await raw.zcard(nodes), 2)
    const t0 = Date.now()
    k.proc.kill('SIGKILL')
    await k.exited
    await until('the killed node\'s visitors to leave', async () => (await total()) === 2, 15_000)
    const ghostMs = Date.now() - t0
    ctx.diagnostic(`killed node's visitors counted for ${ghostMs} ms after SIGKILL (bound ${BOUND_MS} ms)`)
    assert.ok(ghostMs <= BOUND_MS + 1500, `counted ${ghostMs} ms, bound ${BOUND_MS} ms (+1.5 s for a loaded machine)`)
    assert.deepEqual(await a.countStates(S), { total: 2, reading: 2, writing: 0, idle: 0, hidden: 0 })
    await until('the dead identity to be swept', async () => (await raw.zcard(nodes)) === 1)
    for (const t of [...own, ...theirs]) t.close()
    await until('A\'s tabs to leave', async () => (await total()) === 0, 5000)
  })

  test('a SIGSTOPped node is reaped while frozen, fenced on SIGCONT, and counts again; never more than the truth', async (ctx) => {
    const z = await node(ctx, 'z')
    if (z === null) return
    const own = await tabs(aUrl, 1, 200)
    const theirs = await tabs(z.url, 5, 300)
    await until('all 6 visitors on A', async () => (await total()) === 6, 10_000)
    let max = 0
    let watching = true
    const watcher = (async () => {
      while (watching) {
        max = Math.max(max, await total())
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    const t0 = Date.now()
    z.proc.kill('SIGSTOP')
    await until('the frozen node to be reaped', async () => (await total()) === 1, 15_000)
    ctx.diagnostic(`frozen node's visitors left after ${Date.now() - t0} ms`)
    const nodes = clusterKeys(prefix).nodes
    await until('its identity to be swept', async () => (await raw.zcard(nodes)) === 1)
    z.proc.kill('SIGCONT')
    const t1 = Date.now()
    await until('the resumed node to count again', async () => (await total()) === 6, 10_000)
    ctx.diagnostic(`counted again ${Date.now() - t1} ms after SIGCONT`)
    watching = false
    await watcher
    assert.ok(max <= 6, `counted ${max}, truth 6`)
    assert.equal(await raw.zcard(nodes), 2, 'a new identity for the resumed node')
    assert.match(z.output(), /lease of .* lapsed/)
    for (const t of [...own, ...theirs]) t.close()
    await until('every tab to leave', async () => (await total()) === 0, 5000)
  })
})
