/**
 * Cost per request of `t.http(server)` against prom-client's HTTP histogram (a labelled Histogram
 * observed in a 'finish' listener, as express-prom-bundle and most guides do), in the same run.
 *   node --import tsx bench/http-metrics.ts
 *
 * Two measurements, rounds alternating between the sides:
 * 1. in-process: real `http.IncomingMessage` / `ServerResponse` objects go through a real server's
 *    'request' listeners and then emit 'finish', as Node does after `res.end()`; no socket, so the
 *    instrumentation is most of what is timed. A bare side (no instrumentation) is subtracted.
 *    Median ns per request.
 * 2. end to end: a keep-alive client in a child process sends requests to a real loopback server with
 *    Express-shaped routes; the server process's CPU time per request (user + system), median of the
 *    rounds, bare server included.
 * Both sides name routes the same way (`req.baseUrl + req.route.path`), with 3 routes and 4 status codes.
 */
import { fork } from 'node:child_process'
import http, { IncomingMessage, ServerResponse } from 'node:http'
import { Socket, type AddressInfo } from 'node:net'
import { Histogram, Registry } from 'prom-client'
import { tracker } from '../src/tracker/index'

const N = Number(process.env.BENCH_N ?? 200_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)
const E2E_N = Number(process.env.BENCH_E2E_N ?? 20_000)

type Side = 'bare' | 'livestats' | 'prom-client'
// Express keeps one Route object per route and sets `req.route` to it: the same object on every request
const routes = [
  { base: '/api', route: { path: '/users/:id' } }, { base: '/api', route: { path: '/orders' } }, { base: '', route: { path: '/health' } },
]
const statuses = [200, 200, 201, 304, 404, 500]

/** The application: names the route as Express does and answers. */
function app(req: IncomingMessage, res: ServerResponse): void {
  const u = req.url ?? '/'
  const r = u.startsWith('/api/users/') ? routes[0] : u === '/api/orders' ? routes[1] : u === '/health' ? routes[2] : undefined
  if (r !== undefined) Object.assign(req, { baseUrl: r.base, route: r.route })
  res.statusCode = r === undefined ? 404 : 200
  res.end('ok')
}

function instrument(server: http.Server, side: Side, registry: Registry): void {
  if (side === 'livestats') {
    const t = tracker({ name: 'bench', hub: 'ws://127.0.0.1:9', interval: 1000, handleSignals: false }, { warn() {} })
    t.http(server)
  } else if (side === 'prom-client') {
    const h = new Histogram({
      name: `http_request_duration_seconds_${Math.random().toString(36).slice(2)}`, help: 'HTTP response times',
      labelNames: ['method', 'route', 'status_code'], registers: [registry],
    })
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
      const end = h.startTimer()
      res.on('finish', () => {
        const q = req as IncomingMessage & { route?: { path: string }; baseUrl?: string }
        end({ method: req.method, route: q.route ? (q.baseUrl ?? '') + q.route.path : '(unmatched)', status_code: res.statusCode })
      })
    })
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** In-process: N requests through the server's listeners, then 'finish'; ns per request. */
function inProcess(server: http.Server, n: number): number {
  const socket = new Socket()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) {
    const req = new IncomingMessage(socket)
    req.method = i % 4 === 0 ? 'POST' : 'GET'
    req.url = i % 3 === 0 ? '/api/users/7' : i % 3 === 1 ? '/api/orders' : '/health'
    const res = new ServerResponse(req)
    server.emit('request', req, res)
    res.statusCode = statuses[i % statuses.length] as number
    res.emit('finish')
  }
  return Number(process.hrtime.bigint() - t0) / n
}

/** A request handler that sets the route and status only (the in-process app: `res.end` needs a socket). */
function appNoEnd(req: IncomingMessage): void {
  const u = req.url ?? '/'
  const r = u.startsWith('/api/users/') ? routes[0] : u === '/api/orders' ? routes[1] : routes[2]
  if (r !== undefined) Object.assign(req, { baseUrl: r.base, route: r.route })
}

