/**
 * The dashboard (issue 6) in real Chromium against a real hub fed by real events: the board is right
 * at once and follows changes within 1 s, the feed grows and pauses, history charts draw stored
 * history and export CSV, the services panel shows a running job and its completion, tracked values
 * never become markup, and the token prompt opens the dashboard on a hub that enforces a token.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { tracker } from '../../src/tracker'
import { backfill, collect, Tab } from '../fixtures/dashboard/traffic'
import { sleep, until } from '../helpers/wait'

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const XSS = '<img src=x onerror=alert(1)>'
const JS_URL = 'javascript:alert(1)'

function buildIfMissing(): void {
  if (existsSync('dist/dashboard/index.html')) return
  const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' })
  assert.equal(r.status, 0, 'scripts/build-dashboard.mjs failed')
}


async function tiles(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => {
    const out: Record<string, number> = {}
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('.tile-value'))) out[el.dataset.state ?? ''] = Number((el.textContent ?? '').replace(/\D/g, ''))
    out.connections = Number((document.querySelector('.connections-value')?.textContent ?? '').replace(/\D/g, ''))
    return out
  })
}

/** Waits (polling inside the page) until the board shows `want`; resolves with the ms it took. */
async function boardShows(page: Page, want: Record<string, number>, timeoutMs = 10_000): Promise<number> {
  const t0 = Date.now()
  try {
    await page.waitForFunction((w) => {
      for (const [k, v] of Object.entries(w)) {
        const el = k === 'connections' ? document.querySelector('.connections-value') : document.querySelector(`.tile-value[data-state="${k}"]`)
        if (el === null || Number((el.textContent ?? '').replace(/\D/g, '')) !== v) return false
      }
      return true
    }, want, { timeout: timeoutMs, polling: 'raf' })
  } catch (err) {
    throw new Error(`board shows ${JSON.stringify(await tiles(page))}, wanted ${JSON.stringify(want)}: ${String(err)}`)
  }
  return Date.now() - t0
}

