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
import { Tab, type State } from '../fixtures/dashboard/traffic'
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
})
