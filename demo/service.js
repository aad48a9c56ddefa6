'use strict'
// A simulated Node service for the demo: it serves "requests", reads and writes "rows", and runs
// jobs of varied length. `orders` fails a job now and then; `reports` has a job that gets stuck.
const { tracker } = require('livestats')

const [name, mode, target] = process.argv.slice(2)
const t = tracker(mode === 'port' ? { name, port: Number(target) } : { name, hub: target })

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)]
const wait = (ms) => new Promise((r) => setTimeout(r, ms))

setInterval(() => {
  const reply = 'x'.repeat(200 + Math.floor(Math.random() * 4000))
  t.bytes.received(`GET /api/${pick(['cart', 'items', 'user'])}`)
  t.bytes.sent(reply)
  t.database.read(Array.from({ length: 1 + Math.floor(Math.random() * 20) }))
  if (Math.random() < 0.3) t.database.written([{ id: Date.now() }])
}, 20)

async function jobs() {
  for (;;) {
    const kind = pick(name === 'orders' ? ['charge', 'invoice', 'email'] : ['daily-report', 'export', 'thumbnail'])
    const job = t.job.start(kind)
    await wait(50 + Math.random() * (kind === 'export' ? 4000 : 600))
    job.stop(name === 'orders' && Math.random() < 0.1 ? new Error('card declined') : undefined)
    await wait(100 + Math.random() * 400)
  }
}
jobs()
jobs()
if (name === 'reports') t.job.start('rebuild-search-index') // never stopped: a stuck job to find
