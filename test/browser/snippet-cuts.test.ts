/**
 * Issue 9.2 in real Chromium: a page whose `<title>` is 770 characters long (an emoji across the
 * cut point) is counted once, with its title cut to the limit, and is live on the same page the
 * store has; a `livestats.track()` with a 600-character property value is stored, cut.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import Database from 'better-sqlite3'
import { chromium, type Browser } from 'playwright-core'
import { CHROME_UA, startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { until } from '../helpers/wait'

const TITLE = 'T'.repeat(511) + '😀' + 'x'.repeat(257) // 770 code units, the emoji across 512
const SITE = 'cuts.test'

function page(hub: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${TITLE}</title>
<script defer src="${hub}/livestats.js" data-site="${SITE}" data-allow-localhost></script></head>
<body><button id="b" onclick="livestats.track('signup', { plan: '${'v'.repeat(600)}', seats: 3 })">go</button></body></html>`
}

describe('snippet: over-long fields are cut, the page view counted once and live', { skip: chromiumMissing() }, () => {
  let t: TestHub
  let server: Server
  let browser: Browser

  before(async () => {
    if (!existsSync('dist/livestats.js')) spawnSync(process.execPath, ['scripts/build-snippet.mjs'], { stdio: 'inherit' })
    t = await startHub()
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(t.url)))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox', '--disable-gpu'] })
  })
  after(async () => {
    await browser?.close()
    server?.close()
    await t?.stop()
  })

  it('a 770-character title and a 600-character property value', async () => {
    const context = await browser.newContext({ userAgent: CHROME_UA })
    try {
      const p = await context.newPage()
      await p.goto(`http://localhost:${(server.address() as AddressInfo).port}/long`)
      await until('the page view stored', async () => (await t.hub.store.countEvents(SITE)) === 1, 10_000)
      await until('the tab live', async () => {
        const r = (await (await fetch(`${t.url}/api/live/pages?site=${SITE}`)).json()) as { pages: { path: string; total: number }[] }
        return r.pages.length === 1 && r.pages[0]?.path === '/long' && r.pages[0].total === 1
      }, 10_000)
      await p.click('#b')
      await until('the custom event stored', async () => (await t.hub.store.countEvents(SITE)) === 2, 10_000)
      const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
      const pv = db.prepare("SELECT title, path FROM events WHERE site = ? AND type = 'pageview'").all(SITE) as { title: string; path: string }[]
      const ev = db.prepare("SELECT name, data FROM events WHERE site = ? AND type = 'event'").get(SITE) as { name: string; data: string }
      db.close()
      assert.equal(pv.length, 1)
      assert.equal(pv[0]?.title, 'T'.repeat(511), 'cut before the emoji, not inside it')
      assert.equal(pv[0]?.path, '/long')
      assert.equal(ev.name, 'signup')
      assert.deepEqual(JSON.parse(ev.data), { plan: 'v'.repeat(512), seats: 3 })
      const totals = (await (await fetch(`${t.url}/api/totals?site=${SITE}&range=1h`)).json()) as { pageviews: number }
      assert.equal(totals.pageviews, 1)
    } finally {
      await context.close()
    }
  })
})