describe('dashboard in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const site = 'board.test'
  const tabs: Tab[] = []

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
  })
  after(async () => {
    await Promise.all(tabs.map((x) => x.close()))
    await browser?.close()
    await t?.stop()
  })

  it('is served with the CSP, and loads nothing inline', async () => {
    const res = await fetch(`${t.url}/`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/)
    const html = await res.text()
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/)
    assert.doesNotMatch(html, /\sstyle=|<style/)
    const page = await browser.newPage()
    const violations: string[] = []
    page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()) })
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('.status-live', { state: 'attached' })
    await page.close()
    assert.deepEqual(violations, [])
  })

  it('shows the right numbers at once from the snapshot, then follows changes within 1 s', async () => {
    const states = ['reading', 'reading', 'reading', 'writing', 'idle', 'hidden'] as const
    for (let i = 0; i < states.length; i++) {
      const tab = new Tab(t.url, site, i)
      tabs.push(tab)
      await tab.view(i < 3 ? '/docs' : '/', { title: 'Docs' })
      if (states[i] !== 'reading') await tab.state(states[i] as 'writing', )
    }
    await until('presence to count 6', async () => (await t.hub.countStates(site)).total === 6)
    const page = await browser.newPage()
    const opened = Date.now()
    await page.goto(`${t.url}/?site=${site}`)
    await boardShows(page, { total: 6, reading: 3, writing: 1, idle: 2, connections: 6 }) // the hidden tab is idle: 3 + 1 + 2 = 6
    const atOnce = Date.now() - opened
    // "at once" means from the snapshot, not from later diffs (none are sent while nothing changes);
    // the bound only catches a board that waits for a poll or a timer. How fast it really is, is
    // measured by bench/dashboard.ts and bench/live-latency.ts, not here: on a loaded CI machine
    // page load alone has taken 4-6 s
    assert.ok(atOnce < 10_000, `board right ${atOnce} ms after navigation`)
    // live pages: /docs with 3 reading
    const docs = await page.locator('.pages tbody tr', { hasText: '/docs' }).innerText()
    assert.match(docs, /\/docs\s+3\s+3\s+0\s+0/)

    await (tabs[0] as Tab).state('writing')
    assert.ok((await boardShows(page, { total: 6, reading: 2, writing: 2, idle: 2 })) <= 1000, 'state change shown within 1 s')
    const joiner = new Tab(t.url, site, 99)
    tabs.push(joiner)
    await joiner.view('/new')
    assert.ok((await boardShows(page, { total: 7, reading: 3, connections: 7 })) <= 1000, 'join shown within 1 s')
    await joiner.close()
    assert.ok((await boardShows(page, { total: 6, reading: 2, connections: 6 })) <= 1000, 'tab close shown within 1 s')
    await page.close()
  })

  it('feed grows as page views arrive, pauses, and resumes', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('.feed tbody tr')
    const rows = () => page.locator('.feed tbody tr').count()
    const n0 = await rows()
    for (let i = 0; i < 3; i++) await collect(t.url, [{ type: 'pageview', site, url: `https://${site}/feed-${i}`, referrer: 'https://ref.example/' }], 200 + i)
    await until('3 new feed rows', async () => (await rows()) === n0 + 3, 3000)
    assert.match(await page.locator('.feed tbody tr').first().innerText(), /\/feed-2/)
    await page.getByRole('button', { name: 'Pause' }).click()
    await collect(t.url, [{ type: 'pageview', site, url: `https://${site}/while-paused` }], 210)
    await page.waitForFunction(() => /1 new/.test(document.querySelector('.feed .panel-head')?.textContent ?? ''))
    assert.equal(await rows(), n0 + 3)
    await page.getByRole('button', { name: 'Resume' }).click()
    await until('the held row', async () => (await rows()) === n0 + 4, 2000)
    assert.match(await page.locator('.feed tbody tr').first().innerText(), /while-paused/)
    await page.close()
  })

  it('feed stays capped under a burst', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('.feed tbody tr')
    // 10 batches of 20, apart by more than the live channel's 25 ms: 200 rows reach the page (a diff
    // carries at most 20 pageviews), twice the feed's cap
    for (let b = 0; b < 10; b++) {
      const burst = Array.from({ length: 20 }, (_, i) => ({ type: 'pageview', site, url: `https://${site}/burst-${b * 20 + i}` }))
      await collect(t.url, burst, 300 + b)
      await sleep(40)
    }
    await page.waitForFunction(() => /burst-199/.test(document.querySelector('.feed tbody tr')?.textContent ?? ''))
    assert.equal(await page.locator('.feed tbody tr').count(), 100)
    await page.close()
  })

  it('history draws stored history, lists top values, and exports what it shows as CSV', async () => {
    await backfill(t.hub, site, 2, 20)
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}#history`)
    await page.waitForSelector('.history .uplot canvas')
    await page.waitForFunction(() => document.querySelectorAll('.history .uplot').length === 2)
    const totals = await (await fetch(`${t.url}/api/totals?site=${site}&range=24h`)).json() as { visitors: number; pageviews: number; visits: number }
    assert.ok(totals.pageviews > 100)
    await page.waitForFunction((n) => (document.querySelector('.kpi-value[data-kpi=pageviews]')?.textContent ?? '').replace(/\D/g, '') === String(n), totals.pageviews)
    assert.ok(totals.visits > 50)
    await page.waitForFunction((n) => (document.querySelector('.kpi-value[data-kpi=visits]')?.textContent ?? '').replace(/\D/g, '') === String(n), totals.visits)
    assert.ok(await page.locator('.top-list', { hasText: 'Entry pages' }).locator('tbody tr').count() > 3)
    // something was drawn: the traffic chart's canvas has coloured pixels
    const drawn = await page.evaluate(() => {
      const c = document.querySelector<HTMLCanvasElement>('.history .uplot canvas')
      if (c === null) return 0
      const d = c.getContext('2d')?.getImageData(0, 0, c.width, c.height).data ?? new Uint8ClampedArray()
      let n = 0
      for (let i = 3; i < d.length; i += 4) if ((d[i] as number) > 0) n++
      return n
    })
    assert.ok(drawn > 500, `chart pixels drawn: ${drawn}`)
    assert.ok(await page.locator('.top-list', { hasText: 'Top pages' }).locator('tbody tr').count() > 3)
    await page.getByRole('button', { name: '7 days' }).click()
    await page.waitForFunction(() => /by day/.test(document.querySelector('.history [role=status]')?.textContent ?? ''))
    // more pages than a list shows: the CSV carries each list whole, as the API answers it
    const extra = Array.from({ length: 14 }, (_, i) => ({
      id: `csv-extra-${i}`, ts: Date.now() - 3_600_000 + i * 1000, type: 'pageview' as const, site, visitor: `csv-v${i}`, cid: null,
      host: site, path: `/csv-extra-${i}`, title: null, referrer: null, refHost: null, utmSource: null, utmMedium: null,
      utmCampaign: null, utmTerm: null, keyword: null, browser: 'Firefox', os: 'Linux', device: 'desktop', bot: false,
      country: 'SE', region: null, city: null, screen: null, language: 'en', name: null, data: null, instance: null,
    }))
    await t.hub.store.append(extra)
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    const csv = readFileSync(await download.path(), 'utf8')
    assert.match(csv, /^Livestats board\.test /)
    assert.match(csv, /Top pages\r\npage,pageviews,engaged_views,engaged_ms_per_view,writing_share,scroll_views,scroll_depth_percent\r\n/)
    assert.match(csv, /Entry pages\r\nentry_page,visits,bounces,pageviews,duration_ms\r\n/)
    assert.match(csv, /\/docs/)
    assert.match(csv, /Live visitors by state/)
    // every History list is a section, with the rows /api/top gives for the same query (up to 1000)
    const sections = new Map(csv.split('\r\n\r\n').map((sec) => {
      const [title = '', header = '', ...rows] = sec.split('\r\n').filter((l) => l !== '')
      return [title, { header, rows }] as const
    }))
    const lists = [['page', 'Top pages'], ['referrer', 'Referrers'], ['utm_source', 'UTM sources'], ['utm_medium', 'UTM media'],
      ['utm_campaign', 'UTM campaigns'], ['utm_term', 'UTM terms'], ['keyword', 'Keywords'], ['browser', 'Browsers'],
      ['os', 'Operating systems'], ['device', 'Devices'], ['event', 'Custom events'], ['country', 'Countries'], ['region', 'Regions'],
      ['city', 'Cities'], ['entry_page', 'Entry pages'], ['exit_page', 'Exit pages']] as const
    for (const [dim, title] of lists) {
      const sec = sections.get(title)
      assert.ok(sec !== undefined, `CSV has a ${title} section`)
      assert.ok(sec.header.startsWith(`${dim},`), `${title} header: ${sec.header}`)
      const api = await (await fetch(`${t.url}/api/top?site=${site}&range=7d&dim=${dim}&limit=1000`)).json() as { rows: { value: string }[] }
      // the visits without a referrer are the row '' in the API, written "Direct / None" in the CSV as on screen
      const want = api.rows.map((r) => (dim === 'referrer' && r.value === '' ? 'Direct / None' : r.value))
      assert.deepEqual(sec.rows.map((r) => r.split(',')[0]), want, `${title} rows`)
    }
    const pages = sections.get('Top pages')?.rows ?? []
    assert.ok(pages.length > 10, `Top pages in the CSV: ${pages.length} rows`)
    for (let i = 0; i < 14; i++) assert.ok(pages.some((r) => r.startsWith(`/csv-extra-${i},1,`)), `/csv-extra-${i} in the CSV`)
    await page.close()
  })

  it('services panel shows a running job with its age, then its completion, and rates pushed live (no polling)', async () => {
    const tr = tracker({ name: 'svc-test', hub: t.url, interval: 100, instance: 'box:1', handleSignals: false }, { warn() {} })
    try {
      const page = await browser.newPage()
      // the services view's own fetches (the header's site list asks for range=24h)
      const fetches: string[] = []
      page.on('request', (r) => { if (/\/api\/processes\?.*range=1h/.test(r.url())) fetches.push(r.url()) })
      const opened = Date.now()
      await page.goto(`${t.url}/?site=${site}#services`)
      const job = tr.job.start('import-users')
      const card = page.locator('.proc[data-key="svc-test/box:1"]')
      await card.locator('.jobs-running li', { hasText: 'import-users' }).waitFor({ timeout: 5000 })
      assert.match(await card.locator('.conn').innerText(), /connected since/)
      assert.match(await card.innerText(), /Running now: 1/)
      const sent = card.locator('.stat', { hasText: 'Sent' }).locator('.stat-value')
      const read = card.locator('.stat', { hasText: 'DB rows read' }).locator('.stat-value')
      const before = await sent.innerText()
      tr.bytes.sent('x'.repeat(5000))
      tr.database.read([1, 2, 3])
      await until('bytes/s on the page to change', async () => (await sent.innerText()) !== before && /B\/s/.test(await sent.innerText()))
      await until('DB rows/s on the page', async () => !/^(–|0\/s)$/.test(await read.innerText()))
      job.stop()
      await card.locator('.jobs-running li', { hasText: 'import-users' }).waitFor({ state: 'detached', timeout: 5000 })
      const row = card.locator('table.jobs tbody tr', { hasText: 'import-users' })
      await row.waitFor({ timeout: 5000 })
      await until('jobs in the last 60 s', async () => (await card.locator('.stat', { hasText: 'Jobs, last 60 s' }).locator('.stat-value').innerText()) === '1')
      assert.match(await card.innerText(), /Running now: 0/)
      const stuck = tr.job.start('stuck-one', Date.now() - 120_000)
      await card.locator('.jobs-running li.stuck', { hasText: 'stuck-one' }).waitFor({ timeout: 5000 })
      stuck.stop()
      // long enough for the old 5 s poll to have fired at least once
      await sleep(Math.max(0, opened + 5500 - Date.now()))
      assert.equal(fetches.length, 1, `one /api/processes fetch on open, then only pushes: ${fetches.join(', ')}`)
      await page.close()
    } finally {
      await tr.close({ timeout: 1000 })
    }
  })

  it('adds a site to the switcher the moment it gets its first visitor, without polling', async () => {
    const page = await browser.newPage()
    const listings: number[] = []
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/sites') listings.push(Date.now()) })
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('#site option', { state: 'attached' })
    const fresh = `fresh-${Date.now()}.test`
    assert.equal(await page.locator(`#site option[value="${fresh}"]`).count(), 0)
    const before = listings.length
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(listings.length, before, 'no request while nothing happens')
    const tab = new Tab(t.url, fresh, 7)
    tabs.push(tab)
    await tab.view('/')
    await until('the new site in the switcher', async () => (await page.locator(`#site option[value="${fresh}"]`).count()) === 1, 2000)
    await page.close()
  })

  it('is usable from the keyboard: skip link, tabs with arrow keys, theme and pause buttons', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('.tab')
    await page.keyboard.press('Tab')
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content')
    // Tab on until a view tab has focus, then the arrows move between views
    for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement?.getAttribute('role') === 'tab')); i++) {
      await page.keyboard.press('Tab')
    }
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-live')
    await page.keyboard.press('ArrowRight')
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'tab-history')
    await until('the history view to show', () => page.evaluate(() => document.getElementById('view-history')?.hidden === false))
    assert.equal(await page.getAttribute('#tab-history', 'aria-selected'), 'true')
    assert.equal(await page.evaluate(() => document.getElementById('view-live')?.hidden), true)
    await page.keyboard.press('ArrowLeft')
    await until('the live view to show', () => page.evaluate(() => document.getElementById('view-live')?.hidden === false))
    // native buttons answer Enter
    await page.focus('button[aria-label="Theme"]')
    const before = await page.locator('button[aria-label="Theme"]').innerText()
    await page.keyboard.press('Enter')
    assert.notEqual(await page.locator('button[aria-label="Theme"]').innerText(), before)
    await page.close()
  })

  it('renders every tracked value as text: no dialog, no markup, the payload shown literally', async () => {
    const xsite = 'xss.test'
    await collect(t.url, [
      { type: 'pageview', site: xsite, url: `https://${xsite}/a?utm_source=${encodeURIComponent(XSS)}&utm_term=${encodeURIComponent(XSS)}`, title: XSS, referrer: JS_URL },
      { type: 'pageview', site: xsite, url: `https://${xsite}/${encodeURIComponent(XSS)}`, title: JS_URL, referrer: `https://evil.example/${XSS}` },
      { type: 'event', site: xsite, name: XSS, url: `https://${xsite}/a` },
    ], 400)
    const tab = new Tab(t.url, xsite, 401)
    tabs.push(tab)
    await tab.view(`/${XSS}`, { title: XSS, referrer: JS_URL })
    const tr = tracker({ name: XSS, hub: t.url, interval: 100, instance: JS_URL, handleSignals: false }, { warn() {} })
    const job = tr.job.start(XSS)
    const done = tr.job.start(JS_URL)
    done.stop(new Error(XSS))
    const page = await browser.newPage()
    const dialogs: string[] = []
    page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss() })
    try {
      await page.goto(`${t.url}/?site=${xsite}#live`)
      await page.getByText(XSS).first().waitFor()
      await page.locator('.feed').getByText(JS_URL).first().waitFor()
      await page.goto(`${t.url}/?site=${xsite}#history`)
      await page.locator('.top-list', { hasText: 'Custom events' }).getByText(XSS, { exact: true }).waitFor()
      await page.locator('.top-list', { hasText: 'UTM sources' }).getByText(XSS, { exact: true }).waitFor()
      await page.locator('.top-list', { hasText: 'Keywords' }).getByText(XSS, { exact: true }).waitFor()
      await page.goto(`${t.url}/?site=${xsite}#services`)
      await page.locator('.jobs-running').getByText(XSS, { exact: true }).waitFor({ timeout: 5000 })
      await page.locator('.proc .app').getByText(XSS, { exact: true }).waitFor()
      await page.locator('table.jobs').getByText(JS_URL, { exact: true }).waitFor({ timeout: 5000 })
      await page.waitForTimeout(300)
      assert.equal(await page.locator('img').count(), 0, 'no <img> was ever made from a tracked value')
      assert.equal(await page.locator('a[href^="javascript:"]').count(), 0)
      assert.deepEqual(dialogs, [])
      await page.close()
    } finally {
      job.stop()
      await tr.close({ timeout: 1000 })
    }
  })
})

describe('dashboard token prompt', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const TOKEN = 'dashboard-test-token-0123456789'

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub({ auth: 'on', token: TOKEN })
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('asks for the token on 401, retries with it, and opens the live channel with it', async () => {
    const tab = new Tab(t.url, 'secure.test', 1)
    await tab.view('/inside')
    await until('presence', async () => (await t.hub.countStates('secure.test')).total === 1)
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=secure.test`)
    const dialog = page.getByRole('dialog', { name: 'Access token' })
    await dialog.waitFor()
    await page.getByLabel('Token', { exact: true }).fill('wrong-token-wrong-token')
    await page.getByRole('button', { name: 'Open dashboard' }).click()
    await dialog.waitFor() // asked again
    await page.getByLabel('Token', { exact: true }).fill(TOKEN)
    await page.getByRole('button', { name: 'Open dashboard' }).click()
    await boardShows(page, { total: 1, reading: 1 })
    assert.equal(await page.evaluate(() => sessionStorage.getItem('livestats.token')), TOKEN)
    // reload: the stored token is used without asking
    await page.reload()
    await boardShows(page, { total: 1 })
    assert.equal(await dialog.count(), 0)
    await page.close()
    await tab.close()
  })
})
