/**
 * One frame in, one ack out: decode, validate each event (cutting over-long text), derive the
 * visitor, let the live parts see it, queue the rows, and answer once they are committed.
 * Frame-level faults throw a LivestatsError (the transport turns it into a 4xx or a close code);
 * event-level faults become rejections in the ack while the rest of the frame is accepted.
 *
 * The live view and the store agree on which page views happened: a refused event never reaches
 * the listeners; a tab whose page view was refused (or whose commit failed) is dropped from presence
 * and its heartbeats are refused until a later page view of it is accepted; and the live feed
 * hears of a row only once it is committed, and only if it was new.
 */
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import { WEB_TYPES, type LivestatsEvent } from '../../protocol/schema'
import type { Ack, CutReport, Rejection } from '../../protocol/messages'
import type { HubConfig } from '../config'
import type { HubMetrics } from '../metrics'
import type { StoredEvent } from '../store/types'
import { toRow } from './enrich'
import { SiteHosts } from './site-hosts'
import type { Accepted, ClientInfo, IngestListener } from './types'
import { isInvalid, type Validator } from './validate'
import { VisitCarry } from './visit-carry'
import type { VisitorHasher } from './visitor'
import type { BatchWriter } from './writer'

/** A frame's answer: the ack and how many events the frame held. */
export interface Handled {
  ack: Ack
  items: number
}

/** Called once per frame: the ack, or null with a fault (a LivestatsError for the transport to answer). */
export type HandleDone = (err: unknown, result: Handled | null) => void

type Decoded = ReturnType<Validator['decode']>

/** Sites whose visitor hash one client (socket) keeps cached; past it the cache starts over. */
const MAX_SITES_PER_CLIENT = 64

/** Tabs remembered as refused at most; past it the memory starts over (a refused tab may then show again). */
const MAX_REFUSED_TABS = 10_000

function tabKey(site: string, cid: string): string {
  return `${site}\0${cid}`
}

export class Ingest {
  private readonly allowed: ReadonlySet<string> | null
  private readonly hosts: SiteHosts
  private visitors = new WeakMap<ClientInfo, Map<string, string>>()
  // ClientInfo is per WebSocket and per keep-alive HTTP socket; a bounded map keyed by what the
  // hash covers saves the HMAC for new HTTP sockets too
  private httpVisitors = new Map<string, string>()
  private readonly carry = new VisitCarry(Date.now())
  readonly listeners: IngestListener[] = []
  /**
   * `site \0 cid` of tabs whose latest page view was refused or not stored: not live until the next
   * one is. Each names who sent that page view (IP, user agent): only their own heartbeats are held
   * back, so a stranger's refused page view with someone else's `cid` blocks no one but the stranger.
   */
  private readonly refusedTabs = new Map<string, { ip: string; agent: string }>()
  /** Reused by every check: JSON pointers of the fields cut in the event being checked. */
  private readonly cutScratch: string[] = []

  constructor(
    private readonly config: HubConfig,
    private readonly validator: Validator,
    private readonly hasher: VisitorHasher,
    private readonly writer: BatchWriter,
    private readonly metrics: HubMetrics,
  ) {
    this.allowed = config.sites.length > 0 ? new Set(config.sites) : null
    this.hosts = new SiteHosts(config.siteHosts)
  }

  private visitorOf(client: ClientInfo, site: string, now: number): string {
    let bySite = this.visitors.get(client)
    if (bySite === undefined) this.visitors.set(client, (bySite = new Map()))
    let v = bySite.get(site)
    if (v !== undefined) return v
    // one socket naming thousands of sites must not grow this for as long as it stays open
    if (bySite.size >= MAX_SITES_PER_CLIENT) bySite.clear()
    if (this.carry.active) {
      // a visit going on at midnight keeps yesterday's id; not cached, so it ends with the visit
      const old = this.hasher.hashPrevious(site, client.ipRaw, client.userAgent)
      if (old !== null && this.carry.carries(old, now)) return old
    }
    if (client.connection === null) {
      // a new keep-alive socket from an agent seen before: same hash, no HMAC
      const key = `${site}\0${client.ipRaw}\0${client.userAgent}`
      v = this.httpVisitors.get(key)
      if (v === undefined) {
        if (this.httpVisitors.size >= 50_000) this.httpVisitors.clear()
        this.httpVisitors.set(key, (v = this.hasher.hash(site, client.ipRaw, client.userAgent)))
      }
    } else {
      v = this.hasher.hash(site, client.ipRaw, client.userAgent)
    }
    bySite.set(site, v)
    return v
  }

