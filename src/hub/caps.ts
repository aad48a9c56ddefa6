/**
 * Caps on what unauthenticated ingest can make the hub hold: live sites, tabs, pages and
 * processes, messages per client address, and `/collect` sockets. On by default (issue 10.6, 10.7);
 * `createHub({ caps: { … } })` changes them. What is over a cap is refused with its own code
 * (src/protocol/errors.ts) or folded, and counted on `/metrics` as `livestats_limit_hits_total{limit}`.
 * docs/security.md lists them with the arithmetic behind the defaults.
 *
 * A "client address" is the client IP (`ClientInfo.ipGroup`): an IPv4 address, or the /64 an IPv6
 * address belongs to (one subscriber usually holds a whole /64). Behind a reverse proxy, set
 * `trustProxy`, or every visitor shares the proxy's address and its caps.
 */
export interface HubCaps {
  /** Sites with live tabs at once; a tab on one more is refused (`LS_ERR_TOO_MANY_SITES`). @default 1000 */
  maxSites: number
  /** Live tabs on the hub, all sites together (`LS_ERR_TOO_MANY_TABS`). @default 100000 */
  maxTabs: number
  /** Live tabs on one site (`LS_ERR_TOO_MANY_SITE_TABS`). @default 50000 */
  maxTabsPerSite: number
  /** Live tabs opened from one client address, all sites (`LS_ERR_TOO_MANY_IP_TABS`). @default 2000 */
  maxTabsPerIp: number
  /**
   * Distinct live pages per site. A tab on a page past it still counts on the site, under the page
   * `(other)`: a visitor is never refused for the URL they are on. @default 1000
   */
  maxPagesPerSite: number
  /** Live processes (trackers), keyed by app and instance (`LS_ERR_TOO_MANY_PROCESSES`). @default 1000 */
  maxProcesses: number
  /**
   * Live messages (a `pageview` with `cid`, `presence`, `leave`) per second from one client address,
   * sustained; past it `LS_ERR_IP_RATE_LIMITED`. Every tab also has its own limit (20 at once, 5/s).
   * 2,000 people behind one NAT send about 130 heartbeats a second, plus their state changes. @default 500
   */
  ipRatePerSecond: number
  /** The burst of live messages one client address may send at once. @default 2000 */
  ipRateBurst: number
  /**
   * Longest heartbeat interval a tab may ask for, seconds; a longer `interval` is shortened to it,
   * so an HTTP-only tab silent for two of these (plus a second) has left. @default 120
   */
  maxIntervalSeconds: number
  /** Sites named on `/metrics` (those with most visitors); the rest are summed under `site="(other)"`. @default 50 */
  metricsSites: number
  /** Open `/collect` WebSockets (`LS_ERR_TOO_MANY_CONNECTIONS`, HTTP 503 to the upgrade). @default 100000 */
  maxConnections: number
  /** Open `/collect` WebSockets from one client address (`LS_ERR_TOO_MANY_IP_CONNECTIONS`, HTTP 429). @default 2000 */
  maxConnectionsPerIp: number
  /**
   * A `/collect` socket that sent no frame for this long is closed with 4408 `LS_ERR_IDLE_TIMEOUT`,
   * ms: 2.5 of the longest heartbeat interval. A socket silent for a tenth of it (30 s) is pinged,
   * and one that has not answered a tenth later is dropped (a peer that vanished). @default 300000
   */
  idleMs: number
}

export const DEFAULT_CAPS: Readonly<HubCaps> = Object.freeze({
  maxSites: 1000,
  maxTabs: 100_000,
  maxTabsPerSite: 50_000,
  maxTabsPerIp: 2000,
  maxPagesPerSite: 1000,
  maxProcesses: 1000,
  ipRatePerSecond: 500,
  ipRateBurst: 2000,
  maxIntervalSeconds: 120,
  metricsSites: 50,
  maxConnections: 100_000,
  maxConnectionsPerIp: 2000,
  idleMs: 300_000,
})

/** Names of the caps as `/metrics` labels them (`livestats_limit_hits_total{limit="…"}`). */
export type LimitName =
  | 'ip_rate' | 'ip_tabs' | 'site_tabs' | 'tabs' | 'sites' | 'pages' | 'processes' | 'interval' | 'not_owner'
  | 'connections' | 'ip_connections' | 'idle'
