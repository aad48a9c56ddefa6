/**
 * The snippet's extras (issue 13.4) in real Chromium against a real hub: outbound link clicks,
 * file downloads, 404 pages and scroll depth, from dist/livestats-extras.js with the attributes
 * that ask for them, and none of it without them or from the core dist/livestats.js.
 *
 * Fixture pages (test/fixtures/extras) are served from `localhost`; the same server under
 * `127.0.0.1` is "another site", so links there are outbound. A listener in front of the hub's
 * ingest records what arrived and on which transport; stored figures are read through /api.
 */
import { describe, it, before, after, beforeEach, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { gzipSync } from 'node:zlib'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { CHROME_UA, startHub, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import type { WebEvent } from '../../src/protocol/schema'
import { sleep, until } from '../helpers/wait'

const FIXTURES = 'test/fixtures/extras'

/** Attribute sets a test asks the fixture server for, by name (`?attrs=outbound,scroll`). */
const ATTRS: Record<string, string> = {
  outbound: 'data-outbound',
  downloads: 'data-downloads',
  mine: 'data-downloads="foo, .BIN"', // the site's own list replaces the default one
  scroll: 'data-scroll',
  nf: 'data-404',
}

function gzipSize(file: string): number {
  const gz = spawnSync('gzip', ['-9', '-c', file])
  return gz.status === 0 ? gz.stdout.length : gzipSync(readFileSync(file), { level: 9 }).length + file.split('/').pop()!.length + 1
}

interface Seen {
  transport: 'ws' | 'http'
  event: WebEvent
}

describe('snippet extras in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let t: TestHub
  let fixtures: Server
  let base = '' // http://localhost:PORT: the site
  let other = '' // http://127.0.0.1:PORT: another host
  let browser: Browser
  let context: BrowserContext
  let pageErrors: string[] = []
  const seen: Seen[] = []
  const files: string[] = []

  const of = (site: string, type?: WebEvent['type']) =>
    seen.filter((s) => s.event.site === site && (type === undefined || s.event.type === type))
  const customs = (site: string) => of(site, 'event').map((s) => s.event as { name: string; props?: Record<string, unknown> })

  async function api(path: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${t.url}${path}`)
    assert.equal(res.status, 200, `${path}: ${res.status}`)
    return (await res.json()) as Record<string, unknown>
  }
  const topRows = async (site: string, dim: string, extra = '') =>
    (await api(`/api/top?site=${site}&dim=${dim}&range=24h${extra}`)).rows as Record<string, unknown>[]

  /** Custom events as stored: name and props (the events table keeps props as JSON). */
  function stored(site: string): { name: string; props: Record<string, unknown> }[] {
    const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
    try {
      return (db.prepare(`SELECT name, data FROM events WHERE site = ? AND type = 'event' ORDER BY ts, rowid`).all(site) as { name: string; data: string | null }[])
        .map((r) => ({ name: r.name, props: r.data === null ? {} : (JSON.parse(r.data) as Record<string, unknown>) }))
    } finally {
      db.close()
    }
  }

  async function open(path: string): Promise<Page> {
    // a 600 px high window: the 2400 px fixture page then starts at 25 % seen
    context = await browser.newContext({ userAgent: CHROME_UA, viewport: { width: 800, height: 600 }, acceptDownloads: true })
    const page = await context.newPage()
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    await page.goto(`${base}${path}`)
    return page
  }

  before(async () => {
    // both builds, as the hub serves them (npm test builds them first; a lone run builds them here)
    if (!existsSync('dist/livestats-extras.js') || !existsSync('dist/livestats.js')) {
      const r = spawnSync(process.execPath, ['scripts/build-snippet.mjs'], { stdio: 'inherit' })
      assert.equal(r.status, 0, 'scripts/build-snippet.mjs failed')
    }
    buildIfMissing() // the dashboard, for History's Scroll column
    t = await startHub()
    t.hub.ingest.listeners.unshift({
      accept(item, client) {
        seen.push({ transport: client.transport, event: item.event as WebEvent })
        return null
      },
      connectionClosed() {},
    })
    fixtures = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://fixture')
      const p = url.pathname
      if (p.startsWith('/files/')) {
        files.push(p)
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment', 'cache-control': 'no-store' })
        res.end('file body')
        return
      }
      if (p === '/landing.html') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Landing</title><h1>Landed</h1>')
        return
      }
      const name = p === '/page.html' ? 'page.html' : p.startsWith('/missing/') ? 'not-found.html' : null
      if (name === null) {
        res.writeHead(404).end()
        return
      }
      const attrs = (url.searchParams.get('attrs') ?? '').split(',').map((k) => ATTRS[k] ?? '').join(' ')
      const html = readFileSync(`${FIXTURES}/${name}`, 'utf8')
        .replaceAll('{{HUB}}', t.url)
        .replaceAll('{{SCRIPT}}', url.searchParams.get('script') === 'core' ? 'livestats.js' : 'livestats-extras.js')
        .replaceAll('{{OTHER}}', other)
        .replaceAll('{{SITE}}', url.searchParams.get('site') ?? 'extras.test')
        .replaceAll('{{ATTRS}}', attrs)
      res.writeHead(name === 'page.html' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html)
    })
    await new Promise<void>((resolve) => fixtures.listen(0, '127.0.0.1', resolve))
    const port = (fixtures.address() as AddressInfo).port
    base = `http://localhost:${port}`
    other = `http://127.0.0.1:${port}`
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
  })
  after(async () => {
    await browser?.close()
    fixtures?.close()
    await t?.stop()
  })
  beforeEach(() => { pageErrors = [] })
  afterEach(async () => {
    await context?.close()
    assert.deepEqual(pageErrors, [], 'the extras must never throw into the page')
  })

  it('an outbound link in the same tab navigates, and its click is stored (by beacon)', async () => {
    const site = 'outbound.test'
    const page = await open(`/page.html?site=${site}&attrs=outbound,downloads`)
    await until('the page view', () => of(site, 'pageview')[0])
    await until('the socket', () => of(site, 'presence').some((s) => s.transport === 'ws'))
    await Promise.all([page.waitForURL(`${other}/landing.html?from=fixture#top`), page.click('#out')])
    assert.equal(await page.title(), 'Landing') // the navigation happened, untouched
    const ev = await until('the click', () => of(site, 'event')[0])
    // a beacon even while the socket is open: it outlives the page it leaves
    assert.equal(ev.transport, 'http')
    assert.deepEqual(customs(site), [{ ...customs(site)[0], name: 'Outbound Link: Click', props: { url: `${other}/landing.html?from=fixture` } }])
    const rows = await until('stored', async () => {
      const r = await topRows(site, 'event')
      return r.length > 0 && r
    })
    assert.deepEqual(rows, [{ value: 'Outbound Link: Click', events: 1, visitors: 1 }])
    assert.deepEqual(stored(site), [{ name: 'Outbound Link: Click', props: { url: `${other}/landing.html?from=fixture` } }])
    // the property, as the API breaks it down
    assert.deepEqual(await topRows(site, 'prop:url', `&event=${encodeURIComponent('Outbound Link: Click')}`),
      [{ value: `${other}/landing.html?from=fixture`, events: 1, visitors: 1 }])
  })

  it('target=_blank, middle and Ctrl clicks open new pages and are each stored; the page stays', async () => {
    const site = 'blank.test'
    const page = await open(`/page.html?site=${site}&attrs=outbound`)
    await until('the page view', () => of(site, 'pageview')[0])
    const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#blank')])
    await popup.waitForLoadState()
    assert.equal(popup.url(), `${other}/landing.html?tab=new`)
    const [middle] = await Promise.all([context.waitForEvent('page'), page.click('#out', { button: 'middle' })])
    await middle.waitForLoadState()
    assert.equal(middle.url(), `${other}/landing.html?from=fixture#top`)
    const [ctrl] = await Promise.all([context.waitForEvent('page'), page.click('#out', { modifiers: ['Control'] })])
    await ctrl.waitForLoadState()
    // a right click opens a menu, not the link: nothing is sent for it
    await page.click('#out', { button: 'right' })
    // an internal link is not outbound
    await page.evaluate(() => document.getElementById('in')?.addEventListener('click', (e) => e.preventDefault()))
    await page.click('#in')
    assert.equal(page.url(), `${base}/page.html?site=${site}&attrs=outbound`) // still here
    await until('three clicks stored', () => stored(site).length === 3)
    await sleep(300)
    assert.deepEqual(stored(site), [
      { name: 'Outbound Link: Click', props: { url: `${other}/landing.html?tab=new` } },
      { name: 'Outbound Link: Click', props: { url: `${other}/landing.html?from=fixture` } },
      { name: 'Outbound Link: Click', props: { url: `${other}/landing.html?from=fixture` } },
    ])
  })

  it('download links by the default extensions (any host, any case), without their query; the download still happens', async () => {
    const site = 'downloads.test'
    const page = await open(`/page.html?site=${site}&attrs=outbound,downloads`)
    await until('the page view', () => of(site, 'pageview')[0])
    const [pdf] = await Promise.all([page.waitForEvent('download'), page.click('#pdf')])
    assert.equal(pdf.suggestedFilename(), 'report.pdf')
    const [zip] = await Promise.all([page.waitForEvent('download'), page.click('#zip')])
    assert.equal(zip.suggestedFilename(), 'archive.ZIP')
    // .foo is not on the default list; the browser still downloads it
    await Promise.all([page.waitForEvent('download'), page.click('#foo')])
    await page.click('#mail').catch(() => {}) // mailto: is neither
    await until('two downloads stored', () => stored(site).length === 2)
    await sleep(300)
    // the zip on another host is a download, not an outbound click
    assert.deepEqual(stored(site), [
      { name: 'File Download', props: { url: `${base}/files/report.pdf` } },
      { name: 'File Download', props: { url: `${other}/files/archive.ZIP` } },
    ])
    assert.deepEqual(files, ['/files/report.pdf', '/files/archive.ZIP', '/files/data.foo'])
    assert.deepEqual(await topRows(site, 'event'), [{ value: 'File Download', events: 2, visitors: 1 }])
    assert.deepEqual((await topRows(site, 'prop:url', '&event=File+Download')).map((r) => r.value).sort(),
      [`${base}/files/report.pdf`, `${other}/files/archive.ZIP`].sort())
  })

  it("the site's own extension list replaces the default one", async () => {
    const site = 'mine.test'
    const page = await open(`/page.html?site=${site}&attrs=mine`)
    await until('the page view', () => of(site, 'pageview')[0])
    await Promise.all([page.waitForEvent('download'), page.click('#pdf')])
    await Promise.all([page.waitForEvent('download'), page.click('#foo')])
    await until('one download stored', () => stored(site).length === 1)
    await sleep(300)
    assert.deepEqual(stored(site), [{ name: 'File Download', props: { url: `${base}/files/data.foo` } }])
  })

  it('a page that says it is a 404 sends one 404 event with its path, after its page view', async () => {
    const site = 'notfound.test'
    const page = await open(`/missing/caf%C3%A9/page?site=${site}&attrs=nf`)
    await until('the 404 event', () => of(site, 'event')[0])
    const types = of(site).map((s) => s.event.type)
    assert.ok(types.indexOf('pageview') < types.indexOf('event'), types.join())
    assert.deepEqual(customs(site).map((e) => [e.name, e.props]), [['404', { path: '/missing/café/page' }]])
    // an SPA route change on that page is no second 404
    await page.evaluate(() => history.pushState({}, '', '/elsewhere'))
    await until('the second page view', () => of(site, 'pageview').length === 2, 3000)
    await sleep(300)
    assert.equal(of(site, 'event').length, 1)
    await until('stored', () => stored(site).length === 1)
    assert.deepEqual(stored(site), [{ name: '404', props: { path: '/missing/café/page' } }])
    assert.deepEqual(await topRows(site, 'event'), [{ value: '404', events: 1, visitors: 1 }])
    assert.deepEqual(await topRows(site, 'prop:path', '&event=404'), [{ value: '/missing/café/page', events: 1, visitors: 1 }])
  })

  it('scroll depth: the deepest point of each page view, sent on leave, stored, averaged per page in /api/top', async () => {
    const site = 'scroll.test'
    // one visitor scrolls to half the page and leaves; another reads it to the end and leaves
    const page = await open(`/page.html?site=${site}&attrs=scroll`)
    await until('the first presence', () => of(site, 'presence')[0])
    assert.equal((of(site, 'presence')[0]?.event as { scroll?: number }).scroll, 25) // 600 of 2400 px in view
    await page.mouse.wheel(0, 600)
    await page.waitForFunction(() => scrollY === 600)
    await page.mouse.wheel(0, -300) // back up: the deepest point stays
    await page.waitForFunction(() => scrollY === 300)
    await sleep(200)
    await page.goto(`${other}/landing.html`) // leave
    const leave = await until('the leave', () => of(site, 'leave')[0])
    assert.equal((leave.event as { scroll?: number }).scroll, 50)
    await context.close()

    const page2 = await open(`/page.html?site=${site}&attrs=scroll`)
    await until('the second page view', () => of(site, 'pageview').length === 2)
    await page2.evaluate(() => scrollTo(0, 1800))
    await sleep(200)
    await page2.close() // closing the tab leaves too (the context stays for the dashboard below)
    await until('the second leave', () => of(site, 'leave').length === 2)

    const row = await until('both depths stored', async () => {
      const r = (await topRows(site, 'page'))[0]
      return r?.scrollViews === 2 ? r : null
    }, 8000)
    assert.equal(row.value, '/page.html')
    assert.equal(row.pageviews, 2)
    assert.equal(row.scrollDepth, 75) // (50 + 100) / 2
    // the filtered path (page-view facts) says the same
    const [filtered] = await topRows(site, 'page', '&browser=Chrome')
    assert.deepEqual({ scrollViews: filtered?.scrollViews, scrollDepth: filtered?.scrollDepth }, { scrollViews: 2, scrollDepth: 75 })
    const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
    try {
      assert.deepEqual(db.prepare('SELECT scroll FROM pv WHERE site = (SELECT id FROM sites WHERE name = ?) ORDER BY ts').all(site), [{ scroll: 50 }, { scroll: 100 }])
    } finally {
      db.close()
    }
    // History's Top pages shows the same figure in its Scroll column
    const board = await context.newPage()
    await board.goto(`${t.url}/?site=${site}&range=24h#history`)
    const cell = board.locator('.top-list[data-dim=page] tbody tr', { hasText: '/page.html' }).locator('td.depth')
    await until('the Scroll column', async () => (await cell.textContent()) === '75%', 10_000)
  })

  it('scroll depth on an SPA: each route keeps its own deepest point', async () => {
    const site = 'scroll-spa.test'
    // the default 15 s heartbeat: no presence between the scroll and the route change, so the
    // first page's 75 % arrives only because the route change sends it
    const page = await open(`/page.html?site=${site}&attrs=scroll`)
    await until('the first presence', () => of(site, 'presence')[0])
    await page.evaluate(() => scrollTo(0, 1200)) // 75 %
    await sleep(100)
    await page.evaluate(() => { history.pushState({}, '', '/next'); scrollTo(0, 0) })
    await until('the route\'s page view', () => of(site, 'pageview').length === 2, 3000)
    await page.goto(`${other}/landing.html`)
    await until('the leave', () => of(site, 'leave')[0])
    const rows = await until('both pages stored', async () => {
      const r = await topRows(site, 'page')
      return r.filter((x) => x.scrollViews === 1).length === 2 ? r : null
    }, 8000)
    const depth = Object.fromEntries(rows.map((r) => [r.value, r.scrollDepth]))
    assert.deepEqual(depth, { '/page.html': 75, '/next': 25 })
  })

  it('none of it without the attributes, nor from the core livestats.js with them', async () => {
    for (const [site, query] of [['plain.test', ''], ['core.test', '&script=core&attrs=outbound,downloads,scroll']] as const) {
      const page = await open(`/page.html?site=${site}${query}`)
      await until('the page view', () => of(site, 'pageview')[0])
      await Promise.all([page.waitForEvent('download'), page.click('#pdf')])
      const [popup] = await Promise.all([context.waitForEvent('page'), page.click('#blank')])
      await popup.waitForLoadState()
      await page.evaluate(() => scrollTo(0, 1200))
      await sleep(1200) // a tick
      await Promise.all([page.waitForURL(`${other}/landing.html?from=fixture#top`), page.click('#out')])
      await until('the leave', () => of(site, 'leave')[0])
      await context.close()
    }
    const nf = 'plain404.test'
    await open(`/missing/page?site=${nf}`)
    await until('the page view', () => of(nf, 'pageview')[0])
    await sleep(1500)
    for (const site of ['plain.test', 'core.test', nf]) {
      assert.deepEqual(of(site, 'event'), [], site)
      assert.ok(of(site).every((s) => !('scroll' in s.event)), `${site}: no scroll field`)
      assert.deepEqual(stored(site), [])
    }
  })

  it('the core stays within 1,000 B with gzip -9 and holds none of the extras; the extras build within its own 1,700 B', async () => {
    const core = readFileSync('dist/livestats.js', 'utf8')
    assert.ok(gzipSize('dist/livestats.js') <= 1000, `dist/livestats.js is ${gzipSize('dist/livestats.js')} B with gzip -9`)
    for (const s of ['Outbound', 'Download', 'scroll:', 'auxclick', '404']) assert.ok(!core.includes(s), `the core holds ${s}`)
    assert.ok(gzipSize('dist/livestats-extras.js') <= 1700, `dist/livestats-extras.js is ${gzipSize('dist/livestats-extras.js')} B with gzip -9`)
    // served like the core: cached for a day, readable from any origin
    const res = await fetch(`${t.url}/livestats-extras.js`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('cache-control'), 'public, max-age=86400, stale-while-revalidate=604800')
    assert.equal(res.headers.get('access-control-allow-origin'), '*')
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/)
    assert.equal(await res.text(), readFileSync('dist/livestats-extras.js', 'utf8'))
  })
})
