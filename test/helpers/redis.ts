/**
 * Redis presence nodes for tests, each run under its own key prefix on the shared Redis (never
 * FLUSHALL: others use it). `cleanup(prefix)` deletes the run's keys.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisLink } from '../../src/hub/redis/link'
import { RedisBus } from '../../src/hub/bus/redis'
import { RedisPresence, type RedisPresenceOptions } from '../../src/hub/presence/redis'
import { channels } from '../../src/hub/bus/types'
import type { BusMessage } from '../../src/hub/bus/messages'
import { REDIS_URL } from './services'

export const quiet = { warn: (): void => {}, error: (): void => {} }

export function testPrefix(): string {
  return `lstest:${randomBytes(6).toString('hex')}:`
}

export interface TestNode {
  link: RedisLink
  bus: RedisBus
  p: RedisPresence
  /** Messages of the watched site channels, in arrival order. */
  messages: BusMessage[]
  /** Subscribes to a site's channel and waits until the subscription is live. */
  watch(site: string): Promise<void>
  /** Waits until every change this node sent was answered and its messages delivered here. */
  settle(): Promise<void>
  close(): Promise<void>
}

export async function redisNode(prefix: string, opts: Partial<RedisPresenceOptions> = {}, url = REDIS_URL): Promise<TestNode> {
  const link = new RedisLink({ url, prefix, logger: quiet })
  const bus = new RedisBus(link, { onError: () => {} })
  const p = new RedisPresence({ link, bus, sweepMs: 0, logger: quiet, ...opts })
  const messages: BusMessage[] = []
  const node: TestNode = {
    link, bus, p, messages,
    watch: (site) => new Promise<void>((resolve) => {
      let first = true
      bus.subscribe(channels.site(site), (m) => {
        messages.push(m)
        if (first && m.type === 'resync') {
          first = false
          resolve()
        }
      })
    }),
    async settle() {
      await p.settled()
      if (link.sub.status === 'ready') await link.sub.ping().catch(() => {})
    },
    async close() {
      await p.close()
      await bus.close()
      await link.close()
    },
  }
  await p.ready()
  return node
}

/** Deletes every key of a test prefix. */
export async function cleanup(prefix: string, url = REDIS_URL): Promise<void> {
  const r = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  try {
    let cursor = '0'
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await r.del(...keys)
    } while (cursor !== '0')
  } finally {
    r.disconnect()
  }
}

/** A plain connection for checks made from outside (reading keys, killing clients). */
export function rawRedis(url = REDIS_URL): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 })
}
