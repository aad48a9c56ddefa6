/**
 * Issue 15.2: `GET /api/processes/history?range=1h|24h|7d` folds the stored process minutes into
 * steps of 1, 5 and 60 minutes, from the store (so a week, past the 24 h the hub keeps in memory),
 * HTTP included; and the minutes a tracker just sent are in it (the fold writes them first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startHub, type TestHub } from './helpers/hub'
import { until } from './tracker.fakehub'
import { tracker } from '../src/tracker/index'
import type { ProcessHistory } from '../src/hub/process/history'
import type { ProcessMinute } from '../src/hub/store/types'

const MIN = 60_000
const HOUR = 60 * MIN

interface Reply { range: string; from: number; to: number; step: number; processes: ProcessHistory[] }
async function history(t: TestHub, q: string): Promise<Reply> {
  const res = await fetch(`${t.url}/api/processes/history?${q}`)
  assert.equal(res.status, 200, await res.clone().text())
  return (await res.json()) as Reply
}

function minute(t: number, extra: Partial<ProcessMinute> = {}): ProcessMinute {
  return {
    app: 'weekly', instance: 'w:1', t, sent: 6000, received: 600, read: 120, written: 12, jobs: 2, failed: 1,
    hist: [0, 0, 0, 0, 0, 2], min: 30, max: 40, cpu: 30, rss: 50e6, heapUsed: 20e6, lag: 2, samples: 3,
    http: { requests: 120, status: [100, 5, 10, 5], sum: 1200, min: 1, max: 90, hist: [0, 0, 0, 120] }, ...extra,
  }
}

describe('services history over 1 h, 24 h and 7 d', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('7 d: hourly steps summed from stored minutes, days back', async () => {
    const now = Date.now()
    const hourAgo5d = now - 5 * 24 * HOUR - ((now - 5 * 24 * HOUR) % HOUR)
    // 60 minutes of one hour five days ago, the last with a higher RSS and lag
    const rows = Array.from({ length: 60 }, (_, i) => minute(hourAgo5d + i * MIN, i === 59 ? { rss: 80e6, lag: 9 } : {}))
    rows.push(minute(hourAgo5d - 8 * 24 * HOUR)) // older than the week: not in it
    rows.push(minute(hourAgo5d, { app: 'other' }))
    await t.hub.store.appendProcessMinutes(rows)
    const r = await history(t, 'range=7d&app=weekly')
    assert.equal(r.step, HOUR)
    assert.ok(r.to - r.from >= 7 * 24 * HOUR && r.to - r.from < 7 * 24 * HOUR + HOUR)
    assert.deepEqual(r.processes.map((p) => p.key), ['weekly/w:1'])
    const pts = r.processes[0]?.points ?? []
    assert.equal(pts.length, 1)
    const p = pts[0]
    assert.ok(p)
    assert.equal(p.t, hourAgo5d)
    assert.equal(p.sentPerSec, (6000 * 60) / 3600)
    assert.equal(p.readPerSec, (120 * 60) / 3600)
    assert.deepEqual([p.jobs, p.failed], [120, 60])
    assert.equal(p.cpu, 10) // 30 % summed over 3 samples a minute
    assert.deepEqual([p.rss, p.lag], [80e6, 9])
    assert.ok(p.jobP95 >= 30 && p.jobP95 <= 40, String(p.jobP95))
    assert.deepEqual(p.http?.status, [6000, 300, 600, 300])
    assert.equal(p.http?.requests, 7200)
    assert.equal(p.http?.requestsPerSec, 2)
    // by app: a second instance in the same hour adds its CPU, memory and traffic
    await t.hub.store.appendProcessMinutes([minute(hourAgo5d + 5 * MIN, { instance: 'w:2', cpu: 60, rss: 30e6, lag: 20 })])
    const byApp = await history(t, 'range=7d&app=weekly&by=app')
    assert.deepEqual(byApp.processes.map((x) => [x.key, x.instance]), [['weekly/*', '*']])
    const q = byApp.processes[0]?.points[0]
    assert.deepEqual([q?.cpu, q?.rss, q?.lag, q?.jobs, q?.http?.requests], [10 + 20, 80e6 + 30e6, 20, 122, 7320])
    assert.equal((await fetch(`${t.url}/api/processes/history?by=host`)).status, 400)
    const day = await history(t, 'range=24h&app=weekly')
    assert.equal(day.step, 5 * MIN)
    assert.deepEqual(day.processes, [])
  })

  it('1 h: the minutes a tracker just sent, with its HTTP responses; a bad range is a 400', async () => {
    const server = http.createServer((req, res) => {
      Object.assign(req, { route: { path: '/ok' } })
      res.statusCode = req.url === '/ok' ? 200 : 500
      res.end()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const tr = tracker({ name: 'hourly', instance: 'h:1', hub: t.url, interval: 60_000, handleSignals: false }, { warn() {} })
    tr.http(server)
    for (let i = 0; i < 4; i++) await (await fetch(`${url}/ok`)).arrayBuffer()
    await (await fetch(`${url}/fail`)).arrayBuffer()
    tr.bytes.sent(1000)
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    const r = await history(t, 'range=1h&app=hourly')
    assert.equal(r.step, MIN)
    const pts = r.processes[0]?.points ?? []
    const requests = pts.reduce((s, p) => s + (p.http?.requests ?? 0), 0)
    const status = pts.reduce((s, p) => s.map((n, i) => n + (p.http?.status[i] ?? 0)), [0, 0, 0, 0])
    assert.equal(requests, 5)
    assert.deepEqual(status, [4, 0, 0, 1])
    assert.ok(pts.every((p) => p.cpu !== null && p.rss !== null && p.rss > 0))
    const bad = await fetch(`${t.url}/api/processes/history?range=3w`)
    assert.equal(bad.status, 400)
    assert.equal(bad.headers.get('x-livestats-error'), 'LS_ERR_BAD_QUERY')
    await tr.close()
    server.close()
  })
})
