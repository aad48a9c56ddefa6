/**
 * History as a person reads it, in real Chromium against a real hub, at 1280 and 390 px wide:
 * figures that would contradict each other under a page filter are left out (and the screen says
 * why), durations stay on one line in their tiles, the legend names only the series drawn, a lone
 * live sample is drawn, and on a phone the funnel picker shows the whole name and the goals'
 * figures keep apart. Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'

const SITE = 'screen.browser.test'
const MIN = 60_000
const FUNNEL = 'Homepage to signup, the whole way'

/** Waits until History shows the visitors figure the API answers for `q`. */
async function open(page: Page, url: string, visitors: number): Promise<void> {
  await page.goto(url)
  await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visitors"]')?.textContent === n, String(visitors))
}

/** Lines a text takes on screen: the distinct tops of its text's rectangles. */
async function lines(page: Page, selector: string): Promise<number[]> {
  return page.locator(selector).evaluateAll((els) => els.map((el) => {
    const r = document.createRange()
    r.selectNodeContents(el)
    return new Set(Array.from(r.getClientRects()).map((x) => Math.round(x.top))).size
  }))
}

describe('History on screen in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  let api: (route: string, q?: string) => Promise<Record<string, unknown>>

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    api = async (route, q = '') => (await (await fetch(`${t.url}/api/${route}?site=${SITE}&range=24h&${q}`)).json()) as Record<string, unknown>
    const start = Date.now() - 5 * 60 * MIN
    const pv = (visitor: string, at: number, path: string) => pageview({ site: SITE, visitor, ts: start + at, path })
    // four visits: 25, 20 and 1 minutes long, one bounce; /pricing in three of them
    await t.hub.store.append([
      pv('v0', 0, '/'), pv('v0', 2 * MIN, '/pricing'), pv('v0', 25 * MIN, '/signup'),
      pv('v1', 40 * MIN, '/pricing'), pv('v1', 60 * MIN, '/'),
      pv('v2', 90 * MIN, '/'), pv('v2', 91 * MIN, '/books/the-dispossessed'),
      pv('v3', 120 * MIN, '/pricing'),
      // the day before, for a comparison
      pageview({ site: SITE, visitor: 'y0', ts: start - 24 * 60 * MIN, path: '/' }),
    ])
    // v0's tab was engaged 1 min 6 s
    await t.hub.store.appendSessions([{
      id: 'screen-session-1', site: SITE, visitor: 'v0', started: start, ended: start + 26 * MIN, pageviews: 3, readingMs: 60_000, writingMs: 6_000,
      idleMs: 0, hiddenMs: 0, entry: '/', exit: '/signup', pages: [{ path: '/', at: start, viewed: true, readingMs: 60_000, writingMs: 6_000, idleMs: 0, hiddenMs: 0 }],
    }])
    // one stored minute of live states in the whole range: a value with gaps on both sides
    await t.hub.store.appendLiveSamples([{ site: SITE, minute: Math.floor((start + 60 * MIN) / MIN) * MIN, totalMax: 2, totalMean: 2, readingMax: 2, readingMean: 2, writingMax: 0, writingMean: 0, idleMax: 0, idleMean: 0 }])
    const post = async (path: string, body: unknown) => {
      const r = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      assert.equal(r.status, 201, await r.text())
    }
    await post('/api/goals', { site: SITE, page: '/**', name: 'Any page' })
    await post('/api/goals', { site: SITE, page: '/pricing' })
    await post('/api/funnels', { site: SITE, name: FUNNEL, steps: [{ page: '/' }, { page: '/signup' }, { event: 'Signup' }] })
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('under a page filter, views per visit is left out and the screen says why', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const all = await api('totals')
    await open(page, `${t.url}/?site=${SITE}#history`, all.visitors as number)
    assert.equal(await page.locator('.kpi-value[data-kpi="viewsPerVisit"]').textContent(), (all.viewsPerVisit as number).toFixed(1))
    assert.ok(await page.locator('.kpi-value[data-kpi="viewsPerVisit"]').isVisible())
    assert.ok(!(await page.locator('#hist-page-note').isVisible()))

    // /pricing: 3 page views in 3 visits, whose 6 page views the API divides by 3
    const byPage = await api('totals', 'page=/pricing')
    assert.deepEqual([byPage.pageviews, byPage.visits, byPage.viewsPerVisit], [3, 3, 2])
    await page.locator('.top-list[data-dim="page"] .row-filter', { hasText: '/pricing' }).click()
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visitors"]')?.textContent === n, String(byPage.visitors))
    assert.equal(await page.locator('.kpi-value[data-kpi="pageviews"]').textContent(), '3')
    assert.equal(await page.locator('.kpi-value[data-kpi="visits"]').textContent(), '3')
    assert.ok(!(await page.locator('.kpi-value[data-kpi="viewsPerVisit"]').isVisible()), 'no "2.0 views per visit" beside 3 page views in 3 visits')
    assert.match(await page.locator('#hist-page-note').innerText(), /page views count that page only/)
    // the CSV export leaves it out too: the figures' section has no views_per_visit under the filter
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    const figures = readFileSync(await download.path() as string, 'utf8').split('\r\n\r\n')[0]?.split('\r\n') ?? []
    const col = (figures[1] ?? '').split(',').indexOf('views_per_visit')
    assert.ok(col > 0, 'a views_per_visit column')
    assert.deepEqual([(figures[2] ?? '').split(',')[0], (figures[2] ?? '').split(',')[col], (figures[2] ?? '').split(',')[4]], ['this', '', '3'], 'no views per visit, 3 page views')
    // the same from the URL, and for "contains"; a visit dimension (entry page) keeps the figure
    await open(page, `${t.url}/?site=${SITE}&page=~pric#history`, byPage.visitors as number)
    assert.ok(!(await page.locator('.kpi-value[data-kpi="viewsPerVisit"]').isVisible()))
    const byEntry = await api('totals', 'entry_page=/pricing')
    await open(page, `${t.url}/?site=${SITE}&entry_page=/pricing#history`, byEntry.visitors as number)
    assert.equal(await page.locator('.kpi-value[data-kpi="viewsPerVisit"]').textContent(), (byEntry.viewsPerVisit as number).toFixed(1))
    assert.ok(!(await page.locator('#hist-page-note').isVisible()))
    await page.close()
  })

  it('under a page filter, Goals and Funnels say what each counts (a goal on another page reads 0, a funnel counts whole visits)', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const all = await api('totals')
    await open(page, `${t.url}/?site=${SITE}#history`, all.visitors as number)
    await page.locator('.funnels tbody tr').first().waitFor()
    assert.ok(!(await page.locator('#goals-page-note').isVisible()))
    assert.doesNotMatch(await page.locator('.funnels [role="status"]').innerText(), /filters/)
    // /signup: the /pricing goal counts no page view of /signup, the funnel counts v0's whole visit
    const conv = await api('conversions', 'page=/signup')
    const pricing = (conv.goals as { name: string; visitors: number }[]).find((g) => g.name === 'Visit /pricing')
    assert.equal(pricing?.visitors, 0)
    const funnels = (await api('funnels')).funnels as { id: string }[]
    const f = await api('funnel', `page=/signup&id=${funnels[0]?.id ?? ''}`)
    assert.deepEqual((f.steps as { visitors: number }[]).map((x) => x.visitors), [1, 1, 0])
    await open(page, `${t.url}/?site=${SITE}&page=/signup#history`, (await api('totals', 'page=/signup')).visitors as number)
    await page.waitForFunction(() => /filters choose the visits/.test(document.querySelector('.funnels [role="status"]')?.textContent ?? ''))
    assert.match(await page.locator('#goals-page-note').innerText(), /goals count what happened on that page/)
    // another filter: the funnel says so, the goals need no note
    await open(page, `${t.url}/?site=${SITE}&browser=Firefox#history`, (await api('totals', 'browser=Firefox')).visitors as number)
    await page.waitForFunction(() => /filters choose the visits/.test(document.querySelector('.funnels [role="status"]')?.textContent ?? ''))
    assert.ok(!(await page.locator('#goals-page-note').isVisible()))
    await page.close()
  })

  it('durations stay on one line in their tiles, in the same type as the other figures, at 1600, 1280, 800 and 390 px', async () => {
    const all = await api('totals')
    assert.equal(all.visitDurationMs, 11.5 * MIN)
    assert.equal(all.engagedMs, 66_000)
    for (const width of [1600, 1280, 800, 390]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } })
      await open(page, `${t.url}/?site=${SITE}#history`, all.visitors as number)
      assert.equal(await page.locator('.kpi-value[data-kpi="visitDurationMs"]').textContent(), '11m 30s')
      assert.equal(await page.locator('.kpi-value[data-kpi="engagedMs"]').textContent(), '1m 6s')
      assert.deepEqual(await lines(page, '.kpi-value'), [1, 1, 1, 1, 1, 1, 1, 1], `one line per figure at ${width} px`)
      const over = await page.locator('.kpi').evaluateAll((els) => els.filter((e) => e.scrollWidth > e.clientWidth).map((e) => e.textContent))
      assert.deepEqual(over, [], `no figure wider than its tile at ${width} px`)
      const sizes = await page.locator('.kpi-value').evaluateAll((els) => [...new Set(els.map((e) => getComputedStyle(e).fontSize))])
      assert.equal(sizes.length, 1, `one type size for the figures at ${width} px: ${sizes.join(', ')}`)
      await page.close()
    }
  })

  it('the legend names the compared period only when one is compared', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const legend = () => page.locator('.u-legend').first().locator('.u-series').evaluateAll((els) =>
      els.filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.querySelector('.u-label')?.textContent ?? ''))
    const all = await api('totals')
    await open(page, `${t.url}/?site=${SITE}#history`, all.visitors as number)
    assert.deepEqual(await legend(), ['Time', 'Visitors', 'Page views'])
    await page.getByRole('button', { name: 'Previous period' }).click()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('compare') === 'previous')
    await page.waitForFunction(() => document.querySelector('[data-kpi-change="pageviews"]')?.textContent !== '')
    assert.deepEqual(await legend(), ['Time', 'Visitors', 'Page views', 'Page views, compared period'])
    await page.getByRole('button', { name: 'No comparison' }).click()
    await page.waitForFunction(() => document.querySelector('[data-kpi-change="pageviews"]')?.textContent === '')
    assert.deepEqual(await legend(), ['Time', 'Visitors', 'Page views'])
    await page.close()
  })

  it('each list heads its first column with what it holds', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await open(page, `${t.url}/?site=${SITE}#history`, (await api('totals')).visitors as number)
    const heads = await page.locator('.tops .top-list[data-dim]:not([hidden])').evaluateAll((els) =>
      els.filter((e) => !e.closest('.conversions')).map((e) => `${e.getAttribute('data-dim')}: ${e.querySelector('thead th')?.textContent ?? ''}`))
    assert.deepEqual(heads, ['page: Page', 'referrer: Referrer', 'utm_source: Source', 'keyword: Keyword', 'browser: Browser', 'os: System',
      'device: Device', 'country: Country', 'region: Region', 'city: City', 'entry_page: Entry page', 'exit_page: Exit page'])
    await page.close()
  })

    it('Top pages has a Scroll column only with scroll depths, and on a phone its paths keep one line', async () => {
    const rows = (await api('top', 'dim=page')).rows as Record<string, unknown>[]
    assert.ok(rows.every((r) => r.scrollDepth === undefined))
    assert.ok(rows.some((r) => typeof r.writingShare === 'number' && r.writingShare > 0), 'a page with a writing share')
    for (const width of [1280, 390]) {
      const page = await browser.newPage({ viewport: { width, height: 900 } })
      await open(page, `${t.url}/?site=${SITE}#history`, (await api('totals')).visitors as number)
      const list = page.locator('.top-list[data-dim="page"]')
      assert.deepEqual(await list.locator('thead th').evaluateAll((ths) => ths.filter((e) => getComputedStyle(e).display !== 'none').map((e) => e.textContent)),
        ['Page', 'Engaged', 'Views'], `no Scroll column of dashes at ${width} px`)
      assert.equal(await list.locator('td.depth').count(), 0)
      // "1m 6s · 9% writing" beside the paths: the share goes under the time on a phone, and no path breaks
      assert.match(await list.locator('td.engaged').first().textContent() ?? '', /^1m 6s · 9% writing$/)
      assert.deepEqual(await lines(page, '.top-list[data-dim="page"] .row-filter'), rows.map(() => 1), `one line per path at ${width} px`)
      await page.close()
    }
  })

  it('a lone live sample among gaps is drawn', async () => {
    const samples = (await api('live-history')).samples as unknown[]
    assert.equal(samples.length, 1)
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await open(page, `${t.url}/?site=${SITE}#history`, (await api('totals')).visitors as number)
    // coloured pixels on the live-state chart's canvas: the axes and grid are grey, the series are not
    const coloured = await page.locator('figure.chart[aria-label^="Live visitors"] canvas').evaluate((c: HTMLCanvasElement) => {
      const d = (c.getContext('2d') as CanvasRenderingContext2D).getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 0; i < d.length; i += 4) if (Math.max(d[i] ?? 0, d[i + 1] ?? 0, d[i + 2] ?? 0) - Math.min(d[i] ?? 0, d[i + 1] ?? 0, d[i + 2] ?? 0) > 60) n++
      return n
    })
    assert.ok(coloured > 10, `the sample is drawn (${coloured} coloured pixels)`)
    await page.close()
  })

  it('on a phone, the funnel picker shows the whole name and the goals keep their figures apart', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    await open(page, `${t.url}/?site=${SITE}#history`, (await api('totals')).visitors as number)
    await page.locator('.funnels tbody tr').first().waitFor()
    const fit = await page.locator('#funnel-pick').evaluate((s: HTMLSelectElement) => {
      const probe = document.createElement('span')
      probe.style.font = getComputedStyle(s).font
      probe.style.whiteSpace = 'pre'
      probe.textContent = s.selectedOptions[0]?.textContent ?? ''
      document.body.append(probe)
      const text = probe.getBoundingClientRect().width
      probe.remove()
      return { name: s.selectedOptions[0]?.textContent, text, room: s.clientWidth - 40 }
    })
    assert.equal(fit.name, FUNNEL)
    assert.ok(fit.text <= fit.room, `"${FUNNEL}" (${Math.round(fit.text)} px) fits its picker (${fit.room} px of text room)`)
    assert.deepEqual(await lines(page, '.funnels .panel-head .btn'), [1, 1], 'New funnel and Delete on one line each')
    // a step nobody reached has an empty bar, not a sliver that reads as a few visitors
    const bars = await page.locator('.funnels tbody tr').evaluateAll((trs) => trs.map((tr) =>
      [tr.querySelector('[data-col="visitors"]')?.textContent, (tr.querySelector('.bar-fill')?.getBoundingClientRect().width ?? 0) > 0]))
    assert.deepEqual(bars, [['3', true], ['1', true], ['0', false]])
    // goals: the figures of "Any page" (4 visitors, 100%) with room between them, and the name on one line
    const row = page.locator('.goals tr', { hasText: 'Any page' })
    assert.equal(await row.locator('[data-figure="rate"] .v').textContent(), '100%')
    const gap = await row.evaluate((tr) => {
      const v = tr.querySelector('[data-figure="visitors"] .v')?.getBoundingClientRect()
      const r = tr.querySelector('[data-figure="rate"] .v')?.getBoundingClientRect()
      return v === undefined || r === undefined ? -1 : r.left - v.right
    })
    assert.ok(gap >= 12, `4 and 100% apart by ${gap} px`)
    assert.deepEqual(await lines(page, '.goals tr[data-goal] .goal-name'), [1, 1], 'goal names on one line')
    // the new-funnel form numbers its steps (a flex row has no list marker)
    await page.getByRole('button', { name: 'New funnel' }).click()
    await page.getByRole('button', { name: 'Add step' }).click()
    assert.deepEqual(await page.locator('.funnel-steps li').evaluateAll((lis) => lis.map((li) => {
      const before = getComputedStyle(li, '::before')
      // the number, the kind, the page and the remove button on one line
      const tops = ['.step-kind', '.step-value', '.step-remove'].map((sel) => Math.round(li.querySelector(sel)?.getBoundingClientRect().top ?? -1))
      return [before.content, before.display !== 'none' && li.getBoundingClientRect().left < (li.querySelector('select')?.getBoundingClientRect().left ?? 0) &&
        new Set(tops).size === 1]
    })), [['counter(step) "."', true], ['counter(step) "."', true], ['counter(step) "."', true]])
    await page.getByRole('button', { name: 'Cancel' }).click()
    const over = await page.locator('.goals').evaluate((p) => p.scrollWidth > p.clientWidth)
    assert.equal(over, false, 'the goals table fits the phone')
    await page.close()
  })
})
