/**
 * A small real `ws` server that speaks the hub's side of protocol v1 for the tracker tests:
 * stores events by id (a resend counts as a duplicate, as the real store does) and acks frames.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import type { LivestatsEvent } from '../src/protocol/schema'

export interface FakeHubOptions {
  port?: number
  /** Acknowledge frames (false: swallow them, as a hub that dies before committing). @default true */
  ack?: boolean
}

export class FakeHub {
  readonly events = new Map<string, LivestatsEvent>()
  readonly order: string[] = []
  frames = 0
  duplicates = 0
  connections = 0
  readonly auth: (string | undefined)[] = []
  ack: boolean
  private wss: WebSocketServer | null = null
  private readonly sockets = new Set<WebSocket>()

  constructor(private port = 0, opts: FakeHubOptions = {}) {
    this.ack = opts.ack ?? true
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`
  }

  start(): Promise<this> {
    return new Promise((resolve, reject) => {
      const wss = new WebSocketServer({ port: this.port, host: '127.0.0.1', path: '/collect' })
      this.wss = wss
      wss.once('error', reject)
      wss.on('listening', () => {
        this.port = (wss.address() as { port: number }).port
        resolve(this)
      })
      wss.on('connection', (ws, req) => {
        this.connections++
        this.auth.push(req.headers.authorization)
        this.sockets.add(ws)
        ws.on('close', () => this.sockets.delete(ws))
        ws.on('message', (data) => this.onFrame(ws, String(data)))
      })
    })
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.terminate()
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()))
    this.wss = null
  }

  ofType<T extends LivestatsEvent['type']>(type: T): Extract<LivestatsEvent, { type: T }>[] {
    const out: Extract<LivestatsEvent, { type: T }>[] = []
    for (const id of this.order) {
      const e = this.events.get(id)
      if (e !== undefined && e.type === type) out.push(e as Extract<LivestatsEvent, { type: T }>)
    }
    return out
  }

  private onFrame(ws: WebSocket, text: string): void {
    this.frames++
    const frame = JSON.parse(text) as { v: number; seq: number; events: LivestatsEvent[] }
    let stored = 0
    let duplicates = 0
    for (const e of frame.events) {
      if (this.events.has(e.id)) duplicates++
      else {
        this.events.set(e.id, e)
        this.order.push(e.id)
        stored++
      }
    }
    if (!this.ack) return
    this.duplicates += duplicates
    ws.send(JSON.stringify({ type: 'ack', seq: frame.seq, stored, duplicates, rejected: [] }))
  }
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const h = await new FakeHub().start()
  const port = Number(new URL(h.url).port)
  await h.stop()
  return port
}

/** Polls `cond` every 10 ms until true or `ms` pass. */
export async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}

/** A logger that records warnings. */
export function recorder(): { warn: (...a: unknown[]) => void; lines: string[] } {
  const lines: string[] = []
  return { lines, warn: (...a: unknown[]) => lines.push(a.map(String).join(' ')) }
}
