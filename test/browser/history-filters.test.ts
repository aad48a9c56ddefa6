/**
 * History's filters, comparison and engaged time in real Chromium against a real hub (issue 12.3,
 * 12.4, 12.2): clicking a top-list row adds its filter, filters show as chips that remove them, the
 * URL holds filters, range and comparison (a bookmark reopens the same view; back and forward step
 * through them), and every figure shown equals what the API answers for the same query.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'
import type { PageStint } from '../../src/hub/store/types'

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const SITE = 'filters.browser.test'
const MIN = 60_000

function buildIfMissing(): void {
  if (existsSync('dist/dashboard/index.html')) return
  const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' })
  assert.equal(r.status, 0, 'scripts/build-dashboard.mjs failed')
}

/** The KPI figure as shown, digits only. */
async function kpi(page: Page, key: string): Promise<string> {
  return page.evaluate((k) => document.querySelector(`.kpi-value[data-kpi="${k}"]`)?.textContent ?? '', key)
}

async function chips(page: Page): Promise<string[]> {
  return page.locator('.chips .chip').evaluateAll((els) => els.map((e) => (e.textContent ?? '').replace(/\s*×$/, '')))
}

describe('History filters in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  let api: (route: string, q: string) => Promise<Record<string, unknown>>

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    api = async (route, q) => (await (await fetch(`${t.url}/api/${route}?site=${SITE}&range=24h&${q}`)).json()) as Record<string, unknown>
    // visits over the last few hours, and the day before for the comparison
    const now = Date.now()
    const base = now - 5 * 60 * MIN
    const rows = []
    const sources = ['google.com', 'news.ycombinator.com', null, 'github.com']
    for (let v = 0; v < 40; v++) {
      const start = base + v * 6 * MIN
      const ref = sources[v % 4] ?? null
      const agent = { visitor: `v${v}`, browser: v % 3 === 0 ? 'Firefox' : 'Chrome', country: v % 5 === 0 ? 'DE' : 'NL' }
      rows.push(pageview({ site: SITE, ...agent, ts: start, path: v % 2 === 0 ? '/' : '/blog/live-analytics', refHost: ref }))
      if (v % 3 !== 2) rows.push(pageview({ site: SITE, ...agent, ts: start + 2 * MIN, path: '/pricing' }))
      if (v % 4 === 1) rows.push(pageview({ site: SITE, ...agent, ts: start + 4 * MIN, path: '/signup' }))
      // yesterday, fewer
      if (v % 2 === 0) rows.push(pageview({ site: SITE, ...agent, visitor: `y${v}`, ts: start - 24 * 60 * MIN, path: '/pricing', refHost: ref }))
    }
    await t.hub.store.append(rows)
    // engaged time on the first visit's pages, as a tab's session reports it
    const stint = (path: string, at: number, readingMs: number, writingMs: number): PageStint => ({ path, at, viewed: true, readingMs, writingMs, idleMs: 0, hiddenMs: 0 })
    await t.hub.store.appendSessions([{
      id: 'browser-session-1', site: SITE, visitor: 'v0', started: base, ended: base + 3 * MIN, pageviews: 2, readingMs: 80_000, writingMs: 20_000,
      idleMs: 0, hiddenMs: 0, entry: '/', exit: '/pricing', pages: [stint('/', base, 50_000, 0), stint('/pricing', base + 2 * MIN, 30_000, 20_000)],
    }])
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('a click on a row filters, chips remove filters, the URL round-trips and back/forward work', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}#history`)
    const pricing = page.locator('.top-list[data-dim="page"] .row-filter', { hasText: '/pricing' })
    await pricing.waitFor()
    const all = await api('totals', '')
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === String(n), all.pageviews)

    // click /pricing in Top pages: a filter, a chip, the URL, the figures of the filtered query
    await pricing.click()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('page') === '/pricing')
    assert.deepEqual(await chips(page), ['Page is /pricing'])
    const byPage = await api('totals', 'page=/pricing')
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === String(n), byPage.pageviews)
    assert.equal((await kpi(page, 'visits')).replace(/\D/g, ''), String(byPage.visits))

    // then a referrer: both filters hold
    await page.locator('.top-list[data-dim="referrer"] .row-filter', { hasText: 'google.com' }).click()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('referrer') === 'google.com')
    assert.deepEqual(await chips(page), ['Page is /pricing', 'Referrer is google.com'])
    const both = await api('totals', 'page=/pricing&referrer=google.com')
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visits"]')?.textContent?.replace(/\D/g, '') === String(n), both.visits)
    const refRows = await api('top', 'dim=referrer&page=/pricing&referrer=google.com')
    assert.deepEqual(await page.locator('.top-list[data-dim="referrer"] .row-filter').allTextContents(),
      (refRows.rows as { value: string }[]).map((r) => r.value))

    // a bookmark of this URL opens the same view
    const bookmark = page.url()
    const again = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await again.goto(bookmark)
    await again.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visits"]')?.textContent?.replace(/\D/g, '') === String(n), both.visits)
    assert.deepEqual(await chips(again), ['Page is /pricing', 'Referrer is google.com'])
    await again.close()

    // removing the first chip keeps the second
    await page.getByRole('button', { name: 'Remove filter: Page is /pricing' }).click()
    await page.waitForFunction(() => !new URL(location.href).searchParams.has('page'))
    assert.deepEqual(await chips(page), ['Referrer is google.com'])
    const byRef = await api('totals', 'referrer=google.com')
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === String(n), byRef.pageviews)

    // back: both filters again; back again: /pricing only; forward: both
    await page.goBack()
    await page.waitForFunction(() => document.querySelectorAll('.chips .chip').length === 2)
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visits"]')?.textContent?.replace(/\D/g, '') === String(n), both.visits)
    await page.goBack()
    await page.waitForFunction(() => document.querySelectorAll('.chips .chip').length === 1)
    assert.deepEqual(await chips(page), ['Page is /pricing'])
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === String(n), byPage.pageviews)
    await page.goForward()
    await page.waitForFunction(() => document.querySelectorAll('.chips .chip').length === 2)
    await page.close()
  })

  it('lists the direct visits as "Direct / None" among the referrers; a click filters by no referrer', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}#history`)
    const direct = page.locator('.top-list[data-dim="referrer"] .row-filter', { hasText: 'Direct / None' })
    await direct.waitFor()
    // every fourth visit came without a referrer: the rows add up to the visits
    const all = await api('totals', '')
    const refs = (await api('top', 'dim=referrer')).rows as { value: string; visits: number }[]
    assert.equal(refs.reduce((n, r) => n + r.visits, 0), all.visits)
    assert.equal(refs.find((r) => r.value === '')?.visits, 10)
    assert.deepEqual(await page.locator('.top-list[data-dim="referrer"] .row-filter').allTextContents(),
      refs.map((r) => (r.value === '' ? 'Direct / None' : r.value)))

    await direct.click()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('referrer') === '')
    assert.deepEqual(await chips(page), ['Referrer is Direct / None'])
    const none = await api('totals', 'referrer=')
    assert.equal(none.visits, 10)
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visits"]')?.textContent?.replace(/\D/g, '') === String(n), none.visits)
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === String(n), none.pageviews)
    assert.deepEqual(await page.locator('.top-list[data-dim="referrer"] .row-filter').allTextContents(), ['Direct / None'])

    // the bookmark keeps the empty filter
    const again = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await again.goto(page.url())
    await again.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visits"]')?.textContent?.replace(/\D/g, '') === String(n), none.visits)
    assert.deepEqual(await chips(again), ['Referrer is Direct / None'])
    await again.close()
    await page.close()
  })

  it('compares with the previous period, and shows engaged time per page and per visit', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(`${t.url}/?site=${SITE}&page=${encodeURIComponent('/pricing')}#history`)
    await page.locator('.chips .chip').waitFor()
    await page.getByRole('button', { name: 'Previous period' }).click()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('compare') === 'previous')
    const b = await api('totals', 'page=/pricing&compare=previous')
    const change = (b.compare as { change: Record<string, number | null> }).change
    const want = (c: number | null | undefined): string => (c === null || c === undefined ? '' : Math.round(c) > 0 ? `+${Math.round(c)}%` : Math.round(c) < 0 ? `−${-Math.round(c)}%` : '±0%')
    await page.waitForFunction((w) => document.querySelector('[data-kpi-change="pageviews"]')?.textContent === w, want(change.pageviews))
    assert.equal(await page.locator('[data-kpi-change="visits"]').textContent(), want(change.visits))
    // the chart draws the compared period too (a third series with values)
    const prev = (await api('series', 'page=/pricing&compare=previous')).previous as { points: { pageviews: number }[] }
    assert.ok(prev.points.some((p) => p.pageviews > 0))
    // engaged time: /pricing had 50 s engaged in one measured view, 40% of it writing
    const top = await api('top', 'dim=page&page=/pricing')
    assert.deepEqual((top.rows as Record<string, unknown>[])[0], { value: '/pricing', pageviews: byValue(top), engagedViews: 1, engagedMs: 50_000, writingShare: 0.4 })
    await page.waitForFunction(() => /50s · 40% writing/.test(document.querySelector('.top-list[data-dim="page"] td.engaged')?.textContent ?? ''))
    assert.equal(await kpi(page, 'engagedMs'), '1m 40s')
    assert.equal(await kpi(page, 'writingShare'), '20%')
    await page.close()
  })
})

function byValue(top: Record<string, unknown>): number {
  return ((top.rows as { pageviews: number }[])[0] as { pageviews: number }).pageviews
}
