/**
 * Live gauges for `/metrics`: the analytics figures themselves, per site and state, so
 * Prometheus can chart and alert on "writers on /checkout" like on any other gauge.
 * On a cluster node the figures are the cluster's (read from Redis per scrape), this node's while
 * it cannot reach Redis; processes are always this node's.
 *
 * Site names come from ingest, so they are label values anyone can mint: only the `topSites`
 * sites with most visitors get their own series, and the rest are summed under `site="(other)"`.
 * A scrape stays a few kilobytes whatever arrives (100,000 sites made it 35 MB; issue 10.6).
 */
import type { Gauge } from '../metrics'
import type { MemoryPresence } from '../presence/memory'
import type { LiveCounts } from '../presence/types'
import type { LiveChannel } from './channel'

/** The label the sites past the top ones are summed under. */
export const OTHER_SITES = '(other)'

/** What the live gauges show: every site with live tabs, the tab total and the processes. */
export interface LiveOverview {
  sites: { site: string; counts: LiveCounts; tabs: number }[]
  /** Live tabs on every site together. */
  tabs: number
  /** Node processes connected (to this node). */
  processes: number
}

/** One node's overview, read synchronously from its memory presence. */
export function memoryOverview(presence: MemoryPresence): LiveOverview {
  const sites = presence.siteNames().map((site) => ({ site, counts: presence.countsOf(site), tabs: presence.snapshotOf(site).connections }))
  return { sites, tabs: presence.tabTotal, processes: presence.processCount }
}

export function liveGauges(view: LiveOverview, channel: LiveChannel, topSites = 50): Gauge[] {
  const sites = [...view.sites]
  sites.sort((a, b) => b.counts.total - a.counts.total || b.tabs - a.tabs || (a.site < b.site ? -1 : 1))
  const shown = sites.slice(0, topSites)
  if (sites.length > topSites) {
    const rest: LiveCounts = { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 }
    let tabs = 0
    for (const s of sites.slice(topSites)) {
      rest.total += s.counts.total
      rest.reading += s.counts.reading
      rest.writing += s.counts.writing
      rest.idle += s.counts.idle
      rest.hidden += s.counts.hidden
      tabs += s.tabs
    }
    shown.push({ site: OTHER_SITES, counts: rest, tabs })
  }
  const visitors: Gauge['samples'] = []
  const connections: Gauge['samples'] = []
  for (const { site, counts: c, tabs } of shown) {
    visitors.push(
      { labels: { site, state: 'total' }, value: c.total },
      { labels: { site, state: 'reading' }, value: c.reading },
      { labels: { site, state: 'writing' }, value: c.writing },
      { labels: { site, state: 'idle' }, value: c.idle },
      { labels: { site, state: 'hidden' }, value: c.hidden },
    )
    connections.push({ labels: { site }, value: tabs })
  }
  return [
    { name: 'livestats_live_visitors', help: `Visitors on the site now, by their most active state: total = reading + writing + idle; hidden is the part of idle with every tab in the background. The ${topSites} sites with most visitors; the rest summed as site="${OTHER_SITES}".`, type: 'gauge', samples: visitors },
    { name: 'livestats_live_connections', help: `Open tabs on the site now (sites as in livestats_live_visitors).`, type: 'gauge', samples: connections },
    { name: 'livestats_live_sites', help: 'Sites with live tabs now.', type: 'gauge', samples: [{ value: sites.length }] },
    { name: 'livestats_live_tabs', help: 'Live tabs on every site together.', type: 'gauge', samples: [{ value: view.tabs }] },
    { name: 'livestats_live_processes', help: 'Node processes connected now.', type: 'gauge', samples: [{ value: view.processes }] },
    { name: 'livestats_live_dashboards', help: 'Dashboards on the live channel now.', type: 'gauge', samples: [{ value: channel.clients }] },
  ]
}
