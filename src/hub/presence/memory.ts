/**
 * In-memory presence for a single hub node. It is the `IngestListener` the hub hands every
 * accepted event to: `pageview`, `presence` and `leave` move tabs, `process` updates the process
 * table, and `connectionClosed` ends every tab a WebSocket carried, at once.
 *
 * When a connection (tab, keyed by the event's `cid` within its site) opens:
 * - a `pageview` always opens it (or moves an open one to the new page);
 * - a `presence` that carries `url` opens it too, so a snippet that reconnects after a hub restart
 *   (or a network drop that closed its socket) is live again at its next heartbeat;
 * - a `presence` without `url`, or one for a tab that sent `leave` in the last minute (a heartbeat
 *   racing the page's own `leave`), is refused with LS_ERR_UNKNOWN_CONNECTION: the snippet answers
 *   by sending `url` with its next heartbeat. A bfcache restore sends a `pageview`, which reopens.
 *
 * A tab belongs to whoever opened it (issue 10.3): the WebSocket that carries it, and the visitor
 * (client IP and user agent, the inputs of the visitor hash, within the site) that opened it. A
 * message for an open tab from anyone else (another socket, another address) is refused with
 * LS_ERR_NOT_OWNER and changes nothing, not even the tab's rate budget. The same visitor may move
 * the tab to another transport: the snippet falls back to HTTP when its socket drops and comes back
 * on a new socket. Knowing a `cid` is therefore not enough to speak for a tab, and dashboards never
 * see one: changes carry an opaque `key` instead.
 *
 * Live state is bounded (issue 10.6, src/hub/caps.ts): every live message spends its client
 * address's budget as well as its tab's (a new `cid` per message gets past the tab's); a tab opens
 * only while its address, its site and the hub are under their tab caps and the hub under its site
 * cap; a site's pages past its cap are counted under `(other)`; a client's heartbeat interval is
 * shortened to the cap. A `presence` over a cap is refused with the cap's code; a `pageview` over a
 * tab cap is stored but not made live (its visit is real; only the live room is full). Each cap hit
 * is reported through `onLimit` for `/metrics`.
 *
 * Bots (`client.bot`) are ignored, never refused: their pageviews are still stored, flagged.
 */
import { STATES, DEFAULT_HEARTBEAT_SECONDS, type PresenceState } from '../../protocol/limits'
import { DEFAULT_CAPS, type HubCaps, type LimitName } from '../caps'
import type { ErrorCode } from '../../protocol/errors'
import type { LeaveEvent, PageviewEvent, PresenceEvent, ProcessEvent } from '../../protocol/schema'
import type { Accepted, ClientInfo } from '../ingest/types'
import type { LiveSample, PageStint, SessionRecord } from '../store/types'
import { channels, type Bus } from '../bus/types'
import type { EndReason, PresenceChange } from '../bus/messages'
import { Aggregate, NONE, STATE_INDEX } from './aggregate'
import { MinuteSampler } from './history'
import { pathOf } from './path'
import { ProcessTable } from './processes'
import { IpTable, type IpEntry } from './ip-table'
import { DEFAULT_RATE, TokenBucket, type RateLimit } from './token-bucket'
import type {
  ConnectionView, HistorySink, LiveCounts, PageCounts, Presence, PresenceSnapshot, ProcessView,
} from './types'