  private refuse(out: Rejection[], i: number, item: unknown, code: ErrorCode, message: string, client: ClientInfo): void {
    const ev = item as { id?: unknown; type?: unknown; site?: unknown; cid?: unknown } | null
    const id = ev?.id
    out.push(typeof id === 'string' && id.length <= 64 ? { i, id, code, message } : { i, code, message })
    this.metrics.reject(code)
    if (ev?.type === 'pageview' && typeof ev.site === 'string' && typeof ev.cid === 'string') this.dropTab(ev.site, ev.cid, client)
  }

  /**
   * The tab's page view was refused or lost: presence drops it and its heartbeats are refused, when
   * `client` owns the tab (presence checks; issue 10.3): anyone else's page view ends nothing.
   */
  private dropTab(site: string, cid: string, client: ClientInfo): void {
    if (this.refusedTabs.size >= MAX_REFUSED_TABS) this.refusedTabs.clear()
    this.refusedTabs.set(tabKey(site, cid), { ip: client.ipRaw, agent: client.userAgent })
    for (const l of this.listeners) l.dropTab?.(site, cid, client)
  }

  /** Handles one frame's text. Resolves with the ack once the accepted rows are committed. */
  handle(text: string, client: ClientInfo): Promise<Handled> {
    return new Promise((resolve, reject) => this.receive(text, client, (err, r) => (r === null ? reject(err) : resolve(r))))
  }

  /**
   * `handle` with a callback, for the HTTP hot path: no promise or microtask per request except the
   * commit's. `done` is called once, synchronously for a frame with nothing to commit or a fault.
   */
  receive(text: string, client: ClientInfo, done: HandleDone): void {
    let decoded: Decoded
    try {
      decoded = this.validator.decode(text)
    } catch (err) {
      done(err, null)
      return
    }
    const now = Date.now()
    if (this.hasher.stale(now)) {
      this.hasher.rotate(now).then(() => {
        this.visitors = new WeakMap()
        this.httpVisitors = new Map()
        this.carry.rotated(now)
        this.admitFrame(decoded, now, client, done)
      }, (err: unknown) => done(err, null))
      return
    }
    this.admitFrame(decoded, now, client, done)
  }

  private admitFrame({ seq, items }: Decoded, now: number, client: ClientInfo, done: HandleDone): void {
    const rejected: Rejection[] = []
    const rows: StoredEvent[] = []
    const accepted: Accepted[] = []
    let cut: CutReport[] | null
    try {
      cut = this.sort(items, now, client, rejected, rows, accepted)
    } catch (err) {
      done(err, null)
      return
    }
    if (rows.length === 0) {
      done(null, this.ack(seq, items, rejected, cut, 0, 0))
      return
    }
    this.writer.enqueue(rows, (err, fresh) => {
      if (fresh === null) {
        this.config.logger.error('livestats: store failed to commit a batch', err)
        // The store is away, not the visitor: presence keeps the tab on its new page (a refused page
        // view drops it, see sort), so the live view stays exact through a database outage (issue
        // 14.4). Nothing reaches the feed until the source's resend is committed.
        done(new LivestatsError('LS_ERR_STORE_UNAVAILABLE'), null)
        return
      }
      let stored = 0
      for (let k = 0; k < fresh.length; k++) {
        if (!fresh[k]) continue
        stored++
        const a = accepted[k] as Accepted
        for (const l of this.listeners) {
          if (l.committed === undefined) continue
          // a listener's fault must not lose the source's ack (the rows are committed)
          try {
            l.committed(a, client)
          } catch (err) {
            this.config.logger.error('livestats: a committed-event listener threw', err)
          }
        }
      }
      done(null, this.ack(seq, items, rejected, cut, stored, rows.length - stored))
    })
  }

