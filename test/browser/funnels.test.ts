/**
 * History's Funnels panel in real Chromium against a real hub (issue 13.3): define a funnel in the
 * form (a page, a pattern and an event with a property match), see one row per step whose
 * visitors, conversion and drop-off equal what /api/funnel answers for the same query, follow a
 * filter added by clicking a top-list row, and delete it. Tracked text (a page with markup in its
 * path) stays text. Writes a screenshot to FUNNEL_SHOT when set.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const SITE = 'funnels.browser.test'
const MIN = 60_000

function buildIfMissing(): void {
  if (existsSync('dist/dashboard/index.html')) return
  const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' })
  assert.equal(r.status, 0, 'scripts/build-dashboard.mjs failed')
}

/** The panel's rows as shown: [label, visitors, conversion, drop-off]. */
async function rows(page: Page): Promise<string[][]> {
  return page.locator('.funnels tbody tr').evaluateAll((trs) => trs.map((tr) =>
    Array.from(tr.querySelectorAll('td')).map((td) => (td.querySelector('.step-label') ?? td).textContent ?? '')))
}

const pct = (n: number | null): string => (n === null ? '–' : `${(n * 100).toFixed(n < 0.1 && n > 0 ? 1 : 0)}%`)

describe('History funnels in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    const now = Date.now()
    const base = now - 5 * 60 * MIN
    const rows = []
    // 48 visits: all land on /, two in three go on to a /blog/ page, every fourth of those signs up
    // (plan pro on odd visits), some visit a page whose path holds markup
    for (let v = 0; v < 48; v++) {
      const start = base + v * 5 * MIN
      const agent = { site: SITE, visitor: `v${v}`, browser: v % 3 === 0 ? 'Firefox' : 'Chrome' }
      rows.push(pageview({ ...agent, ts: start, path: '/' }))
      if (v % 3 !== 2) rows.push(pageview({ ...agent, ts: start + MIN, path: `/blog/post-${v % 4}` }))
      if (v % 3 !== 2 && v % 4 < 2) {
        rows.push(pageview({ ...agent, ts: start + 2 * MIN, type: 'event', name: 'Signup', data: JSON.stringify({ plan: v % 2 === 1 ? 'pro' : 'free' }) }))
      }
      if (v % 7 === 0) rows.push(pageview({ ...agent, ts: start + 3 * MIN, path: '/<img src=x onerror=alert(1)>' }))
    }
    await t.hub.store.append(rows.sort((a, b) => a.ts - b.ts))
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('defines a funnel, shows the API\'s figures per step, follows filters and deletes it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    page.on('dialog', (d) => void d.accept())
    await page.goto(`${t.url}/?site=${SITE}#history`)
    const panel = page.locator('section.funnels')
    await panel.locator('[role="status"]', { hasText: 'No funnels yet' }).waitFor()

    await panel.getByRole('button', { name: 'New funnel' }).click()
    await panel.getByLabel('Funnel name').fill('Blog to signup')
    // step 1 is prefilled with /; step 2 a pattern; step 3 an event with a property match
    await panel.getByLabel('Step 2 page or event').fill('/blog/*')
    await panel.getByRole('button', { name: 'Add step' }).click()
    await panel.getByLabel('Step 3 kind').selectOption('event')
    await panel.getByLabel('Step 3 page or event').fill('Signup')
    await panel.getByLabel('Step 3 properties').fill('plan=pro')
    await panel.getByRole('button', { name: 'Save funnel' }).click()
    await panel.locator('tbody tr[data-step="3"]').waitFor()

    const list = (await (await fetch(`${t.url}/api/funnels?site=${SITE}`)).json()) as { funnels: { id: string; name: string; steps: unknown[] }[] }
    assert.equal(list.funnels.length, 1)
    const f = list.funnels[0] as { id: string; name: string; steps: unknown[] }
    assert.equal(f.name, 'Blog to signup')
    assert.deepEqual(f.steps, [{ kind: 'page', page: '/' }, { kind: 'page', page: '/blog/*' }, { kind: 'event', event: 'Signup', props: { plan: 'pro' } }])
    assert.equal(await panel.locator('#funnel-pick option:checked').textContent(), 'Blog to signup')

    const expect = async (q: string): Promise<string[][]> => {
      const r = (await (await fetch(`${t.url}/api/funnel?site=${SITE}&range=24h&id=${f.id}${q}`)).json()) as
        { steps: { label: string; visitors: number; conversion: number | null; dropoff: number }[] }
      return r.steps.map((s, i) => [`${i + 1}. ${s.label}`, String(s.visitors), i === 0 ? '–' : pct(s.conversion), i === 0 ? '–' : String(s.dropoff)])
    }
    const all = await expect('')
    // hand-counted: 48 on /, 32 on a blog page after it, 8 of them signed up with plan pro
    assert.deepEqual(all.map((r) => r[1]), ['48', '32', '8'])
    assert.deepEqual(await rows(page), all)

    // a filter from a top list applies to the funnel too
    await page.locator('.top-list[data-dim="browser"] .row-filter', { hasText: 'Firefox' }).click()
    const firefox = await expect('&browser=Firefox')
    assert.notDeepEqual(firefox, all)
    await page.waitForFunction((want) => {
      const got = Array.from(document.querySelectorAll('.funnels tbody tr td[data-col="visitors"]')).map((td) => td.textContent)
      return JSON.stringify(got) === JSON.stringify(want)
    }, firefox.map((r) => r[1]))
    assert.deepEqual(await rows(page), firefox)

    // the CSV export holds the funnel as shown, under the same filter: the API's figures per step
    const api = (await (await fetch(`${t.url}/api/funnel?site=${SITE}&range=24h&id=${f.id}&browser=Firefox`)).json()) as
      { steps: { label: string; visitors: number; visits: number; conversion: number | null; conversionFromStart: number | null; dropoff: number }[] }
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    const funnelCsv = readFileSync(await download.path() as string, 'utf8').split('\r\n\r\n').find((sec) => sec.startsWith('Funnel Blog to signup\r\n'))
    assert.ok(funnelCsv !== undefined, 'a Funnel section in the CSV')
    const num = (x: number | null): string => (x === null ? '' : String(x))
    const text = (x: string): string => (/[",\r\n]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x)
    assert.deepEqual(funnelCsv.split('\r\n').slice(1), [
      'step,label,visitors,visits,conversion,conversion_from_step_1,dropoff',
      ...api.steps.map((st, i) => [i + 1, text(st.label), st.visitors, st.visits, i === 0 ? '' : num(st.conversion), i === 0 ? '' : num(st.conversionFromStart), i === 0 ? '' : st.dropoff].join(',')),
    ])
    assert.deepEqual(api.steps.map((st) => String(st.visitors)), firefox.map((r) => r[1]))

    // tracked text stays text: the markup page shows as its path in Top pages, and no image was made of it
    assert.equal(await page.locator('img[src="x"]').count(), 0)
    assert.equal(await page.locator('.funnels img').count(), 0)

    if (process.env.FUNNEL_SHOT) {
      await page.getByRole('button', { name: /Remove filter/ }).click()
      await page.waitForFunction(() => document.querySelector('.funnels tbody tr[data-step="1"] td[data-col="visitors"]')?.textContent === '48')
      await panel.scrollIntoViewIfNeeded()
      await panel.screenshot({ path: process.env.FUNNEL_SHOT })
    }

    await panel.getByRole('button', { name: 'Delete' }).click()
    await panel.locator('[role="status"]', { hasText: 'No funnels yet' }).waitFor()
    assert.deepEqual(((await (await fetch(`${t.url}/api/funnels?site=${SITE}`)).json()) as { funnels: unknown[] }).funnels, [])
    assert.deepEqual(errors, [])
    await page.close()
  })
})