async function endToEnd(side: Side, registry: Registry): Promise<{ cpuUs: number[]; port: number; close: () => Promise<void> }> {
  const server = http.createServer(app)
  instrument(server, side, registry)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { cpuUs: [], port: (server.address() as AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) }
}

async function main(): Promise<void> {
  const registry = new Registry()
  const sides: Side[] = ['bare', 'livestats', 'prom-client']
  console.log(`node ${process.version}; in-process: ${N.toLocaleString('en')} requests x ${ROUNDS} rounds; end to end: ${E2E_N.toLocaleString('en')} requests x ${ROUNDS} rounds`)

  // 1. in-process
  const servers = new Map<Side, http.Server>()
  for (const s of sides) {
    const server = http.createServer(appNoEnd)
    instrument(server, s, registry)
    servers.set(s, server)
    inProcess(server, N / 10) // warm up
  }
  const ns = new Map<Side, number[]>(sides.map((s) => [s, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const s of sides) ns.get(s)?.push(inProcess(servers.get(s) as http.Server, N))
    await new Promise((res) => setImmediate(res)) // let the tracker's flush run, as in a real process
  }
  const bare = median(ns.get('bare') ?? [])
  const cost = (s: Side): number => median(ns.get(s) ?? []) - bare
  console.log(`in-process, per request: bare ${bare.toFixed(0)} ns; added by livestats ${cost('livestats').toFixed(0)} ns, by prom-client ${cost('prom-client').toFixed(0)} ns; ratio ${(cost('livestats') / cost('prom-client')).toFixed(2)}x`)
  console.log(JSON.stringify({ bench: 'http-metrics', part: 'in-process', bareNs: Math.round(bare), livestatsNs: Math.round(cost('livestats')), promClientNs: Math.round(cost('prom-client')) }))

  // 2. end to end
  const e2e = new Map<Side, Awaited<ReturnType<typeof endToEnd>>>()
  for (const s of sides) e2e.set(s, await endToEnd(s, registry))
  const run = async (s: Side, n: number): Promise<number> => {
    const x = e2e.get(s) as Awaited<ReturnType<typeof endToEnd>>
    const client = fork(__filename, ['client', String(x.port)], { execArgv: ['--import', 'tsx'] })
    await new Promise((r) => setTimeout(r, 300)) // the client's start-up is not the server's work
    const c0 = process.cpuUsage()
    const done = new Promise((r) => client.once('message', r))
    client.send({ n })
    await done
    const c = process.cpuUsage(c0)
    client.kill()
    return (c.user + c.system) / n
  }
  for (const s of sides) await run(s, E2E_N / 4) // warm up
  const us = new Map<Side, number[]>(sides.map((s) => [s, []]))
  for (let r = 0; r < ROUNDS; r++) for (const s of sides) us.get(s)?.push(await run(s, E2E_N))
  const m = (s: Side): number => median(us.get(s) ?? [])
  console.log(`end to end, server CPU per request: bare ${m('bare').toFixed(2)} µs, livestats ${m('livestats').toFixed(2)} µs (+${(m('livestats') - m('bare')).toFixed(2)}), prom-client ${m('prom-client').toFixed(2)} µs (+${(m('prom-client') - m('bare')).toFixed(2)})`)
  console.log(JSON.stringify({ bench: 'http-metrics', part: 'end-to-end', bareUs: +m('bare').toFixed(2), livestatsUs: +m('livestats').toFixed(2), promClientUs: +m('prom-client').toFixed(2) }))
  for (const x of e2e.values()) await x.close()
  process.exit(0)
}

function client(): void {
  // the load: keep-alive requests over 8 sockets, as fast as the server answers
  const port = Number(process.argv[3])
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const paths = ['/api/users/1', '/api/users/2', '/api/orders', '/health', '/nope']
  process.on('message', (m: { n: number }) => {
    let sent = 0, done = 0
    const one = (): void => {
      if (sent >= m.n) return
      const path = paths[sent++ % paths.length] as string
      http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume()
        res.on('end', () => { if (++done === m.n) process.send?.('done'); else one() })
      })
    }
    for (let i = 0; i < 8; i++) one()
  })
}

if (process.argv[2] === 'client') client()
else void main()
