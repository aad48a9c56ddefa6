/**
 * Issue 9 items 1, 3, 4 and 6 on the hub: what a page is (hash routes, anchors), readable paths
 * (one row encoded or raw, meaningful escapes kept, invalid ones as sent), which hosts are one site
 * (no self-referrers), and keywords. Units first, then each rule through a real hub: top pages,
 * live pages, the feed (stored and live), referrers and UTM.
 */
import { describe, it, before, after } from 'node:test'
import { readFileSync } from 'node:fs'
import assert from 'node:assert/strict'
import { CHROME_UA, CollectClient, id, post, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { ANCHOR, EXCLUDE_TEXT, pagePath, readablePath, readableValue, routeOf } from '../src/protocol/page'
import { pageOf, readableUrl, splitUrl } from '../src/hub/ingest/url'
import { pageParts, referrerHost } from '../src/hub/ingest/enrich'
import { hostKey, SiteHosts } from '../src/hub/ingest/site-hosts'
import { KEYWORD_MAX, normaliseKeyword, queryParam, searchKeyword } from '../src/hub/ingest/keywords'
import { pathOf } from '../src/hub/presence/path'
import { resolveConfig, optionsFromEnv } from '../src/hub/config'
import { firstLanguage } from '../src/hub/ingest/client'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import type { FeedPageview } from '../src/hub/bus/messages'
import type { ServerMessage } from '../src/hub/live/protocol'

const PERSIAN_ENC = '/%D8%B3%D9%84%D8%A7%D9%85-%D8%AF%D9%86%DB%8C%D8%A7'
const PERSIAN = '/سلام-دنیا'

/** URL → page, every form a browser, a proxy or a hand-written client sends. */
const PAGES: [string, string][] = [
  // hash routes are pages; anchors are not
  ['https://h.test/app/', '/app/'],
  ['https://h.test/app/#/about', '/app/#/about'],
  ['https://h.test/app/#!/about', '/app/#!/about'],
  ['https://h.test/app/#/about?tab=2', '/app/#/about'],
  ['https://h.test/app/#/about#team', '/app/#/about'],
  ['https://h.test/app/#/users/42/edit', '/app/#/users/42/edit'],
  ['https://h.test/app/?x=1#/pricing', '/app/#/pricing'],
  ['https://h.test/app/#section-2', '/app/'],
  ['https://h.test/app/#', '/app/'],
  ['https://h.test/app/#/', '/app/'],
  ['https://h.test/app/#!/', '/app/'],
  ['https://h.test/app/#!section', '/app/'],
  ['https://h.test/docs#/', '/docs'],
  ['https://h.test#/about', '/#/about'],
  ['https://h.test/app/#/caf%C3%A9', '/app/#/café'],
  ['https://h.test/app/#/café', '/app/#/café'],
  ['https://h.test/app/#/a b', '/app/#/a b'],
  ['https://h.test/app/#/a%20b', '/app/#/a b'],
  // the slow path (port, upper case, IDN, IP) gives the same page
  ['https://H.Test:8443/app/#/about', '/app/#/about'],
  ['https://bücher.test/app/#/about', '/app/#/about'],
  ['http://127.0.0.1:3000/app/#anchor', '/app/'],
  // readable paths: one row encoded or raw
  [`https://u.test${PERSIAN_ENC}`, PERSIAN],
  [`https://u.test${PERSIAN_ENC.toLowerCase()}`, PERSIAN],
  [`https://u.test${PERSIAN}`, PERSIAN],
  [`https://U.TEST:443${PERSIAN_ENC}`, PERSIAN],
  ['https://u.test/%E0%A4%A8%E0%A4%AE%E0%A4%B8%E0%A5%8D%E0%A4%A4%E0%A5%87', '/नमस्ते'],
  ['https://u.test/नमस्ते', '/नमस्ते'],
  ['https://u.test/%E4%BD%A0%E5%A5%BD?x=1', '/你好'],
  ['https://u.test/%F0%9F%98%80', '/😀'],
  ['https://u.test/😀', '/😀'],
  ['https://u.test/caf%C3%A9', '/café'],
  ['https://u.test/café', '/café'],
  ['https://u.test/a%20b', '/a b'],
  ['https://u.test/a b', '/a b'],
  ['https://u.test/%7Euser', '/~user'],
  ['https://u.test/~user', '/~user'],
  ['https://u.test/%41%42c', '/ABc'],
  // escapes that change a URL's meaning stay encoded (upper case: one row)
  ['https://u.test/a%2Fb', '/a%2Fb'],
  ['https://u.test/a%2fb', '/a%2Fb'],
  ['https://u.test/a%3Fb', '/a%3Fb'],
  ['https://u.test/a%23b', '/a%23b'],
  ['https://u.test/100%25', '/100%25'],
  ['https://u.test/%25C3%25A9', '/%25C3%25A9'],
  ['https://u.test/a%5Cb', '/a%5Cb'],
  ['https://u.test/a%00b%0Ac%7F', '/a%00b%0Ac%7F'],
  ['https://u.test/caf%C3%A9%2Fth%C3%A9', '/café%2Fthé'],
  // invalid escapes stay as sent, valid ones around them are decoded
  ['https://u.test/%E0%A4%A', '/%E0%A4%A'],
  ['https://u.test/caf%C3%A9/%E0%A4%A', '/café/%E0%A4%A'],
  ['https://u.test/%C3%A9%FF', '/é%FF'],
  ['https://u.test/%FF%FE', '/%FF%FE'],
  ['https://u.test/%C0%AF', '/%C0%AF'],
  ['https://u.test/%ED%A0%80', '/%ED%A0%80'],
  ['https://u.test/%C3', '/%C3'],
  ['https://u.test/%zz%4', '/%zz%4'],
  ['https://u.test/50%', '/50%'],
  // relative or odd URLs keep their path part
  ['/relative?q=1', '/relative'],
  ['/rel/#/route?x', '/rel/#/route'],
  ['/rel/%C3%A9#top', '/rel/é'],
]

describe('page rule and readable paths (src/protocol/page.ts)', () => {
  for (const [url, page] of PAGES) {
    it(`${url} → ${page}`, () => {
      assert.equal(pageOf(url), page)
      assert.equal(pathOf(url), page, 'live presence names the page like the store')
      assert.equal(pageParts(url).path, page)
    })
  }

  it('routeOf: routes only, without their query or a second fragment', () => {
    assert.equal(routeOf('#/about'), '#/about')
    assert.equal(routeOf('#!/about?x=1'), '#!/about')
    assert.equal(routeOf('#/a#b'), '#/a')
    for (const anchor of ['', '#', '#/', '#!/', '#!', '#top', '#!top', '#?/x', '# /x']) assert.equal(routeOf(anchor), '', anchor)
  })

  it('readablePath leaves a path without escapes untouched and keeps what it cannot decode', () => {
    for (const p of ['/', '/a/b', '/سلام', '/a%2Fb', '/%E0%A4%A', '/100%25']) assert.equal(readablePath(readablePath(p)), readablePath(p))
    assert.equal(pagePath('', ''), '/')
  })

  it('query values: + is a space, all valid escapes decode, controls and invalid ones stay', () => {
    assert.equal(readableValue('spring+sale'), 'spring sale')
    assert.equal(readableValue('%D8%AE%D8%A8%D8%B1'), 'خبر')
    assert.equal(readableValue('a%2Fb%26c%3Dd'), 'a/b&c=d')
    assert.equal(readableValue('50%25'), '50%')
    assert.equal(readableValue('%E0%A4%A'), '%E0%A4%A')
    assert.equal(readableValue('x%0ay'), 'x%0Ay')
  })

  it('a referrer keeps its query and fragment as sent, its path readable', () => {
    assert.equal(readableUrl('https://r.test/%C3%A9t%C3%A9?q=%C3%A9#x%20'), 'https://r.test/été?q=%C3%A9#x%20')
    assert.equal(readableUrl('https://r.test/plain?q=1'), 'https://r.test/plain?q=1')
    assert.equal(readableUrl('https://r.test'), 'https://r.test')
  })

  it('the snippet writes out the same rule (it imports nothing at run time)', () => {
    const src = readFileSync('src/browser/snippet.ts', 'utf8')
    assert.ok(src.includes(`/${ANCHOR.source}/`), `snippet.ts lacks /${ANCHOR.source}/`)
    assert.ok(src.includes(`/${EXCLUDE_TEXT.source}/g`), `snippet.ts lacks /${EXCLUDE_TEXT.source}/g`)
  })

  it("the snippet's page and data-exclude agree with the hub's page for every URL a browser reports", () => {
    const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    let checked = 0
    for (const [url, page] of PAGES) {
      if (!url.startsWith('http')) continue
      const u = new URL(url) // as location reports it: the browser's own encoding
      const key = u.href.replace(ANCHOR, '')
      assert.equal(pageOf(key), page, `the url the snippet sends for ${url}`)
      // a pattern written as the hub shows the page matches what the snippet tests, whenever the
      // URL is spelled as a browser spells it (upper-case escapes of non-ASCII text only)
      if (/%[0-9a-f]?[a-f]/.test(url) || /%(?!2[035F]|3F|5C|[01]|7F)[0-7][0-9A-F]/i.test(url)) continue
      const target = (u.pathname + u.hash).replace(ANCHOR, '')
      const pattern = RegExp(('^' + reEscape(page) + '(\\?|$)').replace(EXCLUDE_TEXT, encodeURI))
      assert.match(target, pattern, url)
      checked++
    }
    assert.ok(checked > 30, `${checked} URLs checked`)
    // an anchor never changes the page key; a route does
    const key = (href: string): string => href.replace(ANCHOR, '')
    assert.equal(key('https://h.test/app/#section-2'), key('https://h.test/app/'))
    assert.equal(key('https://h.test/app/#/'), key('https://h.test/app/'))
    assert.equal(key('https://h.test/app/#!top'), key('https://h.test/app/'))
    assert.notEqual(key('https://h.test/app/#/about'), key('https://h.test/app/'))
    assert.notEqual(key('https://h.test/app/#!/about'), key('https://h.test/app/'))
    assert.notEqual(key('https://h.test/app/#/about'), key('https://h.test/app/#/pricing'))
    assert.equal(key('https://h.test/app/#/about#team'), key('https://h.test/app/#/about'))
  })

  it('splitUrl gives the same parts on the fast path and through URL', () => {
    assert.deepEqual(splitUrl('https://a.test/x%20y?utm_source=s#/r'), { host: 'a.test', hostname: 'a.test', path: '/x y#/r', query: 'utm_source=s' })
    assert.deepEqual(splitUrl('https://A.test:8080/x%20y?utm_source=s#/r'), { host: 'a.test:8080', hostname: 'a.test', path: '/x y#/r', query: 'utm_source=s' })
  })
})

describe('which hosts are one site', () => {
  it('hostKey ignores case, port, a trailing dot, www. and IDN spelling', () => {
    for (const h of ['example.test', 'EXAMPLE.test', 'www.example.test', 'WWW.Example.Test', 'example.test:8443', 'www.example.test:80', 'example.test.']) {
      assert.equal(hostKey(h), 'example.test', h)
    }
    assert.equal(hostKey('bücher.test'), 'xn--bcher-kva.test')
    assert.equal(hostKey('www.BÜCHER.test:443'), 'xn--bcher-kva.test')
    assert.equal(hostKey('[::1]:3000'), '[::1]')
    assert.equal(hostKey('wwwx.test'), 'wwwx.test')
  })

  const internal: [string, string, string][] = [
    // [site, page, referrer]
    ['example.test', 'https://example.test/about', 'https://www.example.test/'],
    ['example.test', 'https://www.example.test/about', 'https://example.test/'],
    ['example.test', 'https://example.test/about', 'https://EXAMPLE.TEST/x'],
    ['example.test', 'https://example.test/about', 'https://example.test:8443/'],
    ['example.test', 'http://example.test:8080/about', 'https://www.example.test/'],
    ['example.test', 'https://example.test/about', 'https://example.test./'],
    ['Example.Test', 'https://example.test/about', 'https://www.example.test/'],
    ['bücher.test', 'https://xn--bcher-kva.test/', 'https://www.bücher.test/'],
    ['xn--bcher-kva.test', 'https://bücher.test/', 'https://www.xn--bcher-kva.test/a'],
    // the site name counts as well as the page's host (a page on a preview host)
    ['example.test', 'https://preview.host.test/about', 'https://www.example.test/'],
    ['www.example.test', 'https://preview.host.test/about', 'https://example.test/'],
    ['shop.test', 'https://shop.test/', 'http://shop.test:3000/'],
  ]
  for (const [site, page, ref] of internal) {
    it(`site ${site}, page ${page}, referrer ${ref}: internal`, () => {
      assert.equal(referrerHost(ref, splitUrl(page).hostname, site), null)
    })
  }

  it('external referrers keep their host without www. and port', () => {
    assert.equal(referrerHost('https://www.other.test:8080/p', 'example.test', 'example.test'), 'other.test')
    assert.equal(referrerHost('https://sub.example.test/', 'example.test', 'example.test'), 'sub.example.test')
    assert.equal(referrerHost('https://Other.TEST/', 'example.test', 'example.test'), 'other.test')
    assert.equal(referrerHost('javascript:alert(1)', 'a.test'), null)
    assert.equal(referrerHost('', 'a.test'), null)
  })

  it('hosts the operator lists with a site are the site', () => {
    const hosts = new SiteHosts({ 'example.test': ['m.example.test', 'Staging.Example.Test:8443'] })
    const ref = (r: string, page: string, site = 'example.test') => referrerHost(r, splitUrl(page).hostname, site, hosts)
    assert.equal(ref('https://m.example.test/', 'https://example.test/a'), null)
    assert.equal(ref('https://example.test/', 'https://m.example.test/a'), null)
    assert.equal(ref('https://www.staging.example.test/', 'https://m.example.test/a'), null)
    assert.equal(ref('https://staging.example.test/', 'https://m.example.test/a', 'm.example.test'), null, 'site named by its mobile host')
    assert.equal(ref('https://other.test/', 'https://m.example.test/a'), 'other.test')
    assert.equal(ref('https://m.example.test/', 'https://other-site.test/', 'other-site.test'), 'm.example.test', 'not listed for that site')
  })

  it('--site-hosts, LIVESTATS_SITE_HOSTS and the siteHosts option', () => {
    const env = optionsFromEnv({ LIVESTATS_SITE_HOSTS: 'example.test=m.example.test,staging.example.test;b.test=www2.b.test' })
    assert.deepEqual(resolveConfig(env).siteHosts, { 'example.test': ['m.example.test', 'staging.example.test'], 'b.test': ['www2.b.test'] })
    assert.deepEqual(resolveConfig({ siteHosts: { 'a.test': ['m.a.test'] } }).siteHosts, { 'a.test': ['m.a.test'] })
    assert.deepEqual(resolveConfig({}).siteHosts, {})
    for (const bad of ['example.test', 'example.test=', 'a.test=b test', 'a.test=http://b.test/', 42]) {
      assert.throws(() => resolveConfig({ siteHosts: bad }), (e: { code?: string }) => e.code === 'LS_ERR_CONFIG', String(bad))
    }
  })
})

/** [referrer, keyword] for engines that still send their query words. */
const SEARCHES: [string, string | null][] = [
  ['https://www.google.com/search?q=live+analytics&oq=live', 'live analytics'],
  ['https://www.google.co.uk/search?client=firefox&q=Live%20Analytics', 'live analytics'],
  ['https://google.de/url?sa=t&q=echtzeit+statistik', 'echtzeit statistik'],
  ['https://www.bing.com/search?q=%D8%B3%D9%84%D8%A7%D9%85&form=QBLH', 'سلام'],
  ['https://duckduckgo.com/?q=self-hosted+analytics&t=h_', 'self-hosted analytics'],
  ['https://search.yahoo.com/search?p=realtime+stats&fr=yfp', 'realtime stats'],
  ['https://search.yahoo.co.jp/search?p=%E3%82%A2%E3%82%AF%E3%82%BB%E3%82%B9', 'アクセス'],
  ['https://yandex.ru/search/?text=%D1%81%D1%82%D0%B0%D1%82%D0%B8%D1%81%D1%82%D0%B8%D0%BA%D0%B0&lr=213', 'статистика'],
  ['https://ya.ru/search/?text=livestats', 'livestats'],
  ['https://www.baidu.com/s?ie=utf-8&wd=%E7%BB%9F%E8%AE%A1', '统计'],
  ['https://www.baidu.com/s?word=tongji', 'tongji'],
  ['https://www.ecosia.org/search?method=index&q=green+stats', 'green stats'],
  ['https://www.startpage.com/do/search?query=private+stats', 'private stats'],
  ['https://www.qwant.com/?q=stats&t=web', 'stats'],
  ['https://search.brave.com/search?q=brave+stats', 'brave stats'],
  ['https://search.naver.com/search.naver?where=nexearch&query=%ED%86%B5%EA%B3%84', '통계'],
  ['https://www.sogou.com/web?query=sogou', 'sogou'],
  ['https://search.seznam.cz/?q=statistika', 'statistika'],
  ['https://www.so.com/s?q=360', '360'],
  ['https://search.example.org/results?keyword=site+search', 'site search'],
  ['https://www.amazon.com/s?k=usb+cable', 'usb cable'],
  // no query words, or not a search engine
  ['https://www.google.com/', null],
  ['https://www.google.com/search?q=', null],
  ['https://www.google.com/search?q=+++', null],
  ['https://blog.example/?p=42', null],
  ['https://news.example/item?q=not-an-engine', null],
  ['https://www.bing.com/search?form=QBLH', null],
]

describe('keywords: utm_term, or the query words of a search engine referrer', () => {
  for (const [ref, kw] of SEARCHES) {
    it(`${ref} → ${kw}`, () => {
      const u = splitUrl(ref)
      assert.equal(searchKeyword(hostKey(u.hostname ?? ''), u.query), kw)
    })
  }

  it('a keyword is read as a person reads it: decoded, spaces collapsed, lower case, cut at a character', () => {
    assert.equal(normaliseKeyword('  Live   Analytics\t'), 'live analytics')
    assert.equal(normaliseKeyword(''), null)
    assert.equal(normaliseKeyword(null), null)
    const long = normaliseKeyword('😀'.repeat(KEYWORD_MAX + 5)) as string
    assert.equal(Array.from(long).length, KEYWORD_MAX)
    assert.ok(!/[\uD800-\uDBFF]$/.test(long), 'never ends inside a surrogate pair')
    assert.equal(queryParam('xq=1&q=2', 'q='), '2')
    assert.equal(queryParam('q=1&q=2', 'q='), '1')
    assert.equal(queryParam('a=1', 'q='), null)
  })
})

describe('through a real hub: top pages, live pages, the feed, referrers, UTM', () => {
  let t: TestHub
  const now = Date.now()
  const top = async (site: string, dim: string) => {
    const r = await fetch(`${t.url}/api/top?site=${encodeURIComponent(site)}&dim=${dim}&from=${now - 3_600_000}&to=${now + 3_600_000}&limit=50`)
    assert.equal(r.status, 200)
    // visit dimensions count visits too; with one page view per visitor the page views tell the same
    return ((await r.json()) as { rows: { value: string; pageviews: number }[] }).rows.map(({ value, pageviews }) => ({ value, pageviews }))
  }
  const livePages = async (site: string) => {
    const r = await fetch(`${t.url}/api/live/pages?site=${encodeURIComponent(site)}`)
    return ((await r.json()) as { pages: { path: string; total: number }[] }).pages
  }
  const feed = async (site: string) => {
    const r = await fetch(`${t.url}/api/feed?site=${encodeURIComponent(site)}&limit=100`)
    return ((await r.json()) as { rows: { path: string; referrer: string | null }[] }).rows
  }
  // each page view from its own visitor: referrer, UTM and keyword are a visit's (its first page
  // view's), so one visitor's burst would be one visit with one source
  let visitor = 0
  const send = async (events: Record<string, unknown>[]) => {
    for (const ev of events) {
      const r = await post(t.url, { v: 1, events: [ev] }, { 'user-agent': CHROME_UA.replace('Chrome/130.0.0.0', `Chrome/130.0.${++visitor}.0`) })
      assert.equal(r.status, 202, JSON.stringify(r.body))
      assert.deepEqual(r.body.rejected, [])
    }
  }
  const pv = (site: string, url: string, extra: Record<string, unknown> = {}) => ({ id: id(), type: 'pageview', site, url, ...extra })

  before(async () => { t = await startHub({ siteHosts: { 'alias.test': ['m.alias.test', 'staging.alias.test'] } }) })
  after(async () => { await t.stop() })

  it('a hash router: /app/ → #/about → #/pricing → #/about is 4 views on 3 pages, live and stored', async () => {
    const site = 'h.test'
    const port = Number(new URL(t.url).port)
    const dash = await dashboard(port, `?site=${site}`)
    const ws = new CollectClient(t.url)
    const cid = id('tab')
    for (const hash of ['', '#/about', '#/pricing', '#/about']) {
      const ack = await ws.send(pv(site, `https://h.test/app/${hash}`, { cid }))
      assert.equal((ack as { stored: number }).stored, 1)
    }
    // an in-page anchor sent by an older snippet names the same page
    await ws.send(pv(site, 'https://h.test/app/#section-2', { cid: id('tab') }))
    assert.deepEqual(await top(site, 'page'), [
      { value: '/app/', pageviews: 2 }, { value: '/app/#/about', pageviews: 2 }, { value: '/app/#/pricing', pageviews: 1 },
    ])
    const live = await livePages(site)
    assert.deepEqual(live.map((p) => `${p.path} ${p.total}`).sort(), ['/app/ 1', '/app/#/about 1'])
    const stored = (await feed(site)).map((r) => r.path)
    assert.deepEqual(stored, ['/app/', '/app/#/about', '/app/#/pricing', '/app/#/about', '/app/'])
    // the live feed carries the same paths
    const fed: string[] = []
    const deadline = Date.now() + 2000
    while (fed.length < 5 && Date.now() < deadline) {
      fed.length = 0
      for (const m of dash.messages as ServerMessage[]) if (m.type === 'diff' && m.feed) for (const f of m.feed as FeedPageview[]) fed.push(f.path ?? '')
      await new Promise((r) => setTimeout(r, 20))
    }
    assert.deepEqual(fed.sort(), ['/app/', '/app/', '/app/#/about', '/app/#/about', '/app/#/pricing'])
    ws.close()
    dash.close()
  })

  it('a percent-encoded path and the raw path are one readable row, live and stored', async () => {
    const site = 'u.test'
    const ws = new CollectClient(t.url)
    await ws.send(pv(site, `https://u.test${PERSIAN_ENC}`, { cid: id('tab') }))
    await ws.send(pv(site, `https://u.test${PERSIAN}`, { cid: id('tab') }))
    await ws.send(pv(site, `https://u.test${PERSIAN_ENC.toLowerCase()}?utm_source=x`, { cid: id('tab') }))
    await send([pv(site, 'https://u.test/a%2Fb'), pv(site, 'https://u.test/a%2fb'), pv(site, 'https://u.test/%E0%A4%A')])
    assert.deepEqual(await top(site, 'page'), [
      { value: PERSIAN, pageviews: 3 }, { value: '/%E0%A4%A', pageviews: 1 }, { value: '/a%2Fb', pageviews: 2 },
    ].sort((a, b) => b.pageviews - a.pageviews || (a.value < b.value ? -1 : 1)))
    assert.deepEqual((await livePages(site)).map((p) => [p.path, p.total]), [[PERSIAN, 1]])
    ws.close()
  })

  it('UTM values are stored readable, one row encoded or raw; invalid escapes as sent', async () => {
    const site = 'utm.test'
    await send([
      pv(site, 'https://utm.test/?utm_source=%D8%AE%D8%A8%D8%B1&utm_medium=e%2Dmail&utm_campaign=spring+sale'),
      pv(site, 'https://utm.test/?utm_source=خبر&utm_medium=e-mail&utm_campaign=spring%20sale'),
      pv(site, 'https://utm.test/?utm_source=%E0%A4%A&utm_campaign=50%25'),
      pv(site, 'https://utm.test/?ref=caf%C3%A9'),
    ])
    assert.deepEqual(await top(site, 'utm_source'), [{ value: 'خبر', pageviews: 2 }, { value: '%E0%A4%A', pageviews: 1 }, { value: 'café', pageviews: 1 }])
    assert.deepEqual(await top(site, 'utm_medium'), [{ value: 'e-mail', pageviews: 2 }])
    assert.deepEqual(await top(site, 'utm_campaign'), [{ value: 'spring sale', pageviews: 2 }, { value: '50%', pageviews: 1 }])
  })

  it('keywords: /api/top?dim=keyword from utm_term (encoded or raw) and search referrers', async () => {
    const site = 'kw.test'
    await send([
      pv(site, 'https://kw.test/?utm_source=ads&utm_term=Running+Shoes'),
      pv(site, 'https://kw.test/?utm_term=running%20shoes'),
      pv(site, 'https://kw.test/?utm_term=%D9%83%D9%81%D8%B4', { referrer: 'https://www.google.com/search?q=ignored' }),
      pv(site, 'https://kw.test/?utm_term=كفش'),
      pv(site, 'https://kw.test/a', { referrer: 'https://www.bing.com/search?q=Running+Shoes' }),
      pv(site, 'https://kw.test/b', { referrer: 'https://yandex.ru/search/?text=%D0%B1%D0%B5%D0%B3' }),
      pv(site, 'https://kw.test/c', { referrer: 'https://www.baidu.com/s?wd=%E8%B7%91%E9%9E%8B' }),
      pv(site, 'https://kw.test/d', { referrer: 'https://search.yahoo.com/search?p=trail' }),
      pv(site, 'https://kw.test/e', { referrer: 'https://duckduckgo.com/?q=trail' }),
      pv(site, 'https://kw.test/f', { referrer: 'https://blog.example/?p=7' }),
      pv(site, 'https://kw.test/g', { referrer: 'https://kw.test/search?q=internal' }),
      pv(site, 'https://kw.test/h?utm_term=%E0%A4%A'),
    ])
    assert.deepEqual(await top(site, 'keyword'), [
      { value: 'running shoes', pageviews: 3 }, { value: 'trail', pageviews: 2 }, { value: 'كفش', pageviews: 2 },
      { value: '%E0%A4%a', pageviews: 1 }, { value: 'бег', pageviews: 1 }, { value: '跑鞋', pageviews: 1 },
    ])
    const bad = await fetch(`${t.url}/api/top?site=${site}&dim=keywords`)
    assert.equal(bad.status, 400)
  })

  it('POST /collect, the WebSocket path the snippet also posts to, takes events like /api/collect', async () => {
    const ev = pv('beacon.test', 'https://beacon.test/%C3%A9')
    const r = await fetch(`${t.url}/collect`, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8', 'user-agent': CHROME_UA }, body: JSON.stringify(ev) })
    assert.equal(r.status, 202)
    assert.deepEqual(await r.json(), { type: 'ack', id: ev.id, stored: 1, duplicates: 0, rejected: [] })
    assert.deepEqual(await top('beacon.test', 'page'), [{ value: '/é', pageviews: 1 }])
  })

  it("a page view without language takes the browser's first Accept-Language tag", async () => {
    assert.equal(firstLanguage('fr-FR,fr;q=0.9,en;q=0.8'), 'fr-FR')
    assert.equal(firstLanguage(' zh-Hant-TW ; q=1'), 'zh-Hant-TW')
    for (const bad of [undefined, '', '*', 'x'.repeat(40), '<script>', 'en_US']) assert.equal(firstLanguage(bad), null, String(bad))
    const a = pv('lang.test', 'https://lang.test/a')
    const b = pv('lang.test', 'https://lang.test/b', { language: 'de' })
    for (const ev of [a, b]) assert.equal((await post(t.url, ev, { 'accept-language': 'fr-FR,fr;q=0.9' })).status, 202)
    const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
    try {
      const rows = db.prepare(`SELECT path, language FROM events WHERE site = 'lang.test' ORDER BY path`).all()
      assert.deepEqual(rows, [{ path: '/a', language: 'fr-FR' }, { path: '/b', language: 'de' }])
    } finally {
      db.close()
    }
  })

  it("a site's own hosts are no referrer (www, case, port, IDN, listed hosts); others are, readable", async () => {
    await send([
      pv('example.test', 'https://example.test/about', { referrer: 'https://www.example.test/' }),
      pv('example.test', 'https://www.example.test/about', { referrer: 'https://example.test/' }),
      pv('example.test', 'https://Example.Test:8443/about', { referrer: 'https://WWW.EXAMPLE.TEST/x' }),
      pv('example.test', 'https://example.test/about', { referrer: 'https://www.other.test:8080/%C3%A9t%C3%A9?q=1' }),
      pv('bücher.test', 'https://xn--bcher-kva.test/', { referrer: 'https://www.bücher.test/' }),
      pv('alias.test', 'https://m.alias.test/', { referrer: 'https://staging.alias.test/' }),
      pv('alias.test', 'https://alias.test/', { referrer: 'https://www.m.alias.test/' }),
      pv('alias.test', 'https://alias.test/', { referrer: 'https://elsewhere.test/' }),
    ])
    // the page views from the site's own hosts count as direct: the '' row ("Direct / None")
    assert.deepEqual(await top('example.test', 'referrer'), [{ value: '', pageviews: 3 }, { value: 'other.test', pageviews: 1 }])
    assert.deepEqual(await top('bücher.test', 'referrer'), [{ value: '', pageviews: 1 }])
    assert.deepEqual(await top('alias.test', 'referrer'), [{ value: '', pageviews: 2 }, { value: 'elsewhere.test', pageviews: 1 }])
    const refs = (await feed('example.test')).map((r) => r.referrer)
    assert.deepEqual(refs.filter((r) => r !== null), ['https://www.other.test:8080/été?q=1'])
    assert.equal(refs.filter((r) => r === null).length, 3, 'internal navigation shows no referrer in the feed')
  })
})
