/**
 * The live channel for dashboards: WebSocket `/live`. A dashboard names a site (`?site=NAME`, or
 * `{ "type": "subscribe", "site": NAME }` at any time), gets a full snapshot at once, then diffs
 * (see `protocol.ts`, `docs/live.md`). It reads presence for snapshots and the bus for changes,
 * so it works the same over memory or Redis backends, and it never calls back into ingest.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import { rawError } from '../http/reply'
import { messageText } from '../http/ws-text'
import type { FeedPageview } from '../bus/messages'
import { channels, type Bus } from '../bus/types'
import type { Presence } from '../presence/types'
import { LiveClient } from './client'
import { feedIds, opaqueFeed } from './feed'
import { DEFAULT_LIVE_LIMITS, type LiveLimits } from './limits'
import { parseClientMessage, type ErrorMessage, type HelloMessage, type SnapshotMessage } from './protocol'
import { SiteStream } from './stream'

export interface LiveChannelOptions {
  presence: Presence
  bus: Bus
  limits?: Partial<LiveLimits>
  /**
   * May this request watch `site` (null: connect without a site yet)? The hub checks its token here.
   * @default every request may watch every site
   */
  authorize?: (req: IncomingMessage, site: string | null) => Authorized | Promise<Authorized>
  /**
   * Checked first, on the upgrade request (the hub checks `Origin` and `Host` here). A refusal is
   * not an HTTP status, which a page cannot read from a failed WebSocket: the handshake completes,
   * the error is sent as `{ type: 'error', code }`, and the socket closes with the code's close code
   * and the code as reason. Nothing else is sent. @default every request is admitted
   */
  admit?: (req: IncomingMessage) => LivestatsError | null
  /** Latest pageviews for a snapshot, newest first (the hub reads them from the store). @default none */
  recent?: (site: string) => Promise<FeedPageview[]>
  /**
   * Turns a pageview's event id into the id dashboards see (snapshots and diffs alike).
   * @default feedIds(): a keyed hash under a secret made when the channel is created
   */
  feedId?: (id: string) => string
  /**
   * True for a dashboard that may see its one site alone (a share link, issue 15.5): it gets no
   * processes (they belong to apps, not sites), no other site's name (`hello`, `site` frames).
   * Nor client addresses in the feed (`ip: null`). Asked once per connection. @default no dashboard is scoped
   */
  scoped?: (req: IncomingMessage) => boolean
  /** @default console.error */
  onError?: (err: unknown) => void
}

/** `true`: may watch; `false`: LS_ERR_UNAUTHORIZED; an error code: refused with that code (a share link on another site). */
export type Authorized = boolean | ErrorCode

/** The code a refusal says, or null when allowed. */
function refusalOf(a: Authorized): ErrorCode | null {
  return a === true ? null : a === false ? 'LS_ERR_UNAUTHORIZED' : a
}

export interface LiveChannel {
  /** For the http server's `upgrade` event on `/live`; `url` saves parsing `req.url` again. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url?: URL): void
  /** Dashboards connected now. */
  readonly clients: number
  /** Closes the dashboards whose upgrade request `match` picks (a revoked share link), with LS_ERR_UNAUTHORIZED. */
  drop(match: (req: IncomingMessage) => boolean): void
  /** Closes every dashboard (1001) and stops listening to the bus. */
  close(): Promise<void>
}

/**
 * @example
 * const live = createLiveChannel({ presence, bus, authorize: (req) => auth.allows(req) })
 * server.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head))
 */