export interface MemoryPresenceOptions {
  /** Where changes are published for live channels. @default none (no one watches) */
  bus?: Bus
  /** Receives live samples and finished sessions, at most once per sweep. @default none */
  sink?: HistorySink
  /** Clock, ms. Tests pass a fake one and call `tick()`. @default Date.now */
  now?: () => number
  /** Sweep period: HTTP expiry, minute samples, session flush. 0 = no timer (call `tick()`). @default 1000 */
  sweepMs?: number
  /** Per-connection message rate. @default { burst: 20, perSecond: 5 } */
  rate?: RateLimit
  /** Heartbeats an HTTP-only tab may miss before it ends. @default 2 */
  missedHeartbeats?: number
  /** Slack on top of the missed heartbeats, for network jitter, ms. @default 1000 */
  graceMs?: number
  /** An HTTP-only process with no sample for this long is gone, ms. @default 60000 */
  processTimeoutMs?: number
  /** How long a tab that sent `leave` cannot be reopened by a heartbeat from the same visitor, ms. @default 60000 */
  leaveTombstoneMs?: number
  /** Most `leave` tombstones held; past it the oldest go. @default 10000 */
  maxTombstones?: number
  /** Caps on live state (src/hub/caps.ts). @default DEFAULT_CAPS */
  caps?: Partial<PresenceCaps>
  /** Told of every cap hit (a refusal or a fold), for `/metrics`. @default none */
  onLimit?: (limit: LimitName) => void
}

/** The caps presence applies; the rest of `HubCaps` is for `/collect` and `/metrics`. */
export type PresenceCaps = Pick<HubCaps,
  'maxSites' | 'maxTabs' | 'maxTabsPerSite' | 'maxTabsPerIp' | 'maxPagesPerSite' | 'maxProcesses' |
  'ipRatePerSecond' | 'ipRateBurst' | 'maxIntervalSeconds'>

/** One open tab as `liveTabs` lists it. */
export interface LocalTab {
  cid: string
  key: string
  visitor: string
  /** The page it is counted on (`(other)` past the page cap). */
  path: string
  state: PresenceState
}

/** The page a tab is counted on when its site already holds `maxPagesPerSite` others. */
export const OTHER_PAGE = '(other)'

interface Tab {
  readonly cid: string
  /** What dashboards see instead of `cid`: a counter, which grants nothing. */
  readonly key: string
  readonly site: SiteState
  readonly visitor: string
  /** Who opened the tab (client IP, user agent): only they may move it to another transport. */
  readonly ip: string
  readonly agent: string
  /** The opener's address: its live-tab count goes down when the tab ends. */
  readonly from: IpEntry
  path: string
  /** Last URL seen, so an unchanged URL is not parsed again on every heartbeat. */
  url: string
  state: number
  stateSince: number
  readonly started: number
  lastSeen: number
  intervalMs: number
  connection: string | null
  readonly bucket: TokenBucket
  pageviews: number
  readonly entry: string
  /** ms spent per state index. */
  readonly spent: number[]
  /** The page the tab shows now (not folded under (other)), when it began, whether a page view began it. */
  pagePath: string
  pageAt: number
  pageViewed: boolean
  /** ms spent per state index on the current page. */
  readonly pageSpent: number[]
  /** The deepest point of the current page seen, percent, as the snippet reported it (`scroll`); null until it does. */
  pageScroll: number | null
  /** Pages shown before the current one (at most MAX_STINTS). */
  readonly stints: PageStint[]
}

/** A tab's page was seen down to `scroll` percent (presence or `leave`): the page keeps its deepest. */
function scrolled(tab: Tab, scroll: number | undefined): void {
  if (scroll !== undefined && (tab.pageScroll === null || scroll > tab.pageScroll)) tab.pageScroll = scroll
}

/** Pages of one tab kept for its session; later ones go uncounted per page (the tab's totals still count). */
const MAX_STINTS = 200

class SiteState {
  readonly tabs = new Map<string, Tab>()
  readonly visitors = new Aggregate()
  readonly pages = new Map<string, Aggregate>()
  /** Last change's sequence number (from the presence-wide counter: a forgotten site that comes back never reuses one). */
  seq = 0
  readonly sampler: MinuteSampler
  constructor(readonly name: string, now: number) {
    this.sampler = new MinuteSampler(now)
  }
  page(path: string): Aggregate {
    let a = this.pages.get(path)
    if (a === undefined) this.pages.set(path, (a = new Aggregate()))
    return a
  }
  /** True when `path` would be one page too many: it is new and the site holds `max` pages already, `(other)` aside. */
  full(path: string, max: number): boolean {
    return this.pages.size >= max && !this.pages.has(path) && this.pages.size - (this.pages.has(OTHER_PAGE) ? 1 : 0) >= max
  }
}

