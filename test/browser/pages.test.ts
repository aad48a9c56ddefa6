/**
 * Issue 9 items 1 and 3, issue 10.4 and issue 11.7 in real Chromium, against a real hub: hash-router
 * pages, in-page anchors, `data-exclude` on a readable (encoded) path and on a hash route, event ids
 * nobody can guess, and the console message on localhost. A small server here serves one tag page
 * at any path (the page's own path is what is tested), with the site and attributes from its query.
 */
import { describe, it, before, after, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { CHROME_UA, startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import type { WebEvent } from '../../src/protocol/schema'
import { sleep, until } from '../helpers/wait'

const SNIPPET = 'dist/livestats.js'

function buildSnippetIfMissing(): void {
  if (existsSync(SNIPPET)) return
  const r = spawnSync(process.execPath, ['scripts/build-snippet.mjs'], { stdio: 'inherit' })
  assert.equal(r.status, 0, 'scripts/build-snippet.mjs failed')
}

const attr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')

/** Any path: a page with the one-tag snippet; `?site=`, `?exclude=`, `?local=0` set its attributes. */
function fixtureServer(hub: string): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fixture')
    if (url.pathname === '/favicon.ico') return void res.writeHead(404).end()
    const q = url.searchParams
    const attrs = [
      `data-site="${attr(q.get('site') ?? 'pages.test')}"`,
      q.get('local') === '0' ? '' : 'data-allow-localhost',
      q.has('exclude') ? `data-exclude="${attr(q.get('exclude') ?? '')}"` : '',
    ].join(' ')
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pages fixture</title>
<script defer src="${hub}/livestats.js" ${attrs}></script></head>
<body><h1>Pages fixture</h1><p id="section-2">An anchor target.</p></body></html>`)
  })
}

interface Seen {
  event: WebEvent
  transport: 'ws' | 'http'
}

describe('pages, anchors, data-exclude, ids and localhost in Chromium', { skip: chromiumMissing() }, () => {
  let t: TestHub
  let fixtures: Server
  let base = ''
  let browser: Browser
  let context: BrowserContext | undefined
  let pageErrors: string[] = []
  const seen: Seen[] = []
  const of = (site: string, type?: WebEvent['type']) =>
    seen.filter((s) => s.event.site === site && (type === undefined || s.event.type === type))
  const urls = (site: string) => of(site, 'pageview').map((s) => (s.event as { url: string }).url)

  async function open(path: string): Promise<Page> {
    context = await browser.newContext({ userAgent: CHROME_UA })
    const page = await context.newPage()
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    await page.goto(`${base}${path}`)
    return page
  }
  async function top(site: string): Promise<{ value: string; pageviews: number }[]> {
    const r = await fetch(`${t.url}/api/top?site=${encodeURIComponent(site)}&dim=page&range=1h&limit=50`)
    return ((await r.json()) as { rows: { value: string; pageviews: number }[] }).rows
  }
  async function livePages(site: string): Promise<{ path: string; total: number }[]> {
    const r = await fetch(`${t.url}/api/live/pages?site=${encodeURIComponent(site)}`)
    return ((await r.json()) as { pages: { path: string; total: number }[] }).pages
  }
  /** Sets `location.hash` and gives the snippet's 1 s poll time to see it. */
  async function hash(page: Page, h: string): Promise<void> {
    await page.evaluate(`location.hash = ${JSON.stringify(h)}`)
  }

  before(async () => {
    buildSnippetIfMissing()
    t = await startHub()
    t.hub.ingest.listeners.unshift({
      accept(item, client) {
        seen.push({ event: item.event as WebEvent, transport: client.transport })
        return null
      },
      connectionClosed() {},
    })
    fixtures = fixtureServer(t.url)
    await new Promise<void>((r) => fixtures.listen(0, '127.0.0.1', r))
    base = `http://localhost:${(fixtures.address() as AddressInfo).port}`
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    })
  })
  after(async () => {
    await browser?.close()
    fixtures?.close()
    await t?.stop()
  })
  afterEach(async () => {
    await context?.close()
    context = undefined
    assert.deepEqual(pageErrors, [], 'the snippet must never throw into the page')
    pageErrors = []
  })

  it('a hash router: /app/ → #/about → #/pricing → #/about is 4 page views on 3 pages; anchors are none', async () => {
    const site = 'router.test'
    const page = await open(`/app/?site=${site}`)
    await until('the first page view', () => urls(site).length === 1)
    await hash(page, '#section-2') // an in-page anchor: no page view
    await sleep(1300)
    assert.equal(urls(site).length, 1)
    await hash(page, '#/about')
    await until('#/about', () => urls(site).length === 2)
    await hash(page, '#/about#team') // an anchor inside a route: the same page
    await sleep(1300)
    assert.equal(urls(site).length, 2)
    await hash(page, '#/pricing')
    await until('#/pricing', () => urls(site).length === 3)
    await hash(page, '#/about')
    await until('#/about again', () => urls(site).length === 4)
    await sleep(1300)
    assert.equal(urls(site).length, 4, 'exactly four page views')
    await until('the store to hold them', async () => (await top(site)).reduce((n, r) => n + r.pageviews, 0) === 4)
    assert.deepEqual(await top(site), [
      { value: '/app/#/about', pageviews: 2 }, { value: '/app/', pageviews: 1 }, { value: '/app/#/pricing', pageviews: 1 },
    ])
    // live: the visitor is on the route, not on /app/
    assert.deepEqual((await livePages(site)).map((p) => [p.path, p.total]), [['/app/#/about', 1]])
    // the feed lists the same pages in order
    const feed = await t.hub.store.feed(site, 10)
    assert.deepEqual(feed.map((r) => r.path).reverse(), ['/app/', '/app/#/about', '/app/#/pricing', '/app/#/about'])
    // a hashbang route is a page too
    await hash(page, '#!/legacy')
    await until('#!/legacy', () => urls(site).length === 5)
    await until('live on #!/legacy', async () => (await livePages(site))[0]?.path === '/app/#!/legacy')
  })

  it('a percent-encoded path is one readable page, live and stored', async () => {
    const site = 'persian.test'
    await open(`/سلام-دنیا?site=${site}`)
    await until('the page view', () => urls(site).length === 1)
    // the browser reports the path encoded; the hub shows it readable
    assert.match(urls(site)[0] as string, /\/%D8%B3%D9%84%D8%A7%D9%85-/)
    await until('stored', async () => (await top(site)).length === 1)
    assert.deepEqual(await top(site), [{ value: '/سلام-دنیا', pageviews: 1 }])
    assert.deepEqual((await livePages(site)).map((p) => p.path), ['/سلام-دنیا'])
  })

  it('data-exclude matches the readable path (written raw, sent encoded) and hash routes', async () => {
    const site = 'exclude.test'
    // a readable, non-Latin pattern against a page the browser reports percent-encoded
    await open(`/سلام-دنیا/?site=${site}&exclude=${encodeURIComponent('^/سلام')}`)
    await sleep(2500)
    assert.deepEqual(of(site), [], 'nothing at all from an excluded page')
    await context?.close()
    // the same pattern lets other pages through
    await open(`/hello/?site=${site}&exclude=${encodeURIComponent('^/سلام')}`)
    await until('a page view of /hello/', () => urls(site).length === 1)
    await context?.close()
    // a hash route: /app/ counts, #/admin sends nothing (not even presence), #/public counts again
    const page = await open(`/app/?site=${site}&exclude=${encodeURIComponent('^/app/#/admin')}`)
    await until('/app/', () => urls(site).length === 2)
    // (closed tabs send a late `leave`, which goes even from excluded pages: not counted here)
    const sent = () => of(site).filter((s) => s.event.type !== 'leave').length
    await hash(page, '#/admin/users')
    await sleep(500)
    const before = sent()
    await sleep(1500)
    assert.equal(sent(), before, 'nothing sent while on an excluded route')
    await hash(page, '#/public')
    await until('#/public', () => urls(site).length === 3)
    assert.ok(urls(site).every((u) => !u.includes('#/admin')))
    assert.deepEqual((await top(site)).map((r) => r.value).sort(), ['/app/', '/app/#/public', '/hello/'])
  })

  it('event ids are random and time-ordered: distinct across tabs, not the tab id plus a counter', async () => {
    const site = 'ids.test'
    const pages = [await open(`/a/?site=${site}`)]
    await until('a page view', () => urls(site).length === 1)
    const ctx = context as BrowserContext
    for (let i = 0; i < 2; i++) {
      const p = await ctx.newPage()
      await p.goto(`${base}/b${i}/?site=${site}`)
      pages.push(p)
    }
    await until('three tabs', () => urls(site).length === 3)
    for (const p of pages) await p.evaluate(`livestats.track('one'); livestats.track('two'); location.hash = '#/next'`)
    await until('their events', () => of(site, 'event').length === 6 && urls(site).length === 6)
    const events = of(site).filter((s) => s.event.type !== 'leave')
    const ids = events.map((s) => s.event.id)
    assert.equal(new Set(ids).size, ids.length, 'every id distinct')
    const now = Date.now()
    for (const e of events) {
      const id = e.event.id
      assert.match(id, /^\d{14,33}$/)
      const at = Number(id.slice(0, 13))
      assert.ok(at <= now && at > now - 120_000, `id ${id} starts with its time`)
      assert.ok(!id.startsWith(e.event.cid as string), 'an id is not the tab id plus something')
    }
    const cids = new Set(events.map((e) => e.event.cid))
    assert.equal(cids.size, 3)
    for (const cid of cids) assert.match(cid as string, /^\d{14,33}$/)
    // within a tab, ids sort by time and share no guessable tail: the random parts all differ
    const tails = ids.map((id) => id.slice(13))
    assert.equal(new Set(tails).size, tails.length)
    assert.ok(tails.filter((x) => x.length >= 15).length >= tails.length * 0.9, 'about 64 random bits each')
    assert.deepEqual([...t.hub.metrics.rejected], [], 'the hub took every id')
  })

  it('on localhost without data-allow-localhost: one console message that says why and how, nothing sent', async () => {
    const site = 'local.test'
    context = await browser.newContext({ userAgent: CHROME_UA })
    const page = await context.newPage()
    const messages: { type: string; text: string }[] = []
    page.on('console', (m) => messages.push({ type: m.type(), text: m.text() }))
    page.on('pageerror', (e) => pageErrors.push(String(e)))
    await page.goto(`${base}/?site=${site}&local=0`)
    await until('the message', () => messages.length > 0)
    // a second start (the seed form) and a track() add no second message and send nothing
    await page.evaluate(`new Livestats().start(); livestats.track('x')`)
    await sleep(1500)
    assert.equal(messages.length, 1, JSON.stringify(messages))
    assert.equal(messages[0]?.type, 'warning')
    assert.match(messages[0]?.text ?? '', /localhost/)
    assert.match(messages[0]?.text ?? '', /data-allow-localhost/)
    assert.deepEqual(of(site), [])
    // with the attribute, no message and a page view
    const tracked: string[] = []
    const p2 = await context.newPage()
    p2.on('console', (m) => tracked.push(m.text()))
    await p2.goto(`${base}/?site=${site}`)
    await until('a page view', () => urls(site).length === 1)
    assert.deepEqual(tracked, [])
  })
})
