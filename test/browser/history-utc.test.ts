/**
 * History's picked dates are UTC days, in real Chromium in zones west and east of UTC (issue 12):
 * two picked dates ask the API for exactly their UTC day bounds, the chart's day buckets are those
 * days, the inputs keep the picked dates after a reload, the figures are the API's for that UTC
 * range, and the range line says its times are UTC. With local days, New York asked from 05:00 UTC
 * and Kolkata from 18:30 UTC the day before, and a reload emptied the inputs.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'
import { ARGS, buildIfMissing } from '../helpers/browser'

const SITE = 'utc.browser.test'
const H = 3_600_000
const DAY = 24 * H

describe('History picked dates are UTC days in Chromium outside UTC', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  // the first picked day: five UTC days ago
  const D = Math.floor(Date.now() / DAY) * DAY - 5 * DAY
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10)

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    // UTC days D and D+1 hold the views at D+1h and D+30h; New York's local days (from D+5h) would
    // take D+30h, D+49h, D+50h, Kolkata's (from D−5.5h) D−2h, D+1h, D+30h
    const at = [D - 2 * H, D + H, D + 30 * H, D + 49 * H, D + 50 * H, D - 3 * DAY]
    await t.hub.store.append(at.map((ts, i) => pageview({ site: SITE, host: SITE, visitor: `v${i}`, cid: `c${i}`, ts, path: `/p${i}` })))
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  // minutes behind UTC on day D (New York is on EST in November and in any case west; Kolkata has no DST)
  for (const [timezoneId, west] of [['America/New_York', true], ['Asia/Kolkata', false]] as const) {
    it(`in ${timezoneId}: the picked days are UTC days, round-trip through the URL and count as the API does`, async () => {
      const ctx = await browser.newContext({ timezoneId, locale: 'en-US', viewport: { width: 1280, height: 900 } })
      const page = await ctx.newPage()
      page.on('pageerror', (e) => console.error('pageerror', e))
      await page.goto(`${t.url}/?site=${SITE}#history`)
      // the default range (24 hours) has loaded: nothing in it
      await page.waitForFunction(() => /, by (minute|hour|day)/.test(document.querySelector('.history > [role=status]')?.textContent ?? ''))
      const offset = await page.evaluate((d) => new Date(d).getTimezoneOffset(), D)
      assert.ok(west ? offset >= 240 : offset === -330, `${timezoneId}: offset ${offset} min`)

      await page.fill('#hist-from', day(D))
      await page.fill('#hist-to', day(D + DAY))
      const [req] = await Promise.all([
        page.waitForRequest((r) => r.url().includes('/api/history?') && new URL(r.url()).searchParams.has('from')),
        page.getByRole('button', { name: 'Apply' }).click(),
      ])
      const q = new URL(req.url()).searchParams
      assert.deepEqual([q.get('from'), q.get('to')], [String(D), String(D + 2 * DAY)])
      const url = new URL(page.url()).searchParams
      assert.deepEqual([url.get('from'), url.get('to')], [String(D), String(D + 2 * DAY)])

      const api = (await (await fetch(`${t.url}/api/totals?site=${SITE}&from=${D}&to=${D + 2 * DAY}`)).json()) as { pageviews: number; visitors: number }
      assert.equal(api.pageviews, 2)
      const shown = async (k: string): Promise<string> => page.evaluate((key) => document.querySelector(`.kpi-value[data-kpi="${key}"]`)?.textContent?.replace(/\D/g, '') ?? '', k)
      await page.waitForFunction(() => /by hour/.test(document.querySelector('.history [role=status]')?.textContent ?? ''))
      assert.equal(await shown('pageviews'), String(api.pageviews))
      assert.equal(await shown('visitors'), String(api.visitors))
      // the range line: the picked days' UTC midnights, said to be UTC
      const utc = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC' })
      const status = await page.locator('.history > [role=status]').innerText()
      assert.equal(status, `${utc.format(D)} – ${utc.format(D + 2 * DAY)} UTC, by hour`)
      // the chart spans the UTC days
      const chart = page.locator('.history figure.chart').first()
      assert.deepEqual([await chart.getAttribute('data-shown-from'), await chart.getAttribute('data-shown-to')], [String(D), String(D + 2 * DAY)])

      // reload: the same dates in the inputs, the same figures
      await page.reload()
      await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="pageviews"]')?.textContent?.replace(/\D/g, '') === n, String(api.pageviews))
      await page.waitForFunction(() => (document.querySelector<HTMLInputElement>('#hist-from')?.value ?? '') !== '')
      assert.deepEqual([await page.inputValue('#hist-from'), await page.inputValue('#hist-to')], [day(D), day(D + DAY)])

      // the CSV file is named after the picked days
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
      assert.equal(download.suggestedFilename(), `livestats-${SITE}-${day(D)}-${day(D + DAY)}.csv`)
      await ctx.close()
    })
  }
})