/** A `leave` seen for a tab: a heartbeat from the same visitor racing it must not reopen the tab. */
interface Tombstone {
  until: number
  ip: string
  agent: string
}

const ZERO: Readonly<LiveCounts> = Object.freeze({ total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })

/** The client that opened `tab`, or the same visitor on another transport. */
function owns(tab: Tab, client: ClientInfo): boolean {
  return (client.connection !== null && client.connection === tab.connection) ||
    (client.ipRaw === tab.ip && client.userAgent === tab.agent)
}

export class MemoryPresence implements Presence {
  /** One node holds every tab it counts. */
  readonly scope = 'node' as const
  readonly partial = false
  private readonly sitesByName = new Map<string, SiteState>()
  private readonly byConnection = new Map<string, Set<Tab>>()
  /** Tabs with no WebSocket: the only ones that can expire. */
  private readonly httpTabs = new Set<Tab>()
  /** `site \0 cid` → until when its visitor's heartbeat may not reopen it (insertion order = expiry order). */
  private readonly tombstones = new Map<string, Tombstone>()
  private keys = 0
  private tabCount = 0
  private readonly ips: IpTable
  private readonly caps: Readonly<PresenceCaps>
  private readonly maxIntervalMs: number
  private readonly onLimit: (limit: LimitName) => void
  private readonly procs = new ProcessTable()
  private procSeq = 0
  private seq = 0
  private samples: LiveSample[] = []
  private sessions: SessionRecord[] = []
  private readonly timer: NodeJS.Timeout | null
  private readonly now: () => number
  private readonly bus: Bus | null
  private readonly sink: HistorySink | null
  private readonly rate: RateLimit
  private readonly missed: number
  private readonly graceMs: number
  private readonly processTimeoutMs: number
  private readonly tombstoneMs: number
  private readonly maxTombstones: number

  constructor(opts: MemoryPresenceOptions = {}) {
    this.now = opts.now ?? Date.now
    this.bus = opts.bus ?? null
    this.sink = opts.sink ?? null
    this.rate = Object.freeze({ ...DEFAULT_RATE, ...opts.rate })
    this.missed = opts.missedHeartbeats ?? 2
    this.graceMs = opts.graceMs ?? 1000
    this.processTimeoutMs = opts.processTimeoutMs ?? 60_000
    this.tombstoneMs = opts.leaveTombstoneMs ?? 60_000
    this.maxTombstones = opts.maxTombstones ?? 10_000
    const c = (this.caps = Object.freeze({ ...DEFAULT_CAPS, ...opts.caps }))
    this.ips = new IpTable(Object.freeze({ burst: c.ipRateBurst, perSecond: c.ipRatePerSecond }))
    this.maxIntervalMs = c.maxIntervalSeconds * 1000
    this.onLimit = opts.onLimit ?? ((): void => {})
    const sweepMs = opts.sweepMs ?? 1000
    // unref'd: a sweep timer alone must not keep a process (a test, a CLI) alive
    this.timer = sweepMs > 0 ? setInterval(() => this.tick(), sweepMs).unref() : null
  }

  // ---- ingest ----

  accept(item: Accepted, client: ClientInfo): ErrorCode | null {
    const ev = item.event
    // the bot flag judges a browser's agent; a tracker's socket has none, and its samples still count
    if (client.bot && ev.type !== 'process') return null
    switch (ev.type) {
      case 'pageview': return this.onPageview(ev, item, client)
      case 'presence': return this.onPresence(ev, item, client)
      case 'leave': return this.onLeave(ev, client)
      case 'process': return this.onProcess(ev, client)
      default: return null
    }
  }

