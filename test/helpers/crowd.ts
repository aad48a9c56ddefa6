/**
 * Scripted visitors for the cluster tests: tabs on real WebSockets to `/collect` (through the load
 * balancer) that behave as the snippet does — a page view when a tab opens, presence on every state
 * change, heartbeats, and after an unexpected close a reconnect with jitter that says where the tab is
 * (presence with its url) — and that keep every event until its ack and resend it after a reconnect,
 * as a source must. The crowd keeps the ground truth on its own (a naive recount of its open tabs by
 * the rule of docs/live.md: a visitor counts once, in the most active state of its tabs), never from
 * the hub's code.
 */
import WebSocket from 'ws'
import { eventId } from '../../src/protocol/ids'
import { STATES, type PresenceState } from '../../src/protocol/limits'
import type { LiveCounts } from '../../src/hub/presence/types'

export interface CrowdTab {
  cid: string
  visitor: number
  path: string
  state: PresenceState
  /** Still open in the script (closed tabs and abandoned ones are not). */
  open: boolean
  ws: WebSocket | null
  /** Events sent and not yet acked (page views and custom events), by id, with when last sent: resent after a reconnect or a refusal for a store outage. */
  pending: Map<string, { body: string; at: number; page: boolean }>
  reconnects: number
}

export interface CrowdOptions {
  /** ws:// base of the load balancer (or one hub). */
  url: string
  site: string
  /** Heartbeat interval sent with presence, s. @default 15 */
  interval?: number
  /** Longest reconnect delay after an unexpected close (full jitter), ms. @default 1000 */
  jitterMs?: number
  /** Deterministic random source. */
  rnd: () => number
}

