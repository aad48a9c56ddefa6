'use strict'
/**
 * `npm run demo`: the full, running demo. It starts a hub with the dashboard, two tracked Node
 * services (child processes: `orders` dials the hub, `reports` is dialled by the hub as in
 * seed 000) and a handful of simulated browser visitors moving between pages and states.
 */
const { fork } = require('node:child_process')
const { join } = require('node:path')
const WebSocket = require('ws')
const { dashboard } = require('livestats')

const PORT = Number(process.env.PORT || 3000)
const REPORTS_PORT = Number(process.env.REPORTS_PORT || 3101)
const SITE = 'demo.livestats.test'
// Visitor ids hash (site, IP, user agent): every simulated visitor comes from 127.0.0.1, so each
// gets its own browser build to count as its own person
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.%d Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.%d Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.%d',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.%d Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.%d Mobile Safari/537.36',
]
const PAGES = ['/', '/pricing', '/docs', '/docs/install', '/blog/realtime', '/contact']
const REFS = ['https://news.example/', 'https://search.example/?q=live', '', '', 'https://social.example/p/1']
const STATES = ['reading', 'reading', 'reading', 'writing', 'idle', 'hidden']

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)]
let n = 0
const id = () => `demo${process.pid}x${(++n).toString(36).padStart(8, '0')}`

async function main() {
  const d = dashboard({ port: PORT, store: process.env.LIVESTATS_DB || './livestats-demo.db', urls: [`ws://127.0.0.1:${REPORTS_PORT}`] })
  const url = await d.ready
  const base = url.replace(/\/$/, '')
  const children = [
    fork(join(__dirname, 'service.js'), ['orders', 'hub', base.replace(/^http/, 'ws')]),
    fork(join(__dirname, 'service.js'), ['reports', 'port', String(REPORTS_PORT)]),
  ]
  const visitors = []
  for (let i = 0; i < 8; i++) visitors.push(visitor(base, i))
  console.log(`\nLivestats demo running.\n  Dashboard: ${url}\n  Press Ctrl+C to stop.\n`)
  const stop = async () => {
    for (const c of children) c.kill('SIGTERM')
    for (const v of visitors) v.close()
    await d.close()
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

/** One simulated visitor: a tab on a WebSocket, a pageview now and then, state changes between. */
function visitor(base, i) {
  let ws
  let timer
  let closed = false
  const cid = id()
  const open = () => {
    const ua = AGENTS[i % AGENTS.length].replace('%d', String(i))
    ws = new WebSocket(`${base.replace(/^http/, 'ws')}/collect`, { headers: { 'user-agent': ua } })
    ws.on('open', () => step(true))
    ws.on('close', () => {
      clearTimeout(timer)
      // leave for a while, then come back as a new visit
      if (!closed) setTimeout(open, 3000 + Math.random() * 8000)
    })
    ws.on('error', () => {})
  }
  const send = (ev) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ id: id(), site: SITE, cid, ...ev }))
  const step = (first) => {
    const r = Math.random()
    if (first || r < 0.25) {
      const page = `https://${SITE}${pick(PAGES)}${Math.random() < 0.2 ? '?utm_source=newsletter' : ''}`
      send({ type: 'pageview', url: page, referrer: first ? pick(REFS) : '', title: 'Demo page', screen: pick([390, 1280, 1920]) })
    } else if (r < 0.9) {
      send({ type: 'presence', state: pick(STATES), url: `https://${SITE}/` })
    } else if (r < 0.95) {
      ws.close()
      return
    }
    timer = setTimeout(() => step(false), 800 + Math.random() * 3000)
  }
  open()
  return { close: () => { closed = true; ws.close() } }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