  /**
   * Ingest refused the tab's page view, or could not store it: the tab is not live (ended as closed).
   * Only when its owner sent that page view: a stranger's refused page view must end nothing.
   */
  dropTab(site: string, cid: string, client: ClientInfo): void {
    const tab = this.sitesByName.get(site)?.tabs.get(cid)
    if (tab !== undefined && owns(tab, client)) this.end(tab, 'close', this.now())
  }

  connectionClosed(connection: string): void {
    const tabs = this.byConnection.get(connection)
    if (tabs !== undefined) {
      const now = this.now()
      for (const tab of [...tabs]) this.end(tab, 'close', now)
      this.byConnection.delete(connection)
    }
    for (const key of this.procs.closeConnection(connection)) this.processGone(key, 'close')
  }

  private onPageview(ev: PageviewEvent, item: Accepted, client: ClientInfo): ErrorCode | null {
    if (ev.cid === undefined) return null // no tab id: stored, but not live
    const now = this.now()
    const path = item.row?.path ?? pathOf(ev.url)
    const site = this.sitesByName.get(ev.site)
    const tab = site?.tabs.get(ev.cid)
    const refused = this.spend(tab, client, now)
    if (refused !== null) return refused
    if (site === undefined || tab === undefined) {
      const from = this.ips.get(client.ipGroup, now)
      if (this.tombstones.size > 0) this.tombstones.delete(`${ev.site}\0${ev.cid}`)
      // over a tab cap the page view is still stored, just not live: the visit happened
      if (this.room(site, from) !== null) return null
      this.open(ev.site, ev.cid, item.visitor ?? ev.cid, ev.url, path, STATE_INDEX.reading, null, client, from, now, item.ts, true)
      return null
    }
    if (!tab.bucket.take(now)) return 'LS_ERR_RATE_LIMITED'
    this.touch(tab, client, now)
    tab.pageviews++
    tab.url = ev.url
    // every page view starts a page of its own, a reload of the same one too: each stored view gets its time
    this.newPage(tab, path, item.ts, true, now)
    this.change(tab, this.fold(tab.site, path), tab.state, now)
    return null
  }

  private onPresence(ev: PresenceEvent, item: Accepted, client: ClientInfo): ErrorCode | null {
    if (ev.cid === undefined) return 'LS_ERR_UNKNOWN_CONNECTION'
    const now = this.now()
    const site = this.sitesByName.get(ev.site)
    const tab = site?.tabs.get(ev.cid)
    const refused = this.spend(tab, client, now)
    if (refused !== null) return refused
    const state = STATE_INDEX[ev.state]
    const intervalMs = ev.interval === undefined ? null : this.intervalMs(ev.interval)
    if (tab === undefined) {
      if (ev.url === undefined || this.tombstoned(`${ev.site}\0${ev.cid}`, client, now)) return 'LS_ERR_UNKNOWN_CONNECTION'
      const from = this.ips.get(client.ipGroup, now)
      const full = this.room(site, from)
      if (full !== null) return full
      scrolled(this.open(ev.site, ev.cid, item.visitor ?? ev.cid, ev.url, pathOf(ev.url), state, intervalMs, client, from, now, now, false), ev.scroll)
      return null
    }
    if (!tab.bucket.take(now)) return 'LS_ERR_RATE_LIMITED'
    this.touch(tab, client, now)
    if (intervalMs !== null) tab.intervalMs = intervalMs
    let path = tab.path
    if (ev.url !== undefined && ev.url !== tab.url) {
      tab.url = ev.url
      const real = pathOf(ev.url)
      if (real !== tab.pagePath) this.newPage(tab, real, now, false, now)
      path = this.fold(tab.site, real)
    }
    scrolled(tab, ev.scroll)
    this.change(tab, path, state, now)
    return null
  }

