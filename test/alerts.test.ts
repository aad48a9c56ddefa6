/**
 * Alerts end to end (issue 15.4): rules set over the API and kept in the store, evaluated by the
 * hub on a short timer, delivered to a real HTTP receiver on loopback (node:http). Live visitors go
 * through the real /collect socket; jobs, lag and a service going down come from a real tracker in
 * a child process. No timing bounds: waits poll for what must happen, then a few more evaluation
 * rounds check that nothing else does.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHub } from '../src/hub/hub'
import { CHROME_UA, CollectClient, id, post, pageview as webPageview, quiet, startHub, type TestHub } from './helpers/hub'
import { Receiver } from './helpers/receiver'
import { pageview as storedPageview } from './helpers/store-contract'
import { until, sleep } from './helpers/wait'
import { newState, step } from '../src/hub/alerts/state'
import { backoff } from '../src/hub/alerts/deliver'
import { slackEscape } from '../src/hub/alerts/payload'

const FAST = { intervalMs: 40, retryBaseMs: 30, retryMaxMs: 200, timeoutMs: 3000, attempts: 5 }
const ENTRY = path.resolve(__dirname, '../src/tracker/index.ts')

async function api(t: TestHub, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; code: string | null }> {
  const res = await fetch(`${t.url}${p}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
  })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {}, code: res.headers.get('x-livestats-error') }
}

type Delivery = { rule: string; status: string; state: string; format: string; attempts: number; lastStatus: number | null; error: string | null; target: string }
async function deliveries(t: TestHub, rule?: string): Promise<Delivery[]> {
  const r = await api(t, 'GET', `/api/alerts/deliveries${rule ? `?rule=${rule}` : ''}`)
  assert.equal(r.status, 200)
  return r.body.deliveries as Delivery[]
}

/** A browser tab on `site` at `p`, over the real /collect socket; each has its own visitor (user agent). */
async function tab(t: TestHub, site: string, p: string): Promise<CollectClient> {
  const c = new CollectClient(t.url, { 'user-agent': `${CHROME_UA} tab/${id()}` })
  const ack = await c.send({ id: id(), type: 'pageview', site, cid: id('cid'), url: `https://${site}${p}` })
  assert.equal(ack.type, 'ack')
  return c
}

/** Lets the engine run a few more rounds (its interval is 40 ms). */
const rounds = (n = 8): Promise<void> => sleep(FAST.intervalMs * n)

