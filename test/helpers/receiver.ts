/** A real webhook receiver on loopback (node:http, port 0): records every POST, fails the first `failFirst`. */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received {
  at: number
  headers: http.IncomingHttpHeaders
  body: Record<string, unknown>
  /** The status this receiver answered. */
  answered: number
}

export class Receiver {
  readonly got: Received[] = []
  /** Answers 500 to this many requests first, then 200. */
  failFirst = 0
  private server: http.Server | null = null
  url = ''

  async start(path = '/hook'): Promise<this> {
    this.server = http.createServer((req, res) => {
      let b = ''
      req.on('data', (d) => (b += String(d)))
      req.on('end', () => {
        const answered = this.got.length < this.failFirst ? 500 : 200
        this.got.push({ at: Date.now(), headers: req.headers, body: JSON.parse(b) as Record<string, unknown>, answered })
        res.writeHead(answered, { 'content-type': 'text/plain' }).end(answered === 200 ? 'ok' : 'try later')
      })
    })
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', () => r()))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`
    return this
  }

  /** Requests answered 200, in order. */
  accepted(): Received[] {
    return this.got.filter((g) => g.answered === 200)
  }

  stop(): Promise<void> {
    return new Promise((r) => {
      if (this.server === null) return r()
      this.server.closeAllConnections()
      this.server.close(() => r())
    })
  }
}