  private onLeave(ev: LeaveEvent, client: ClientInfo): ErrorCode | null {
    // a leave for a tab already gone (its socket closed first) is normal: accept it quietly
    if (ev.cid === undefined) return null
    const now = this.now()
    const tab = this.sitesByName.get(ev.site)?.tabs.get(ev.cid)
    const refused = this.spend(tab, client, now)
    if (refused !== null) return refused
    // the tombstone names the sender, so only the sender's own heartbeats are held back by it
    const key = `${ev.site}\0${ev.cid}`
    this.tombstones.delete(key)
    this.tombstones.set(key, { until: now + this.tombstoneMs, ip: client.ipRaw, agent: client.userAgent })
    if (this.tombstones.size > this.maxTombstones) {
      for (const old of this.tombstones.keys()) {
        this.tombstones.delete(old)
        break
      }
    }
    if (tab !== undefined) {
      scrolled(tab, ev.scroll)
      this.end(tab, 'leave', now)
    }
    return null
  }

  private onProcess(ev: ProcessEvent, client: ClientInfo): ErrorCode | null {
    if (this.procs.size >= this.caps.maxProcesses && !this.procs.has(ev)) return this.limit('processes', 'LS_ERR_TOO_MANY_PROCESSES')
    const now = this.now()
    const view = this.procs.sample(ev, client.connection, now)
    this.bus?.publish(channels.processes, { type: 'process', seq: ++this.procSeq, at: now, process: view })
    return null
  }

  /**
   * Spends one message of the sender's address budget, then checks that a message for an open `tab`
   * comes from its owner; null when it may go on. The owner's address is the tab's (its socket and
   * its visitor have the opener's IP), so a tab's own heartbeat looks nothing up. A stranger's
   * message spends its own address's budget and never the tab's rate budget.
   */
  private spend(tab: Tab | undefined, client: ClientInfo, now: number): ErrorCode | null {
    const own = tab !== undefined && owns(tab, client)
    const from = own ? tab.from : this.ips.get(client.ipGroup, now)
    if (!from.bucket.take(now)) return this.limit('ip_rate', 'LS_ERR_IP_RATE_LIMITED')
    return tab === undefined || own ? null : 'LS_ERR_NOT_OWNER'
  }

  /** Null when a new tab from `from` fits on `site` (undefined: a new site); else the cap's code. */
  private room(site: SiteState | undefined, from: IpEntry): ErrorCode | null {
    const c = this.caps
    if (from.tabs >= c.maxTabsPerIp) return this.limit('ip_tabs', 'LS_ERR_TOO_MANY_IP_TABS')
    if (this.tabCount >= c.maxTabs) return this.limit('tabs', 'LS_ERR_TOO_MANY_TABS')
    if (site === undefined) {
      if (this.sitesByName.size >= c.maxSites) return this.limit('sites', 'LS_ERR_TOO_MANY_SITES')
    } else if (site.tabs.size >= c.maxTabsPerSite) return this.limit('site_tabs', 'LS_ERR_TOO_MANY_SITE_TABS')
    return null
  }

  /** The page a tab on `path` is counted on: `path`, or `(other)` once the site holds its cap of pages. */
  private fold(site: SiteState, path: string): string {
    if (!site.full(path, this.caps.maxPagesPerSite)) return path
    this.onLimit('pages')
    return OTHER_PAGE
  }

  /** A client's heartbeat interval, ms, shortened to the cap (so a silent HTTP tab still expires soon). */
  private intervalMs(seconds: number): number {
    const ms = seconds * 1000
    if (ms <= this.maxIntervalMs) return ms
    this.onLimit('interval')
    return this.maxIntervalMs
  }

  private limit(name: LimitName, code: ErrorCode): ErrorCode {
    this.onLimit(name)
    return code
  }

  private tombstoned(key: string, client: ClientInfo, now: number): boolean {
    if (this.tombstones.size === 0) return false
    const t = this.tombstones.get(key)
    return t !== undefined && t.until > now && t.ip === client.ipRaw && t.agent === client.userAgent
  }

