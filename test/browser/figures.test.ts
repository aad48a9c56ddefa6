/**
 * Issue 11: the dashboard's figures add up and agree with the hub's API. Real Chromium against a
 * real hub fed by real events; each test reads the numbers off the page and checks them against
 * `/api/live`, `/api/live/pages`, `/api/top`, `/api/series` or `/api/processes`.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { backfill, Tab, type State } from '../fixtures/dashboard/traffic'
import { until } from '../helpers/wait'

export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

export function buildIfMissing(): void {
  if (existsSync('dist/dashboard/index.html')) return
  const r = spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' })
  assert.equal(r.status, 0, 'scripts/build-dashboard.mjs failed')
}

const digits = (s: string | null | undefined): number => Number((s ?? '').replace(/\D/g, ''))

/** The board as shown: the four tiles and the hidden part of Idle. */
async function board(page: Page): Promise<Record<string, number>> {
  // no named functions inside evaluate: tsx would wrap them in a helper the page does not have
  return page.evaluate(() => {
    const out: Record<string, number> = {}
    for (const el of Array.from(document.querySelectorAll<HTMLElement>('.tile-value'))) out[el.dataset.state ?? ''] = Number((el.textContent ?? '').replace(/\D/g, ''))
    out.hidden = Number((document.querySelector('.tile-sub[data-state="hidden"]')?.textContent ?? '').replace(/\D/g, ''))
    return out
  })
}

/** Pages now as shown: path → [total, reading, writing, idle]. */
async function pagesNow(page: Page): Promise<Record<string, number[]>> {
  return page.evaluate(() => Object.fromEntries(Array.from(document.querySelectorAll('.pages tbody tr')).map((tr) => {
    const cells = Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')
    return [cells[0] ?? '', cells.slice(1).map((c) => Number(c.replace(/\D/g, '')))]
  })))
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url)
  assert.equal(res.status, 200, url)
  return (await res.json()) as T
}

