/**
 * Issue 15.1 and 15.2 on the Services view, in real Chromium against a real hub and a real tracker
 * measuring a real server with `t.http`: the HTTP figures and the routes table are the live channel's
 * and `/api/processes`'s; the history charts cover 1 h, 24 h and 7 d of the stored minutes
 * (`/api/processes/history`), including minutes days old that only the store has.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { createHub, type Hub } from '../../src/hub/hub'
import { LiveView } from '../../src/hub/live/view'
import type { ProcessMinute } from '../../src/hub/store/types'
import { tracker, type Tracker } from '../../src/tracker'
import { quiet } from '../helpers/hub'
import { dashboard } from '../helpers/live'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { until } from '../helpers/wait'
import { ARGS, buildIfMissing } from '../helpers/browser'

const MIN = 60_000
const KEY = 'api/api:1'

describe('issue 15: HTTP and history on the Services view', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let hub: Hub
  let url: string
  let dir: string
  let server: http.Server
  let tr: Tracker

  before(async () => {
    buildIfMissing()
    dir = mkdtempSync(join(tmpdir(), 'livestats-svc-http-'))
    hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), logger: quiet })
    url = (await hub.listen()).url
    // three days ago, for two hours, the same process served traffic
    const now = Date.now()
    const start = now - (now % (60 * MIN)) - 72 * 60 * MIN
    const rows: ProcessMinute[] = []
    for (let i = 0; i < 120; i++) {
      rows.push({ app: 'api', instance: 'api:1', t: start + i * MIN, sent: 6e5, received: 6e4, read: 3000, written: 300, jobs: 10, failed: 1,
        hist: [0, 0, 0, 0, 10], min: 6, max: 9, cpu: 24, rss: 9e7, heapUsed: 4e7, lag: 4, samples: 60,
        http: { requests: 600, status: [540, 30, 24, 6], sum: 6000, min: 1, max: 80, hist: [0, 0, 100, 500] } })
    }
    await hub.store.appendProcessMinutes(rows)
    server = http.createServer((req, res) => {
      const u = req.url ?? '/'
      if (u.startsWith('/api/books/')) {
        Object.assign(req, { baseUrl: '/api', route: { path: '/books/:isbn' } })
        res.statusCode = u.endsWith('0') ? 404 : 200
      } else if (u === '/api/orders') {
        Object.assign(req, { baseUrl: '/api', route: { path: '/orders' } })
        res.statusCode = 503
      } else res.statusCode = 404
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    tr = tracker({ name: 'api', instance: 'api:1', hub: url, interval: 100, handleSignals: false }, { warn() {} })
    tr.http(server)
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/api/books/97805931352${i % 10}`)).arrayBuffer()
    for (let i = 0; i < 3; i++) await (await fetch(`${base}/api/orders`, { method: 'POST' })).arrayBuffer()
    await (await fetch(`${base}/.env`)).arrayBuffer()
    tr.flush()
    await until('the hub to fold the requests', async () => {
      const r = (await (await fetch(`${url}/api/processes?range=1h&app=api`)).json()) as { processes: { routes: { requests: number }[] }[] }
      return (r.processes[0]?.routes ?? []).reduce((s, x) => s + x.requests, 0) === 24
    }, 5000)
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
  })
  after(async () => {
    await tr?.close({ timeout: 500 })
    server?.close()
    await browser?.close()
    await hub?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('the HTTP figures and routes table are those of the live channel and /api/processes', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(`${url}/?site=api.test#services`)
    const card = page.locator(`.proc[data-key="${KEY}"]`)
    await card.locator('.http tr[data-route="GET /api/books/:isbn"]').waitFor({ timeout: 10_000 })
    // the routes table can come from /api/processes first; the figures above it come with the live rates
    await card.locator('.http .stat', { hasText: '2xx' }).filter({ hasText: /^18/ }).waitFor({ timeout: 10_000 })

    const d = await dashboard(Number(new URL(url).port), '?site=api.test')
    const view = new LiveView()
    view.apply(await d.waitFor((m) => m.type === 'snapshot'))
    d.close()
    const live = view.processes.get(KEY)?.rates?.http
    assert.ok(live)
    assert.deepEqual(live.status, [18, 0, 3, 3])
    assert.equal(live.requests, 24)

    const shown = await page.evaluate((k) => {
      const c = document.querySelector(`.proc[data-key="${k}"] .http`)
      if (c === null) throw new Error('no HTTP panel')
      return {
        stats: Object.fromEntries(Array.from(c.querySelectorAll('.stat')).map((s) => [s.querySelector('.stat-label')?.textContent ?? '', s.querySelector('.stat-value')?.textContent ?? ''])),
        rows: Array.from(c.querySelectorAll('table.routes tbody tr')).map((tr) => [tr.getAttribute('data-route'), ...Array.from(tr.querySelectorAll('td')).slice(1).map((td) => td.textContent)]),
      }
    }, KEY)
    assert.deepEqual([shown.stats['2xx'], shown.stats['3xx'], shown.stats['4xx'], shown.stats['5xx']], ['18', '0', '3', '3'])
    assert.ok(shown.stats['Requests/s, last 60 s'] !== '–')
    const api = (await (await fetch(`${url}/api/processes?range=1h&app=api`)).json()) as { processes: { key: string; routes: { method: string; route: string; requests: number; status: number[] }[] }[] }
    const routes = api.processes.find((p) => p.key === KEY)?.routes ?? []
    assert.deepEqual(shown.rows.map((r) => [r[0], r[1], r[2], r[3], r[4], r[5], r[6]]),
      routes.map((r) => [`${r.method} ${r.route}`, String(r.requests), String(r.requests), ...r.status.map(String)]))
    assert.deepEqual(routes.map((r) => `${r.method} ${r.route}`), ['GET /api/books/:isbn', 'POST /api/orders', 'GET (unmatched)'])
    assert.ok(!(await card.innerText()).includes('.env'), 'a raw URL is shown')
    await page.close()
  })

  it('history charts: 1 h has the live minutes, 7 d the stored ones from three days ago; ranges switch', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    await page.goto(`${url}/?site=api.test#services`)
    const hist = page.locator('.svc-history')
    await hist.locator('.chart').first().waitFor({ timeout: 10_000 })
    assert.equal(await hist.getAttribute('data-key'), 'api/*')
    assert.equal(await hist.getAttribute('data-range'), '1h')
    const charts = async (): Promise<Record<string, { empty: string | null; from: number; to: number }>> => page.evaluate(() =>
      Object.fromEntries(Array.from(document.querySelectorAll('.svc-chart')).map((c) => {
        const f = c.querySelector('.chart') as HTMLElement
        return [c.querySelector('h3')?.textContent ?? '', { empty: f.dataset.empty ?? null, from: Number(f.dataset.from), to: Number(f.dataset.to) }]
      })))
    const titles = ['CPU, % of one core (mean)', 'Memory (peak)', 'Event-loop lag, ms (max)', 'Bytes per second', 'DB rows per second',
      'Jobs finished per step', 'HTTP requests per second', 'HTTP response time, ms']
    let c = await charts()
    assert.deepEqual(Object.keys(c), titles)
    assert.equal(c['HTTP requests per second']?.empty, 'false')
    assert.equal(c['Memory (peak)']?.empty, 'false')
    assert.equal(c['DB rows per second']?.empty, 'true') // none in the last hour
    const hour = c['CPU, % of one core (mean)']
    assert.ok(hour !== undefined && hour.to - hour.from > 59 * MIN && hour.to - hour.from <= 61 * MIN)

    await hist.locator('button[data-range="7d"]').click()
    await page.waitForFunction(() => document.querySelector('.svc-history')?.getAttribute('data-range') === '7d')
    c = await charts()
    const week = c['DB rows per second']
    assert.equal(week?.empty, 'false') // the stored minutes of three days ago
    assert.ok(week !== undefined && week.to - week.from >= 7 * 24 * 60 * MIN)
    const api = (await (await fetch(`${url}/api/processes/history?range=7d&app=api`)).json()) as { processes: { points: { t: number; readPerSec: number; http: { requests: number } | null }[] }[] }
    const pts = api.processes[0]?.points ?? []
    // two stored hours and the live one
    assert.equal(pts.filter((p) => p.readPerSec > 0).length, 2)
    assert.equal(pts.reduce((s, p) => s + (p.http?.requests ?? 0), 0), 2 * 60 * 600 + 24)
    await hist.locator('button[data-range="24h"]').click()
    await page.waitForFunction(() => document.querySelector('.svc-history')?.getAttribute('data-range') === '24h')
    assert.equal((await charts())['DB rows per second']?.empty, 'true')
    await page.close()
  })
})
