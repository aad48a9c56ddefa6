'use strict'
/**
 * A simulated Node service of the demo shop, in its own process: `orders` (it dials the hub) takes
 * orders, reserves stock and emails receipts; `reports` (the hub dials it, as seed 000's dashboard
 * does) builds reports, exports and cover thumbnails, and has a search reindex that never finishes,
 * to be found stuck. Requests go to each service's own HTTP server (measured with `t.http`), with
 * their bytes and database rows. Now and then a
 * receipt email is deferred by the mail server, as happens.
 *
 * Started by demo.js with `fork`: it stops at once with its parent (IPC gone) or on SIGINT /
 * SIGTERM, after at most a short flush, so Ctrl+C leaves nothing running. `reports` listens on a
 * free port and tells its parent which.
 */
const http = require('node:http')
const { tracker } = require('livestats')

const [name, mode, target] = process.argv.slice(2)
const t = tracker(mode === 'port'
  ? { name, port: Number(target), handleSignals: false }
  : { name, hub: target, handleSignals: false })

const between = (lo, hi) => lo + Math.random() * (hi - lo)
const wait = (ms) => new Promise((r) => setTimeout(r, ms))
const timers = []

let stopping = false
function stop() {
  if (stopping) return
  stopping = true
  for (const x of timers) clearInterval(x)
  server.close()
  agent.destroy()
  // a short flush: the hub may be closing too, and a person pressing Ctrl+C wants it over
  t.close({ timeout: 300 }).finally(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.on('disconnect', stop)

if (mode === 'port') void t.ready().then((r) => process.send?.({ port: r.port }))

// the service's HTTP API, on a real node:http server on loopback that `t.http` measures. Routes are
// named as Express names them (`req.baseUrl` + `req.route.path`), so the dashboard lists routes, not URLs
const ROUTES = name === 'orders'
  ? [
      { method: 'POST', base: '/api', path: '/orders', url: () => '/api/orders', status: () => (Math.random() < 0.04 ? 422 : 201), ms: [40, 220] },
      { method: 'GET', base: '/api', path: '/basket', url: () => '/api/basket', status: () => 200, ms: [2, 15] },
      { method: 'GET', base: '/api', path: '/stock/:isbn', url: () => `/api/stock/97805931352${Math.floor(Math.random() * 10)}`, status: () => (Math.random() < 0.08 ? 404 : 200), ms: [3, 30] },
      { method: 'GET', base: '', path: '/checkout', url: () => '/checkout', status: () => (Math.random() < 0.3 ? 302 : 200), ms: [8, 60] },
      { method: 'POST', base: '/api', path: '/payments/webhook', url: () => '/api/payments/webhook', status: () => (Math.random() < 0.02 ? 503 : 200), ms: [20, 400] },
    ]
  : [
      { method: 'GET', base: '/reports', path: '/:name.csv', url: () => '/reports/sales.csv', status: () => 200, ms: [80, 600] },
      { method: 'GET', base: '', path: '/covers/:file', url: () => `/covers/piranesi-${[160, 320, 640][Math.floor(Math.random() * 3)]}.webp`, status: () => (Math.random() < 0.05 ? 304 : 200), ms: [4, 40] },
    ]
const server = http.createServer((req, res) => {
  // the demo's router: the client names the route it meant (a real app matches the URL)
  const r = ROUTES[Number(req.headers['x-route'] ?? -1)]
  if (r === undefined) { res.statusCode = 404; res.end(); return }
  Object.assign(req, { baseUrl: r.base, route: { path: r.path } })
  setTimeout(() => { res.statusCode = Number(req.headers['x-status']) || 200; res.end('{}') }, between(r.ms[0], r.ms[1]))
})
server.listen(0, '127.0.0.1')
t.http(server)
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

// requests: a few dozen a second, each with its request and response bytes and rows
timers.push(setInterval(() => {
  const address = server.address()
  if (address === null || typeof address === 'string') return
  const i = Math.floor(Math.random() * ROUTES.length)
  const r = ROUTES[i]
  // now and then a bot probes a path no route serves: counted as (unmatched), never by its URL
  const probe = Math.random() < 0.02
  const path = probe ? `/wp-login.php?x=${Math.floor(Math.random() * 1e6)}` : r.url()
  const headers = probe ? {} : { 'x-route': String(i), 'x-status': String(r.status()) }
  const req = http.request({ host: '127.0.0.1', port: address.port, path, method: probe ? 'GET' : r.method, agent, headers }, (res) => res.resume())
  req.on('error', () => {})
  req.end()
  t.bytes.received(`${r.method} ${path} HTTP/1.1\r\nhost: paperlantern.example\r\n`.repeat(1 + Math.floor(Math.random() * 3)))
  t.bytes.sent(Math.floor(between(800, name === 'orders' ? 6000 : 24000)))
  t.database.read(Math.floor(between(1, 25)))
  if (Math.random() < 0.3) t.database.written(1 + Math.floor(Math.random() * 3))
}, 40))

/** One kind of job, run again and again: its duration, how often, and why it may fail. */
async function loop(job, ms, every, fail) {
  while (!stopping) {
    const j = t.job.start(job)
    await wait(between(ms[0], ms[1]))
    const reason = fail?.()
    j.stop(reason === undefined ? undefined : new Error(reason))
    await wait(between(every[0], every[1]))
  }
}

if (name === 'orders') {
  void loop('charge-card', [180, 900], [400, 1600])
  void loop('reserve-stock', [20, 120], [200, 800])
  void loop('send-receipt-email', [150, 700], [500, 2000],
    () => (Math.random() < 0.03 ? 'SMTP 451 4.7.1 Greylisted by the recipient server, try again later' : undefined))
} else {
  void loop('resize-cover-image', [40, 260], [100, 600])
  void loop('export-orders-csv', [600, 2400], [3000, 8000])
  void loop('daily-sales-report', [2000, 6000], [15000, 25000])
  t.job.start('rebuild-search-index') // never stops: the stuck job the Services view points out
}
