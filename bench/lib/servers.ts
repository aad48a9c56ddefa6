/**
 * Servers the benchmarks start as child processes, so the load generator and the server under
 * test never share an event loop: `hub` (the real hub on a fresh SQLite file), `bare-ws` (a `ws`
 * server that only parses frames and counts events), `bare-http` (node:http answering 204) and
 * `bare-relay` (a `ws` server that parses and acks every frame like the hub's `/collect`, and relays
 * each one as is to every client connected on `/live`: the floor for live fan-out and scale).
 * Usage: node --import tsx bench/lib/servers.ts <kind>  → prints `READY <port>` on stdout.
 */
import { createServer } from 'node:http'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { createHub } from '../../src/hub/hub'
import { optionsFromEnv } from '../../src/hub/config'

const kind = process.argv[2]
const quiet = { info() {}, warn() {}, error: (...a: unknown[]) => console.error(...a) }

async function main(): Promise<void> {
  if (kind === 'hub') {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-bench-'))
    // LIVESTATS_* variables reach the hub as they would `livestats serve` (bench/ingest.ts --xff, --geoip)
    const hub = createHub({ ...optionsFromEnv(), port: 0, store: join(dir, 'bench.db'), logger: quiet, retentionDays: 0 })
    const { port } = await hub.listen()
    process.stdout.write(`READY ${port}\n`)
    process.on('SIGTERM', () => void hub.close().then(() => process.exit(0)))
    return
  }
  const server = createServer((req, res) => {
    // bare-http: read the body, answer 204, nothing else
    req.resume()
    req.on('end', () => {
      res.writeHead(204)
      res.end()
    })
  })
  if (kind === 'bare-ws') {
    const wss = new WebSocketServer({ server, perMessageDeflate: false })
    let events = 0
    wss.on('connection', (ws) => {
      ws.on('message', (d) => {
        const frame = JSON.parse(String(d)) as { seq?: number; events: unknown[] }
        events += frame.events.length
        ws.send(`{"type":"ack","seq":${frame.seq},"stored":${frame.events.length},"duplicates":0,"rejected":[]}`)
      })
    })
    process.on('SIGTERM', () => {
      process.stderr.write(`bare-ws counted ${events}\n`)
      process.exit(0)
    })
  } else if (kind === 'bare-relay') {
    const wss = new WebSocketServer({ server, perMessageDeflate: false })
    const watchers = new Set<import('ws').WebSocket>()
    wss.on('connection', (ws, req) => {
      if (req.url?.startsWith('/live') === true) {
        watchers.add(ws)
        ws.on('close', () => watchers.delete(ws))
        return
      }
      ws.on('message', (d) => {
        const ev = JSON.parse(String(d)) as { id?: string }
        ws.send(`{"type":"ack","id":${JSON.stringify(ev.id ?? null)},"stored":0,"duplicates":0,"rejected":[]}`)
        for (const w of watchers) w.send(d, { binary: false })
      })
    })
    process.on('SIGTERM', () => process.exit(0))
  } else if (kind !== 'bare-http') {
    throw new Error(`unknown server kind ${kind}`)
  } else {
    process.on('SIGTERM', () => process.exit(0))
  }
  server.listen(0, '127.0.0.1', () => {
    const a = server.address()
    process.stdout.write(`READY ${typeof a === 'object' && a ? a.port : 0}\n`)
  })
}
void main()
