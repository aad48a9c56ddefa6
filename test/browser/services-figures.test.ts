/**
 * Issue 11 items 4, 5 and 6 on the Services view, in real Chromium against a real hub and real
 * trackers: one panel's figures agree with each other and with the live channel and
 * `/api/processes`; a disconnected process says so with its rates at zero and folds away after a
 * while; a process that comes back on the same host (a restart, so a new pid and instance name,
 * even across a hub restart) continues its panel; the sparklines show their scale; the job table
 * fits a phone or says that it scrolls.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { createHub, type Hub } from '../../src/hub/hub'
import { LiveView } from '../../src/hub/live/view'
import type { ProcessMinute } from '../../src/hub/store/types'
import { tracker, type Tracker } from '../../src/tracker'
import { quiet } from '../helpers/hub'
import { dashboard } from '../helpers/live'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { until } from '../helpers/wait'
import { ARGS, buildIfMissing } from '../helpers/browser'

const HOST = hostname()
const MINUTE = 60_000
const OLD = `${HOST}:1111`
const NEW = `${HOST}:2222`

/** What a card shows: stat label → value text, the job rows, the connection line. */
async function cardFigures(page: Page, key: string): Promise<{ stats: Record<string, string>; rows: { name: string; recent: number; failed: number; hour: string }[]; conn: string; text: string }> {
  // one page.evaluate that finds the card itself: the panel is redrawn every second, and a located
  // element can be replaced between being found and being read
  return page.evaluate((k) => {
    const card = document.querySelector(`.proc[data-key="${k}"]`)
    if (card === null) throw new Error(`no card ${k}`)
    return {
    stats: Object.fromEntries(Array.from(card.querySelectorAll('.stat')).map((s) => [s.querySelector('.stat-label')?.textContent ?? '', s.querySelector('.stat-value')?.textContent ?? ''])),
    rows: Array.from(card.querySelectorAll('table.jobs tbody tr')).map((tr) => {
      const td = Array.from(tr.querySelectorAll('td'))
      return {
        name: tr.getAttribute('data-job') ?? '',
        recent: Number((td[1]?.textContent ?? '').replace(/\D/g, '')),
        failed: Number((td[2]?.textContent ?? '').replace(/\D/g, '')),
        hour: td[0]?.querySelector('.sub')?.textContent ?? '',
      }
    }),
    conn: card.querySelector('.conn')?.textContent ?? '',
    text: (card as HTMLElement).innerText,
    }
  }, key)
}

/** Bytes per second as written by the dashboard ("4.9 KB/s") → number. */
function perSec(text: string): number {
  const m = /([\d.,]+)\s*(B|KB|MB|GB)\/s/.exec(text)
  assert.ok(m, `a rate: ${text}`)
  return Number((m[1] as string).replace(/,/g, '')) * 1024 ** ['B', 'KB', 'MB', 'GB'].indexOf(m[2] as string)
}