export function createLiveChannel(opts: LiveChannelOptions): LiveChannel {
  const limits: LiveLimits = Object.freeze({ ...DEFAULT_LIVE_LIMITS, ...opts.limits })
  const { presence, bus } = opts
  const authorize = opts.authorize ?? ((): Authorized => true)
  const onError = opts.onError ?? ((err: unknown) => console.error('livestats: live channel', err))
  const feedId = opts.feedId ?? feedIds()
  // UTF-8 is checked in onConnection, so a bad frame is closed with a reason
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.maxPayloadBytes, perMessageDeflate: false, skipUTF8Validation: true })
  const streams = new Map<string, { stream: SiteStream; unsubscribe: () => void }>()
  const all = new Set<LiveClient>()
  let closed = false

  // Processes belong to apps, not sites: every site's dashboards see them.
  const unsubscribeProcesses = bus.subscribe(channels.processes, (m) => {
    for (const s of streams.values()) s.stream.add(m)
  })

  // A new site is news to every dashboard, whatever site it watches: its site list grows, unpolled.
  const unsubscribeSites = bus.subscribe(channels.sites, (m) => {
    if (m.type !== 'site-seen') return
    const frame = JSON.stringify({ type: 'site', site: m.site, at: m.at })
    for (const c of all) if (!c.scoped && c.ws.readyState === c.ws.OPEN && c.ws.bufferedAmount < limits.maxBufferedBytes) c.ws.send(frame)
  })

  const pinger = setInterval(() => {
    for (const c of all) {
      if (!c.alive) {
        c.ws.terminate()
        continue
      }
      c.alive = false
      c.ws.ping()
    }
  }, limits.pingMs)
  pinger.unref()

  function send(ws: WebSocket, msg: HelloMessage | ErrorMessage): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg))
  }

  function sendError(ws: WebSocket, code: ErrorCode): void {
    send(ws, { type: 'error', code, message: new LivestatsError(code).message })
  }

  function leaveStream(c: LiveClient): void {
    if (c.site === null) return
    const s = streams.get(c.site)
    c.site = null
    if (s === undefined) return
    s.stream.clients.delete(c)
    if (s.stream.clients.size === 0) {
      s.unsubscribe()
      s.stream.close()
      streams.delete(s.stream.site)
    }
  }

  function joinStream(c: LiveClient, site: string): void {
    leaveStream(c)
    let s = streams.get(site)
    if (s === undefined) {
      const stream = new SiteStream(site, limits, feedId)
      s = { stream, unsubscribe: bus.subscribe(channels.site(site), (m) => stream.add(m)) }
      streams.set(site, s)
    }
    s.stream.clients.add(c)
    c.site = site
    void sync(c)
  }

  /** Builds and sends a snapshot. Presence is read last, so nothing but microtasks runs between its read and the send. */
  async function sync(c: LiveClient): Promise<void> {
    const site = c.site
    if (site === null) return
    const generation = c.beginSync()
    try {
      const recent = opts.recent ? (await opts.recent(site)).map((m) => opaqueFeed(m, feedId)) : []
      // a share link's dashboard gets no client address, masked or not
      if (c.scoped) for (const r of recent) r.ip = null
      const processes = c.scoped ? [] : await presence.processes()
      const snap = await presence.snapshot(site)
      if (c.generation !== generation || c.ws.readyState !== c.ws.OPEN) return
      const msg: SnapshotMessage = { type: 'snapshot', ...snap, processes, recent }
      c.endSync(JSON.stringify(msg), snap.seq)
    } catch (err) {
      onError(err)
      sendError(c.ws, 'LS_ERR_INTERNAL')
    }
  }

  async function onMessage(c: LiveClient, text: string): Promise<void> {
    const m = parseClientMessage(text, limits.maxSiteLength)
    if (m === null) return sendError(c.ws, 'LS_ERR_BAD_QUERY')
    const no = refusalOf(await authorize(c.req, m.site))
    if (no !== null) return sendError(c.ws, no)
    if (c.ws.readyState === c.ws.OPEN) joinStream(c, m.site)
  }

  function onConnection(ws: WebSocket, req: IncomingMessage, site: string | null): void {
    const c = new LiveClient(ws, req, limits, (x) => void sync(x), opts.scoped?.(req) ?? false)
    all.add(c)
    ws.on('pong', () => { c.alive = true })
    ws.on('message', (data) => {
      const text = messageText(data)
      if (text === null) return closeWith(ws, new LivestatsError('LS_ERR_INVALID_UTF8'))
      onMessage(c, text).catch(onError)
    })
    ws.on('error', () => ws.terminate())
    ws.on('close', () => {
      c.stop()
      leaveStream(c)
      all.delete(c)
    })
    if (site !== null) joinStream(c, site)
    else if (c.scoped) closeWith(ws, new LivestatsError('LS_ERR_SHARE_FORBIDDEN', 'A share link opens /live?site= for its own site'))
    else presence.sites().then((sites) => send(ws, { type: 'hello', v: 1, sites }), onError)
  }

  function closeWith(ws: WebSocket, e: LivestatsError): void {
    send(ws, { type: 'error', code: e.code, message: e.message })
    if (ws.readyState === ws.OPEN) ws.close(e.close, e.code)
  }

  function refuse(socket: Duplex, code: ErrorCode, message?: string): void {
    const e = new LivestatsError(code, message)
    rawError(socket, e, code === 'LS_ERR_UNAUTHORIZED' ? { 'www-authenticate': 'Bearer' } : {})
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const raw = url.searchParams.get('site')
    const site = raw === null || raw === '' ? null : raw
    if (site !== null && site.length > limits.maxSiteLength) return refuse(socket, 'LS_ERR_BAD_QUERY', 'site is too long')
    if (closed) return refuse(socket, 'LS_ERR_SHUTTING_DOWN')
    const refusal = opts.admit?.(req) ?? null
    if (refusal !== null) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => ws.terminate())
        closeWith(ws, refusal)
      })
      return
    }
    if (all.size >= limits.maxClients) return refuse(socket, 'LS_ERR_OVERLOADED', 'Too many dashboards connected')
    const no = refusalOf(await authorize(req, site))
    if (no !== null) return refuse(socket, no)
    if (socket.destroyed) return
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, site))
  }

  return {
    handleUpgrade(req, socket, head, url) {
      let u = url
      if (u === undefined) {
        try {
          u = new URL(req.url ?? '/', 'http://hub')
        } catch {
          return refuse(socket, 'LS_ERR_BAD_QUERY', 'Malformed request URL')
        }
      }
      upgrade(req, socket, head, u).catch((err: unknown) => {
        onError(err)
        socket.destroy()
      })
    },
    get clients() {
      return all.size
    },
    drop(match) {
      for (const c of all) if (match(c.req)) closeWith(c.ws, new LivestatsError('LS_ERR_UNAUTHORIZED'))
    },
    close() {
      closed = true
      clearInterval(pinger)
      unsubscribeProcesses()
      unsubscribeSites()
      for (const s of streams.values()) {
        s.unsubscribe()
        s.stream.close()
      }
      streams.clear()
      for (const c of all) {
        c.stop()
        c.ws.close(1001, 'LS_ERR_SHUTTING_DOWN')
      }
      return new Promise((resolve) => wss.close(() => resolve()))
    },
  }
}
