/**
 * Issue 10.1 and 10.2 in real Chromium: a page from another origin opens the hub's `/live` and gets
 * no snapshot, only the refusal's close code; a page on a name rebound to 127.0.0.1 (Chromium's
 * host resolver rules play the attacker's DNS) reads nothing either. The hub's own dashboard origin
 * still reads, in the same browser.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser } from 'playwright-core'
import { pageview, post, startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'

const ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  // the attacker's DNS: attacker.example resolves to this machine
  '--host-resolver-rules=MAP attacker.example 127.0.0.1',
]
const SITE = 'victim.test'

interface Outcome { messages: string[]; close: { code: number; reason: string } | null; error: boolean }

/** What a page's own script does: open the hub's /live for SITE and report what it read. */
const PROBE = `
window.probe = (url) => new Promise((resolve) => {
  const out = { messages: [], close: null, error: false }
  const ws = new WebSocket(url)
  ws.onmessage = (e) => out.messages.push(String(e.data))
  ws.onerror = () => { out.error = true }
  ws.onclose = (e) => { out.close = { code: e.code, reason: e.reason }; resolve(out) }
  setTimeout(() => { ws.close(); resolve(out) }, 3000)
})
window.result = window.probe(window.TARGET)
`

function attackerPage(target: string): Server {
  return createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(`<!doctype html><title>cute cats</title><script>window.TARGET = ${JSON.stringify(target)};${PROBE}</script>`)
  })
}

describe('a page from another origin cannot read the hub (Chromium)', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  let evil: Server
  let evilUrl = ''
  let hubPort = ''

  before(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    hubPort = new URL(t.url).port
    const r = await post(t.url, pageview(SITE, `https://${SITE}/account/reset`, { title: 'Reset your password', cid: 'victimtab00001' }))
    assert.equal(r.status, 202)
    evil = attackerPage(`ws://127.0.0.1:${hubPort}/live?site=${SITE}`)
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve))
    evilUrl = `http://127.0.0.1:${(evil.address() as AddressInfo).port}/`
  })
  after(async () => {
    await browser?.close()
    evil?.closeAllConnections()
    await new Promise<void>((resolve) => evil ? evil.close(() => resolve()) : resolve())
    await t?.stop()
  })

  it('new WebSocket(ws://127.0.0.1:PORT/live?site=S) from another origin gets no snapshot, and the page reads close 4403', async () => {
    const page = await browser.newPage()
    await page.goto(evilUrl)
    const out = await page.evaluate(() => (window as unknown as { result: Promise<Outcome> }).result)
    await page.close()
    const types = out.messages.map((m) => (JSON.parse(m) as { type: string }).type)
    assert.ok(!types.includes('snapshot') && !types.includes('hello') && !types.includes('diff'), JSON.stringify(out))
    assert.doesNotMatch(out.messages.join(''), /account\/reset|Reset your password/)
    assert.deepEqual(out.close, { code: 4403, reason: 'LS_ERR_ORIGIN_FORBIDDEN' })
  })

  it('a page on a rebound name reads neither the API, nor /live, nor the dashboard', async () => {
    const page = await browser.newPage()
    const nav = await page.goto(`http://attacker.example:${hubPort}/`)
    assert.equal(nav?.status(), 403)
    const api = await page.evaluate(async (site) => {
      const r = await fetch(`/api/feed?site=${site}`)
      return { status: r.status, body: await r.text() }
    }, SITE)
    assert.equal(api.status, 403)
    assert.match(api.body, /LS_ERR_HOST_FORBIDDEN/)
    assert.doesNotMatch(api.body, /account\/reset/)
    await page.evaluate(PROBE.replace('window.result = window.probe(window.TARGET)', ''))
    const out = await page.evaluate((u) => (window as unknown as { probe(u: string): Promise<Outcome> }).probe(u), `ws://attacker.example:${hubPort}/live?site=${SITE}`)
    await page.close()
    assert.doesNotMatch(out.messages.join(''), /snapshot|account\/reset/)
    assert.deepEqual(out.close, { code: 4403, reason: 'LS_ERR_HOST_FORBIDDEN' })
  })

  it("the hub's own origin still reads /live (the same probe, from the dashboard's origin)", async () => {
    const page = await browser.newPage()
    await page.goto(`http://127.0.0.1:${hubPort}/healthz`)
    const read = await page.evaluate((u) => new Promise<string>((resolve) => {
      const ws = new WebSocket(u)
      ws.onmessage = (e) => { resolve(String(e.data)); ws.close() }
      ws.onclose = (e) => resolve(`closed ${e.code} ${e.reason}`)
    }), `ws://127.0.0.1:${hubPort}/live?site=${SITE}`)
    await page.close()
    assert.match(read, /"type":"snapshot"/)
    assert.match(read, /account\/reset/)
  })
})