  // ---- tab lifecycle: every path into the counters goes through open, change and end ----

  private open(
    siteName: string, cid: string, visitor: string, url: string, wanted: string, state: number,
    intervalMs: number | null, client: ClientInfo, from: IpEntry, now: number, pageAt: number, pageViewed: boolean,
  ): Tab {
    let site = this.sitesByName.get(siteName)
    if (site === undefined) {
      this.sitesByName.set(siteName, (site = new SiteState(siteName, now)))
      this.bus?.publish(channels.sites, { type: 'site-seen', at: now, site: siteName })
    }
    const path = this.fold(site, wanted)
    const tab: Tab = {
      cid, key: (++this.keys).toString(36), site, visitor, ip: client.ipRaw, agent: client.userAgent, from,
      path, url, state, stateSince: now, started: now, lastSeen: now,
      intervalMs: intervalMs ?? DEFAULT_HEARTBEAT_SECONDS * 1000, connection: null,
      bucket: new TokenBucket(this.rate, now), pageviews: 0, entry: path, spent: [0, 0, 0, 0],
      pagePath: wanted, pageAt, pageViewed, pageSpent: [0, 0, 0, 0], pageScroll: null, stints: [],
    }
    site.tabs.set(cid, tab)
    this.tabCount++
    from.tabs++
    this.attach(tab, client)
    const moved = site.visitors.move(visitor, NONE, state)
    site.page(path).move(visitor, NONE, state)
    this.changed(site, tab, 'join', undefined, undefined, moved, path, null, now)
    return tab
  }

  private change(tab: Tab, path: string, state: number, now: number): void {
    const was = tab.state
    const wasPath = tab.path
    if (path === wasPath && state === was) return // a heartbeat: memory only, nothing to publish
    const site = tab.site
    if (state !== was) {
      this.accrue(tab, now)
      tab.state = state
    }
    tab.path = path
    const moved = state !== was && site.visitors.move(tab.visitor, was, state)
    if (path === wasPath) {
      site.page(path).move(tab.visitor, was, state)
    } else {
      site.page(wasPath).move(tab.visitor, was, NONE)
      site.page(path).move(tab.visitor, NONE, state)
    }
    const from = { path: wasPath, state: STATES[was] as PresenceState }
    this.changed(site, tab, 'update', from, undefined, moved, path, path === wasPath ? null : wasPath, now)
  }

  private end(tab: Tab, reason: EndReason, now: number): void {
    const site = tab.site
    site.tabs.delete(tab.cid)
    this.tabCount--
    tab.from.tabs--
    this.detach(tab)
    // An expired tab was last heard of at `lastSeen`: the visit ends there, not at the sweep.
    const ended = reason === 'expired' ? tab.lastSeen : now
    this.accrue(tab, Math.max(ended, tab.stateSince))
    this.closePage(tab)
    const moved = site.visitors.move(tab.visitor, tab.state, NONE)
    site.page(tab.path).move(tab.visitor, tab.state, NONE)
    const s = tab.spent
    this.sessions.push({
      id: `${tab.cid}.${tab.started.toString(36)}`, site: site.name, visitor: tab.visitor,
      started: tab.started, ended, pageviews: tab.pageviews,
      writingMs: s[0] as number, readingMs: s[1] as number, idleMs: s[2] as number, hiddenMs: s[3] as number,
      entry: tab.entry, exit: tab.path, pages: tab.stints,
    })
    this.changed(site, tab, 'leave', undefined, reason, moved, tab.path, null, now)
  }

  /** Adds the time since the tab's state began to the tab's and its page's totals. */
  private accrue(tab: Tab, now: number): void {
    const d = now - tab.stateSince
    if (d <= 0) return
    const i = tab.state
    tab.spent[i] = (tab.spent[i] as number) + d
    tab.pageSpent[i] = (tab.pageSpent[i] as number) + d
    tab.stateSince = now
  }

