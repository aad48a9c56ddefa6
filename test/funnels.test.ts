/**
 * Funnels (issue 13.3): the step rules in isolation (goals/funnel.ts), and the HTTP API over a real
 * hub: saved funnels per site (create, list, delete), results for a saved funnel and for steps in
 * the query, conversion and drop-off against a hand-counted fixture, refusals with their codes,
 * and the read check (token) and the origin check on writes. The store's counting rules are in the
 * store contract (test/helpers/funnel-contract.ts).
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { countDistinct } from '../src/hub/goals/distinct'
import { FunnelWalk, parseFunnelSteps } from '../src/hub/goals/funnel'
import { prng } from './helpers/prng'
import { LivestatsError } from '../src/protocol/errors'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'

const MIN = 60_000
const SITE = 'funnel.test'
const T0 = Date.UTC(2025, 2, 10, 10)
const RANGE = `site=${SITE}&from=${T0}&to=${T0 + 3_600_000}`

describe('funnel steps and walk', () => {
  it('takes 2 to 8 goals and names the bad step', () => {
    assert.deepEqual(parseFunnelSteps([{ page: '/a' }, { event: 'E', props: { n: 2 } }]),
      [{ kind: 'page', page: '/a' }, { kind: 'event', event: 'E', props: { n: '2' } }])
    const refused = (input: unknown, re: RegExp) => assert.throws(() => parseFunnelSteps(input),
      (e: unknown) => e instanceof LivestatsError && e.code === 'LS_ERR_INVALID_GOAL' && re.test(e.message))
    refused([{ page: '/a' }], /2 to 8 steps/)
    refused(Array.from({ length: 9 }, () => ({ page: '/a' })), /2 to 8 steps/)
    refused({ page: '/a' }, /2 to 8 steps/)
    refused([{ page: '/a' }, { page: 'b' }], /^step 2: .*starting with \//)
    refused([{ page: '/a', event: 'x' }, { page: '/b' }], /^step 1: .*exactly one/)
  })

  it('orders events of the same ms by arrival, and a repeated step needs a second event', () => {
    const w = new FunnelWalk(() => true)
    // visit 1: step A at (t, seq 2), step B at (t, seq 1) → B came first: not after A
    // visit 2: A at (t, 5), B at (t, 6) → reached
    w.start({ visit: [1, 2], visitor: ['x', 'y'], ts: [100, 100], seq: [2, 5] })
    w.advance({ visit: [1, 2], visitor: ['x', 'y'], ts: [100, 100], seq: [1, 6] })
    // the same rows again as a third step: nothing comes after the row that reached step 2
    w.advance({ visit: [1, 2], visitor: ['x', 'y'], ts: [100, 100], seq: [1, 6] })
    assert.deepEqual(w.counts(), [{ visits: 2, visitors: 2 }, { visits: 1, visitors: 1 }, { visits: 0, visitors: 0 }])
  })

  it('counts distinct 53-bit visitor keys as a Set would, and visitors of typed rows by them', () => {
    const rand = prng(7)
    for (const n of [0, 1, 5, 1000, 100_000]) {
      const keys = Float64Array.from({ length: n }, () => Math.floor(rand() * (n / 3 + 1)) * 2 ** 21 + (rand() < 0.5 ? 0 : 2 ** 52))
      assert.equal(countDistinct(keys), new Set(keys).size, `n = ${n}`)
    }
    // visit 1 and 2 are one visitor (key 2^40), visit 3 another
    const w = new FunnelWalk(() => true)
    w.start({ visit: Float64Array.of(1, 2, 3), visitor: Float64Array.of(2 ** 40, 2 ** 40, 7), ts: Float64Array.of(1, 2, 3), seq: Float64Array.of(1, 2, 3) })
    assert.deepEqual(w.counts(), [{ visits: 3, visitors: 2 }])
  })

  it('counts the same however the rows come: in time order, page by page, in parts, with sparse visit ids', () => {
    // 3 steps over 30,000 visits (ids `scale` apart) of 9,000 visitors; each step's rows in time order
    // (walked as given), shuffled (walked by block), split in parts, and against a per-visit count
    const rand = prng(11)
    type Row = { visit: number; visitor: number; ts: number; seq: number }
    for (const scale of [1, 7, 1_000_003]) {
      const steps: Row[][] = [[], [], []]
      let seq = 0
      for (let v = 0; v < 30_000; v++) {
        const visitor = Math.floor(rand() * 9_000) * 2 ** 30 + 5
        let ts = v * 100 + Math.floor(rand() * 50)
        for (let n = Math.floor(rand() * 6); n > 0; n--) {
          ts += Math.floor(rand() * 3)
          steps[Math.floor(rand() * 3)]?.push({ visit: v * scale + 40, visitor, ts, seq: seq++ })
        }
      }
      const allowed = (v: number) => v % 5 !== 0
      const expected: { visits: number; visitors: number }[] = []
      let reached = new Map<number, Row>()
      steps.forEach((rows, k) => {
        const next = new Map<number, Row>()
        for (const r of rows) {
          const before = reached.get(r.visit)
          if (k === 0 ? !allowed(r.visit) : before === undefined || before.ts > r.ts || (before.ts === r.ts && before.seq >= r.seq)) continue
          const best = next.get(r.visit)
          if (best === undefined || r.ts < best.ts || (r.ts === best.ts && r.seq < best.seq)) next.set(r.visit, r)
        }
        reached = next
        expected.push({ visits: next.size, visitors: new Set([...next.values()].map((r) => r.visitor)).size })
      })
      const cols = (rows: readonly Row[]) => ({ visit: Float64Array.from(rows, (r) => r.visit), visitor: Float64Array.from(rows, (r) => r.visitor),
        ts: Float64Array.from(rows, (r) => r.ts), seq: Float64Array.from(rows, (r) => r.seq) })
      const shuffled = (rows: readonly Row[]) => {
        const out = [...rows]
        for (let i = out.length - 1; i > 0; i--) {
          const j = Math.floor(rand() * (i + 1))
          ;[out[i], out[j]] = [out[j] as Row, out[i] as Row]
        }
        return out
      }
      const inParts = (rows: readonly Row[]) => [cols(rows.slice(0, 1000)), cols(rows.slice(1000, 1001)), cols(rows.slice(1001))]
      for (const [how, given] of [['in order', cols], ['shuffled', (r: readonly Row[]) => cols(shuffled(r))],
        ['in parts', inParts], ['shuffled in parts', (r: readonly Row[]) => inParts(shuffled(r))]] as const) {
        const w = new FunnelWalk(allowed)
        w.start(given(steps[0] as Row[]))
        w.advance(given(steps[1] as Row[]))
        w.advance(given(steps[2] as Row[]))
        assert.deepEqual(w.counts(), expected, `${how}, ids ${scale} apart`)
      }
    }
  })

  it('asks `accept` about the earliest candidate first, and only about candidates', () => {
    const asked: number[] = []
    const w = new FunnelWalk((v) => v !== 3)
    w.start({ visit: [1, 3], visitor: [1, 3], ts: [10, 10], seq: [1, 2] })
    // visit 1: candidates at 30 (refused), 20 (accepted), 5 (before step 1: never asked); visit 3 never reached step 1
    w.advance({ visit: [1, 1, 1, 3], visitor: [1, 1, 1, 3], ts: [30, 20, 5, 40], seq: [9, 8, 7, 6] }, (i) => {
      asked.push(i)
      return i === 1
    })
    assert.deepEqual(asked, [1])
    assert.deepEqual(w.counts(), [{ visits: 1, visitors: 1 }, { visits: 1, visitors: 1 }])
  })
})

describe('funnels over the HTTP API', () => {
  let t: TestHub
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${t.url}${path}`, { headers })
    return { status: res.status, body: (await res.json()) as Record<string, unknown> }
  }
  const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${t.url}${path}`, {
      method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Record<string, unknown> }
  }

  before(async () => {
    t = await startHub()
    const v = (visitor: string, m: number, path: string, more: object = {}) => pageview({ site: SITE, visitor, ts: T0 + m * MIN, path, ...more })
    const ev = (visitor: string, m: number, plan: string) => pageview({ site: SITE, visitor, ts: T0 + m * MIN, type: 'event', name: 'Signup', data: JSON.stringify({ plan }) })
    await t.hub.store.append([
      // a: all three steps; b: /pricing, /signup; c: /pricing alone; d: /signup then /pricing (step 1 only);
      // e (Chrome): all three, plan free (step 3 wants pro: stops at 2)
      v('a', 0, '/pricing'), v('a', 1, '/signup'), ev('a', 2, 'pro'),
      v('b', 3, '/pricing'), v('b', 4, '/signup'),
      v('c', 5, '/pricing'),
      v('d', 6, '/signup'), v('d', 7, '/pricing'),
      v('e', 8, '/pricing', { browser: 'Chrome' }), v('e', 9, '/signup', { browser: 'Chrome' }), ev('e', 10, 'free'),
    ].sort((x, y) => x.ts - y.ts))
  })
  after(() => t.stop())

  const steps = [{ page: '/pricing' }, { page: '/signup' }, { event: 'Signup', props: { plan: 'pro' } }]

  it('saves, lists, answers and deletes a funnel', async () => {
    const made = await send('POST', '/api/funnels', { site: SITE, name: 'Checkout', steps })
    assert.equal(made.status, 201)
    const f = made.body.funnel as { id: string; name: string; steps: unknown[] }
    assert.match(f.id, /^[\w-]{8}$/)
    assert.deepEqual(f.steps, [{ kind: 'page', page: '/pricing' }, { kind: 'page', page: '/signup' }, { kind: 'event', event: 'Signup', props: { plan: 'pro' } }])
    const unnamed = await send('POST', '/api/funnels', { site: SITE, steps: steps.slice(0, 2) })
    assert.equal((unnamed.body.funnel as { name: string }).name, 'Visit /pricing → Visit /signup')
    // another site's list is its own
    await send('POST', '/api/funnels', { site: `${SITE}:8080`, steps: steps.slice(0, 2) })
    const list = await get(`/api/funnels?site=${SITE}`)
    assert.deepEqual((list.body.funnels as { name: string }[]).map((x) => x.name), ['Checkout', 'Visit /pricing → Visit /signup'])

    const r = await get(`/api/funnel?${RANGE}&id=${f.id}`)
    assert.equal(r.status, 200)
    assert.equal(r.body.name, 'Checkout')
    assert.deepEqual((r.body.steps as Record<string, unknown>[]).map((s) => [s.label, s.visitors, s.visits, s.conversion, s.conversionFromStart, s.dropoff]), [
      ['Visit /pricing', 5, 5, 1, 1, 0],
      ['Visit /signup', 3, 3, 3 / 5, 3 / 5, 2],
      ['Signup (plan: pro)', 1, 1, 1 / 3, 1 / 5, 2],
    ])

    assert.deepEqual(await send('DELETE', `/api/funnels?site=${SITE}&id=${f.id}`), { status: 204, body: {} })
    assert.equal((await send('DELETE', `/api/funnels?site=${SITE}&id=${f.id}`)).body.code, 'LS_ERR_NOT_FOUND')
    assert.equal((await get(`/api/funnel?${RANGE}&id=${f.id}`)).status, 404)
  })

  it('takes saved goals as steps, with their names', async () => {
    const g = await send('POST', '/api/goals', { site: SITE, name: 'Pro signups', event: 'Signup', props: { plan: 'pro' } })
    assert.equal(g.status, 201)
    const made = await send('POST', '/api/funnels', { site: SITE, steps: [{ page: '/pricing' }, { goal: g.body.id }] })
    assert.equal(made.status, 201)
    const f = made.body.funnel as { id: string; name: string; steps: unknown[] }
    assert.equal(f.name, 'Visit /pricing → Pro signups')
    assert.deepEqual(f.steps[1], { kind: 'event', event: 'Signup', props: { plan: 'pro' } })
    const r = await get(`/api/funnel?${RANGE}&id=${f.id}`)
    assert.deepEqual((r.body.steps as Record<string, unknown>[]).map((s) => [s.label, s.visitors]), [['Visit /pricing', 5], ['Pro signups', 1]])
    const adhoc = await get(`/api/funnel?${RANGE}&steps=${encodeURIComponent(JSON.stringify([{ page: '/pricing' }, { goal: g.body.id }]))}`)
    assert.deepEqual((adhoc.body.steps as Record<string, unknown>[]).map((s) => [s.label, s.visitors]), [['Visit /pricing', 5], ['Pro signups', 1]])
    assert.equal((await send('DELETE', `/api/funnels?site=${SITE}&id=${f.id}`)).status, 204)
  })

  it('answers steps given in the query, with filters', async () => {
    const q = encodeURIComponent(JSON.stringify(steps))
    const all = await get(`/api/funnel?${RANGE}&steps=${q}`)
    assert.deepEqual((all.body.steps as { visitors: number }[]).map((s) => s.visitors), [5, 3, 1])
    assert.equal(all.body.id, null)
    const chrome = await get(`/api/funnel?${RANGE}&steps=${q}&browser=Chrome`)
    assert.deepEqual((chrome.body.steps as Record<string, unknown>[]).map((s) => [s.visitors, s.conversion, s.dropoff]),
      [[1, 1, 0], [1, 1, 0], [0, 0, 1]])
    // nothing in the range: rates are null, not 0
    const empty = await get(`/api/funnel?site=${SITE}&from=${T0 - 7_200_000}&to=${T0 - 3_600_000}&steps=${q}`)
    assert.deepEqual((empty.body.steps as Record<string, unknown>[]).map((s) => [s.visitors, s.conversion, s.conversionFromStart]),
      [[0, null, null], [0, null, null], [0, null, null]])
  })

  it('refuses bad input with a code and a clear message', async () => {
    const code = async (p: Promise<{ status: number; body: Record<string, unknown> }>, status: number, c: string, re: RegExp) => {
      const r = await p
      assert.equal(r.status, status, JSON.stringify(r.body))
      assert.equal(r.body.code, c)
      assert.match(String(r.body.message), re)
    }
    await code(send('POST', '/api/funnels', { site: SITE, steps: [{ page: '/a' }] }), 400, 'LS_ERR_INVALID_GOAL', /2 to 8 steps/)
    await code(send('POST', '/api/funnels', { site: SITE, steps: [{ page: '/a' }, { event: '' }] }), 400, 'LS_ERR_INVALID_GOAL', /step 2/)
    await code(send('POST', '/api/funnels', { steps }), 400, 'LS_ERR_BAD_QUERY', /site is required/)
    await code(send('POST', '/api/funnels', { site: SITE, steps, name: '' }), 400, 'LS_ERR_BAD_QUERY', /name/)
    await code(send('POST', '/api/funnels', { site: SITE, steps }, { 'content-type': 'text/plain' }), 415, 'LS_ERR_UNSUPPORTED_MEDIA_TYPE', /application\/json/)
    await code(send('POST', '/api/funnels', { site: SITE, steps: [{ goal: 'nope' }, { page: '/b' }] }), 400, 'LS_ERR_INVALID_GOAL', /step 1: .*no goal nope/)
    await code(send('POST', '/api/funnels', { site: SITE, steps: [{ goal: 'x', page: '/a' }, { page: '/b' }] }), 400, 'LS_ERR_INVALID_GOAL', /step 1: .*nothing else/)
    await code(get(`/api/funnel?${RANGE}`), 400, 'LS_ERR_BAD_QUERY', /id=.*steps=/)
    await code(get(`/api/funnel?${RANGE}&steps=nope`), 400, 'LS_ERR_BAD_QUERY', /JSON list/)
    await code(get(`/api/funnel?${RANGE}&steps=${encodeURIComponent('[{"page":"x"},{"page":"/b"}]')}`), 400, 'LS_ERR_INVALID_GOAL', /step 1/)
    await code(get(`/api/funnel?${RANGE}&steps=${encodeURIComponent(JSON.stringify(steps))}&browser=`), 400, 'LS_ERR_BAD_QUERY', /browser/)
    await code(get(`/api/funnels`), 400, 'LS_ERR_BAD_QUERY', /site/)
    // a page of another origin may not change funnels
    await code(send('POST', '/api/funnels', { site: SITE, steps }, { origin: 'https://evil.example' }), 403, 'LS_ERR_ORIGIN_FORBIDDEN', /origin/)
    await code(send('DELETE', `/api/funnels?site=${SITE}&id=x`, undefined, { origin: 'https://evil.example' }), 403, 'LS_ERR_ORIGIN_FORBIDDEN', /origin/)
  })
})

describe('funnels need the token on a hub that has one', () => {
  it('refuses reads and writes without it', async () => {
    const t = await startHub({ token: 'secret-token-for-funnels' })
    try {
      const q = encodeURIComponent(JSON.stringify([{ page: '/a' }, { page: '/b' }]))
      for (const [method, path] of [['GET', `/api/funnels?site=${SITE}`], ['GET', `/api/funnel?${RANGE}&steps=${q}`],
        ['POST', '/api/funnels'], ['DELETE', `/api/funnels?site=${SITE}&id=x`]] as const) {
        const res = await fetch(`${t.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined })
        assert.equal(res.status, 401, `${method} ${path}`)
      }
      const ok = await fetch(`${t.url}/api/funnels?site=${SITE}`, { headers: { authorization: 'Bearer secret-token-for-funnels' } })
      assert.equal(ok.status, 200)
    } finally {
      await t.stop()
    }
  })
})