describe('issue 11: the Services view agrees with itself and with the hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let hub: Hub
  let url: string
  let dir: string
  const trackers: Tracker[] = []

  before(async () => {
    buildIfMissing()
    dir = mkdtempSync(join(tmpdir(), 'livestats-services-'))
    const file = join(dir, 'hub.db')
    // an earlier run of the hub saw `shop` as OLD for 18 minutes, until 3 minutes ago
    const first = createHub({ port: 0, host: '127.0.0.1', store: file, logger: quiet })
    await first.listen()
    const now = Date.now()
    const rows: ProcessMinute[] = []
    for (let i = 20; i >= 3; i--) {
      const t = now - (now % MINUTE) - i * MINUTE
      rows.push({ app: 'shop', instance: OLD, t, sent: 60 * (40_000 + i * 1000), received: 60 * 5000, read: 600, written: 60,
        jobs: 30, failed: 1, hist: [], min: 10, max: 90, cpu: 5, rss: 1e8, heapUsed: 5e7, lag: 3, samples: 60 })
    }
    await first.store.appendProcessMinutes(rows)
    await first.close()
    hub = createHub({ port: 0, host: '127.0.0.1', store: file, logger: quiet })
    url = (await hub.listen()).url
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
  })
  after(async () => {
    await Promise.all(trackers.map((t) => t.close({ timeout: 500 })))
    await browser?.close()
    await hub?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('4. a panel\'s job counts add up to its "last 60 s" figures, which are the live channel\'s; the restarted process continues the old panel', async () => {
    const tr = tracker({ name: 'shop', hub: url, interval: 100, instance: NEW, handleSignals: false }, { warn() {} })
    trackers.push(tr)
    for (let i = 0; i < 9; i++) tr.job.start('charge-card', Date.now() - 40).stop(i < 2 ? new Error('card expired') : undefined)
    for (let i = 0; i < 5; i++) tr.job.start('send-receipt', Date.now() - 120).stop()
    tr.flush()
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.goto(`${url}/?site=shop.test#services`)
    const key = `shop/${NEW}`
    await page.locator(`.proc[data-key="${key}"] .stat`, { hasText: 'Jobs, last 60 s' }).filter({ hasText: /^14/ }).waitFor({ timeout: 5000 })

    // the hub's figures: the live channel's snapshot, and /api/processes
    const d = await dashboard(Number(new URL(url).port), '?site=shop.test')
    const view = new LiveView()
    view.apply(await d.waitFor((m) => m.type === 'snapshot'))
    d.close()
    const rates = view.processes.get(key)?.rates
    assert.ok(rates)
    const api = (await (await fetch(`${url}/api/processes?range=1h`)).json()) as { processes: { key: string; jobs: { name: string; count: number }[]; points: { sentPerSec: number; receivedPerSec: number }[] }[] }

    const shown = await cardFigures(page, key)
    assert.equal(shown.stats['Jobs, last 60 s'], String(rates.finished))
    assert.equal(shown.stats['Failed, last 60 s'], String(rates.failed))
    assert.equal(rates.finished, 14)
    assert.equal(rates.failed, 2)
    // the rows add up to the figures above them
    assert.equal(shown.rows.reduce((n, r) => n + r.recent, 0), rates.finished)
    assert.equal(shown.rows.reduce((n, r) => n + r.failed, 0), rates.failed)
    for (const j of rates.jobs) {
      const row = shown.rows.find((r) => r.name === j.name)
      assert.deepEqual([row?.recent, row?.failed], [j.recent?.finished, j.recent?.failed], j.name)
      const hour = api.processes.find((p) => p.key === key)?.jobs.find((x) => x.name === j.name)?.count
      assert.match(row?.hour ?? '', new RegExp(`^${hour} in the last hour`), j.name)
    }

    // the earlier run's OLD is not a second panel: NEW continues it
    assert.equal(await page.locator('.proc', { hasText: 'shop' }).count(), 1)
    assert.match(shown.text, new RegExp(`Continues ${OLD}`))
    assert.match(shown.conn, /^connected since/)

    // 5. its sparkline runs from zero to the peak of the whole history, written as the peak
    const io = page.locator(`.proc[data-key="${key}"] .spark-box`).first()
    const peak = Math.max(...api.processes.filter((p) => p.key === key || p.key === `shop/${OLD}`).flatMap((p) => p.points.map((x) => x.sentPerSec + x.receivedPerSec)))
    assert.equal(Number(await io.getAttribute('data-peak')), peak)
    assert.ok(Math.abs(perSec(await io.locator('.spark-peak').innerText()) - peak) / peak < 0.01, await io.locator('.spark-peak').innerText())
    const box = await io.locator('svg').boundingBox()
    assert.ok(box !== null && box.height >= 40, `sparkline ${box?.height} px tall`)
    // the peak touches the top line: the whole height is used, nothing is a sliver
    const top = await io.locator('polyline').evaluate((l) => Math.min(...(l.getAttribute('points') ?? '').trim().split(' ').map((p) => Number(p.split(',')[1]))))
    assert.equal(top, 1)
    // and "now" is the Sent + Received shown above it
    // one read, so the stats and the sparkline are from the same render
    const now = await page.evaluate((k) => {
      const card = document.querySelector(`.proc[data-key="${k}"]`) as HTMLElement
      const stats = Object.fromEntries(Array.from(card.querySelectorAll('.stat')).map((s) => [s.querySelector('.stat-label')?.textContent ?? '', s.querySelector('.stat-value')?.textContent ?? '']))
      return { sent: stats.Sent ?? '', received: stats.Received ?? '', now: card.querySelector('.spark-now')?.textContent ?? '' }
    }, key)
    assert.ok(Math.abs(perSec(now.now) - (perSec(now.sent) + perSec(now.received))) <= 0.1 * 1024 + 1, JSON.stringify(now))
    await page.close()
  })

  it('4. a disconnected process says since when, with its rates at zero, and folds away after 5 minutes', async () => {
    const tr = tracker({ name: 'mailer', hub: url, interval: 100, instance: 'mx-1:77', handleSignals: false }, { warn() {} })
    trackers.push(tr)
    tr.bytes.sent('x'.repeat(50_000))
    for (let i = 0; i < 4; i++) tr.job.start('deliver').stop()
    tr.flush()
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    await page.clock.install()
    await page.goto(`${url}/?site=shop.test#services`)
    const card = page.locator('.proc[data-key="mailer/mx-1:77"]')
    await card.locator('.stat', { hasText: 'Jobs, last 60 s' }).filter({ hasText: /^4/ }).waitFor({ timeout: 5000 })
    assert.notEqual((await cardFigures(page, 'mailer/mx-1:77')).stats.Sent, '0 B/s')
    await tr.close({ timeout: 1000 })
    await card.locator('.conn.off').waitFor({ timeout: 5000 })
    const gone = await cardFigures(page, 'mailer/mx-1:77')
    assert.match(gone.conn, /^disconnected since \d/)
    assert.deepEqual([gone.stats.Sent, gone.stats.Received, gone.stats['DB rows read'], gone.stats['DB rows written'], gone.stats['Jobs, last 60 s'], gone.stats['Failed, last 60 s']],
      ['0 B/s', '0 B/s', '0/s', '0/s', '0', '0'])
    assert.equal(gone.stats.CPU, '–')
    assert.deepEqual(gone.rows.map((r) => [r.recent, r.failed]), [[0, 0]])
    assert.match(gone.rows[0]?.hour ?? '', /^4 in the last hour/)
    await page.clock.fastForward('05:30')
    await card.waitFor({ state: 'detached', timeout: 5000 })
    const folded = page.locator('details.folded')
    assert.match(await folded.locator('summary').innerText(), /disconnected process/)
    assert.match(await folded.locator('li[data-key="mailer/mx-1:77"]').textContent() ?? '', /mailer mx-1:77 disconnected since/)
    await page.close()
  })

  it('6. on a phone the job table shows p95 and p99 whole, or says that it scrolls', async () => {
    const tr = tracker({ name: 'slowjobs', hub: url, interval: 100, instance: 'w-9:1', handleSignals: false }, { warn() {} })
    trackers.push(tr)
    tr.job.start('resize-image', Date.now() - 320).stop()
    tr.job.start('rebuild-search-index-for-all-tenants', Date.now() - 84_000).stop()
    tr.flush()
    for (const width of [390, 320]) {
      const page = await browser.newPage({ viewport: { width, height: 844 } })
      await page.goto(`${url}/?site=shop.test#services`)
      const box = page.locator('.proc[data-key="slowjobs/w-9:1"] .scroll')
      await box.locator('tr[data-job="resize-image"]').waitFor({ timeout: 5000 })
      await until('the scroll marks', () => box.evaluate((el) => el.scrollWidth <= el.clientWidth || el.classList.contains('more-right')), 2000)
      const fit = await box.evaluate((el) => {
        const right = el.getBoundingClientRect().right
        const cols = Array.from(el.querySelectorAll('thead th')).map((th) => th.getBoundingClientRect().right)
        const note = el.nextElementSibling as HTMLElement | null
        return {
          fits: el.scrollWidth <= el.clientWidth, allShown: cols.every((r) => r <= right + 0.5),
          sign: el.classList.contains('more-right') && note !== null && note.classList.contains('scroll-note') && note.offsetParent !== null,
          note: note?.textContent ?? '',
        }
      })
      assert.ok(fit.fits ? fit.allShown : fit.sign, `${width} px: ${JSON.stringify(fit)}`)
      if (width === 390) assert.ok(fit.fits, `the job table fits 390 px: ${JSON.stringify(fit)}`)
      if (!fit.fits) {
        // scrolled to the end, the right-hand sign goes, and stays gone through the panel's repaints
        const sel = '.proc[data-key="slowjobs/w-9:1"] .scroll'
        await page.evaluate((q) => { const el = document.querySelector(q) as HTMLElement; el.scrollLeft = el.scrollWidth }, sel)
        await until('the sign to go at the end', () => page.evaluate((q) => !(document.querySelector(q) as HTMLElement).classList.contains('more-right'), sel), 2000)
        await page.waitForTimeout(1500)
        assert.equal(await page.evaluate((q) => (document.querySelector(q) as HTMLElement).classList.contains('more-right'), sel), false, 'still scrolled to the end after a repaint')
      }
      await page.close()
    }
  })
})
