/**
 * A TCP proxy on loopback for the cluster tests: round-robin over several backends (the load balancer
 * in front of the hub processes), or one backend that a test can cut and restore (PostgreSQL or Redis
 * going away without stopping the shared server). Bytes pass through untouched, so WebSockets work.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface Backend {
  host: string
  port: number
}

export interface TcpProxy {
  port: number
  /** Connections made through the proxy and still open, by backend index. */
  open(backend: number): number
  /** The backend a still-open connection went to, by the client's local `address:port` (its remote one here). */
  backendOf(client: string): number | undefined
  /** Stops accepting (new connections are refused) and destroys every open connection. */
  cut(): void
  /** Accepts again after `cut`. */
  restore(): void
  /** Takes one backend out of the rotation (a dead node) or puts it back. */
  setDown(backend: number, down: boolean): void
  close(): Promise<void>
}

/**
 * Starts a proxy on 127.0.0.1, port 0. Each connection goes to the next backend in turn; a backend
 * that refuses the connection (or is marked down) is skipped, as a load balancer's health check would.
 */
export async function startTcpProxy(backends: readonly Backend[]): Promise<TcpProxy> {
  let next = 0
  let cut = false
  const down = new Set<number>()
  const live = backends.map(() => new Set<net.Socket>())
  const byPort = new Map<string, number>()

  function connect(client: net.Socket, tried: number): void {
    if (cut || tried >= backends.length) { client.destroy(); return }
    const i = next++ % backends.length
    if (down.has(i)) { connect(client, tried + 1); return }
    const b = backends[i] as Backend
    const cport = `${client.remoteAddress ?? ''}:${client.remotePort ?? ''}`
    const upstream = net.connect({ host: b.host, port: b.port })
    let connected = false
    upstream.once('connect', () => {
      connected = true
      if (cut || client.destroyed) { upstream.destroy(); client.destroy(); return }
      live[i]?.add(client)
      live[i]?.add(upstream)
      byPort.set(cport, i)
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
    const end = (): void => {
      if (byPort.get(cport) === i) byPort.delete(cport)
      live[i]?.delete(client)
      live[i]?.delete(upstream)
      client.destroy()
      upstream.destroy()
    }
    upstream.on('error', () => { if (!connected) connect(client, tried + 1); else end() })
    upstream.on('close', () => { if (connected) end() })
    client.on('error', end)
    client.on('close', end)
  }

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    if (cut) { client.destroy(); return }
    connect(client, 0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    open: (i) => Math.floor((live[i]?.size ?? 0) / 2),
    backendOf: (p) => byPort.get(p),
    cut() {
      cut = true
      for (const set of live) for (const s of set) s.destroy()
    },
    restore() { cut = false },
    setDown(i, isDown) { if (isDown) down.add(i); else down.delete(i) },
    async close() {
      cut = true
      for (const set of live) for (const s of set) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
