/**
 * The Goals panel compared with an earlier period, in real Chromium against a real hub (issue 12.4
 * on issue 13.2's goals): with "Previous period" each goal's visitors, rate and conversions show
 * their change in percent, coloured as the totals' (up green, down red), the earlier figure in the
 * cell's title, and every number equals what /api/conversions answers for the same query; the
 * CSV export's Goals section carries the compared figures and changes; on a phone each change
 * goes under its figure; without a comparison the changes go. Hand-counted fixture: 10 visitors in the last 24 hours, 8 in the 24
 * before. The panel's screenshot goes to $LIVESTATS_SCREENSHOTS/history-goals-compare-desktop.png
 * when set. Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'

const SHOTS = process.env.LIVESTATS_SCREENSHOTS
const SITE = 'goals-compare.browser.test'
const MIN = 60_000
const HOUR = 60 * MIN

type Period = { visitors: number; conversions: number; rate: number | null }
type Conv = { visitors: number; goals: (Period & { name: string; compare?: Period & { change: Record<keyof Period, number | null> } })[] }

/** As the dashboard writes a change: "+12%", "−3%", "±0%". */
const changeText = (c: number | null): string => {
  if (c === null) return ''
  const r = Math.round(c)
  return r > 0 ? `+${r}%` : r < 0 ? `−${-r}%` : '±0%'
}
const pct = (n: number | null): string => (n === null ? '–' : `${(n * 100).toFixed(n >= 0.1 || n === 0 ? 0 : 1)}%`)

describe('the Goals panel compared with the previous period, in Chromium', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    const now = Date.now()
    const rows = []
    // the last 24 hours: v0..v9 see /; v0..v5 also /pricing; v0..v2 sign up
    for (let i = 0; i < 10; i++) {
      const who = { site: SITE, visitor: `v${i}` }
      const ts = now - 5 * HOUR + i * 10 * MIN
      rows.push(pageview({ ...who, ts, path: '/' }))
      if (i < 6) rows.push(pageview({ ...who, ts: ts + MIN, path: '/pricing' }))
      if (i < 3) rows.push(pageview({ ...who, ts: ts + 2 * MIN, type: 'event', name: 'Signup', data: '{}' }))
    }
    // the 24 hours before: p0..p7 see /; p0, p1 also /pricing; p0..p3 sign up
    for (let i = 0; i < 8; i++) {
      const who = { site: SITE, visitor: `p${i}` }
      const ts = now - 29 * HOUR + i * 10 * MIN
      rows.push(pageview({ ...who, ts, path: '/' }))
      if (i < 2) rows.push(pageview({ ...who, ts: ts + MIN, path: '/pricing' }))
      if (i < 4) rows.push(pageview({ ...who, ts: ts + 2 * MIN, type: 'event', name: 'Signup', data: '{}' }))
    }
    await t.hub.store.append(rows)
    for (const g of [{ page: '/pricing' }, { event: 'Signup' }]) {
      const res = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site: SITE, ...g }) })
      assert.equal(res.status, 201)
    }
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('shows each goal figure\'s change as /api/conversions gives it, and drops it without a comparison', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}&compare=previous#history`)
    await page.waitForFunction(() => document.querySelectorAll('.goals tr[data-goal] .goal-delta').length === 6)

    const api = (await (await fetch(`${t.url}/api/conversions?site=${SITE}&range=24h&compare=previous`)).json()) as Conv
    // hand-counted: 10 visitors against 8; /pricing 6 of 10 against 2 of 8; Signup 3 of 10 against 4 of 8
    assert.deepEqual(api.goals.map((g) => [g.name, g.visitors, g.conversions, g.rate, g.compare?.visitors, g.compare?.conversions, g.compare?.rate]),
      [['Visit /pricing', 6, 6, 0.6, 2, 2, 0.25], ['Signup', 3, 3, 0.3, 4, 4, 0.5]])
    assert.deepEqual(api.goals.map((g) => [g.compare?.change.visitors, g.compare?.change.conversions].map((c) => Math.round(c ?? NaN))), [[200, 200], [-25, -25]])

    const shown = await page.locator('.goals tr[data-goal]').evaluateAll((trs) => trs.map((tr) => ['visitors', 'rate', 'conversions'].map((k) => {
      const td = tr.querySelector(`td[data-figure="${k}"]`)
      const d = td?.querySelector('.goal-delta')
      return [td?.querySelector('.v')?.textContent ?? '', (d?.textContent ?? '').trim(), d?.classList.contains('up') ? 'up' : d?.classList.contains('down') ? 'down' : '', d?.getAttribute('title') ?? '']
    })))
    const expected = api.goals.map((g) => {
      const c = g.compare as NonNullable<typeof g.compare>
      const cell = (k: keyof Period, fmt: (n: number | null) => string): string[] =>
        [fmt(g[k]), changeText(c.change[k]), (c.change[k] ?? 0) > 0 ? 'up' : 'down', `In the compared period: ${fmt(c[k])}`]
      return [cell('visitors', String), cell('rate', pct), cell('conversions', String)]
    })
    assert.deepEqual(shown, expected)
    assert.deepEqual(shown, [
      [['6', '+200%', 'up', 'In the compared period: 2'], ['60%', '+140%', 'up', 'In the compared period: 25%'], ['6', '+200%', 'up', 'In the compared period: 2']],
      [['3', '−25%', 'down', 'In the compared period: 4'], ['30%', '−40%', 'down', 'In the compared period: 50%'], ['3', '−25%', 'down', 'In the compared period: 4']],
    ])
    // the CSV's Goals section: the figures, the compared ones, the changes (percent, unrounded)
    await page.waitForFunction(() => /compared with/.test(document.querySelector('.history > [role=status]')?.textContent ?? ''))
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()])
    const goalsCsv = readFileSync(await download.path(), 'utf8').split('\r\n\r\n').find((sec) => sec.startsWith('Goals\r\n'))
    assert.deepEqual(goalsCsv?.split('\r\n').slice(1).map((l) => l.split(',').filter((_, i) => i === 0 || i >= 4).map((c) => (/^-?\d+\.\d{6,}$/.test(c) ? String(Number(Number(c).toFixed(6))) : c))), [
      ['goal', 'visitors', 'rate', 'conversions', 'compared_visitors', 'compared_rate', 'compared_conversions', 'visitors_change_percent', 'rate_change_percent', 'conversions_change_percent'],
      ['Visit /pricing', '6', '0.6', '6', '2', '0.25', '2', '200', '140', '200'],
      ['Signup', '3', '0.3', '3', '4', '0.5', '4', '-25', '-40', '-25'],
    ])
    if (SHOTS) await page.locator('.goals').screenshot({ path: `${SHOTS}/history-goals-compare-desktop.png` })

    // on a phone the change goes under its figure, leaving the goal's name room
    await page.setViewportSize({ width: 390, height: 844 })
    const [v, d] = await Promise.all(['.v', '.goal-delta'].map((sel) => page.locator(`.goals tr[data-goal] td[data-figure="visitors"] ${sel}`).first().boundingBox()))
    assert.ok(v != null && d != null && d.y >= v.y + v.height - 1, `change under the figure: ${JSON.stringify([v, d])}`)
    await page.setViewportSize({ width: 1280, height: 900 })

    await page.getByRole('button', { name: 'No comparison' }).click()
    await page.waitForFunction(() => document.querySelectorAll('.goals .goal-delta').length === 0)
    assert.deepEqual(await page.locator('.goals tr[data-goal] td[data-figure="visitors"]').allTextContents(), ['6', '3'])
    await page.close()
  })
})
