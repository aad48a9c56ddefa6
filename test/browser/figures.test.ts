/**
 * Issue 11: the dashboard's figures add up and agree with the hub's API. Real Chromium against a
 * real hub fed by real events; each test reads the numbers off the page and checks them against
 * `/api/live`, `/api/live/pages`, `/api/top`, `/api/series` or `/api/processes`.
 * Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { backfill, Tab, type State } from '../fixtures/dashboard/traffic'
import { until } from '../helpers/wait'
import { ARGS, buildIfMissing } from '../helpers/browser'


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

  /** Opens History on `range` and returns what `/api/history` answered the page, once both charts are drawn. */
  async function historyOn(page: Page, range: string): Promise<{ from: number; to: number; bucket: string }> {
    const label: Record<string, string> = { '1h': 'Last hour', '24h': '24 hours', '7d': '7 days', '30d': '30 days' }
    const answered = page.waitForResponse((r) => r.url().includes('/api/history?') && r.url().includes(`range=${range}`))
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

  it('5. board sparklines are readable: 40 px or more, zero to the peak, the peak and the latest value written, as /api/live-history and /api/live say', async () => {
    const site = 'spark.test'
    await backfill(t.hub, site, 1, 40)
    for (let i = 0; i < 3; i++) {
      const tab = new Tab(t.url, site, 300 + i)
      tabs.push(tab)
      await tab.view('/')
    }
    await until('3 visitors', async () => (await t.hub.countStates(site)).total === 3)
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    // the stored hour arrived: the total sparkline has more than the live point
    await page.waitForFunction(() => (document.querySelector('.tile-total polyline')?.getAttribute('points')?.trim().split(' ').length ?? 0) > 10)
    await page.waitForFunction(() => Number(document.querySelector('.tile-total .spark-box')?.getAttribute('data-now')) === 3)
    const read = Date.now()
    const { samples } = await json<{ samples: Record<string, number>[] }>(`${t.url}/api/live-history?site=${site}&range=1h&bucket=minute`)
    const live = await json<Record<string, number>>(`${t.url}/api/live?site=${site}`)
    const sparks = await page.evaluate(() => Array.from(document.querySelectorAll<HTMLElement>('.tile')).map((tile) => {
      const box = tile.querySelector<HTMLElement>('.spark-box')
      const ys = (tile.querySelector('polyline')?.getAttribute('points') ?? '').trim().split(' ').map((p) => Number(p.split(',')[1]))
      return {
        state: tile.querySelector<HTMLElement>('.tile-value')?.dataset.state ?? '',
        peak: Number(box?.dataset.peak), now: Number(box?.dataset.now),
        peakText: tile.querySelector('.spark-peak')?.textContent ?? '', nowText: tile.querySelector('.spark-now')?.textContent ?? '',
        height: tile.querySelector('svg.spark')?.getBoundingClientRect().height ?? 0, top: Math.min(...ys),
      }
    }))
    assert.equal(sparks.length, 4)
    for (const s of sparks) {
      // the sparkline spans the last hour: samples whose point (minute + 30 s) is inside it, and the live value
      const inside = (slack: number): number => Math.max(live[s.state] ?? 0, ...samples.filter((x) => (x.minute as number) + 30_000 >= read - 3_600_000 + slack).map((x) => x[`${s.state}Mean`] as number))
      assert.ok(s.peak >= inside(20_000) && s.peak <= inside(-20_000), `${s.state}: peak ${s.peak}, the API says ${inside(20_000)}..${inside(-20_000)}`)
      assert.equal(s.now, live[s.state], `${s.state}: latest value`)
      assert.match(s.peakText, /^peak [\d.,]+$/)
      assert.ok(Math.abs(Number(s.peakText.replace(/[^\d.]/g, '')) - s.peak) < 0.051, `${s.state}: ${s.peakText} for ${s.peak}`)
      assert.equal(s.nowText, `now ${live[s.state]}`)
      assert.ok(s.height >= 40, `${s.state}: ${s.height} px tall`)
      // the peak touches the top of the box (a line that stayed at zero lies on the bottom)
      assert.equal(s.top, s.peak > 0 ? 1 : 39, `${s.state}: top of the line for peak ${s.peak}`)
    }
    await page.close()
  })

  it('6. on a phone the feed\'s time never runs into the page column', async () => {
    const site = 'phone.test'
    for (let i = 0; i < 6; i++) {
      const tab = new Tab(t.url, site, 400 + i)
      tabs.push(tab)
      await tab.view(`/articles/${i}/a-rather-long-path-for-a-phone-screen`, { title: `Article ${i}` })
    }
    for (const locale of ['en-US', 'de-DE']) {
      for (const width of [390, 360]) {
        const ctx = await browser.newContext({ viewport: { width, height: 844 }, locale })
        const page = await ctx.newPage()
        await page.goto(`${t.url}/?site=${site}`)
        await page.waitForFunction(() => document.querySelectorAll('.feed tbody tr').length >= 6)
        const rows = await page.evaluate(() => Array.from(document.querySelectorAll('.feed tbody tr')).map((tr) => {
          const time = tr.querySelector('td.time') as HTMLElement
          const t = time.querySelector('time') as HTMLElement
          const pageCell = tr.querySelector('td.path') as HTMLElement
          const r = document.createRange()
          r.selectNodeContents(t)
          const text = r.getBoundingClientRect()
          return { text: t.textContent ?? '', textRight: text.right, pageLeft: pageCell.getBoundingClientRect().left + parseFloat(getComputedStyle(pageCell).paddingLeft), clipped: time.scrollWidth > time.clientWidth }
        }))
        for (const r of rows) {
          assert.ok(r.textRight <= r.pageLeft + 0.5, `${locale} ${width} px: time "${r.text}" ends at ${r.textRight}, page text starts at ${r.pageLeft}`)
          assert.ok(!r.clipped, `${locale} ${width} px: time "${r.text}" is cut`)
        }
        await ctx.close()
      }
    }
  })
})
