/**
 * Issue 10 item 8: the hub caps job names per process itself. A raw client (no tracker, so no
 * tracker-side cap) sends 10,000 distinct job names; `/api/processes`, the live rates and the
 * hub's memory keep `maxJobNames` names and count the rest as `(other)`, losing no job.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { CollectClient, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { DEFAULT_LIMITS } from '../src/protocol/limits'
import type { ProcessSeries } from '../src/hub/process/series'

let n = 0
const id = (): string => `jobname-${process.pid}-${String(++n).padStart(8, '0')}`

function job(app: string, instance: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: id(), type: 'job', app, instance, name, count: 1, failed: 0, sum: 5, min: 5, max: 5, hist: [0, 0, 0, 1], ...extra }
}

function processSample(app: string, instance: string): Record<string, unknown> {
  return {
    id: id(), type: 'process', app, instance, pid: 1, host: 'box', cpu: 1, rss: 1e6, heapUsed: 1e6, heapTotal: 2e6,
    lag: 1, uptime: 10, running: [], runningCount: 0,
  }
}

/** Sends events as raw frames of at most 2,000 (no tracker: nothing capped on the client side). */
async function send(t: TestHub, events: Record<string, unknown>[]): Promise<void> {
  const c = new CollectClient(t.url)
  try {
    for (let i = 0; i < events.length; i += 2000) {
      const ack = await c.send({ v: 1, seq: i, events: events.slice(i, i + 2000) })
      assert.equal(ack.type, 'ack', JSON.stringify(ack))
      assert.deepEqual(ack.type === 'ack' && [ack.stored, ack.rejected.length], [Math.min(2000, events.length - i), 0])
    }
  } finally {
    c.close()
  }
}

async function processes(t: TestHub, app: string): Promise<{ list: ProcessSeries[]; bytes: number }> {
  const res = await fetch(`${t.url}/api/processes?range=24h&app=${app}`)
  const text = await res.text()
  return { list: (JSON.parse(text) as { processes: ProcessSeries[] }).processes, bytes: text.length }
}

describe('job names per process are capped by the hub', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('10,000 distinct names from a raw client: 100 names and (other), every job counted', async () => {
    const dash = await dashboard(Number(new URL(t.url).port), '?site=any.test')
    try {
      await dash.waitFor((m) => m.type === 'snapshot')
      await send(t, Array.from({ length: 10_000 }, (_, i) => job('flood', 'h:1', `name-${i}`)))
      await send(t, [processSample('flood', 'h:1')])
      const { list, bytes } = await processes(t, 'flood')
      const p = list[0]
      assert.ok(p)
      assert.equal(p.jobs.length, DEFAULT_LIMITS.maxJobNames + 1)
      const other = p.jobs.find((j) => j.name === '(other)')
      assert.equal(other?.count, 10_000 - DEFAULT_LIMITS.maxJobNames)
      assert.equal(p.jobs.reduce((s, j) => s + j.count, 0), 10_000, 'no job lost')
      assert.equal(p.points.reduce((s, pt) => s + pt.jobs, 0), 10_000)
      assert.ok(bytes < 60_000, `reply is ${bytes} bytes`)

      // a name already kept is still its own; a new one still folds
      await send(t, [job('flood', 'h:1', 'name-7'), job('flood', 'h:1', 'brand-new')])
      const again = (await processes(t, 'flood')).list[0]
      assert.equal(again?.jobs.find((j) => j.name === 'name-7')?.count, 2)
      assert.equal(again?.jobs.find((j) => j.name === 'brand-new'), undefined)
      assert.equal(again?.jobs.find((j) => j.name === '(other)')?.count, 10_000 - DEFAULT_LIMITS.maxJobNames + 1)

      // the live rates (pushed on /live) hold the folded names too
      const diff = await dash.waitFor((m) => m.type === 'diff' && (m.processes ?? []).some((v) => v.key === 'flood/h:1' && v.rates !== undefined))
      const rates = diff.type === 'diff' ? diff.processes?.find((v) => v.key === 'flood/h:1')?.rates : undefined
      assert.ok(rates)
      assert.equal(rates.finished, 10_000)
      assert.ok(rates.jobs.length <= 50)
      assert.equal(rates.jobs[0]?.name, '(other)')
      assert.equal(rates.jobs[0]?.recent?.finished, 10_000 - DEFAULT_LIMITS.maxJobNames)

      const metrics = await (await fetch(`${t.url}/metrics`)).text()
      assert.match(metrics, /^livestats_job_names_folded_total 9901$/m)
    } finally {
      dash.close()
    }
  })

  it('the cap is per process: another instance of the app keeps its own names', async () => {
    await send(t, Array.from({ length: 150 }, (_, i) => job('flood', 'h:2', `other-${i}`)))
    const p = (await processes(t, 'flood')).list.find((x) => x.instance === 'h:2')
    assert.equal(p?.jobs.length, DEFAULT_LIMITS.maxJobNames + 1)
    assert.equal(p?.jobs.find((j) => j.name === '(other)')?.count, 50)
  })

  it('a name the tracker already folded counts with the hub\'s (other), and names idle for an hour make room', async () => {
    const hourAgo = Date.now() - 2 * 3_600_000
    await send(t, Array.from({ length: 100 }, (_, i) => job('aging', 'h:1', `old-${i}`, { at: hourAgo })))
    await send(t, [job('aging', 'h:1', '(other)', { count: 3 }), job('aging', 'h:1', 'fresh')])
    const p = (await processes(t, 'aging')).list[0]
    assert.ok(p)
    assert.equal(p.jobs.find((j) => j.name === 'fresh')?.count, 1, 'the idle names left, the new one has its own entry')
    assert.equal(p.jobs.find((j) => j.name === '(other)')?.count, 3)
  })
})

describe('maxJobNames is a hub limit', () => {
  let t: TestHub
  before(async () => { t = await startHub({ limits: { maxJobNames: 5 } }) })
  after(async () => { await t.stop() })

  it('limits.maxJobNames: 5 keeps five names', async () => {
    await send(t, Array.from({ length: 40 }, (_, i) => job('small', 'h:1', `n${i}`)))
    const p = (await processes(t, 'small')).list[0]
    assert.deepEqual(p?.jobs.map((j) => j.name).sort(), ['(other)', 'n0', 'n1', 'n2', 'n3', 'n4'])
    assert.equal(p?.jobs.find((j) => j.name === '(other)')?.count, 35)
  })
})
