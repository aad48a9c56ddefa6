/**
 * Comparison over the HTTP API (issue 12.4): totals, the main chart and top lists against the
 * previous period and the same period a year before, with the change in percent, against a
 * hand-counted fixture written into the hub's store; filters apply to both periods.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'

const MIN = 60_000
const SITE = 'compare.test'
const at = (y: number, m: number, d: number, h: number, min = 0): number => Date.UTC(y, m - 1, d, h, min)
const CUR = `site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`

async function api(t: TestHub, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${t.url}${path}`)
  assert.equal(res.status, 200, path)
  return (await res.json()) as Record<string, unknown>
}

const close = (a: unknown, b: number): void => assert.ok(typeof a === 'number' && Math.abs(a - b) < 1e-9, `${String(a)} ≈ ${b}`)

describe('comparison over the HTTP API', () => {
  let t: TestHub
  before(async () => {
    t = await startHub()
    const v = (visitor: string, ts: number, path: string, more: object = {}) => pageview({ site: SITE, visitor, ts, path, ...more })
    await t.hub.store.append([
      // the day before: p1 two pages in 10 minutes, p2 a bounce
      v('p1', at(2025, 3, 9, 10), '/'), v('p1', at(2025, 3, 9, 10, 10), '/pricing'), v('p2', at(2025, 3, 9, 11), '/', { country: 'DE' }),
      // the day: c1 three pages in 20 minutes, c2 and c3 bounces, c4 two pages in 30 minutes
      v('c1', at(2025, 3, 10, 10), '/'), v('c1', at(2025, 3, 10, 10, 5), '/pricing'), v('c1', at(2025, 3, 10, 10, 20), '/docs'),
      v('c2', at(2025, 3, 10, 11), '/', { country: 'DE' }), v('c3', at(2025, 3, 10, 11, 30), '/pricing'),
      v('c4', at(2025, 3, 10, 12), '/docs'), v('c4', at(2025, 3, 10, 12, 30), '/'),
      // the same day a year before: one bounce
      v('y1', at(2024, 3, 10, 9), '/pricing'),
    ])
  })
  after(() => t.stop())

  it('compares every total with the previous period, in percent', async () => {
    const b = await api(t, `/api/totals?${CUR}&compare=previous`)
    assert.deepEqual([b.pageviews, b.visitors, b.visits, b.bounces], [7, 4, 4, 2])
    const c = b.compare as Record<string, unknown>
    assert.deepEqual([c.from, c.to, c.pageviews, c.visitors, c.visits, c.bounces, c.bounceRate, c.viewsPerVisit, c.visitDurationMs],
      [at(2025, 3, 9, 0), at(2025, 3, 10, 0), 3, 2, 2, 1, 0.5, 1.5, 5 * MIN])
    const ch = c.change as Record<string, number | null>
    close(ch.pageviews, (7 - 3) / 3 * 100)
    close(ch.visitors, 100)
    close(ch.visits, 100)
    close(ch.bounceRate, 0)
    close(ch.viewsPerVisit, (7 / 4 - 1.5) / 1.5 * 100)
    close(ch.visitDurationMs, (12.5 - 5) / 5 * 100)
  })

  it('compares with the same dates a year before, and says null where there was nothing', async () => {
    const b = await api(t, `/api/totals?${CUR}&compare=year`)
    const c = b.compare as Record<string, unknown>
    assert.deepEqual([c.from, c.to, c.pageviews, c.visits, c.bounceRate, c.visitDurationMs], [at(2024, 3, 10, 0), at(2024, 3, 11, 0), 1, 1, 1, 0])
    const ch = c.change as Record<string, number | null>
    close(ch.pageviews, 600)
    close(ch.bounceRate, -50)
    assert.equal(ch.visitDurationMs, null, 'from 0: no percentage')
    const empty = await api(t, `/api/totals?site=${SITE}&from=2025-03-11T00:00:00Z&to=2025-03-12T00:00:00Z&compare=previous`)
    assert.equal((empty.compare as { change: Record<string, unknown> }).change.pageviews, -100)
  })

  it('compares the chart bucket by bucket, and filters both periods alike', async () => {
    const s = await api(t, `/api/series?${CUR}&bucket=hour&compare=previous`)
    const now = s.points as { t: number; pageviews: number }[]
    const prev = (s.previous as { from: number; to: number; points: { t: number; pageviews: number; visitors: number }[] })
    assert.deepEqual([prev.from, prev.to, prev.points.length, now.length], [at(2025, 3, 9, 0), at(2025, 3, 10, 0), 24, 24])
    assert.deepEqual(prev.points.filter((p) => p.pageviews > 0).map((p) => [p.t, p.pageviews]), [[at(2025, 3, 9, 10), 2], [at(2025, 3, 9, 11), 1]])
    assert.deepEqual(now.filter((p) => p.pageviews > 0).map((p) => [new Date(p.t).getUTCHours(), p.pageviews]), [[10, 3], [11, 2], [12, 2]])
    const de = await api(t, `/api/totals?${CUR}&country=DE&compare=previous`)
    assert.deepEqual([de.pageviews, (de.compare as { pageviews: number }).pageviews], [1, 1])
    const o = await api(t, `/api/overview?${CUR}&bucket=hour&compare=year`)
    assert.equal(((o.previous as { series: { pageviews: number }[] }).series).reduce((n, p) => n + p.pageviews, 0), 1)
  })

  it('gives top-list rows their earlier count and change', async () => {
    const b = await api(t, `/api/top?${CUR}&dim=page&compare=previous`)
    assert.deepEqual(b.rows, [
      { value: '/', pageviews: 3, previous: 2, change: 50 },
      { value: '/docs', pageviews: 2, previous: 0, change: null },
      { value: '/pricing', pageviews: 2, previous: 1, change: 100 },
    ])
    const e = await api(t, `/api/top?${CUR}&dim=entry_page&compare=previous`)
    assert.deepEqual((e.rows as { value: string; visits: number; previous: number }[]).map((r) => [r.value, r.visits, r.previous]),
      [['/', 2, 2], ['/docs', 1, 0], ['/pricing', 1, 0]])
  })
})
