/**
 * The bus across hub nodes: Redis pub/sub, one Redis channel per bus channel. Pub/sub delivers at
 * most once, so presence messages carry absolute counts and a per-site `seq` that Redis itself
 * increments in the same script that publishes (`redis/scripts.ts`): consecutive changes of a site
 * have consecutive numbers. This bus checks them: a gap (a lost message), a reconnect of the
 * subscriber, or a new subscription delivers a `resync` to this node's subscribers of the channel,
 * and the live channel answers with a fresh snapshot, which says everything the lost messages said.
 *
 * While Redis is unreachable, `publish` delivers to this node's subscribers only, so a node's own
 * dashboards keep seeing its own changes (marked partial by presence).
 */
import type { Bus, BusHandler } from './types'
import type { BusMessage, Resync } from './messages'
import { busChannel, seqKeyOf } from '../redis/keys'
import type { RedisLink } from '../redis/link'

export interface RedisBusOptions {
  /** Called when a handler throws, or a message cannot be read. @default logs to stderr */
  onError?: (err: unknown, channel: string) => void
  /** Told of every gap noticed (tests, `/metrics`). @default none */
  onGap?: (channel: string, expected: number, got: number) => void
}

interface Sub {
  handlers: BusHandler[]
  /** Last seq seen on the channel (site channels), or null before the first baseline. */
  last: number | null
}

export class RedisBus implements Bus {
  private readonly subs = new Map<string, Sub>()
  /** Redis channel → bus channel. */
  private readonly names = new Map<string, string>()
  private readonly onError: (err: unknown, channel: string) => void
  private readonly onGap: (channel: string, expected: number, got: number) => void
  private subscribedOnce = false

  constructor(private readonly link: RedisLink, opts: RedisBusOptions = {}) {
    this.onError = opts.onError ?? ((err, channel) => console.error(`livestats: bus on ${channel}`, err))
    this.onGap = opts.onGap ?? ((): void => {})
    link.sub.on('message', (ch: string, text: string) => this.onMessage(ch, text))
    link.sub.on('ready', () => {
      // ioredis subscribed again on its own; messages published while it was away are lost
      if (this.subscribedOnce) for (const channel of this.subs.keys()) void this.rebase(channel, 'reconnected')
    })
  }

  /** Fire and forget; while Redis is unreachable, to this node's subscribers only. */
  publish(channel: string, message: BusMessage): void {
    if (!this.link.up) return this.deliverLocal(channel, message)
    this.link.cmd.publish(busChannel(this.link.prefix, channel), JSON.stringify(message)).catch(() => {
      // the connection dropped under it: presence notices the same drop and resyncs
    })
  }

  subscribe(channel: string, handler: BusHandler): () => void {
    let s = this.subs.get(channel)
    if (s === undefined) {
      s = { handlers: [], last: null }
      this.subs.set(channel, s)
      const redisChannel = busChannel(this.link.prefix, channel)
      this.names.set(redisChannel, channel)
      this.link.sub.subscribe(redisChannel).then(() => {
        this.subscribedOnce = true
        return this.rebase(channel, 'subscribed')
      }, (err: unknown) => this.onError(err, channel))
    }
    s.handlers = [...s.handlers, handler]
    let active = true
    return () => {
      if (!active) return
      active = false
      const cur = this.subs.get(channel)
      if (cur === undefined) return
      cur.handlers = cur.handlers.filter((h) => h !== handler)
      if (cur.handlers.length > 0) return
      this.subs.delete(channel)
      const redisChannel = busChannel(this.link.prefix, channel)
      this.names.delete(redisChannel)
      this.link.sub.unsubscribe(redisChannel).catch(() => {})
    }
  }

  /** Delivers to this node's subscribers only (presence's own changes while Redis is unreachable). */
  deliverLocal(channel: string, message: BusMessage): void {
    const s = this.subs.get(channel)
    if (s === undefined) return
    const list = s.handlers
    for (let i = 0; i < list.length; i++) {
      try {
        ;(list[i] as BusHandler)(message)
      } catch (err) {
        this.onError(err, channel)
      }
    }
  }

  /** Asks every subscriber of `channel` (every site channel when omitted) for a fresh snapshot. */
  resync(reason: Resync['reason'], channel?: string): void {
    const msg: Resync = { type: 'resync', at: Date.now(), reason }
    if (channel !== undefined) return this.deliverLocal(channel, msg)
    for (const c of this.subs.keys()) if (c.startsWith('site:')) this.deliverLocal(c, msg)
  }

  /** Bus channels subscribed on this node (tests, `/metrics`). */
  get channels(): string[] {
    return [...this.subs.keys()]
  }

  /** Reads the channel's seq now, then resyncs: changes after it are checked against it. */
  private async rebase(channel: string, reason: Resync['reason']): Promise<void> {
    const key = seqKeyOf(this.link.prefix, channel)
    const s = this.subs.get(channel)
    if (s !== undefined && key !== null) {
      try {
        const v = await this.link.cmd.get(key)
        s.last = Math.max(s.last ?? 0, Number(v ?? 0))
      } catch {
        s.last = null // no baseline: the next message sets one
      }
    }
    this.resync(reason, channel)
  }

  private onMessage(redisChannel: string, text: string): void {
    const channel = this.names.get(redisChannel)
    if (channel === undefined) return
    const s = this.subs.get(channel)
    if (s === undefined) return
    let m: BusMessage
    try {
      m = JSON.parse(text) as BusMessage
    } catch (err) {
      return this.onError(err, channel)
    }
    this.deliverLocal(channel, m)
    if (m.type !== 'presence') return
    const last = s.last
    if (last === null || m.seq > last) s.last = m.seq
    if (last !== null && m.seq > last + 1) {
      this.onGap(channel, last + 1, m.seq)
      this.resync('gap', channel)
    }
  }

  /** Forgets every handler; the link (shared with presence) is closed by its owner. */
  async close(): Promise<void> {
    this.subs.clear()
    this.names.clear()
  }
}
