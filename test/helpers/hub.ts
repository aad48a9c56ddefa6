/** Test helpers: a real hub on a temp SQLite file, and small clients for both transports. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import http from 'node:http'
import WebSocket from 'ws'
import { createHub, type Hub } from '../../src/hub/hub'
import type { HubInput } from '../../src/hub/config'
import type { Ack, ErrorReply } from '../../src/protocol/messages'

export const CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

export const quiet = { info() {}, warn() {}, error() {}, debug() {} }

export interface TestHub {
  hub: Hub
  url: string
  dir: string
  stop(): Promise<void>
}

export async function startHub(opts: HubInput = {}): Promise<TestHub> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-test-'))
  const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), logger: quiet, ...opts })
  const { url } = await hub.listen()
  return {
    hub, url, dir,
    async stop() {
      await hub.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

let n = 0
/** A unique, valid event id. */
export function id(prefix = 'ev'): string {
  return `${prefix}${process.pid.toString(36)}x${(++n).toString(36).padStart(8, '0')}`
}

export function pageview(site: string, url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: id(), type: 'pageview', site, url, ...extra }
}

export async function post(
  base: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${base}/api/collect`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers }
}

/**
 * POST /api/collect from a chosen client address (any of 127.0.0.0/8 on Linux) and user agent, on a
 * fresh connection; `rejected` is the `X-Livestats-Rejected` header.
 */
export function postFrom(
  base: string, body: unknown, localAddress = '127.0.0.1', ua = CHROME_UA,
): Promise<{ status: number; body: Ack; rejected: string | undefined }> {
  const u = new URL('/api/collect', base)
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress, agent: false,
      headers: { 'content-type': 'text/plain', 'user-agent': ua, 'content-length': Buffer.byteLength(text) },
    }, (res) => {
      let b = ''
      res.on('data', (d) => (b += String(d)))
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, body: JSON.parse(b) as Ack, rejected: res.headers['x-livestats-rejected'] as string | undefined,
      }))
    })
    req.on('error', reject)
    req.end(text)
  })
}

/** A collect WebSocket that collects replies; `send` resolves with the next reply. */
export class CollectClient {
  readonly ws: WebSocket
  readonly replies: (Ack | ErrorReply)[] = []
  private waiters: ((m: Ack | ErrorReply) => void)[] = []
  closed: Promise<{ code: number; reason: string }>

  /** `opts` reach `ws` as they are: e.g. `localAddress: '127.0.0.2'` for another client IP. */
  constructor(base: string, headers: Record<string, string> = { 'user-agent': CHROME_UA }, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}/collect`, { headers, ...opts })
    this.ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as Ack | ErrorReply
      this.replies.push(m)
      this.waiters.shift()?.(m)
    })
    this.closed = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })))
    this.ws.on('error', () => {}) // a refused upgrade shows in `closed` (1006); tests read that
  }

  open(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === WebSocket.OPEN) return resolve()
      this.ws.once('open', () => resolve())
      this.ws.once('error', reject)
    })
  }

  next(): Promise<Ack | ErrorReply> {
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  async send(frame: unknown): Promise<Ack | ErrorReply> {
    await this.open()
    const reply = this.next()
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
    return reply
  }

  close(): void {
    this.ws.close()
  }
}