describe('alert rules over the API', () => {
  let t: TestHub
  before(async () => { t = await startHub({ alerts: FAST }) })
  after(() => t.stop())

  const hook = 'http://127.0.0.1:9/hook'
  for (const [name, rule, field] of [
    ['no kind', { site: 's', threshold: 1, webhook: hook }, /kind/],
    ['unknown kind', { kind: 'cpu', app: 'a', threshold: 1, webhook: hook }, /kind/],
    ['visitors without site', { kind: 'visitors', threshold: 1, webhook: hook }, /site/],
    ['visitors without threshold', { kind: 'visitors', site: 's', webhook: hook }, /threshold/],
    ['negative threshold', { kind: 'visitors', site: 's', threshold: -1, webhook: hook }, /threshold/],
    ['threshold as text', { kind: 'visitors', site: 's', threshold: '5', webhook: hook }, /threshold/],
    ['below on a lag rule', { kind: 'lag', app: 'a', op: 'below', threshold: 5, webhook: hook }, /op/],
    ['site on a job rule', { kind: 'stuck', app: 'a', site: 's', threshold: 5, webhook: hook }, /site/],
    ['page not a path', { kind: 'visitors', site: 's', page: 'x', threshold: 1, webhook: hook }, /page/],
    ['threshold on down', { kind: 'down', app: 'a', threshold: 3, webhook: hook }, /threshold/],
    ['spike of 1', { kind: 'spike', site: 's', threshold: 1, webhook: hook }, /threshold/],
    ['no webhook', { kind: 'down', app: 'a' }, /webhook/],
    ['ftp webhook', { kind: 'down', app: 'a', webhook: 'ftp://example.com/x' }, /webhook/],
    ['javascript webhook', { kind: 'down', app: 'a', webhook: 'javascript:alert(1)' }, /webhook/],
    ['webhook with a password', { kind: 'down', app: 'a', webhook: 'https://u:p@example.com/x' }, /webhook/],
    ['unknown format', { kind: 'down', app: 'a', webhook: hook, format: 'xml' }, /format/],
    ['unknown field', { kind: 'down', app: 'a', webhook: hook, treshold: 1 }, /treshold/],
    ['for of 8 days', { kind: 'down', app: 'a', webhook: hook, for: 8 * 86400 }, /for/],
    ['a control character', { kind: 'down', app: 'a\n', webhook: hook }, /app/],
    ['not an object', [1, 2], /object/],
  ] as const) {
    it(`refuses ${name}: 400 LS_ERR_INVALID_ALERT`, async () => {
      const r = await api(t, 'POST', '/api/alerts', rule)
      assert.equal(r.status, 400)
      assert.equal(r.code, 'LS_ERR_INVALID_ALERT')
      assert.equal(r.body.code, 'LS_ERR_INVALID_ALERT')
      assert.match(String(r.body.message), field)
    })
  }

  it('creates, reads, changes and deletes a rule; unknown ids are 404 LS_ERR_ALERT_NOT_FOUND', async () => {
    const c = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: 'crud.test', op: 'below', threshold: 3, for: 120, webhook: hook })
    assert.equal(c.status, 201)
    const rid = c.body.id as string
    assert.match(rid, /^[0-9a-f]{16}$/)
    assert.deepEqual({ ...c.body, id: 0, created: 0, updated: 0 }, {
      id: 0, name: 'visitors crud.test', kind: 'visitors', site: 'crud.test', op: 'below', threshold: 3, for: 120,
      webhook: hook, format: 'json', enabled: true, created: 0, updated: 0, firing: false,
    })
    const u = await api(t, 'PUT', `/api/alerts?id=${rid}`, { threshold: 5, format: 'slack', name: 'Few readers' })
    assert.equal(u.status, 200)
    assert.deepEqual([u.body.threshold, u.body.format, u.body.name, u.body.op], [5, 'slack', 'Few readers', 'below'])
    assert.equal((await api(t, 'GET', `/api/alerts?id=${rid}`)).body.threshold, 5)
    const bad = await api(t, 'PUT', `/api/alerts?id=${rid}`, { op: 'sideways' })
    assert.equal(bad.code, 'LS_ERR_INVALID_ALERT')
    const list = await api(t, 'GET', '/api/alerts')
    assert.ok((list.body.rules as { id: string }[]).some((r) => r.id === rid))
    assert.equal((await api(t, 'DELETE', `/api/alerts?id=${rid}`)).status, 204)
    for (const m of ['GET', 'PUT', 'DELETE']) {
      const r = await api(t, m, `/api/alerts?id=${rid}`, m === 'PUT' ? { threshold: 1 } : undefined)
      assert.equal(r.status, 404, m)
      assert.equal(r.code, 'LS_ERR_ALERT_NOT_FOUND')
    }
    assert.equal(await t.hub.store.getMeta(`alert:${rid}`), null)
  })

  it('writes need JSON and the hub\'s own origin (no cross-site form can set a rule)', async () => {
    const form = await fetch(`${t.url}/api/alerts`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ kind: 'down', app: 'a', webhook: hook }) })
    assert.equal(form.status, 415)
    assert.equal(form.headers.get('x-livestats-error'), 'LS_ERR_UNSUPPORTED_MEDIA_TYPE')
    const cross = await api(t, 'POST', '/api/alerts', { kind: 'down', app: 'a', webhook: hook }, { origin: 'https://attacker.example' })
    assert.equal(cross.status, 403)
    assert.equal(cross.code, 'LS_ERR_ORIGIN_FORBIDDEN')
    const del = await api(t, 'DELETE', '/api/alerts?id=0000000000000000', undefined, { origin: 'https://attacker.example' })
    assert.equal(del.code, 'LS_ERR_ORIGIN_FORBIDDEN')
    const own = await api(t, 'POST', '/api/alerts', { kind: 'down', app: 'a', webhook: hook, enabled: false }, { origin: t.url })
    assert.equal(own.status, 201)
    const broken = await fetch(`${t.url}/api/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"kind":' })
    assert.equal(broken.headers.get('x-livestats-error'), 'LS_ERR_INVALID_JSON')
  })

  it('caps the number of rules: 409 LS_ERR_TOO_MANY_ALERTS', async () => {
    const small = await startHub({ alerts: { ...FAST, maxRules: 2 } })
    try {
      for (let i = 0; i < 2; i++) assert.equal((await api(small, 'POST', '/api/alerts', { kind: 'down', app: `a${i}`, webhook: hook, enabled: false })).status, 201)
      const r = await api(small, 'POST', '/api/alerts', { kind: 'down', app: 'a3', webhook: hook })
      assert.equal(r.status, 409)
      assert.equal(r.code, 'LS_ERR_TOO_MANY_ALERTS')
    } finally {
      await small.stop()
    }
  })

  it('a hub with a token asks it for every alert route', async () => {
    const token = 'alerts-token-0123456789'
    const tt = await startHub({ token, alerts: FAST })
    try {
      for (const [m, p] of [['GET', '/api/alerts'], ['POST', '/api/alerts'], ['PUT', '/api/alerts?id=x'], ['DELETE', '/api/alerts?id=x'], ['GET', '/api/alerts/deliveries']]) {
        const r = await api(tt, m as string, p as string, m === 'POST' || m === 'PUT' ? { kind: 'down', app: 'a', webhook: hook } : undefined)
        assert.equal(r.status, 401, `${m} ${p}`)
        assert.equal(r.code, 'LS_ERR_UNAUTHORIZED')
      }
      const ok = await api(tt, 'POST', '/api/alerts', { kind: 'down', app: 'a', webhook: hook, enabled: false }, { authorization: `Bearer ${token}` })
      assert.equal(ok.status, 201)
    } finally {
      await tt.stop()
    }
  })
})

describe('rules are kept in the store', () => {
  it('a restarted hub on the same file has its rules', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'livestats-alerts-'))
    const file = path.join(dir, 'hub.db')
    try {
      const a = createHub({ port: 0, store: file, logger: quiet, alerts: FAST })
      const { url } = await a.listen()
      const res = await fetch(`${url}/api/alerts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'lag', app: 'api', threshold: 200, for: 30, webhook: 'https://hooks.example/x', format: 'slack' }) })
      const made = await res.json() as Record<string, unknown>
      await a.close()
      const b = createHub({ port: 0, store: file, logger: quiet, alerts: FAST })
      const { url: url2 } = await b.listen()
      const list = await (await fetch(`${url2}/api/alerts`)).json() as { rules: Record<string, unknown>[] }
      await b.close()
      assert.deepEqual(list.rules, [made])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the for-duration and retries (units)', () => {
  it('fires once after the condition held for `for`, resolves once after it was gone for `for`, ignores wobbles', () => {
    const s = newState()
    const seen: [number, string | null][] = []
    // condition over time (ms): wobbles at 0-40, holds from 100, gone from 400, wobbles back at 450
    const timeline: [number, boolean][] = [[0, true], [20, false], [40, true], [60, false], [100, true], [150, true], [199, true], [200, true], [250, true],
      [400, false], [450, true], [460, false], [500, false], [559, false], [560, false], [600, false], [700, false]]
    for (const [now, active] of timeline) seen.push([now, step(s, active, now, 100)])
    assert.deepEqual(seen.filter(([, w]) => w !== null), [[200, 'firing'], [560, 'resolved']])
  })

  it('for 0 fires and resolves at once', () => {
    const s = newState()
    assert.deepEqual([step(s, true, 0, 0), step(s, true, 1, 0), step(s, false, 2, 0), step(s, false, 3, 0)], ['firing', null, 'resolved', null])
  })

  it('backoff doubles, stays within half and all of each step, and is capped', () => {
    const p = { retryBaseMs: 1000, retryMaxMs: 60_000 }
    assert.deepEqual([1, 2, 3, 4].map((n) => backoff(n, p, () => 0)), [500, 1000, 2000, 4000])
    assert.deepEqual([1, 2, 3, 4].map((n) => backoff(n, p, () => 1)), [1000, 2000, 4000, 8000])
    assert.equal(backoff(30, p, () => 1), 60_000)
    assert.equal(backoff(1000, p, () => 0.5), 45_000)
  })

  it('Slack text cannot make links or mentions', () => {
    assert.equal(slackEscape('<!channel> & <https://x|y>'), '&lt;!channel&gt; &amp; &lt;https://x|y&gt;')
  })
})