export function userAgent(visitor: number): string {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.${visitor}.0 Safari/537.36`
}

export class Crowd {
  readonly tabs = new Map<string, CrowdTab>()
  /** Ids of custom events the hub acked (committed): every one must be stored. */
  readonly acked = new Set<string>()
  /** Ids of every custom event sent. */
  readonly sentEvents = new Set<string>()
  /** Events the hub refused, with their codes (a correct script gets none). */
  readonly rejected: string[] = []
  /** Frame errors (e.g. LS_ERR_STORE_UNAVAILABLE while the database is away): the events are retried. */
  readonly errors: string[] = []
  lastChange = 0
  private readonly opts: Required<CrowdOptions>
  private heartbeat: NodeJS.Timeout | null = null
  private retry: NodeJS.Timeout

  constructor(opts: CrowdOptions) {
    this.opts = { interval: 15, jitterMs: 1000, ...opts }
    // a source retries what was not acked (a store outage answers LS_ERR_STORE_UNAVAILABLE): every 2 s
    this.retry = setInterval(() => {
      const old = Date.now() - 2000
      for (const t of this.tabs.values()) {
        if (t.ws?.readyState !== WebSocket.OPEN) continue
        for (const p of t.pending.values()) if (p.at < old) { p.at = Date.now(); t.ws.send(p.body) }
      }
    }, 1000)
  }

  /** Sends a heartbeat from every open tab every `ms` (as the snippet's `interval`). */
  startHeartbeats(ms: number): void {
    this.heartbeat = setInterval(() => {
      for (const t of this.tabs.values()) if (t.open) this.send(t, { type: 'presence', state: t.state, url: this.url(t) }, false)
    }, ms)
  }

  url(t: CrowdTab): string {
    return `https://${this.opts.site}${t.path}`
  }

  /** Opens a tab for `visitor` on `path` and resolves once its page view is acked. */
  async openTab(visitor: number, path: string): Promise<CrowdTab> {
    const tab: CrowdTab = { cid: eventId().slice(0, 24), visitor, path, state: 'reading', open: true, ws: null, pending: new Map(), reconnects: 0 }
    this.tabs.set(tab.cid, tab)
    this.lastChange = Date.now()
    await this.connect(tab, true)
    return tab
  }

  private connect(tab: CrowdTab, first: boolean): Promise<void> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.opts.url}/collect`, {
        headers: { 'user-agent': userAgent(tab.visitor) },
        // visitors come from many addresses, as from many homes: per-address caps are not under test
        localAddress: `127.0.0.${2 + (tab.visitor % 200)}`,
      })
      tab.ws = ws
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; id?: string; code?: string; rejected?: { code: string }[] }
        if (m.type === 'error') { this.errors.push(m.code ?? ''); return } // kept in pending: retried
        if (m.type !== 'ack') return
        if (m.rejected?.length) { for (const r of m.rejected) this.rejected.push(r.code); return }
        if (m.id !== undefined) {
          if (this.sentEvents.has(m.id)) this.acked.add(m.id)
          tab.pending.delete(m.id)
        }
        if (first) { first = false; resolve() }
      })
      ws.on('open', () => {
        if (first) this.send(tab, { type: 'pageview', url: this.url(tab) }, true)
        else {
          // back after a lost socket: say where the tab is at once, then resend what was not acked
          this.send(tab, { type: 'presence', state: tab.state, url: this.url(tab), interval: this.opts.interval }, false)
          for (const p of tab.pending.values()) { p.at = Date.now(); ws.send(p.body) }
          resolve()
        }
      })
      ws.on('error', () => {})
      ws.on('close', () => {
        if (tab.ws !== ws) return
        tab.ws = null
        if (!tab.open) return
        tab.reconnects++
        setTimeout(() => { if (tab.open) void this.connect(tab, false) }, this.opts.rnd() * this.opts.jitterMs)
        if (first) { first = false; resolve() }
      })
    })
  }

  private send(tab: CrowdTab, fields: Record<string, unknown>, keep: boolean): string {
    const id = eventId()
    const body = JSON.stringify({ id, site: this.opts.site, cid: tab.cid, ...fields })
    if (keep) tab.pending.set(id, { body, at: Date.now(), page: fields.type === 'pageview' })
    if (tab.ws?.readyState === WebSocket.OPEN) tab.ws.send(body)
    return id
  }

  setState(tab: CrowdTab, state: PresenceState): void {
    tab.state = state
    this.lastChange = Date.now()
    this.send(tab, { type: 'presence', state, url: this.url(tab), interval: this.opts.interval }, false)
  }

  /** A route change in the tab (an SPA): a page view; the tab keeps its state, as presence does. */
  navigate(tab: CrowdTab, path: string): void {
    tab.path = path
    this.lastChange = Date.now()
    // an older page view still unacked (the store is away) is not resent: it would move the tab back
    for (const [id, p] of tab.pending) if (p.page) tab.pending.delete(id)
    this.send(tab, { type: 'pageview', url: this.url(tab) }, true)
  }

  /** A custom event, kept until acked and resent after reconnects. */
  track(tab: CrowdTab, name: string): string {
    const id = this.send(tab, { type: 'event', name, url: this.url(tab) }, true)
    this.sentEvents.add(id)
    return id
  }

  /** The person closes the tab: a `leave` (or not, as when a browser is killed) and the socket closes. */
  closeTab(tab: CrowdTab, withLeave: boolean): void {
    tab.open = false
    this.tabs.delete(tab.cid)
    this.lastChange = Date.now()
    if (withLeave) this.send(tab, { type: 'leave' }, false)
    tab.ws?.close()
  }

  /** The tab's browser vanished with the node it was on: no leave, no reconnect, gone from the truth. */
  abandon(tab: CrowdTab): void {
    tab.open = false
    this.tabs.delete(tab.cid)
    this.lastChange = Date.now()
    tab.ws?.terminate()
  }

  /** The local `address:port` of the tab's socket, to ask the proxy which node it is on. */
  localEnd(tab: CrowdTab): string {
    const s = (tab.ws as unknown as { _socket?: { localAddress?: string; localPort?: number } } | null)?._socket
    return `${s?.localAddress ?? ''}:${s?.localPort ?? ''}`
  }

  /** Ground truth from the script's own open tabs. */
  truth(): { counts: LiveCounts; pages: Map<string, LiveCounts> } {
    return recount(this.tabs.values())
  }

  /** Closes every socket without a leave and stops heartbeats. */
  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat)
    clearInterval(this.retry)
    for (const t of this.tabs.values()) { t.open = false; t.ws?.terminate() }
  }
}

/** True when two live count objects agree in every field. */
export function sameCounts(a: LiveCounts | undefined, b: LiveCounts | undefined): boolean {
  return a !== undefined && b !== undefined && a.total === b.total && a.reading === b.reading &&
    a.writing === b.writing && a.idle === b.idle && a.hidden === b.hidden
}

/**
 * Live counts recounted naively from a script's open tabs, by the rule of docs/live.md and not by
 * the hub's code: a visitor counts once, in the most active state of its tabs (hidden counts as idle
 * too), overall and per page.
 */
export function recount(tabs: Iterable<{ visitor: number | string; path: string; state: PresenceState }>): { counts: LiveCounts; pages: Map<string, LiveCounts> } {
  const rank = (s: PresenceState): number => STATES.indexOf(s)
  const best = new Map<number | string, PresenceState>()
  const byPage = new Map<string, Map<number | string, PresenceState>>()
  for (const t of tabs) {
    const b = best.get(t.visitor)
    if (b === undefined || rank(t.state) < rank(b)) best.set(t.visitor, t.state)
    let pm = byPage.get(t.path)
    if (pm === undefined) byPage.set(t.path, (pm = new Map()))
    const pb = pm.get(t.visitor)
    if (pb === undefined || rank(t.state) < rank(pb)) pm.set(t.visitor, t.state)
  }
  const tally = (m: Map<number | string, PresenceState>): LiveCounts => {
    const c = { total: m.size, reading: 0, writing: 0, idle: 0, hidden: 0 }
    for (const s of m.values()) {
      c[s]++
      if (s === 'hidden') c.idle++
    }
    return c
  }
  return { counts: tally(best), pages: new Map([...byPage].map(([p, m]) => [p, tally(m)])) }
}
