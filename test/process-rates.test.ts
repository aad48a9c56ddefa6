/**
 * Per-process rates on the live channel (issue 5 part 4, issue 6): a real hub, a real `tracker()`
 * dialing it, and a `/live` dashboard. Rates (bytes/s, DB rows/s, jobs per minute, durations, per
 * job name) arrive in diffs within ~2 s of the tracker's flush, and are in the snapshot too.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { dashboard, type Dash } from './helpers/live'
import { LiveView } from '../src/hub/live/view'
import { ProcessSeriesStore } from '../src/hub/process/series'
import { sampleRates } from '../src/hub/presence/processes'
import { tracker, type Tracker } from '../src/tracker'
import type { ProcessView, ProcessRates } from '../src/hub/presence/types'
import type { Accepted } from '../src/hub/ingest/types'
import type { LivestatsEvent, ProcessEvent } from '../src/protocol/schema'

const portOf = (url: string): number => Number(new URL(url).port)

/** The latest view of `key` in the dashboard's messages (snapshot or diff). */
function latest(d: Dash, key: string): ProcessView | undefined {
  const view = new LiveView()
  for (const m of d.messages) view.apply(m)
  return view.processes.get(key)
}

/** Resolves with the rates of the first diff view of `key` for which `pred` holds, and when it came. */
function ratesIn(d: Dash, key: string, pred: (r: ProcessRates) => boolean, ms = 3000): Promise<ProcessRates> {
  return d.waitFor((m) => m.type === 'diff' && (m.processes ?? []).some((p) => p.key === key && p.rates !== undefined && pred(p.rates)), ms)
    .then((m) => {
      const p = m.type === 'diff' ? m.processes?.find((x) => x.key === key) : undefined
      assert.ok(p?.rates)
      return p.rates
    })
}

describe('process rates pushed on the live channel', () => {
  let t: TestHub
  let tr: Tracker
  const key = 'rates-svc/box:7'
  before(async () => {
    t = await startHub()
    tr = tracker({ name: 'rates-svc', hub: t.url, interval: 100, instance: 'box:7', handleSignals: false }, { warn() {} })
  })
  after(async () => {
    await tr.close({ timeout: 1000 })
    await t.stop()
  })

  it('bytes/s, DB rows/s and jobs per minute arrive in diffs within 2 s of the flush, exact for known calls', async () => {
    const d = await dashboard(portOf(t.url), '?site=any.test')
    await d.waitFor((m) => m.type === 'snapshot')
    // the process is live (and known to the fold) before the calls
    await d.waitFor((m) => m.type === 'diff' && (m.processes ?? []).some((p) => p.key === key && p.rates !== undefined))

    for (let i = 0; i < 5; i++) tr.bytes.sent(Buffer.alloc(1000))
    tr.bytes.received(300)
    tr.database.read([1, 2, 3, 4])
    tr.database.written(2)
    tr.job.start('import', Date.now() - 50).stop()
    tr.job.start('import', Date.now() - 50).stop()
    tr.job.start('import', Date.now() - 50).stop(new Error('boom'))
    tr.flush()
    const flushed = performance.now()
    const r = await ratesIn(d, key, (x) => x.finished === 3, 2500)
    const took = performance.now() - flushed
    assert.ok(took < 2000, `rates arrived ${took.toFixed(0)} ms after the flush`)

    const secs = r.windowMs / 1000
    assert.ok(r.windowMs >= 1000 && r.windowMs <= 60_000 && r.windowMs % 1000 === 0, `windowMs ${r.windowMs}`)
    assert.equal(r.sentPerSec, 5000 / secs)
    assert.equal(r.receivedPerSec, 300 / secs)
    assert.equal(r.readPerSec, 4 / secs)
    assert.equal(r.writtenPerSec, 2 / secs)
    assert.equal(r.finished, 3)
    assert.equal(r.failed, 1)
    assert.ok(r.p50 >= 25 && r.p50 <= 100, `p50 ${r.p50}`)
    assert.ok(r.p99 >= r.p95 && r.p95 >= r.p50)
    assert.equal(r.jobs.length, 1)
    const j = r.jobs[0]
    assert.equal(j?.name, 'import')
    assert.equal(j?.count, 3)
    assert.equal(j?.failed, 1)
    assert.equal(j?.lastError, 'Error: boom')
    // per name over the same 60 s as the totals: the panel's rows add up to its "last 60 s" figures
    assert.deepEqual(j?.recent, { finished: 3, failed: 1 })

    // a dashboard that connects now gets the rates in its snapshot, not after a wait
    const d2 = await dashboard(portOf(t.url), '?site=any.test')
    const snap = await d2.waitFor((m) => m.type === 'snapshot')
    assert.equal(snap.type, 'snapshot')
    const sv = snap.type === 'snapshot' ? snap.processes.find((p) => p.key === key) : undefined
    assert.equal(sv?.rates?.finished, 3)
    assert.equal(sv?.rates?.sentPerSec, 5000 / ((sv?.rates?.windowMs ?? 0) / 1000))
    d2.close()

    // the LiveView applies them like every other process field
    assert.equal(latest(d, key)?.rates?.finished, 3)
    d.close()
  })

  it('later diffs keep the rates current: more calls raise them', async () => {
    const d = await dashboard(portOf(t.url), '?site=any.test')
    const snap = await d.waitFor((m) => m.type === 'snapshot')
    const before = snap.type === 'snapshot' ? snap.processes.find((p) => p.key === key)?.rates : undefined
    assert.ok(before)
    const sentBefore = before.sentPerSec * (before.windowMs / 1000)
    for (let i = 0; i < 4; i++) tr.bytes.sent(Buffer.alloc(1000))
    tr.flush()
    const r = await ratesIn(d, key, (x) => Math.round(x.sentPerSec * (x.windowMs / 1000)) === sentBefore + 4000, 2500)
    assert.ok(r.at >= before.at)
    d.close()
  })
})

