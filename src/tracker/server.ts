/**
 * The tracker's own WebSocket server (seed 000's direction): dashboards dial it and receive the
 * same protocol frames the hub would, and acknowledge them. While no dashboard is connected,
 * events wait in a bounded backlog that the next dashboard to connect receives first.
 */
import http from 'node:http'
import { WebSocketServer } from 'ws'
import { Link } from './link'
import { Outbox } from './outbox'
import type { Warner } from './warn'

export interface TrackerServerOptions {
  port: number
  host: string | undefined
  buffer: number
  onDrop: (n: number) => void
  warn: Warner
}

export class TrackerServer {
  private readonly backlog: Outbox
  private readonly peers = new Set<Link>()
  private readonly http: http.Server
  private readonly wss: WebSocketServer
  readonly ready: Promise<{ port: number | null }>

  constructor(opts: TrackerServerOptions) {
    this.backlog = new Outbox(opts.buffer, opts.onDrop)
    this.http = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('Livestats tracker: dial this port with a WebSocket\n')
    })
    this.wss = new WebSocketServer({ server: this.http, perMessageDeflate: false, maxPayload: 1024 * 1024 })
    this.wss.on('connection', (ws, req) => {
      req.socket.unref()
      const link = new Link(ws, new Outbox(opts.buffer, opts.onDrop), opts.warn, 'a dashboard')
      if (this.peers.size === 0) link.outbox.absorb(this.backlog)
      this.peers.add(link)
      ws.on('close', () => this.leave(link))
      ws.on('error', () => ws.terminate())
      link.pump()
    })
    this.wss.on('error', () => {}) // reported through the http server's error below
    this.ready = new Promise((resolve) => {
      this.http.once('error', (e) => {
        opts.warn.once('server', `cannot listen on port ${opts.port}: ${String(e)}; dashboards cannot dial this tracker`)
        resolve({ port: null })
      })
      this.http.listen(opts.port, opts.host, () => {
        const a = this.http.address()
        resolve({ port: typeof a === 'object' && a !== null ? a.port : null })
      })
    })
    this.http.unref()
  }

  get peerCount(): number {
    return this.peers.size
  }

  /** Events held for dashboards: the backlog, or the largest buffer of a connected one. */
  get pending(): number {
    let n = this.backlog.size
    for (const p of this.peers) n = Math.max(n, p.outbox.size)
    return n
  }

  push(json: string): void {
    if (this.peers.size === 0) this.backlog.push(json)
    else for (const p of this.peers) p.outbox.push(json)
  }

  pump(): void {
    for (const p of this.peers) p.pump()
  }

  close(): void {
    for (const p of this.peers) p.ws.close(1001)
    this.wss.close()
    this.http.close()
    this.http.closeAllConnections()
  }

  private leave(link: Link): void {
    this.peers.delete(link)
    // the last dashboard gone: what it did not acknowledge waits for the next one
    if (this.peers.size === 0) this.backlog.absorb(link.outbox)
  }
}

