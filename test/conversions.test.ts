/**
 * Custom event properties and goals over the HTTP API (issue 13.1, 13.2), against a hand-counted
 * fixture written into a real hub's SQLite store: the events list with unique visitors, breakdowns
 * by property key and value, property filters (`is`, `!`, `~`) alone and combined with others on
 * every route, and goals' converting visitors, conversions and rate, filtered, for exact pages,
 * wildcard patterns and events with properties. Then a goal reached live: the feed row names it.
 * Last, goals against an earlier period (`compare`), on SQLite and on PostgreSQL.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, post, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'
import { dropSchema, schemaUrl, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'
import { channels } from '../src/hub/bus/types'
import type { BusMessage, FeedPageview } from '../src/hub/bus/messages'

const MIN = 60_000
const DAY0 = Date.UTC(2025, 2, 10)
const at = (h: number, m = 0): number => DAY0 + h * 3_600_000 + m * MIN
const SITE = 'conv.test'
const DAY = `site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`

async function get(t: TestHub, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.url}${path}`)
  const body = (await res.json()) as Record<string, unknown>
  assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`)
  return body
}

async function addGoal(t: TestHub, goal: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site: SITE, ...goal }) })
  const body = (await res.json()) as { id: string }
  assert.equal(res.status, 201, JSON.stringify(body))
  return body.id
}

describe('custom event properties and goals over the HTTP API', () => {
  let t: TestHub
  before(async () => {
    t = await startHub()
    const A = { visitor: 'A', country: 'DE', browser: 'Chrome' }
    const B = { visitor: 'B', country: 'NL', browser: 'Firefox' }
    const C = { visitor: 'C', country: 'DE', browser: 'Safari' }
    const D = { visitor: 'D', country: 'US', browser: 'Chrome' }
    const E = { visitor: 'E', country: 'DE', browser: 'Firefox' }
    const v = (who: object, ts: number, path: string, more: object = {}) => pageview({ site: SITE, ...who, ts, path, ...more })
    const ev = (who: object, ts: number, name: string, props: object) => v(who, ts, '/app', { type: 'event', name, data: JSON.stringify(props) })
    await t.hub.store.append([
      // A from google.com: /, /pricing, /signup/step-1, then Signup (pro, 2 seats)
      v(A, at(10), '/', { refHost: 'google.com' }), v(A, at(10, 5), '/pricing'), v(A, at(10, 10), '/signup/step-1'),
      ev(A, at(10, 11), 'Signup', { plan: 'pro', seats: 2 }),
      // B from twitter.com: /pricing, then Signup (free)
      v(B, at(10, 20), '/pricing', { refHost: 'twitter.com' }), ev(B, at(10, 21), 'Signup', { plan: 'free' }),
      // C from google.com: /blog/a, /blog/a/b, then Download
      v(C, at(11), '/blog/a', { refHost: 'google.com' }), v(C, at(11, 5), '/blog/a/b'), ev(C, at(11, 6), 'Download', { file: 'x.pdf' }),
      // D direct: /docs, /signup/step-2, then Signup (pro) twice, the second with 5 seats
      v(D, at(11, 30), '/docs'), v(D, at(11, 31), '/signup/step-2'),
      ev(D, at(11, 32), 'Signup', { plan: 'pro' }), ev(D, at(11, 40), 'Signup', { plan: 'pro', seats: 5, trial: true }),
      // E direct: /pricing only
      v(E, at(12), '/pricing'),
    ])
  })
  after(() => t.stop())

  const rows = async (q: string) => (await get(t, `/api/top?${DAY}&${q}`)).rows
  const row = (value: string, events: number, visitors: number) => ({ value, events, visitors })

  it('lists custom events with their counts and unique visitors', async () => {
    assert.deepEqual(await rows('dim=event'), [row('Signup', 4, 3), row('Download', 1, 1)])
    assert.deepEqual(await rows('dim=event&country=DE'), [row('Download', 1, 1), row('Signup', 1, 1)])
  })

  it('lists the property keys seen, for all events or one', async () => {
    assert.deepEqual(await rows('dim=prop'), [row('plan', 4, 3), row('seats', 2, 2), row('file', 1, 1), row('trial', 1, 1)])
    assert.deepEqual(await rows('dim=prop&event=Download'), [row('file', 1, 1)])
  })

  it('breaks a property down by value, with other filters', async () => {
    assert.deepEqual(await rows('dim=prop:plan'), [row('pro', 3, 2), row('free', 1, 1)])
    assert.deepEqual(await rows('dim=prop:plan&country=DE'), [row('pro', 1, 1)])
    assert.deepEqual(await rows('dim=prop:plan&referrer=twitter.com'), [row('free', 1, 1)])
    assert.deepEqual(await rows('dim=prop:seats'), [row('2', 1, 1), row('5', 1, 1)])
    assert.deepEqual(await rows('dim=prop:trial'), [row('true', 1, 1)])
    assert.deepEqual(await rows('dim=prop:nothing'), [])
    assert.deepEqual(await rows('dim=prop:plan&limit=1'), [row('pro', 3, 2)])
  })

  it('filters custom events by property: is, is not (missing counts), contains, combined', async () => {
    assert.deepEqual(await rows('dim=event&prop:plan=pro'), [row('Signup', 3, 2)])
    assert.deepEqual(await rows('dim=event&prop:plan=!pro'), [row('Download', 1, 1), row('Signup', 1, 1)])
    assert.deepEqual(await rows('dim=prop:plan&prop:seats=~5'), [row('pro', 1, 1)])
    assert.deepEqual(await rows('dim=event&prop:plan=pro&country=!US'), [row('Signup', 1, 1)])
    assert.deepEqual(await rows('dim=event&prop:plan=enterprise'), [])
    assert.deepEqual(await rows('dim=event&prop:colour=!red'), [row('Signup', 4, 3), row('Download', 1, 1)])
  })

  it('filters page views and visits by the properties of their visit\'s events', async () => {
    // visits with a plan=pro event: A (3 page views) and D (2)
    const tot = await get(t, `/api/totals?${DAY}&prop:plan=pro`)
    assert.deepEqual([tot.pageviews, tot.visitors, tot.visits, tot.bounces], [5, 2, 2, 0])
    assert.deepEqual(await rows('dim=page&prop:plan=free'), [{ value: '/pricing', pageviews: 1 }])
    assert.deepEqual(await rows('dim=referrer&prop:plan=pro&country=!US'),
      [{ value: 'google.com', pageviews: 3, visits: 1, bounces: 0, durationMs: 10 * MIN }])
    const series = (await get(t, `/api/series?${DAY}&bucket=hour&prop:plan=pro`)).points as { t: number; pageviews: number }[]
    assert.deepEqual(series.filter((p) => p.pageviews > 0).map((p) => [p.t, p.pageviews]), [[at(10), 3], [at(11), 2]])
  })

  it('answers bad property parameters with LS_ERR_BAD_QUERY', async () => {
    for (const q of ['dim=prop:', 'prop:=x', 'prop:plan=', `dim=prop:${'k'.repeat(65)}`]) {
      const res = await fetch(`${t.url}/api/top?${DAY}&${q}`)
      assert.equal(res.status, 400, q)
      assert.equal(res.headers.get('x-livestats-error'), 'LS_ERR_BAD_QUERY', q)
    }
  })

  it('counts goals: converting visitors, conversions and rate, for pages, patterns and events with properties', async () => {
    await addGoal(t, { page: '/pricing' })
    await addGoal(t, { page: '/signup/*', name: 'Signup steps' })
    await addGoal(t, { page: '/blog/**' })
    await addGoal(t, { page: '/blog/*' })
    await addGoal(t, { event: 'Signup' })
    await addGoal(t, { event: 'Signup', props: { plan: 'pro' } })
    await addGoal(t, { event: 'Signup', props: { plan: 'pro', seats: 5 } })
    await addGoal(t, { page: '/nowhere' })
    const figures = async (q: string) => {
      const b = await get(t, `/api/conversions?${DAY}${q}`)
      const goals = b.goals as { name: string; visitors: number; conversions: number; rate: number | null }[]
      return { visitors: b.visitors, goals: goals.map((g) => [g.name, g.visitors, g.conversions, g.rate]) }
    }
    assert.deepEqual(await figures(''), {
      visitors: 5,
      goals: [
        ['Visit /pricing', 3, 3, 3 / 5], ['Signup steps', 2, 2, 2 / 5], ['Visit /blog/**', 1, 2, 1 / 5], ['Visit /blog/*', 1, 1, 1 / 5],
        ['Signup', 3, 4, 3 / 5], ['Signup (plan: pro)', 2, 3, 2 / 5], ['Signup (plan: pro, seats: 5)', 1, 1, 1 / 5],
        ['Visit /nowhere', 0, 0, 0],
      ],
    })
    // visitors from Germany: A, C, E
    assert.deepEqual(await figures('&country=DE'), {
      visitors: 3,
      goals: [
        ['Visit /pricing', 2, 2, 2 / 3], ['Signup steps', 1, 1, 1 / 3], ['Visit /blog/**', 1, 2, 1 / 3], ['Visit /blog/*', 1, 1, 1 / 3],
        ['Signup', 1, 1, 1 / 3], ['Signup (plan: pro)', 1, 1, 1 / 3], ['Signup (plan: pro, seats: 5)', 0, 0, 0],
        ['Visit /nowhere', 0, 0, 0],
      ],
    })
    // visits with a plan=pro event (A, D), from outside the US (A)
    assert.deepEqual((await figures('&prop:plan=pro&country=!US')).goals.slice(0, 2), [['Visit /pricing', 1, 1, 1], ['Signup steps', 1, 1, 1]])
    // visits from google.com: A and C
    assert.deepEqual((await figures('&referrer=google.com')).goals.map((g) => g.slice(1, 3)),
      [[1, 1], [1, 1], [1, 2], [1, 1], [1, 1], [1, 1], [0, 0], [0, 0]])
    // an empty range: rates are null
    const none = await get(t, `/api/conversions?site=${SITE}&from=2025-03-12T00:00:00Z&to=2025-03-13T00:00:00Z`)
    assert.deepEqual((none.goals as { rate: unknown; visitors: number }[]).map((g) => [g.visitors, g.rate])[0], [0, null])
  })
})

describe('a goal reached right now', () => {
  it('is named on the live feed: page views and custom events that reach a goal', async () => {
    const t = await startHub()
    try {
      await addGoalOn(t, { page: '/thanks/**', name: 'Thanked' })
      await addGoalOn(t, { event: 'Signup', props: { plan: 'pro' } })
      const seen: FeedPageview[] = []
      t.hub.live.bus.subscribe(channels.site('live.test'), (m: BusMessage) => { if (m.type === 'pageview') seen.push(m) })
      const send = (ev: Record<string, unknown>) => post(t.url, { id: `e${Math.random().toString(36).slice(2)}`, site: 'live.test', ...ev })
      assert.equal((await send({ type: 'pageview', url: 'https://live.test/thanks/a/b' })).status, 202)
      assert.equal((await send({ type: 'pageview', url: 'https://live.test/other' })).status, 202)
      assert.equal((await send({ type: 'event', name: 'Signup', url: 'https://live.test/join', props: { plan: 'pro' } })).status, 202)
      assert.equal((await send({ type: 'event', name: 'Signup', url: 'https://live.test/join', props: { plan: 'free' } })).status, 202)
      // the last (plan: free) reaches no goal: once 3 are in, give it time to show up wrongly
      for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20))
      await new Promise((r) => setTimeout(r, 200))
      assert.deepEqual(seen.map((m) => [m.path, m.goals ?? null, m.event ?? null]), [
        ['/thanks/a/b', ['Thanked'], null], ['/other', null, null], ['/join', ['Signup (plan: pro)'], 'Signup'],
      ])
    } finally {
      await t.stop()
    }
  })
})

async function addGoalOn(t: TestHub, goal: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site: 'live.test', ...goal }) })
  assert.equal(res.status, 201)
}

// the route on both stores: SQLite, and PostgreSQL (its own schema) when it is reachable
for (const engine of ['sqlite', 'postgres'] as const) describe(`goals compared with an earlier period (compare=previous|year), ${engine}`, { skip: engine === 'postgres' && postgresMissingSync() }, () => {
  const S = 'conv.compare.test'
  const CUR = `site=${S}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`
  const DAY_BEFORE = DAY0 - 24 * 3_600_000
  const schema = testSchema()
  let t: TestHub
  before(async () => {
    t = await startHub(engine === 'postgres' ? { store: schemaUrl(schema) } : {})
    const v = (visitor: string, country: string, ts: number, path: string, more: object = {}) => pageview({ site: S, visitor, country, ts, path, ...more })
    const ev = (visitor: string, country: string, ts: number, plan: string) => v(visitor, country, ts, '/app', { type: 'event', name: 'Signup', data: JSON.stringify({ plan }) })
    const y = (h: number, m = 0): number => DAY_BEFORE + h * 3_600_000 + m * MIN
    await t.hub.store.append([
      // the day before, 4 visitors: q1 (DE) /, /pricing, Signup free; q2 (NL) /pricing twice; q3 (DE) /; q4 (US) /blog/x
      v('q1', 'DE', y(9), '/'), v('q1', 'DE', y(9, 2), '/pricing'), ev('q1', 'DE', y(9, 3), 'free'),
      v('q2', 'NL', y(10), '/pricing'), v('q2', 'NL', y(10, 4), '/pricing'),
      v('q3', 'DE', y(11), '/'), v('q4', 'US', y(12), '/blog/x'),
      // the day, 5 visitors: a (DE) /, /pricing, Signup pro; b (NL) /pricing, Signup free, Signup pro;
      // c (DE) /pricing; d (US) /docs; e (DE) /
      v('a', 'DE', at(9), '/'), v('a', 'DE', at(9, 1), '/pricing'), ev('a', 'DE', at(9, 2), 'pro'),
      v('b', 'NL', at(10), '/pricing'), ev('b', 'NL', at(10, 1), 'free'), ev('b', 'NL', at(10, 2), 'pro'),
      v('c', 'DE', at(11), '/pricing'), v('d', 'US', at(12), '/docs'), v('e', 'DE', at(13), '/'),
    ])
    for (const g of [{ page: '/pricing' }, { event: 'Signup' }, { event: 'Signup', props: { plan: 'pro' } }]) {
      const res = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site: S, ...g }) })
      assert.equal(res.status, 201)
    }
  })
  after(async () => {
    await t?.stop()
    if (engine === 'postgres') await dropSchema(schema)
  })

  type Period = { visitors: number; conversions: number; rate: number | null }
  type Body = { visitors: number; compare?: { from: number; to: number; visitors: number; change: { visitors: number | null } }; goals: (Period & { name: string; compare?: Period & { change: Record<keyof Period, number | null> } })[] }
  const conv = async (q: string): Promise<Body> => (await get(t, `/api/conversions?${CUR}${q}`)) as unknown as Body
  const close = (a: number | null | undefined, b: number | null): void => {
    if (b === null) assert.equal(a, null)
    else assert.ok(typeof a === 'number' && Math.abs(a - b) < 1e-9, `${String(a)} ≈ ${b}`)
  }

  it('answers no compare without the parameter, and refuses a bad one', async () => {
    const b = await conv('')
    assert.equal(b.compare, undefined)
    assert.deepEqual(b.goals.map((g) => Object.hasOwn(g, 'compare')), [false, false, false])
    const res = await fetch(`${t.url}/api/conversions?${CUR}&compare=lastweek`)
    assert.equal(res.status, 400)
    assert.equal(res.headers.get('x-livestats-error'), 'LS_ERR_BAD_QUERY')
  })

  it('gives every goal the previous period\'s visitors, conversions and rate, and the change of each in percent', async () => {
    const b = await conv('&compare=previous')
    assert.deepEqual([b.visitors, b.compare?.from, b.compare?.to, b.compare?.visitors], [5, DAY_BEFORE, DAY0, 4])
    close(b.compare?.change.visitors, 25)
    assert.deepEqual(b.goals.map((g) => [g.name, g.visitors, g.conversions, g.rate]),
      [['Visit /pricing', 3, 3, 3 / 5], ['Signup', 2, 3, 2 / 5], ['Signup (plan: pro)', 2, 2, 2 / 5]])
    assert.deepEqual(b.goals.map((g) => [g.compare?.visitors, g.compare?.conversions, g.compare?.rate]),
      [[2, 3, 2 / 4], [1, 1, 1 / 4], [0, 0, 0]])
    const [pricing, signup, pro] = b.goals.map((g) => g.compare?.change)
    close(pricing?.visitors ?? null, 50); close(pricing?.conversions ?? null, 0); close(pricing?.rate ?? null, 20)
    close(signup?.visitors ?? null, 100); close(signup?.conversions ?? null, 200); close(signup?.rate ?? null, 60)
    // from 0: no percentage
    assert.deepEqual(pro, { visitors: null, conversions: null, rate: null })
  })

  it('filters both periods alike', async () => {
    // visitors from Germany: a, c, e against q1, q3
    const b = await conv('&compare=previous&country=DE')
    assert.deepEqual([b.visitors, b.compare?.visitors], [3, 2])
    assert.deepEqual(b.goals.map((g) => [g.visitors, g.conversions, g.compare?.visitors, g.compare?.conversions, g.compare?.rate]),
      [[2, 2, 1, 1, 1 / 2], [1, 1, 1, 1, 1 / 2], [1, 1, 0, 0, 0]])
    close(b.goals[0]?.compare?.change.rate ?? null, (2 / 3 - 1 / 2) / (1 / 2) * 100)
    close(b.goals[1]?.compare?.change.rate ?? null, (1 / 3 - 1 / 2) / (1 / 2) * 100)
  })

  it('compares with the same dates a year before: no visitors then, so rates and changes are null', async () => {
    const b = await conv('&compare=year')
    assert.deepEqual([b.compare?.from, b.compare?.to, b.compare?.visitors, b.compare?.change.visitors], [Date.UTC(2024, 2, 10), Date.UTC(2024, 2, 11), 0, null])
    assert.deepEqual(b.goals.map((g) => g.compare), [0, 1, 2].map(() => ({ visitors: 0, conversions: 0, rate: null, change: { visitors: null, conversions: null, rate: null } })))
  })
})
