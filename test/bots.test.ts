/**
 * Issue 9.5: traffic no person's browser sends is kept out of visitors and live counts, stored and
 * flagged as a bot, on both transports; the read API says how many hits were kept out. Real
 * browsers' agents, old and new, still count; a tracker's socket (no agent) still shows its process.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { CollectClient, id, pageview, startHub, type TestHub } from './helpers/hub'
import { until } from './helpers/wait'
import { browserShaped } from '../src/hub/ingest/user-agent'
import { tracker } from '../src/tracker'

/** Agents no person's browser sends; `undefined` sends no User-Agent header at all. */
const NOT_BROWSERS: (string | undefined)[] = [
  undefined,
  '',
  '-',
  ' ',
  'Mozilla/5.0',
  'Mozilla/5.0 (X11)',
  'Mozilla/5.0 (compatible)',
  'Mozilla/5.0 ( ) AppleWebKit/537.36',
  'curl/8.4.0',
  'python-requests/2.31.0',
  'Python-urllib/3.11',
  'Go-http-client/1.1',
  'Go-http-client/2.0',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
  'node-fetch',
  'axios/1.6.0',
  'undici',
  'node',
  'Bun/1.1.0',
  'Deno/1.40.0',
  'Wget/1.21.4',
  'PostmanRuntime/7.36.0',
  'insomnia/8.6.0',
  'okhttp/4.12.0',
  'Java/17.0.1',
  'Apache-HttpClient/4.5.14 (Java/17.0.1)',
  'libwww-perl/6.72',
  'Dalvik/2.1.0 (Linux; U; Android 11; Pixel 5 Build/RQ3A.210805.001.A1)',
  'got (https://github.com/sindresorhus/got)',
  'x',
  'test',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36',
]

/** Browsers people use, current and old: all of them must count. */
const BROWSERS: string[] = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0',
  'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram 330.0.0.40.92',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko',
  'Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)',
  'Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16',
  'Mozilla/5.0 (Mobile; rv:48.0) Gecko/48.0 Firefox/48.0',
  'Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36',
  'Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko)',
]

/** POST /api/collect with exactly the User-Agent given (none when undefined): node:http adds none of its own. */
function postRaw(base: string, body: unknown, ua: string | undefined): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(`${base}/api/collect`)
  const headers: Record<string, string> = { 'content-type': 'text/plain' }
  if (ua !== undefined) headers['user-agent'] = ua
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers }, (res) => {
      let text = ''
      res.on('data', (d) => (text += String(d)))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
    req.on('error', reject)
    req.end(JSON.stringify(body))
  })
}

async function getJson<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T
}

function botFlags(t: TestHub, site: string): number[] {
  const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
  try {
    return (db.prepare("SELECT bot FROM events WHERE site = ? AND type = 'pageview'").all(site) as { bot: number }[]).map((r) => r.bot)
  } finally {
    db.close()
  }
}

describe('what counts as a browser', () => {
  it('the shape rule: every browser agent has it, no placeholder does', () => {
    for (const ua of BROWSERS) assert.equal(browserShaped(ua), true, ua)
    for (const ua of NOT_BROWSERS.slice(1, 29)) assert.equal(browserShaped(ua as string), false, ua)
    // the rule is a linear match: a long header without a closing parenthesis costs nothing
    const t0 = performance.now()
    browserShaped(`Mozilla/5.0 (${'a'.repeat(16_000)}`)
    // quadratic backtracking over 16,000 characters takes seconds; a linear match well under one
    assert.ok(performance.now() - t0 < 1000)
  })
})

describe('bots are stored, flagged, and kept out of visitors and live counts', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  NOT_BROWSERS.forEach((ua, k) => {
    for (const via of ['http', 'ws'] as const) {
      it(`${via}: ${ua === undefined ? 'no User-Agent header' : JSON.stringify(ua)}`, async () => {
        const site = `bot${k}-${via}.test`
        const cid = id('c')
        const pv = pageview(site, `https://${site}/`, { cid })
        const hb = { id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}/`, interval: 15 }
        if (via === 'http') {
          assert.equal((await postRaw(t.url, pv, ua)).body.stored, 1)
          assert.deepEqual((await postRaw(t.url, hb, ua)).body.rejected, [])
        } else {
          const ws = new CollectClient(t.url, ua === undefined ? {} : { 'user-agent': ua })
          try {
            assert.equal(((await ws.send(pv)) as { stored: number }).stored, 1)
            assert.deepEqual(((await ws.send(hb)) as { rejected: unknown[] }).rejected, [])
          } finally {
            ws.close()
          }
        }
        assert.deepEqual(botFlags(t, site), [1], 'stored, flagged as a bot')
        const live = await getJson<{ total: number }>(`${t.url}/api/live?site=${site}`)
        assert.equal(live.total, 0, 'not live')
        const totals = await getJson<{ pageviews: number; visitors: number; bots: number }>(`${t.url}/api/totals?site=${site}&range=1h`)
        assert.deepEqual([totals.pageviews, totals.visitors, totals.bots], [0, 0, 1])
        const overview = await getJson<{ bots: number; pages: unknown[] }>(`${t.url}/api/overview?site=${site}&range=1h`)
        assert.equal(overview.bots, 1)
        assert.deepEqual(overview.pages, [])
        const feed = await getJson<{ rows: unknown[] }>(`${t.url}/api/feed?site=${site}`)
        assert.deepEqual(feed.rows, [])
      })
    }
  })

  it('every browser agent counts as a visitor and is live', async () => {
    const site = 'people.test'
    for (const ua of BROWSERS) {
      const cid = id('c')
      assert.equal((await postRaw(t.url, pageview(site, `https://${site}/`, { cid }), ua)).body.stored, 1)
    }
    assert.ok(botFlags(t, site).every((b) => b === 0))
    const live = await getJson<{ total: number }>(`${t.url}/api/live?site=${site}`)
    assert.equal(live.total, BROWSERS.length)
    const totals = await getJson<{ pageviews: number; visitors: number; bots: number }>(`${t.url}/api/totals?site=${site}&range=1h`)
    assert.deepEqual([totals.pageviews, totals.visitors, totals.bots], [BROWSERS.length, BROWSERS.length, 0])
  })

  it('a mix: the range counts the people and says how many bot hits it kept out', async () => {
    const site = 'mix.test'
    await postRaw(t.url, pageview(site, `https://${site}/a`, { cid: id('c') }), BROWSERS[0])
    for (const ua of ['curl/8.4.0', '', undefined]) await postRaw(t.url, pageview(site, `https://${site}/a`, { cid: id('c') }), ua)
    const totals = await getJson<{ pageviews: number; visitors: number; bots: number }>(`${t.url}/api/totals?site=${site}&range=1h`)
    assert.deepEqual([totals.pageviews, totals.visitors, totals.bots], [1, 1, 3])
    assert.equal((await getJson<{ total: number }>(`${t.url}/api/live?site=${site}`)).total, 1)
  })

  it("a tracker's socket sends no User-Agent: its process is still live and its samples stored", async () => {
    const tr = tracker({ name: 'agentless', hub: t.url, interval: 100, handleSignals: false }, { warn() {} })
    try {
      tr.bytes.sent('hello')
      await until('the process in presence', async () => (await t.hub.live.presence.processes()).some((p) => p.app === 'agentless'), 5000)
      await until('its events stored', async () => (await t.hub.store.countEvents('agentless')) >= 2, 5000)
    } finally {
      await tr.close()
    }
  })
})