  /** The tab shows another page (or the same one again after a page view) from `at`. */
  private newPage(tab: Tab, real: string, at: number, viewed: boolean, now: number): void {
    this.accrue(tab, now)
    this.closePage(tab)
    tab.pagePath = real
    tab.pageAt = at
    tab.pageViewed = viewed
    tab.pageSpent.fill(0)
    tab.pageScroll = null
  }

  private closePage(tab: Tab): void {
    if (tab.stints.length >= MAX_STINTS) return
    const p = tab.pageSpent
    const stint: PageStint = {
      path: tab.pagePath, at: tab.pageAt, viewed: tab.pageViewed,
      writingMs: p[0] as number, readingMs: p[1] as number, idleMs: p[2] as number, hiddenMs: p[3] as number,
    }
    if (tab.pageScroll !== null) stint.scroll = tab.pageScroll
    tab.stints.push(stint)
  }

  /** After any tab change: feed the minute sampler (when the site counts moved) and publish. */
  private changed(
    site: SiteState, tab: Tab, op: PresenceChange['op'], from: PresenceChange['from'], reason: EndReason | undefined,
    moved: boolean, path: string, otherPath: string | null, now: number,
  ): void {
    site.seq = ++this.seq
    const counts = moved || this.bus !== null ? site.visitors.counts() : null
    if (moved && counts !== null) site.sampler.set(now, counts)
    const pages = [this.pageCounts(site, path)]
    if (otherPath !== null) pages.push(this.pageCounts(site, otherPath))
    if (this.bus === null || counts === null) return
    const msg: PresenceChange = {
      type: 'presence', site: site.name, seq: site.seq, at: now, op, cid: tab.cid, key: tab.key, visitor: tab.visitor,
      path: tab.path, state: STATES[tab.state] as PresenceState, counts, pages, connections: site.tabs.size,
    }
    if (from !== undefined) msg.from = from
    if (reason !== undefined) msg.reason = reason
    this.bus.publish(channels.site(site.name), msg)
  }

  /** Counts of one page; an emptied page is dropped (and reported with total 0). */
  private pageCounts(site: SiteState, path: string): PageCounts {
    const a = site.pages.get(path)
    if (a === undefined || a.total === 0) {
      site.pages.delete(path)
      return { path, ...ZERO }
    }
    return { path, ...a.counts() }
  }

  private attach(tab: Tab, client: ClientInfo): void {
    tab.connection = client.connection
    if (client.connection === null) {
      this.httpTabs.add(tab)
      return
    }
    let set = this.byConnection.get(client.connection)
    if (set === undefined) this.byConnection.set(client.connection, (set = new Set()))
    set.add(tab)
  }

  private detach(tab: Tab): void {
    if (tab.connection === null) {
      this.httpTabs.delete(tab)
      return
    }
    const set = this.byConnection.get(tab.connection)
    if (set === undefined) return
    set.delete(tab)
    if (set.size === 0) this.byConnection.delete(tab.connection)
  }

  /** A message arrived from the tab: it is alive, and now carried by the sender's transport. */
  private touch(tab: Tab, client: ClientInfo, now: number): void {
    tab.lastSeen = now
    if (tab.connection !== client.connection) {
      this.detach(tab)
      this.attach(tab, client)
    }
  }

  private processGone(key: string, reason: EndReason): void {
    this.bus?.publish(channels.processes, { type: 'process-gone', seq: ++this.procSeq, at: this.now(), key, reason })
  }

  // ---- sweep ----

