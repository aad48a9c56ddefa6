/**
 * Plugs presence, the bus and the live channel into a hub: the one call `hub.ts` makes.
 * Single node: memory presence and memory bus (Redis ones will be chosen here from the config).
 */
import type { Hub } from '../hub'
import { LivestatsError } from '../../protocol/errors'
import { liveRoutes } from '../api/live'
import { MemoryBus } from '../bus/memory'
import { MemoryPresence } from '../presence/memory'
import type { HistoryBatch } from '../presence/types'
import { createLiveChannel, type LiveChannel } from './channel'
import { feedListener } from './feed'
import { liveGauges } from './metrics'

export interface LiveParts {
  presence: MemoryPresence
  bus: MemoryBus
  channel: LiveChannel
}

type Seams = Pick<Hub, 'config' | 'store' | 'auth' | 'guard' | 'hostRefusal' | 'router' | 'ingest' | 'upgrades' | 'gauges' | 'closers' | 'feedId' | 'metrics' | 'goals'>

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
  const bus = new MemoryBus({ onError: (err) => config.logger.error('livestats: bus handler threw', err) })
  const presence = new MemoryPresence({ bus, sink, caps: config.caps, onLimit: (l) => hub.metrics.limit(l) })
  const feed = feedListener(bus, { fullIp: config.feedFullIp, reached: (row) => hub.goals.reached(row) })
  const channel = createLiveChannel({
    presence, bus,
    authorize: (req) => {
      try {
        return hub.auth.allows(req, new URL(req.url ?? '/', 'http://hub'))
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
  hub.gauges.push(() => liveGauges(presence, channel, config.caps.metricsSites))
  // Closers run after /collect closed (its tabs ended) and before the store closes.
  hub.closers.push(async () => {
    await channel.close()
    await presence.close()
    await Promise.allSettled([...writes])
    await bus.close()
  })
  return { presence, bus, channel }
}

