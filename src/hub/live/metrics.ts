/**
 * Live gauges for `/metrics`: the analytics figures themselves, per site and state, so
 * Prometheus can chart and alert on "writers on /checkout" like on any other gauge.
 * Reads the memory presence synchronously (the `/metrics` renderer is synchronous).
 */
import type { Gauge } from '../metrics'
import type { MemoryPresence } from '../presence/memory'
import type { LiveChannel } from './channel'

export function liveGauges(presence: MemoryPresence, channel: LiveChannel): Gauge[] {
  const visitors: Gauge['samples'] = []
  const connections: Gauge['samples'] = []
  for (const site of presence.siteNames()) {
    const c = presence.countsOf(site)
    visitors.push(
      { labels: { site, state: 'total' }, value: c.total },
      { labels: { site, state: 'reading' }, value: c.reading },
      { labels: { site, state: 'writing' }, value: c.writing },
      { labels: { site, state: 'idle' }, value: c.idle },
      { labels: { site, state: 'hidden' }, value: c.hidden },
    )
    connections.push({ labels: { site }, value: presence.snapshotOf(site).connections })
  }
  return [
    { name: 'livestats_live_visitors', help: 'Visitors on the site now, by their most active state: total = reading + writing + idle; hidden is the part of idle with every tab in the background.', type: 'gauge', samples: visitors },
    { name: 'livestats_live_connections', help: 'Open tabs on the site now.', type: 'gauge', samples: connections },
    { name: 'livestats_live_processes', help: 'Node processes connected now.', type: 'gauge', samples: [{ value: presence.processCount }] },
    { name: 'livestats_live_dashboards', help: 'Dashboards on the live channel now.', type: 'gauge', samples: [{ value: channel.clients }] },
  ]
}