  /** Expires silent HTTP tabs and processes, closes finished minutes, hands history to the sink. */
  tick(): void {
    const now = this.now()
    for (const tab of this.httpTabs) {
      if (now > tab.lastSeen + this.missed * tab.intervalMs + this.graceMs) this.end(tab, 'expired', now)
    }
    for (const [key, t] of this.tombstones) {
      if (t.until > now) break
      this.tombstones.delete(key)
    }
    for (const key of this.procs.expire(now - this.processTimeoutMs)) this.processGone(key, 'expired')
    this.ips.sweep(now)
    for (const site of this.sitesByName.values()) {
      site.sampler.roll(site.name, now, this.samples)
      // a site with no one for a whole minute is forgotten; it comes back with its next visitor
      if (site.tabs.size === 0 && site.sampler.quiet) this.sitesByName.delete(site.name)
    }
    this.flush()
  }

  flush(): void {
    if (this.samples.length === 0 && this.sessions.length === 0) return
    const batch = { samples: this.samples, sessions: this.sessions }
    this.samples = []
    this.sessions = []
    if (this.sink === null) return
    try {
      this.sink(batch)
    } catch (err) {
      console.error('livestats: presence history sink threw', err)
    }
  }

  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    const now = this.now()
    for (const site of this.sitesByName.values()) for (const tab of [...site.tabs.values()]) this.end(tab, 'shutdown', now)
    this.flush()
  }

  // ---- reads: synchronous here; the `Presence` methods wrap them in promises ----

  countsOf(site: string): LiveCounts {
    return this.sitesByName.get(site)?.visitors.counts() ?? { ...ZERO }
  }

  pagesOf(site: string): PageCounts[] {
    const s = this.sitesByName.get(site)
    if (s === undefined) return []
    const out: PageCounts[] = []
    for (const [path, a] of s.pages) if (a.total > 0) out.push({ path, ...a.counts() })
    return out.sort((a, b) => b.total - a.total || (a.path < b.path ? -1 : 1))
  }

  snapshotOf(site: string): PresenceSnapshot {
    const s = this.sitesByName.get(site)
    return {
      site, seq: s?.seq ?? 0, at: this.now(), counts: this.countsOf(site), pages: this.pagesOf(site),
      connections: s?.tabs.size ?? 0,
    }
  }

  connectionsOf(site: string): ConnectionView[] {
    const s = this.sitesByName.get(site)
    if (s === undefined) return []
    return [...s.tabs.values()].map((t) => ({
      key: t.key, visitor: t.visitor, path: t.path, state: STATES[t.state] as PresenceState, since: t.stateSince,
      started: t.started, lastSeen: t.lastSeen, transport: t.connection === null ? 'http' : 'ws',
    }))
  }

  /**
   * This node's open tabs on `site`, with their `cid`: for a cluster backend that re-publishes them
   * after a reconnect or a fence (`presence/redis.ts`). Never handed to a reader.
   */
  liveTabs(site: string): LocalTab[] {
    const s = this.sitesByName.get(site)
    if (s === undefined) return []
    return [...s.tabs.values()].map((t) => ({ cid: t.cid, key: t.key, visitor: t.visitor, path: t.path, state: STATES[t.state] as PresenceState }))
  }

  /** The connected processes now (what `processes()` resolves to). */
  processesNow(): ProcessView[] {
    return this.procs.list(this.now())
  }

  get processCount(): number {
    return this.procs.size
  }

  /** Live tabs on every site together. */
  get tabTotal(): number {
    return this.tabCount
  }

  siteNames(): string[] {
    return [...this.sitesByName.values()].filter((s) => s.tabs.size > 0).map((s) => s.name)
  }

  async countStates(site: string): Promise<LiveCounts> { return this.countsOf(site) }
  async pages(site: string): Promise<PageCounts[]> { return this.pagesOf(site) }
  async sites(): Promise<string[]> { return this.siteNames() }
  async connections(site: string): Promise<ConnectionView[]> { return this.connectionsOf(site) }
  async processes(): Promise<ProcessView[]> { return this.procs.list(this.now()) }
  async snapshot(site: string): Promise<PresenceSnapshot> { return this.snapshotOf(site) }
}
