/**
 * Alerts in a cluster (issue 14 with 15.4): two hubs on one Redis evaluate the same rule, and the
 * alert goes out once, from the node holding the alert lease (src/hub/redis/leader.ts); when that
 * node stops, the other takes the lease over and evaluates.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { CHROME_UA, CollectClient, id, startHub, type TestHub } from './helpers/hub'
import { Receiver } from './helpers/receiver'
import { REDIS_URL, redisMissingSync } from './helpers/services'
import { sleep, until } from './helpers/wait'

const FAST = { intervalMs: 40, retryBaseMs: 30, retryMaxMs: 200, timeoutMs: 3000, attempts: 5 }
const S = 'alerts-cluster.test'

async function createRule(t: TestHub, webhook: string): Promise<string> {
  const res = await fetch(`${t.url}/api/alerts`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'visitors', site: S, op: 'above', threshold: 0, for: 0.1, webhook, name: 'Someone here' }),
  })
  assert.equal(res.status, 201)
  return ((await res.json()) as { id: string }).id
}

async function delivered(t: TestHub): Promise<number> {
  const r = (await (await fetch(`${t.url}/api/alerts/deliveries`)).json()) as { deliveries: unknown[] }
  return r.deliveries.length
}

async function tab(t: TestHub): Promise<CollectClient> {
  const c = new CollectClient(t.url, { 'user-agent': `${CHROME_UA} tab/${id()}` })
  const ack = await c.send({ id: id(), type: 'pageview', site: S, cid: id('cid'), url: `https://${S}/` })
  assert.equal(ack.type, 'ack')
  return c
}

describe('alerts on a cluster go out once', { skip: redisMissingSync() }, () => {
  const prefix = `lsalert${randomBytes(4).toString('hex')}:`
  let a: TestHub
  let b: TestHub
  let rx: Receiver
  before(async () => {
    rx = await new Receiver().start()
    a = await startHub({ alerts: FAST, redis: REDIS_URL, redisPrefix: prefix })
    b = await startHub({ alerts: FAST, redis: REDIS_URL, redisPrefix: prefix })
  })
  after(async () => {
    await a?.stop().catch(() => {})
    await b?.stop().catch(() => {})
    await rx.stop()
    const r = new Redis(REDIS_URL)
    const keys = await r.keys(`${prefix}*`)
    if (keys.length) await r.del(...keys)
    r.disconnect()
  })

  it('two nodes with the same rule send one firing and one resolved; the other node takes over when the first stops', async () => {
    // each node's store has the rule (on a shared PostgreSQL they would read the same one)
    await createRule(a, rx.url)
    await createRule(b, rx.url)
    const visitor = await tab(a)
    await until('the firing notification', () => rx.accepted().length >= 1, 10_000)
    await sleep(FAST.intervalMs * 15)
    assert.deepEqual(rx.accepted().map((g) => g.body.status), ['firing'], 'one firing for the cluster')
    visitor.close()
    await until('the resolved notification', () => rx.accepted().length >= 2, 10_000)
    await sleep(FAST.intervalMs * 15)
    assert.deepEqual(rx.accepted().map((g) => g.body.status), ['firing', 'resolved'], 'one resolved for the cluster')
    // the node that sent them held the lease; the other sent nothing
    const [da, db] = [await delivered(a), await delivered(b)]
    assert.deepEqual([da, db].sort(), [0, 2])
    const [holder, other] = da === 2 ? [a, b] : [b, a]
    await holder.stop()
    // the lease lapses within three rounds and the other node evaluates: a new visitor fires there
    const again = await tab(other)
    await until('a firing from the other node', () => rx.accepted().length >= 3, 10_000)
    assert.equal(rx.accepted()[2]?.body.status, 'firing')
    assert.equal(await delivered(other), 1)
    again.close()
  })
})