describe('alerts end to end against a real receiver', () => {
  let t: TestHub
  let rx: Receiver
  before(async () => {
    t = await startHub({ alerts: FAST, publicUrl: 'https://stats.example.test' })
    rx = await new Receiver().start()
  })
  after(async () => {
    await t.stop()
    await rx.stop()
  })

  it('visitors above: fires once, delivered on the 3rd try after two failures, resolves once', async () => {
    const S = 'above.test'
    rx.failFirst = 2
    const r = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: S, op: 'above', threshold: 1, for: 0.2, webhook: rx.url, name: 'Busy' })
    assert.equal(r.status, 201)
    const rid = r.body.id as string
    const a = await tab(t, S, '/')
    await rounds()
    assert.equal(rx.got.length, 0, 'one visitor is not above 1')
    const b = await tab(t, S, '/pricing')
    await until('the firing notification accepted', () => rx.accepted().length === 1, 10_000)
    assert.deepEqual(rx.got.map((g) => g.answered), [500, 500, 200])
    // the same notification each time: a receiver can drop a repeat by id
    assert.equal(new Set(rx.got.map((g) => g.body.id)).size, 1)
    const body = rx.got[2]?.body as Record<string, unknown>
    assert.equal(rx.got[2]?.headers['content-type'], 'application/json')
    assert.deepEqual({ ...body, id: 0, since: 0, at: 0 }, {
      type: 'livestats.alert', id: 0, status: 'firing', since: 0, at: 0,
      rule: { id: rid, name: 'Busy', kind: 'visitors', site: S, page: null, app: null, job: null, op: 'above', threshold: 1, for: 0.2 },
      value: 2, summary: `2 live visitors on ${S} (above 1)`, dashboard: 'https://stats.example.test',
    })
    assert.ok(Date.parse(String(body.since)) <= Date.parse(String(body.at)))
    const d = await until('the delivery listed as delivered', async () => (await deliveries(t, rid)).find((x) => x.state === 'delivered'))
    assert.deepEqual({ ...d, id: 0, created: 0, finished: 0 }, {
      id: 0, rule: rid, name: 'Busy', status: 'firing', state: 'delivered', attempts: 3, lastStatus: 200, error: null,
      summary: `2 live visitors on ${S} (above 1)`, target: new URL(rx.url).origin, format: 'json', created: 0, finished: 0,
    })
    assert.equal((await api(t, 'GET', `/api/alerts?id=${rid}`)).body.firing, true)
    await rounds()
    assert.equal(rx.got.length, 3, 'fires once: no repeat while it stays above')
    a.close()
    b.close()
    await until('the resolved notification', () => rx.accepted().length === 2, 10_000)
    assert.equal(rx.accepted()[1]?.body.status, 'resolved')
    assert.equal(rx.accepted()[1]?.body.value, 0)
    await rounds()
    assert.equal(rx.accepted().length, 2, 'resolves once')
    assert.deepEqual((await deliveries(t, rid)).map((x) => [x.status, x.state]), [['resolved', 'delivered'], ['firing', 'delivered']])
    assert.equal((await api(t, 'DELETE', `/api/alerts?id=${rid}`)).status, 204)
  })

  it('a receiver that never accepts: every attempt made, then listed as failed; a refused connection too', async () => {
    const S = 'failing.test'
    const down = await new Receiver().start()
    down.failFirst = 1000
    const gone = await new Receiver().start()
    const goneUrl = gone.url
    await gone.stop()
    try {
      const a = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: S, op: 'below', threshold: 1, for: 0, webhook: down.url })
      const b = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: S, op: 'below', threshold: 1, for: 0, webhook: goneUrl, format: 'slack' })
      const da = await until('failed after 5 attempts', async () => (await deliveries(t, a.body.id as string)).find((x) => x.state === 'failed'), 15_000)
      assert.deepEqual([da.attempts, da.lastStatus, da.error, down.got.length], [FAST.attempts, 500, 'HTTP 500', FAST.attempts])
      const db = await until('failed, nothing listening', async () => (await deliveries(t, b.body.id as string)).find((x) => x.state === 'failed'), 15_000)
      assert.deepEqual([db.attempts, db.lastStatus, db.error], [FAST.attempts, null, 'ECONNREFUSED'])
      await rounds()
      assert.equal(down.got.length, FAST.attempts, 'a failed notification is not sent again')
      for (const r of [a, b]) await api(t, 'DELETE', `/api/alerts?id=${String(r.body.id)}`)
    } finally {
      await down.stop()
    }
  })

  it('a visitor who comes and goes within `for` sends nothing', async () => {
    const S = 'flap.test'
    rx.failFirst = 0
    const before = rx.got.length
    const r = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: S, threshold: 0, for: 30, webhook: rx.url })
    const c = await tab(t, S, '/')
    await rounds()
    c.close()
    await rounds()
    assert.equal(rx.got.length, before)
    assert.deepEqual(await deliveries(t, r.body.id as string), [])
    await api(t, 'DELETE', `/api/alerts?id=${String(r.body.id)}`)
  })

  it('visitors below on one page, as a Slack message: fires while the page is empty, resolves when someone opens it', async () => {
    const S = 'below.test'
    const slack = await new Receiver().start('/services/T000/B000/XXXX')
    try {
      const r = await api(t, 'POST', '/api/alerts', { kind: 'visitors', site: S, page: '/checkout', op: 'below', threshold: 1, for: 0, webhook: slack.url, format: 'slack', name: 'Checkout <empty>' })
      const rid = r.body.id as string
      const other = await tab(t, S, '/home')
      await until('firing', () => slack.got.length === 1)
      const m = slack.got[0]?.body as { text: string; blocks: { type: string }[] }
      assert.deepEqual(Object.keys(m).sort(), ['blocks', 'text'])
      assert.equal(m.text, `Firing: Checkout &lt;empty&gt;: 0 live visitors on ${S}/checkout (below 1)`)
      assert.deepEqual(m.blocks.map((b) => b.type), ['section', 'context', 'context'])
      const c = await tab(t, S, '/checkout')
      await until('resolved', () => slack.got.length === 2)
      assert.match((slack.got[1]?.body as { text: string }).text, /^Resolved: .*1 live visitor on below\.test\/checkout/)
      assert.equal((await deliveries(t, rid))[0]?.format, 'slack')
      c.close()
      other.close()
      await until('fires again once the page is empty', () => slack.got.length === 3)
      await api(t, 'DELETE', `/api/alerts?id=${rid}`)
    } finally {
      await slack.stop()
    }
  })

  it('spike: page views of the last minutes against the same minutes a week before, from the store', async () => {
    const S = 'spike.test'
    const week = 7 * 86_400_000
    const now = Date.now()
    // a week ago: 2 page views in the window
    await t.hub.store.append([storedPageview({ site: S, visitor: 'w1', ts: now - week - 60_000, path: '/' }), storedPageview({ site: S, visitor: 'w2', ts: now - week - 120_000, path: '/' })])
    const spike = await new Receiver().start()
    try {
      const r = await api(t, 'POST', '/api/alerts', { kind: 'spike', site: S, threshold: 3, windowMin: 10, minCount: 3, for: 0, webhook: spike.url })
      const rid = r.body.id as string
      for (let i = 0; i < 5; i++) assert.equal((await post(t.url, webPageview(S, `https://${S}/p${i}`), { 'user-agent': `${CHROME_UA} v${i}` })).status, 202)
      await rounds()
      assert.equal(spike.got.length, 0, '5 is not 3 × 2')
      for (let i = 5; i < 6; i++) await post(t.url, webPageview(S, `https://${S}/p${i}`), { 'user-agent': `${CHROME_UA} v${i}` })
      await until('the spike fires', () => spike.got.length === 1, 10_000)
      const b = spike.got[0]?.body as Record<string, unknown>
      assert.equal(b.status, 'firing')
      assert.equal(b.value, 3)
      assert.equal(b.summary, `6 page views on ${S} in 10 min: 3× the 2 of a week before (spike at 3×)`)
      await api(t, 'DELETE', `/api/alerts?id=${rid}`)
    } finally {
      await spike.stop()
    }
  })
})

