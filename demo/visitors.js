'use strict'
/**
 * Simulated people on the demo site, each a browser tab on a `/collect` WebSocket speaking the
 * snippet's protocol: a page view on landing (with the referrer and campaign they came from),
 * then reading, typing on forms, going idle or switching tabs, moving between pages now and then
 * (every presence names the page the tab is on, so Pages now matches the feed), a custom event when a
 * book goes into the basket or an order is placed, and a `leave` when they go. A new person takes
 * the place of one who left. Each comes from an address in their country, sent as
 * `X-Forwarded-For` (the demo hub trusts loopback proxies), so the hub finds their country.
 */
const WebSocket = require('ws')
const { SITE, PAGES, LANDING, SOURCES, COUNTRIES, AGENTS, LANGUAGES, weighted, nextPage } = require('./site')

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)]
const between = (lo, hi) => lo + Math.random() * (hi - lo)
let n = 0
const newId = () => `demo${process.pid.toString(36)}x${Date.now().toString(36)}x${(++n).toString(36).padStart(6, '0')}`

/**
 * Starts one person slot: a visit, and after it (a pause) the next person's.
 * @returns {{ close(): void }}
 */
function visitor(base) {
  let closed = false
  let ws = null
  let timer = null

  const visit = () => {
    if (closed) return
    const country = weighted(COUNTRIES)
    const agent = weighted(AGENTS)
    const source = weighted(SOURCES)
    const ip = `${country.net}${1 + Math.floor(Math.random() * 254)}`
    const screen = pick(agent.screens)
    const language = pick(LANGUAGES)
    const cid = newId()
    let page = source.query !== '' && Math.random() < 0.6 ? PAGES.find((p) => p.path === '/category/new-releases') : weighted(LANDING)
    let views = 0
    const leaveAfter = 1 + Math.floor(Math.random() * 6)
    const url = (p, query = '') => `https://${SITE}${p.path}${query ? `?${query}` : ''}`
    ws = new WebSocket(`${base.replace(/^http/, 'ws')}/collect`, { headers: { 'user-agent': agent.ua, 'x-forwarded-for': ip } })
    const send = (ev) => { if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: newId(), site: SITE, cid, ...ev })) }
    const view = (p, referrer, query) => {
      views++
      send({ type: 'pageview', url: url(p, query), referrer, title: p.title, screen, language })
      if (p.path === '/cart') send({ type: 'event', name: 'add_to_basket', url: url(p), props: { items: 1 + Math.floor(Math.random() * 3) } })
    }
    const step = () => {
      const r = Math.random()
      if (views >= leaveAfter && r < 0.25) {
        send({ type: 'leave' })
        ws.close()
        return
      }
      // a new page about every half minute: people read before they click on
      if (r < 0.18) {
        const next = nextPage(page.path)
        if (page.path === '/checkout' && Math.random() < 0.5) send({ type: 'event', name: 'order_placed', url: url(page), props: { total: Math.round(between(12, 90)) } })
        view(next, url(page))
        page = next
      } else {
        // what people do on a page: type on forms, read elsewhere; drift to idle; switch tabs
        const s = Math.random()
        const state = page.form
          ? (s < 0.5 ? 'writing' : s < 0.8 ? 'reading' : s < 0.92 ? 'idle' : 'hidden')
          : (s < 0.7 ? 'reading' : s < 0.86 ? 'idle' : s < 0.97 ? 'hidden' : 'writing')
        send({ type: 'presence', state, url: url(page) })
      }
      timer = setTimeout(step, between(2000, 8000))
    }
    ws.on('open', () => {
      view(page, source.referrer, source.query)
      timer = setTimeout(step, between(1000, 4000))
    })
    ws.on('close', () => {
      clearTimeout(timer)
      ws = null
      // the next person arrives a little later
      if (!closed) timer = setTimeout(visit, between(2000, 9000))
    })
    ws.on('error', () => {})
  }
  timer = setTimeout(visit, between(0, 2500))
  return {
    close() {
      closed = true
      clearTimeout(timer)
      if (ws !== null) ws.terminate()
    },
  }
}

module.exports = { visitor }