  /**
   * Validates and admits each event: rows to write go to `rows` (their events to `accepted`, in
   * step), refusals to `rejected`. Returns the events whose fields were cut, or null.
   */
  private sort(
    items: unknown[], now: number, client: ClientInfo, rejected: Rejection[], rows: StoredEvent[], accepted: Accepted[],
  ): CutReport[] | null {
    if (this.writer.pending > this.config.maxQueuedRows) throw new LivestatsError('LS_ERR_OVERLOADED')
    this.metrics.received += items.length
    const scratch = this.cutScratch
    let cut: CutReport[] | null = null
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      const ev = this.validator.check(item, scratch)
      if (isInvalid(ev)) {
        this.refuse(rejected, i, item, ev.code, ev.message, client)
        continue
      }
      const code = this.admit(ev, client)
      if (code !== null) {
        scratch.length = 0
        this.refuse(rejected, i, item, code, new LivestatsError(code).message, client)
        continue
      }
      const web = WEB_TYPES.has(ev.type)
      const visitor = web ? this.visitorOf(client, (ev as { site: string }).site, now) : null
      if (visitor !== null) this.carry.note(visitor, now)
      const a: Accepted = { event: ev, ts: now, visitor, row: toRow(ev, now, visitor, client, this.hosts) }
      let refusedBy: ErrorCode | null = null
      for (const l of this.listeners) {
        refusedBy = l.accept(a, client)
        if (refusedBy !== null) break
      }
      if (refusedBy !== null) {
        scratch.length = 0
        this.refuse(rejected, i, item, refusedBy, new LivestatsError(refusedBy).message, client)
        continue
      }
      if (scratch.length > 0) {
        const r: CutReport = { i, id: ev.id, fields: scratch.slice() }
        scratch.length = 0
        this.metrics.cut++
        ;(cut ??= []).push(r)
      }
      if (a.row !== null) {
        rows.push(a.row)
        accepted.push(a)
      }
    }
    return cut
  }

  /** A heartbeat of a tab whose page view its sender saw refused: the tab is not live, so neither is this. */
  private refusedTab(ev: LivestatsEvent, client: ClientInfo): boolean {
    if (ev.type !== 'pageview' && ev.type !== 'presence') return false
    if (ev.cid === undefined) return false
    const key = tabKey(ev.site, ev.cid)
    const by = this.refusedTabs.get(key)
    if (by === undefined || by.ip !== client.ipRaw || by.agent !== client.userAgent) return false
    if (ev.type === 'pageview') {
      this.refusedTabs.delete(key)
      return false
    }
    return true
  }

  private ack(
    seq: number | undefined, items: unknown[], rejected: Rejection[], cut: CutReport[] | null, stored: number, duplicates: number,
  ): Handled {
    this.metrics.stored += stored
    this.metrics.duplicates += duplicates
    const ack: Ack = { type: 'ack', stored, duplicates, rejected }
    if (cut !== null) ack.cut = cut
    if (seq !== undefined) ack.seq = seq
    else if (items.length === 1) {
      const id = (items[0] as { id?: unknown } | null)?.id
      if (typeof id === 'string' && id.length <= 64) ack.id = id
    }
    return { ack, items: items.length }
  }

  /** Rules that depend on the hub's settings, not on the event's shape. */
  private admit(ev: LivestatsEvent, client: ClientInfo): ErrorCode | null {
    if (WEB_TYPES.has(ev.type)) {
      if (this.allowed !== null && !this.allowed.has((ev as { site: string }).site)) return 'LS_ERR_SITE_NOT_ALLOWED'
      if (this.refusedTabs.size > 0 && this.refusedTab(ev, client)) return 'LS_ERR_UNKNOWN_CONNECTION'
      return null
    }
    if (this.config.requireToken && !client.authenticated) return 'LS_ERR_TRACKER_FORBIDDEN'
    return null
  }
}
