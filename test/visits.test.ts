/**
 * Visits through the real hub (issue 12.1): `/api/totals` and the entry and exit page lists against
 * a hand-counted fixture written into the hub's store with past timestamps, and a visit that goes
 * on across UTC midnight (when visitor ids rotate) collected over the real ingest path.
 */
import { describe, it, after, before, mock } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'
import { agent, collect } from './fixtures/dashboard/traffic'

const MIN = 60_000
const HOUR = 3_600_000
/** 2025-01-15 10:00 UTC */
const T0 = Date.UTC(2025, 0, 15, 10)
const at = (h: number, m = 0): number => T0 + (h - 10) * HOUR + m * MIN
const SITE = 'visits.test'

async function api(t: TestHub, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('visits over the HTTP API', () => {
  let t: TestHub
  before(async () => {
    t = await startHub()
    // A1 a 10:00 / (from search.example), 10:20 /pricing, 10:50 /docs; A2 a 11:30 /signup (bounce);
    // B1 b 10:05 /docs (bounce); C1 c 09:50 /blog, 10:15 /pricing; E1 e 23:50 /late, 00:10 /after
    const v = (visitor: string, ts: number, path: string) => pageview({ site: SITE, visitor, ts, path })
    await t.hub.store.append([
      v('a', at(10), '/'), v('b', at(10, 5), '/docs'), v('c', at(10, 15), '/pricing'), v('a', at(10, 20), '/pricing'),
      v('c', at(9, 50), '/blog'), v('a', at(11, 30), '/signup'), v('a', at(10, 50), '/docs'),
      v('e', at(24, 10), '/after'), v('e', at(23, 50), '/late'),
    ])
  })
  after(() => t.stop())

  it('answers visits, bounce rate, views per visit and visit duration for a range', async () => {
    const r = await api(t, `/api/totals?site=${SITE}&from=${at(10)}&to=${at(11)}`)
    assert.equal(r.status, 200)
    // visits starting 10:00-11:00: A1 (3 page views, 50 min) and B1 (a bounce); C1 started at 09:50
    assert.deepEqual(r.body, {
      site: SITE, from: at(10), to: at(11), pageviews: 5, visitors: 3, visits: 2, bounces: 1, bounceRate: 0.5,
      viewsPerVisit: 2, visitDurationMs: 25 * MIN, engagedVisits: 0, engagedMs: null, writingShare: null, bots: 0,
    })
    const day = await api(t, `/api/totals?site=${SITE}&from=2025-01-15T00:00:00Z&to=2025-01-16T00:00:00Z`)
    // A1, A2, B1, C1, E1 (starts before midnight; its 00:10 page view is on the next day)
    assert.deepEqual([day.body.visits, day.body.bounces, day.body.pageviews, day.body.viewsPerVisit, day.body.visitDurationMs],
      [5, 2, 8, 9 / 5, (50 + 25 + 20) * MIN / 5])
    const next = await api(t, `/api/totals?site=${SITE}&from=2025-01-16T00:00:00Z&to=2025-01-17T00:00:00Z`)
    assert.deepEqual([next.body.visits, next.body.pageviews, next.body.bounceRate, next.body.viewsPerVisit], [0, 1, null, null])
  })

  it('lists entry and exit pages with visits', async () => {
    const q = `site=${SITE}&from=2025-01-15T00:00:00Z&to=2025-01-16T00:00:00Z`
    const entry = await api(t, `/api/top?${q}&dim=entry_page`)
    assert.equal(entry.status, 200)
    assert.deepEqual(entry.body.rows, [
      { value: '/', pageviews: 3, visits: 1, bounces: 0, durationMs: 50 * MIN },
      { value: '/blog', pageviews: 2, visits: 1, bounces: 0, durationMs: 25 * MIN },
      { value: '/docs', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
      { value: '/late', pageviews: 2, visits: 1, bounces: 0, durationMs: 20 * MIN },
      { value: '/signup', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
    ])
    const exit = await api(t, `/api/top?${q}&dim=exit_page&limit=2`)
    assert.deepEqual(exit.body.rows, [
      { value: '/docs', pageviews: 4, visits: 2, bounces: 1, durationMs: 50 * MIN },
      { value: '/after', pageviews: 2, visits: 1, bounces: 0, durationMs: 20 * MIN },
    ])
    const bad = await api(t, `/api/top?${q}&dim=landing_page`)
    assert.equal(bad.status, 400)
    assert.equal(bad.body.code, 'LS_ERR_BAD_QUERY')
  })
})

describe('a visit across UTC midnight, collected live', () => {
  it('stays one visit although visitor ids rotate at midnight, and ends with a gap over 30 minutes', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.UTC(2025, 5, 1, 23, 40) })
    const t = await startHub()
    try {
      const site = 'midnight.test'
      const view = (visitor: number, path: string) => collect(t.url, [{ type: 'pageview', site, url: `https://${site}${path}` }], visitor)
      await view(1, '/a') // 23:40
      mock.timers.tick(10 * MIN)
      await view(2, '/y1') // 23:50
      mock.timers.tick(5 * MIN)
      await view(1, '/b') // 23:55
      mock.timers.tick(10 * MIN)
      await view(1, '/c') // 00:05, a new day and new salt
      mock.timers.tick(5 * MIN)
      await view(3, '/z') // 00:10, only after midnight
      mock.timers.tick(15 * MIN)
      await view(1, '/d') // 00:25: still the same visit
      mock.timers.tick(5 * MIN)
      await view(2, '/y2') // 00:30: 40 minutes after /y1, a visit of its own
      mock.timers.tick(65 * MIN)
      await view(1, '/e') // 01:30: after a 65-minute gap, a new visit under today's id
      const q = `site=${site}&from=2025-06-01T00:00:00Z&to=2025-06-03T00:00:00Z`
      const totals = await api(t, `/api/totals?${q}`)
      // 1: a b c d | e;  2: y1 | y2;  3: z
      assert.deepEqual([totals.body.visits, totals.body.pageviews, totals.body.bounces], [5, 8, 4])
      const entry = await api(t, `/api/top?${q}&dim=entry_page`)
      assert.deepEqual((entry.body.rows as { value: string; pageviews: number }[]).map((r) => [r.value, r.pageviews]),
        [['/a', 4], ['/e', 1], ['/y1', 1], ['/y2', 1], ['/z', 1]])
      const exit = await api(t, `/api/top?${q}&dim=exit_page`)
      assert.deepEqual((exit.body.rows as { value: string }[]).map((r) => r.value), ['/d', '/e', '/y1', '/y2', '/z'])
      // the visit is counted on the day it started
      const first = await api(t, `/api/totals?site=${site}&from=2025-06-01T00:00:00Z&to=2025-06-02T00:00:00Z`)
      assert.deepEqual([first.body.visits, first.body.visitDurationMs], [2, (45 * MIN) / 2])
      assert.ok(agent(1) !== agent(2))
    } finally {
      await t.stop()
      mock.timers.reset()
    }
  })
})