describe('issue 11: the dashboard adds up', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
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

  it('1. Total = Reading + Writing + Idle on the cards and every Pages now row, hidden tabs counted as idle, as the API says', async () => {
    const site = 'sum.test'
    // 9 visitors: 3 reading, 1 writing, 2 idle, 3 hidden; spread over three pages
    const plan: [string, State][] = [
      ['/', 'reading'], ['/', 'hidden'], ['/', 'idle'], ['/pricing', 'reading'], ['/pricing', 'hidden'],
      ['/docs', 'reading'], ['/docs', 'writing'], ['/docs', 'hidden'], ['/docs', 'idle'],
    ]
    for (const [i, [path, state]] of plan.entries()) {
      const tab = new Tab(t.url, site, 100 + i)
      tabs.push(tab)
      await tab.view(path, { title: `Page ${path}` })
      if (state !== 'reading') await tab.state(state)
    }
    await until('9 visitors', async () => (await t.hub.countStates(site)).total === 9)
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForFunction(() => document.querySelector('.tile-value[data-state="total"]')?.textContent === '9')
    await page.waitForFunction(() => document.querySelectorAll('.pages tbody tr').length === 3)

    const api = await json<Record<string, number>>(`${t.url}/api/live?site=${site}`)
    assert.deepEqual(api, { total: 9, reading: 3, writing: 1, idle: 5, hidden: 3 })
    assert.deepEqual(await t.hub.countStates(site), api)
    const shown = await board(page)
    assert.deepEqual(shown, api)
    assert.equal(shown.total, (shown.reading ?? 0) + (shown.writing ?? 0) + (shown.idle ?? 0))

    const apiPages = await json<{ pages: { path: string; total: number; reading: number; writing: number; idle: number }[] }>(`${t.url}/api/live/pages?site=${site}`)
    const rows = await pagesNow(page)
    assert.equal(Object.keys(rows).length, apiPages.pages.length)
    for (const p of apiPages.pages) {
      assert.deepEqual(rows[p.path], [p.total, p.reading, p.writing, p.idle], p.path)
      const [total, r, w, i] = rows[p.path] as number[]
      assert.equal(total, (r ?? 0) + (w ?? 0) + (i ?? 0), `${p.path} adds up`)
    }
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    const gauge = (state: string): number => digits(new RegExp(`livestats_live_visitors\\{site="${site}",state="${state}"\\} (\\d+)`).exec(metrics)?.[1])
    assert.deepEqual({ total: gauge('total'), reading: gauge('reading'), writing: gauge('writing'), idle: gauge('idle'), hidden: gauge('hidden') }, api)

    // a reading visitor hides their tab: Idle grows by one, Reading shrinks by one, Total stays
    await (tabs[0] as Tab).state('hidden')
    await page.waitForFunction(() => document.querySelector('.tile-value[data-state="idle"]')?.textContent === '6', undefined, { timeout: 2000 })
    const after = await board(page)
    assert.deepEqual(after, await json(`${t.url}/api/live?site=${site}`))
    assert.deepEqual(after, { total: 9, reading: 2, writing: 1, idle: 6, hidden: 4 })
    await page.close()
  })

  /** Opens History on `range` and returns what `/api/series` answered the page, once both charts are drawn. */
  async function historyOn(page: Page, range: string): Promise<{ from: number; to: number; bucket: string }> {
    const label: Record<string, string> = { '1h': 'Last hour', '24h': '24 hours', '7d': '7 days', '30d': '30 days' }
    const answered = page.waitForResponse((r) => r.url().includes('/api/series?') && r.url().includes(`range=${range}`))
    await page.getByRole('button', { name: label[range] as string, exact: true }).click()
    const body = (await (await answered).json()) as { from: number; to: number; bucket: string }
    await page.waitForFunction((f) => Array.from(document.querySelectorAll<HTMLElement>('.history .chart')).every((c) => c.dataset.from === String(f) && c.dataset.shownFrom !== undefined), body.from)
    return body
  }

  async function charts(page: Page): Promise<{ label: string; from: number; to: number; empty: boolean; note: boolean }[]> {
    return page.evaluate(() => Array.from(document.querySelectorAll<HTMLElement>('.history .chart')).map((c) => ({
      label: c.getAttribute('aria-label') ?? '',
      from: Number(c.dataset.shownFrom), to: Number(c.dataset.shownTo), empty: c.dataset.empty === 'true',
      note: (c.querySelector<HTMLElement>('.chart-empty')?.offsetParent ?? null) !== null,
    })))
  }

  it('2. every chart spans the selected range; a range without data says so', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=new-install.test#history`)
    await page.waitForSelector('.history .uplot')
    for (const range of ['1h', '24h', '7d', '30d']) {
      const api = await historyOn(page, range)
      for (const c of await charts(page)) {
        assert.equal(c.from, api.from, `${c.label} on ${range} starts where the range starts`)
        assert.equal(c.to, api.to, `${c.label} on ${range} ends where the range ends`)
        assert.ok(c.empty && c.note, `${c.label} on ${range} says there is no data`)
      }
      assert.match(await page.locator('.history .chart-empty').first().innerText(), /No data in this range/)
    }
    // a site with 3 days of history: drawn, no "no data" note, still exactly the range
    await backfill(t.hub, 'history.test', 3, 30)
    await page.goto(`${t.url}/?site=history.test#history`)
    await page.waitForSelector('.history .uplot')
    for (const range of ['24h', '7d']) {
      const api = await historyOn(page, range)
      for (const c of await charts(page)) {
        assert.deepEqual([c.from, c.to], [api.from, api.to], `${c.label} on ${range}`)
        assert.ok(!c.empty && !c.note, `${c.label} on ${range} has data`)
      }
    }
    await page.close()
  })

  it('3. top-list bars are as long as their value, relative to the top one, as /api/top says', async () => {
    await backfill(t.hub, 'bars.test', 2, 40)
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=bars.test#history`)
    await page.waitForSelector('.top-list .bar-fill')
    await page.waitForFunction(() => /by hour/.test(document.querySelector('.history [role=status]')?.textContent ?? ''))
    const lists = await page.evaluate(() => Array.from(document.querySelectorAll('.top-list')).map((box) => ({
      title: box.querySelector('h3')?.textContent ?? '',
      rows: Array.from(box.querySelectorAll('tbody tr')).filter((tr) => tr.querySelector('.bar') !== null).map((tr) => ({
        value: Number((tr.querySelector('td.n')?.textContent ?? '').replace(/\D/g, '')),
        fill: tr.querySelector('.bar-fill')?.getBoundingClientRect().width ?? -1,
        track: tr.querySelector('.bar')?.getBoundingClientRect().width ?? -1,
      })),
    })))
    const pages = await json<{ rows: { value: string; pageviews: number }[] }>(`${t.url}/api/top?site=bars.test&range=24h&dim=page&limit=10`)
    const shownPages = lists.find((l) => l.title === 'Top pages')
    assert.deepEqual(shownPages?.rows.map((r) => r.value), pages.rows.map((r) => r.pageviews))
    let checked = 0
    for (const l of lists) {
      const max = Math.max(...l.rows.map((r) => r.value))
      for (const r of l.rows) {
        assert.ok(r.track > 50, `${l.title}: bar track ${r.track} px`)
        assert.ok(Math.abs(r.fill - (r.track * r.value) / max) <= 2.5, `${l.title}: ${r.value} of ${max} drawn ${r.fill.toFixed(1)} of ${r.track.toFixed(1)} px`)
        checked++
      }
      const widths = new Set(l.rows.map((r) => Math.round(r.fill)))
      const values = new Set(l.rows.map((r) => r.value))
      if (values.size > 1) assert.ok(widths.size > 1, `${l.title}: different values, different bars`)
    }
    assert.ok(checked > 15, `bars checked: ${checked}`)
    await page.close()
  })
})
