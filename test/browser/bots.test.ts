/**
 * Issue 9.5 in real Chromium: a headless browser with its own user agent (it says HeadlessChrome)
 * visits a page with the snippet. Its page view is stored as a bot, it is not live, and the
 * dashboard's History says one hit was kept out as a bot, so the person testing sees why.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser } from 'playwright-core'
import { CHROME_UA, startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { until } from '../helpers/wait'

const SITE = 'headless.test'

describe('a headless browser is a bot: stored, not counted, and History says so', { skip: chromiumMissing() }, () => {
  let t: TestHub
  let server: Server
  let browser: Browser

  before(async () => {
    if (!existsSync('dist/dashboard/index.html')) spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
    t = await startHub()
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><title>Hi</title><script defer src="${t.url}/livestats.js" data-site="${SITE}" data-allow-localhost></script><p>hi</p>`))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu'] })
  })
  after(async () => {
    await browser?.close()
    server?.close()
    await t?.stop()
  })

  it('its visit is flagged, not live, and History reports one hit kept out as a bot', async () => {
    const headless = await browser.newContext() // Chromium's own agent
    const ua = await (await headless.newPage()).evaluate(() => navigator.userAgent)
    assert.match(ua, /HeadlessChrome/)
    const page = await headless.newPage()
    await page.goto(`http://localhost:${(server.address() as AddressInfo).port}/`)
    await until('the page view stored', async () => (await t.hub.store.countEvents(SITE)) === 1, 10_000)
    // its heartbeats arrive too, and still nobody is live
    await new Promise((r) => setTimeout(r, 1500))
    const live = (await (await fetch(`${t.url}/api/live?site=${SITE}`)).json()) as { total: number }
    assert.equal(live.total, 0)
    const totals = (await (await fetch(`${t.url}/api/totals?site=${SITE}&range=1h`)).json()) as { pageviews: number; bots: number }
    assert.deepEqual([totals.pageviews, totals.bots], [0, 1])

    // (the headless tab stays open: a closing page's snippet may reconnect and count again before it dies)
    const person = await browser.newContext({ userAgent: CHROME_UA })
    try {
      const dash = await person.newPage()
      await dash.goto(`${t.url}/?site=${SITE}#history`)
      const note = dash.locator('#hist-bots')
      await note.waitFor({ state: 'visible', timeout: 10_000 })
      assert.match(await note.innerText(), /^1 hit kept out as bots/)
    } finally {
      await person.close()
      await headless.close()
    }
  })
})
