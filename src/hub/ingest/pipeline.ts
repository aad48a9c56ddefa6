/**
 * One frame in, one ack out: decode, validate each event, derive the visitor, let the live parts
 * see it, queue the rows, and answer once they are committed. Frame-level faults throw a
 * LivestatsError (the transport turns it into a 4xx or a close code); event-level faults become
 * rejections in the ack while the rest of the frame is accepted.
 */
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import { WEB_TYPES, type LivestatsEvent } from '../../protocol/schema'
import type { Ack, Rejection } from '../../protocol/messages'
import type { HubConfig } from '../config'
import type { HubMetrics } from '../metrics'
import type { StoredEvent } from '../store/types'
import { toRow } from './enrich'
import { SiteHosts } from './site-hosts'
import type { Accepted, ClientInfo, IngestListener } from './types'
import { isInvalid, type Validator } from './validate'
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

export class Ingest {
  private readonly allowed: ReadonlySet<string> | null
  private readonly hosts: SiteHosts
  private visitors = new WeakMap<ClientInfo, Map<string, string>>()
  // ClientInfo is per WebSocket and per keep-alive HTTP socket; a bounded map keyed by what the
  // hash covers saves the HMAC for new HTTP sockets too
  private httpVisitors = new Map<string, string>()
  readonly listeners: IngestListener[] = []

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

  private visitorOf(client: ClientInfo, site: string): string {
    let bySite = this.visitors.get(client)
    if (bySite === undefined) this.visitors.set(client, (bySite = new Map()))
    let v = bySite.get(site)
    if (v !== undefined) return v
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

  private refuse(out: Rejection[], i: number, item: unknown, code: ErrorCode, message: string): void {
    const id = (item as { id?: unknown } | null)?.id
    out.push(typeof id === 'string' && id.length <= 64 ? { i, id, code, message } : { i, code, message })
    this.metrics.reject(code)
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
        this.admitFrame(decoded, now, client, done)
      }, (err: unknown) => done(err, null))
      return
    }
    this.admitFrame(decoded, now, client, done)
  }

  private admitFrame({ seq, items }: Decoded, now: number, client: ClientInfo, done: HandleDone): void {
    const rejected: Rejection[] = []
    const rows: StoredEvent[] = []
    try {
      this.sort(items, now, client, rejected, rows)
    } catch (err) {
      done(err, null)
      return
    }
    if (rows.length === 0) {
      done(null, this.ack(seq, items, rejected, 0, 0))
      return
    }
    this.writer.enqueue(rows, (err, fresh) => {
      if (fresh === null) {
        this.config.logger.error('livestats: store failed to commit a batch', err)
        done(new LivestatsError('LS_ERR_STORE_UNAVAILABLE'), null)
        return
      }
      let stored = 0
      for (const f of fresh) if (f) stored++
      done(null, this.ack(seq, items, rejected, stored, rows.length - stored))
    })
  }

  /** Validates and admits each event: rows to write go to `rows`, refusals to `rejected`. */
  private sort(items: unknown[], now: number, client: ClientInfo, rejected: Rejection[], rows: StoredEvent[]): void {
    if (this.writer.pending > this.config.maxQueuedRows) throw new LivestatsError('LS_ERR_OVERLOADED')
    this.metrics.received += items.length
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      const ev = this.validator.check(item)
      if (isInvalid(ev)) {
        this.refuse(rejected, i, item, ev.code, ev.message)
        continue
      }
      const code = this.admit(ev, client)
      if (code !== null) {
        this.refuse(rejected, i, item, code, new LivestatsError(code).message)
        continue
      }
      const web = WEB_TYPES.has(ev.type)
      const visitor = web ? this.visitorOf(client, (ev as { site: string }).site) : null
      const accepted: Accepted = { event: ev, ts: now, visitor, row: toRow(ev, now, visitor, client, this.hosts) }
      let refusedBy: ErrorCode | null = null
      for (const l of this.listeners) {
        refusedBy = l.accept(accepted, client)
        if (refusedBy !== null) break
      }
      if (refusedBy !== null) {
        this.refuse(rejected, i, item, refusedBy, new LivestatsError(refusedBy).message)
        continue
      }
      if (accepted.row !== null) rows.push(accepted.row)
    }
  }

  private ack(seq: number | undefined, items: unknown[], rejected: Rejection[], stored: number, duplicates: number): Handled {
    this.metrics.stored += stored
    this.metrics.duplicates += duplicates
    const ack: Ack = { type: 'ack', stored, duplicates, rejected }
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
      return null
    }
    if (this.config.requireToken && !client.authenticated) return 'LS_ERR_TRACKER_FORBIDDEN'
    return null
  }
}
