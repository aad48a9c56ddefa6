/** A real http.Server on port 0 with the live channel, and dashboards as real `ws` clients. */
import { createServer, type Server } from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import WebSocket from 'ws'
import { MemoryBus } from '../../src/hub/bus/memory'
import { MemoryPresence, type MemoryPresenceOptions } from '../../src/hub/presence/memory'
import { createLiveChannel, type LiveChannel, type LiveChannelOptions } from '../../src/hub/live/channel'
import type { ServerMessage } from '../../src/hub/live/protocol'

export interface Rig {
  server: Server
  port: number
  bus: MemoryBus
  presence: MemoryPresence
  live: LiveChannel
  close(): Promise<void>
}

export async function rig(
  opts: Partial<Omit<LiveChannelOptions, 'presence' | 'bus'>> = {}, popts: MemoryPresenceOptions = {},
): Promise<Rig> {
  const bus = new MemoryBus()
  const presence = new MemoryPresence({ sweepMs: 0, ...popts, bus })
  const live = createLiveChannel({ ...opts, presence, bus })
  const server = createServer((_req, res) => res.writeHead(404).end())
  server.on('upgrade', (req, socket, head) => live.handleUpgrade(req, socket, head))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  return {
    server, port, bus, presence, live,
    async close() {
      await live.close()
      await presence.close()
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

export interface Dash {
  ws: WebSocket
  /** The raw TCP socket, to pause it (a slow dashboard). */
  socket: net.Socket | null
  messages: ServerMessage[]
  /** Arrival time (performance.now()) of each message. */
  times: number[]
  waitFor(pred: (m: ServerMessage) => boolean, ms?: number): Promise<ServerMessage>
  close(): void
}

export function dashboard(port: number, query = ''): Promise<Dash> {
  let socket: net.Socket | null = null
  // keep the raw socket so a test can pause it (a dashboard that stops reading)
  const connect = ((o: net.NetConnectOpts) => (socket = net.createConnection(o))) as typeof net.createConnection
  const ws = new WebSocket(`ws://127.0.0.1:${port}/live${query}`, { createConnection: connect })
  const d: Dash = {
    ws, get socket() { return socket }, messages: [], times: [],
    waitFor(pred, ms = 2000) {
      const found = d.messages.find(pred)
      if (found) return Promise.resolve(found)
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { ws.off('message', on); reject(new Error('timed out waiting for a message')) }, ms)
        const on = (): void => {
          const m = d.messages.at(-1)
          if (m !== undefined && pred(m)) { clearTimeout(t); ws.off('message', on); resolve(m) }
        }
        ws.on('message', on)
      })
    },
    close() { ws.close() },
  }
  ws.on('message', (data) => {
    d.times.push(performance.now())
    d.messages.push(JSON.parse(String(data)) as ServerMessage)
  })
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(d))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
  })
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
