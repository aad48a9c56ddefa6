'use strict'
/**
 * A simulated Node service of the demo shop, in its own process: `orders` (it dials the hub) takes
 * orders, reserves stock and emails receipts; `reports` (the hub dials it, as seed 000's dashboard
 * does) builds reports, exports and cover thumbnails, and has a search reindex that never finishes,
 * to be found stuck. Requests come and go with their bytes and database rows. Now and then a
 * receipt email is deferred by the mail server, as happens.
 *
 * Started by demo.js with `fork`: it stops at once with its parent (IPC gone) or on SIGINT /
 * SIGTERM, after at most a short flush, so Ctrl+C leaves nothing running. `reports` listens on a
 * free port and tells its parent which.
 */
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
  // a short flush: the hub may be closing too, and a person pressing Ctrl+C wants it over
  t.close({ timeout: 300 }).finally(() => process.exit(0))
}
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
process.on('disconnect', stop)

if (mode === 'port') void t.ready().then((r) => process.send?.({ port: r.port }))

// requests: a few dozen a second, each with its request and response bytes and rows
timers.push(setInterval(() => {
  const api = name === 'orders' ? ['POST /api/orders', 'GET /api/basket', 'GET /api/stock/9780593135204'] : ['GET /reports/sales.csv', 'GET /covers/piranesi-320.webp']
  t.bytes.received(`${api[Math.floor(Math.random() * api.length)]} HTTP/1.1\r\nhost: paperlantern.example\r\n`.repeat(1 + Math.floor(Math.random() * 3)))
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
