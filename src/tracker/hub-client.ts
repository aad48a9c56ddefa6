/**
 * The tracker dialling a hub's `/collect`: one outbox kept across reconnects, exponential
 * backoff with jitter, and sockets that never keep the host process alive (unref'd).
 */
import net from 'node:net'
import tls from 'node:tls'
import WebSocket from 'ws'
import { Link } from './link'
import { Outbox } from './outbox'
import type { Warner } from './warn'

export interface HubClientOptions {
  url: string
  token: string | undefined
  buffer: number
  onDrop: (n: number) => void
  warn: Warner
}

export type HubState = 'connecting' | 'open' | 'down'

const BACKOFF_MIN_MS = 250
const BACKOFF_MAX_MS = 30_000

/** Delay before reconnect attempt `n` (0-based): doubling from 250 ms to 30 s, 50–100 % of it at random. */
export function backoff(n: number, random: () => number = Math.random): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(n, 20))
  return Math.round(base * (0.5 + 0.5 * random()))
}

/** `ws://host:3000` → `ws://host:3000/collect`; `http(s)` becomes `ws(s)`; another path is kept. */
export function collectUrl(raw: string): string {
  const u = new URL(raw)
  if (u.protocol === 'http:') u.protocol = 'ws:'
  else if (u.protocol === 'https:') u.protocol = 'wss:'
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`unsupported protocol ${u.protocol}`)
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/collect'
  return u.toString()
}

export class HubClient {
  readonly outbox: Outbox
  state: HubState = 'down'
  /** Connection attempts that failed since the last open (drives the backoff). */
  private failures = 0
  /** "Not now" refusals (store down, queue full) since the last ack: they drive the backoff too. */
  private refusals = 0
  /** Failures since `expedite()`: a flush at exit stops waiting for a hub that is not there. */
  failuresSinceExpedite = 0
  private link: Link | null = null
  private timer: NodeJS.Timeout | null = null
  private closed = false

  constructor(private readonly opts: HubClientOptions) {
    this.outbox = new Outbox(opts.buffer, opts.onDrop)
  }

  start(): void {
    this.connect()
  }

  /** Sends what is queued, if connected. */
  pump(): void {
    this.link?.pump()
  }

  /** Dial now instead of waiting out the backoff (used by `close()`). */
  expedite(): void {
    this.failuresSinceExpedite = 0
    this.failures = 0
    if (this.state === 'down' && !this.closed) {
      if (this.timer !== null) clearTimeout(this.timer)
      this.timer = null
      this.connect()
    }
  }

  close(): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const ws = this.link?.ws
    this.link = null
    if (ws !== undefined) {
      try {
        ws.close(1000)
      } catch {
        ws.terminate()
      }
    }
  }

  private connect(): void {
    if (this.closed) return
    this.state = 'connecting'
    const headers: Record<string, string> = {}
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`
    let ws: WebSocket
    try {
      ws = new WebSocket(this.opts.url, {
        perMessageDeflate: false,
        handshakeTimeout: 10_000,
        headers,
        createConnection: unrefConnect(this.opts.url.startsWith('wss:')) as unknown as typeof net.createConnection,
      })
    } catch (e) {
      this.opts.warn.once('hub', `cannot dial the hub at ${this.opts.url}: ${String(e)}`)
      this.failed()
      return
    }
    // an ack ends a run of refusals; a refusal closes the link, and the reconnect waits longer each time
    const link = new Link(ws, this.outbox, this.opts.warn, 'the hub', (acked) => {
      this.refusals = acked ? 0 : this.refusals + 1
    })
    this.link = link
    ws.on('open', () => {
      this.state = 'open'
      this.failures = 0
      link.pump()
    })
    ws.on('error', (e) => {
      this.opts.warn.once('hub', `hub at ${this.opts.url} unreachable (${errCode(e)}); buffering and retrying with backoff`)
    })
    ws.on('close', () => {
      this.outbox.requeue()
      if (this.link === link) this.link = null
      this.failed()
    })
  }

  private failed(): void {
    this.state = 'down'
    this.failures++
    this.failuresSinceExpedite++
    if (this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.connect()
    }, backoff(Math.max(this.failures - 1, this.refusals - 1)))
    this.timer.unref()
  }
}

function errCode(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : String(e)
}

/** The socket ws would open, unref'd: a tracker never keeps its host process alive. */
function unrefConnect(secure: boolean): (options: ConnectOptions) => net.Socket {
  return (o) => {
    // ws puts the URL path in `path`, which net.connect would take for an IPC socket path
    const s = secure
      ? tls.connect({ ...o, path: undefined, servername: o.servername ?? (net.isIP(o.host ?? '') ? '' : o.host) })
      : net.connect({ ...o, path: o.socketPath } as net.NetConnectOpts)
    s.unref()
    return s
  }
}

type ConnectOptions = tls.ConnectionOptions & { host?: string; socketPath?: string }