describe('the process-series fold computes rates over a 60 s sliding window', () => {
  const T0 = 1_750_000_000_000 // a whole second
  let n = 0
  const item = (ts: number, ev: Record<string, unknown>): Accepted =>
    ({ event: { id: `id${++n}`, app: 'a', instance: 'i', at: ts, ...ev } as unknown as LivestatsEvent, ts, visitor: null, row: null })
  const sample = (ts: number): Accepted => item(ts, {
    type: 'process', pid: 1, host: 'h', cpu: 0, rss: 0, heapUsed: 0, heapTotal: 0, lag: 0, uptime: 0, running: [], runningCount: 0,
  })

  it('averages over the seconds since the process was first seen, then over 60 s; old seconds drop out', () => {
    const f = new ProcessSeriesStore()
    const rates = (ts: number): ProcessRates => {
      const s = sample(ts)
      f.accept(s)
      const r = sampleRates.get(s.event as ProcessEvent)
      assert.ok(r)
      return r
    }
    f.accept(item(T0, { type: 'bytes', sent: 600, received: 0 }))
    let r = rates(T0 + 500)
    assert.equal(r.windowMs, 1000)
    assert.equal(r.sentPerSec, 600)
    // within the same second the cached rates are reused, even after more bytes
    f.accept(item(T0 + 600, { type: 'bytes', sent: 600, received: 0 }))
    assert.equal(rates(T0 + 700), r)
    r = rates(T0 + 2000) // three seconds seen: T0, T0+1, T0+2
    assert.equal(r.windowMs, 3000)
    assert.equal(r.sentPerSec, 1200 / 3)
    f.accept(item(T0 + 30_000, { type: 'job', name: 'j', count: 2, failed: 1, sum: 30, min: 10, max: 20, hist: [0, 0, 0, 1, 1], error: 'x' }))
    r = rates(T0 + 30_000)
    assert.equal(r.windowMs, 31_000)
    assert.equal(r.finished, 2)
    assert.equal(r.failed, 1)
    assert.ok(r.p50 >= 10 && r.p50 <= 20)
    assert.equal(r.jobs[0]?.lastError, 'x')
    r = rates(T0 + 59_999) // T0 .. T0+59: 60 seconds, the first bytes still in
    assert.equal(r.windowMs, 60_000)
    assert.equal(r.sentPerSec, 1200 / 60)
    r = rates(T0 + 61_000) // T0 left the window
    assert.equal(r.windowMs, 60_000)
    assert.equal(r.sentPerSec, 0)
    assert.equal(r.finished, 2)
    r = rates(T0 + 91_000)
    assert.equal(r.finished, 0)
    assert.equal(r.p99, 0)
    assert.equal(r.jobs[0]?.count, 2, 'per job name: the last hour')
  })
})
