/**
 * Issue 15.1: `t.http(server)` against a real hub. Real node:http servers with Express-, Fastify- and
 * Koa-shaped routing (the frameworks are not installed here: each fake leaves on the request exactly
 * what the framework does, and `t.http` reads only that), real requests, the tracker's real link:
 * `/api/processes` and the live rates report the same counts, status classes and routes.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { CollectClient, startHub, type TestHub } from './helpers/hub'
import { tracker, koaRoutes } from '../src/tracker/index'
import type { ProcessSeries } from '../src/hub/process/series'
import { until } from './tracker.fakehub'

const base = { interval: 60_000, handleSignals: false }
const quiet = { warn() {} }

type Handler = (req: IncomingMessage, res: ServerResponse) => void
/** Express's routing as it shows on the request: `req.baseUrl` of the mounted router, `req.route.path`. */
function expressLike(routes: { base: string; path: string; re: RegExp; handle: Handler }[]): Handler {
  return (req, res) => {
    const url = req.url ?? '/'
    for (const r of routes) {
      if (!url.startsWith(r.base) || !r.re.test(url.slice(r.base.length))) continue
      Object.assign(req, { baseUrl: r.base, route: { path: r.path } })
      return r.handle(req, res)
    }
    res.statusCode = 404
    res.end('not found')
  }
}

async function listen(handler: Handler): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function hit(url: string, method = 'GET'): Promise<number> {
  const res = await fetch(url, { method })
  await res.arrayBuffer()
  return res.status
}

async function series(t: TestHub, app: string): Promise<ProcessSeries> {
  const res = await fetch(`${t.url}/api/processes?range=1h&app=${app}`)
  const p = ((await res.json()) as { processes: ProcessSeries[] }).processes[0]
  assert.ok(p, `no process for ${app}`)
  return p
}

