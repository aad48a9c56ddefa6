/**
 * Plugs presence, the bus and the live channel into a hub: the one call `hub.ts` makes.
 * Single node: memory presence and memory bus. With `redis` configured: Redis presence and the
 * Redis bus on one link (cluster mode, issue 14); the hub starts even while Redis is unreachable
 * (it counts its own tabs and says the view is partial until Redis answers).
 */
import { redisLeader } from '../redis/leader'
import type { Hub } from '../hub'
import { LivestatsError } from '../../protocol/errors'
import { TokenAuth } from '../api/auth'
import { liveRoutes } from '../api/live'
import { MemoryBus } from '../bus/memory'
import { RedisBus } from '../bus/redis'
import type { Bus } from '../bus/types'
import { MemoryPresence } from '../presence/memory'
import { RedisPresence } from '../presence/redis'
import type { HistoryBatch, Presence } from '../presence/types'
import { RedisLink } from '../redis/link'
import { createLiveChannel, type LiveChannel } from './channel'
import { feedListener } from './feed'
import { memoryOverview, type LiveOverview } from './metrics'

export interface LiveParts {
  /** Cluster-wide with Redis, else this node's. */
  presence: Presence
  /** This node's own tabs (the same object as `presence` on a single node). */
  local: MemoryPresence
  /** What `/metrics` live gauges show: the cluster's with Redis, else this node's. */
  overview(): Promise<LiveOverview>
  bus: Bus
  channel: LiveChannel
  /** With Redis: whether this node holds the alert-evaluation lease (src/hub/redis/leader.ts); else null. */
  leader: ((ttlMs: number) => Promise<boolean>) | null
}

type Seams = Pick<Hub, 'config' | 'store' | 'auth' | 'guard' | 'hostRefusal' | 'router' | 'ingest' | 'upgrades' | 'gauges' | 'closers' | 'starters' | 'feedId' | 'metrics' | 'goals' | 'shares'>

/** How long `listen()` waits for Redis before the hub starts counting its own tabs only, ms. */
const REDIS_START_WAIT_MS = 3000

export function wireLive(hub: Seams): LiveParts {
  const { store, config } = hub
  const writes = new Set<Promise<void>>()
  const track = (what: string, p: Promise<void>): void => {
    const w = p.catch((err: unknown) => config.logger.error(`livestats: writing ${what} failed`, err)).finally(() => writes.delete(w))
    writes.add(w)
  }
  // History leaves the hot path: the sink only starts writes, the store batches them.
  const sink = ({ samples, sessions }: HistoryBatch): void => {
    if (samples.length > 0) track('live samples', store.appendLiveSamples(samples))
    if (sessions.length > 0) track('sessions', store.appendSessions(sessions))
  }
  const onError = (err: unknown): void => config.logger.error('livestats: bus handler threw', err)
  const onLimit = hub.metrics.limit.bind(hub.metrics)
  let bus: Bus
  let presence: Presence
  let local: MemoryPresence
  let link: RedisLink | null = null
  let overview: () => Promise<LiveOverview>
  if (config.redis === null) {
    bus = new MemoryBus({ onError })
    const mp = (presence = local = new MemoryPresence({ bus, sink, caps: config.caps, onLimit }))
    overview = async () => memoryOverview(mp)
  } else {
    const l = (link = new RedisLink({ url: config.redis, prefix: config.redisPrefix, logger: config.logger }))
    const rbus = new RedisBus(l, { onError })
    const rp = new RedisPresence({ link: l, bus: rbus, sink, caps: config.caps, onLimit, logger: config.logger })
    bus = rbus
    presence = rp
    local = rp.local
    overview = () => rp.overview()
    hub.starters.push(() => Promise.race([rp.ready(), new Promise<void>((r) => setTimeout(r, REDIS_START_WAIT_MS).unref())]))
  }
  const feed = feedListener(bus, { fullIp: config.feedFullIp, reached: (row) => hub.goals.reached(row) })
  const channel = createLiveChannel({
    presence, bus,
    authorize: (req, site) => {
      try {
        const url = new URL(req.url ?? '/', 'http://hub')
        // a share link watches its own site, and only with the site named
        const share = hub.shares.lookup(TokenAuth.fromRequest(req, url))
        if (share !== null) return site === share.site || 'LS_ERR_SHARE_FORBIDDEN'
        return hub.auth.allows(req, url)
      } catch {
        return false
      }
    },
    scoped: (req) => {
      try {
        return hub.shares.lookup(TokenAuth.fromRequest(req, new URL(req.url ?? '/', 'http://hub'))) !== null
      } catch {
        return false
      }
    },
    // browsers let any page open a WebSocket anywhere: only the hub's own pages (and configured
    // origins) may read it; on a hub without a token, only under its own names (DNS rebinding)
    admit: (req) => hub.guard.originAllowed(req) ? hub.hostRefusal(req) : new LivestatsError('LS_ERR_ORIGIN_FORBIDDEN'),
    recent: async (site) => feed.fromRows(await store.feed(site, 20)),
    feedId: hub.feedId,
    onError: (err) => config.logger.error('livestats: live channel', err),
  })
  // presence first: a pageview it refuses (rate limited) never reaches the feed
  hub.ingest.listeners.push(presence, feed)
  hub.upgrades.set('/live', (req, socket, head, url) => channel.handleUpgrade(req, socket, head, url))
  liveRoutes(hub.router, presence)
  // Closers run after /collect closed (its tabs ended) and before the store closes.
  hub.closers.push(async () => {
    await channel.close()
    await presence.close()
    await Promise.allSettled([...writes])
    await bus.close()
    await link?.close()
  })
  // cluster jobs that one node does at a time (alert evaluation): null on a single node
  const leader = link === null ? null : redisLeader(link, 'alerts')
  return { presence, local, bus, channel, overview, leader }
}