describe('job, lag and down alerts from a real tracker process', () => {
  let t: TestHub
  let rx: Receiver
  let child: ChildProcess
  const dir = mkdtempSync(path.join(os.tmpdir(), 'livestats-alert-tracker-'))
  before(async () => {
    t = await startHub({ alerts: FAST })
    rx = await new Receiver().start()
  })
  after(async () => {
    child?.kill('SIGKILL')
    await t.stop()
    await rx.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('stuck job, failed-job rate and event-loop lag fire; killing the process fires down and resolves the rest', async () => {
    const rules: Record<string, string> = {}
    for (const [k, rule] of Object.entries({
      stuck: { kind: 'stuck', app: 'worker', job: 'import', threshold: 1, for: 0 },
      failed: { kind: 'failed', app: 'worker', threshold: 50, minCount: 2, for: 0 },
      lag: { kind: 'lag', app: 'worker', threshold: 40, for: 0.5 },
      down: { kind: 'down', app: 'worker', for: 0.3 },
    })) {
      const r = await api(t, 'POST', '/api/alerts', { ...rule, name: k, webhook: rx.url })
      assert.equal(r.status, 201, JSON.stringify(r.body))
      rules[k] = r.body.id as string
    }
    await until('down fires while no worker ever linked', () => rx.got.some((g) => g.body.status === 'firing' && (g.body.rule as { name: string }).name === 'down'))
    const file = path.join(dir, 'worker.mjs')
    writeFileSync(file, `import { tracker } from ${JSON.stringify(ENTRY)}
const t = tracker({ name: 'worker', hub: ${JSON.stringify(t.url)}, interval: 300 }, { warn() {} })
t.job.start('import')                                  // never stops: stuck
for (let i = 0; i < 3; i++) t.job.start('mail').stop(new Error('smtp down'))  // 3 of 3 failed
setInterval(() => { const end = Date.now() + 200; while (Date.now() < end) {} }, 220)  // blocks the loop: lag in every sample
`)
    child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: path.resolve(__dirname, '..'), stdio: 'ignore' })
    const firing = (name: string) => rx.got.filter((g) => g.body.status === 'firing' && (g.body.rule as { name: string }).name === name)
    const resolved = (name: string) => rx.got.filter((g) => g.body.status === 'resolved' && (g.body.rule as { name: string }).name === name)
    await until('down resolves once the worker links', () => resolved('down').length === 1, 20_000)
    await until('stuck, failed and lag fire', () => firing('stuck').length === 1 && firing('failed').length === 1 && firing('lag').length === 1, 20_000)
      .catch(async (e: unknown) => {
        const procs = await (await fetch(`${t.url}/api/live/processes`).catch(() => null))?.text()
        throw new Error(`${String(e)}; got ${JSON.stringify(rx.got.map((g) => [g.body.status, (g.body.rule as { name: string }).name, g.body.summary]))}; ${procs ?? ''}`)
      })
    assert.match(String(firing('stuck')[0]?.body.summary), /^job import on .+ of worker running for \d+ s \(stuck past 1 s\)$/)
    assert.equal(firing('failed')[0]?.body.value, 100)
    assert.match(String(firing('failed')[0]?.body.summary), /^3 of 3 jobs of worker failed in the last minute/)
    assert.ok(Number(firing('lag')[0]?.body.value) > 40)
    child.kill('SIGKILL')
    await until('down fires again and the rest resolve', () => firing('down').length === 2 && ['stuck', 'failed', 'lag'].every((n) => resolved(n).length === 1), 20_000)
    await rounds()
    for (const n of ['stuck', 'failed', 'lag']) assert.deepEqual([firing(n).length, resolved(n).length], [1, 1], n)
    assert.deepEqual([firing('down').length, resolved('down').length], [2, 1])
    const all = await deliveries(t)
    assert.ok(all.length >= 9 && all.every((d) => d.state === 'delivered' && d.attempts === 1), JSON.stringify(all))
  })
})