describe('t.http(server) with a real hub', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('Express-like routes: counts, status classes and durations per route; a 404 is (unmatched), never its URL', async () => {
    const app = expressLike([
      { base: '/api', path: '/users/:id', re: /^\/users\/\d+$/, handle: (_q, s) => { s.end('{}') } },
      { base: '/api', path: '/orders', re: /^\/orders$/, handle: (req, s) => { s.statusCode = req.method === 'POST' ? 201 : 302; s.end() } },
      { base: '', path: '/boom', re: /^\/boom$/, handle: (_q, s) => { setTimeout(() => { s.statusCode = 500; s.end('x') }, 30) } },
    ])
    const { server, url } = await listen(app)
    const tr = tracker({ ...base, name: 'web', instance: 'web:1', hub: t.url }, quiet)
    tr.http(server)
    tr.http(server) // twice: measured once
    for (let i = 0; i < 7; i++) assert.equal(await hit(`${url}/api/users/${i}`), 200)
    for (let i = 0; i < 3; i++) assert.equal(await hit(`${url}/api/orders`, 'POST'), 201)
    assert.equal(await hit(`${url}/api/orders`), 302)
    assert.equal(await hit(`${url}/boom`), 500)
    for (let i = 0; i < 4; i++) assert.equal(await hit(`${url}/secret/token-${i}`), 404)
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    const p = await series(t, 'web')
    const byKey = new Map(p.routes.map((r) => [`${r.method} ${r.route}`, r]))
    assert.deepEqual([...byKey.keys()].sort(), ['GET (unmatched)', 'GET /api/orders', 'GET /api/users/:id', 'GET /boom', 'POST /api/orders'])
    assert.deepEqual(byKey.get('GET /api/users/:id')?.status, [7, 0, 0, 0])
    assert.deepEqual(byKey.get('POST /api/orders')?.status, [3, 0, 0, 0])
    assert.deepEqual(byKey.get('GET /api/orders')?.status, [0, 1, 0, 0])
    assert.deepEqual(byKey.get('GET (unmatched)')?.status, [0, 0, 4, 0])
    const boom = byKey.get('GET /boom')
    assert.deepEqual(boom?.status, [0, 0, 0, 1])
    assert.ok((boom?.p50 ?? 0) >= 25, `a 30 ms response has p50 ${boom?.p50}`)
    assert.ok(!JSON.stringify(p).includes('token-'), 'a raw URL reached the hub')
    const last = p.points[p.points.length - 1]
    assert.equal(last?.http?.requests, 16)
    assert.deepEqual(last?.http?.status, [10, 1, 4, 1])
    await tr.close()
    server.close()
  })

  it('Fastify-like instance: the route from routeOptions.url (or routerPath) through an onRequest hook', async () => {
    const hooks: ((request: unknown, reply: unknown, done: () => void) => void)[] = []
    const server = http.createServer((req, res) => {
      const request = { raw: req, routeOptions: { url: req.url?.startsWith('/items/') ? '/items/:id' : undefined }, routerPath: undefined }
      let i = 0
      const next = (): void => { const h = hooks[i++]; if (h) h(request, {}, next); else { res.statusCode = request.routeOptions.url ? 200 : 404; res.end() } }
      next()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const fastify = { server, addHook(name: string, fn: (typeof hooks)[number]) { assert.equal(name, 'onRequest'); hooks.push(fn) } }
    const tr = tracker({ ...base, name: 'fast', instance: 'fast:1', hub: t.url }, quiet)
    tr.http(fastify)
    for (let i = 0; i < 5; i++) await hit(`${url}/items/${i}`)
    await hit(`${url}/nope`, 'DELETE')
    await hit(`${url}/nope`, 'PROPFIND')
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    const p = await series(t, 'fast')
    assert.deepEqual(p.routes.map((r) => [r.method, r.route, r.requests, r.status]).sort(), [
      ['DELETE', '(unmatched)', 1, [0, 0, 1, 0]], ['GET', '/items/:id', 5, [5, 0, 0, 0]], ['OTHER', '(unmatched)', 1, [0, 0, 1, 0]],
    ])
    await tr.close()
    server.close()
  })

  it("Koa-like app: koaRoutes() hands koa-router's ctx._matchedRoute to t.http", async () => {
    const mw = koaRoutes()
    const { server, url } = await listen((req, res) => {
      const ctx: { req: IncomingMessage; _matchedRoute?: string } = { req }
      void mw(ctx, async () => {
        if (req.url?.startsWith('/books/')) ctx._matchedRoute = '/books/:isbn'
        await new Promise((r) => setTimeout(r, 2))
      }).then(() => { res.statusCode = ctx._matchedRoute ? 200 : 404; res.end() })
    })
    const tr = tracker({ ...base, name: 'koa', instance: 'koa:1', hub: t.url }, quiet)
    tr.http(server)
    for (let i = 0; i < 3; i++) await hit(`${url}/books/97805931352${i}`)
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    const p = await series(t, 'koa')
    assert.deepEqual(p.routes.map((r) => [r.method, r.route, r.requests]), [['GET', '/books/:isbn', 3]])
    await tr.close()
    server.close()
  })

  it('route cap: past maxHttpRoutes named routes the rest are (other); options.route names plain handlers', async () => {
    const { server, url } = await listen((_req, res) => { res.end() })
    const logs: string[] = []
    const tr = tracker({ ...base, name: 'cap', instance: 'cap:1', hub: t.url, maxHttpRoutes: 3 }, { warn: (m: unknown) => { logs.push(String(m)) } })
    tr.http(server, { route: (req) => `/r${(req.url ?? '').slice(1)}` })
    for (let i = 0; i < 6; i++) await hit(`${url}/${i}`)
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    const p = await series(t, 'cap')
    assert.deepEqual(p.routes.map((r) => [r.route, r.requests]).sort(), [['(other)', 3], ['/r0', 1], ['/r1', 1], ['/r2', 1]])
    assert.equal(logs.filter((l) => l.includes('distinct HTTP routes')).length, 1)
    tr.http({ not: 'a server' })
    assert.ok(logs.some((l) => l.includes('t.http() takes')))
    // a Fastify that already listens refuses hooks: still measured, without route names
    const { server: late, url: lateUrl } = await listen((_req, res) => { res.end() })
    tr.http({ server: late, addHook() { throw new Error('Fastify instance is already listening') } })
    await hit(`${lateUrl}/x`)
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    assert.ok(logs.some((l) => l.includes('before listen()')))
    const after = await series(t, 'cap')
    assert.equal(after.routes.find((r) => r.route === '(unmatched)')?.requests, 1)
    late.close()
    await tr.close()
    server.close()
  })

  it('the hub caps routes itself: a raw client sending 200 routes keeps limits.maxHttpRoutes and (other), every request counted', async () => {
    const c = new CollectClient(t.url)
    const routes = Array.from({ length: 200 }, (_, i) => ({
      method: 'GET', route: `/raw/${i}`, count: 2, status: [1, 0, 1, 0], sum: 4, min: 1, max: 3, hist: [1, 0, 1],
    }))
    try {
      let n = 0
      for (let i = 0; i < routes.length; i += 60) {
        const ack = await c.send({ v: 1, seq: n, events: [{
          id: `rawhttp-${process.pid}-${++n}`, type: 'process', app: 'raw', instance: 'h:1', pid: 1, host: 'box', cpu: 1, rss: 1e6,
          heapUsed: 1e6, heapTotal: 2e6, lag: 1, uptime: 10, running: [], runningCount: 0, http: routes.slice(i, i + 60),
        }] })
        assert.equal(ack.type, 'ack', JSON.stringify(ack))
      }
      const tooMany = await c.send({ v: 1, seq: 99, events: [{
        id: `rawhttp-${process.pid}-big`, type: 'process', app: 'raw', instance: 'h:1', pid: 1, host: 'box', cpu: 1, rss: 1e6,
        heapUsed: 1e6, heapTotal: 2e6, lag: 1, uptime: 10, running: [], runningCount: 0, http: routes,
      }] })
      assert.ok(tooMany.type === 'ack' && tooMany.rejected.length === 1, 'a process event with more route entries than the limit allows is refused')
    } finally {
      c.close()
    }
    const p = await series(t, 'raw')
    assert.equal(p.routes.length, 51)
    assert.equal(p.routes.find((r) => r.route === '(other)')?.requests, 300)
    assert.equal(p.routes.reduce((s, r) => s + r.requests, 0), 400)
  })
})
