/**
 * Named ranges start at the start of their unit (as Umami's do), so that the totals, the top lists
 * (hourly rollups) and the chart (whole buckets) of one range count the same page views: `24h` at
 * 10:37 from 10:00 the day before, `7d` from 00:00 UTC seven days before. Without it a hub showed
 * "Last 7 days" as 3,788 page views in the totals and 3,957 under the chart.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { range, bucket } from '../src/hub/api/params'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR
const SITE = 'ranges.test'

describe('named ranges', () => {
  const now = Date.UTC(2026, 10, 30, 10, 37, 12, 345)
  const q = (s: string) => new URLSearchParams(`site=${SITE}&${s}`)

  it('start at the start of their minute, hour or UTC day, and end now', () => {
    assert.deepEqual([range(q('range=24h'), now).from, range(q('range=24h'), now).to], [Date.UTC(2026, 10, 29, 10), now])
    assert.equal(range(q('range=1h'), now).from, Date.UTC(2026, 10, 30, 9))
    assert.equal(range(q('range=7d'), now).from, Date.UTC(2026, 10, 23))
    assert.equal(range(q('range=30d'), now).from, Date.UTC(2026, 9, 31))
    assert.equal(range(q('range=30m'), now).from, Date.UTC(2026, 10, 30, 10, 7))
    // from and to are taken as given
    assert.deepEqual(range(q('from=1000&to=5000'), now), { site: SITE, from: 1000, to: 5000, filters: [] })
  })

  it('keep their chart buckets: minute up to 3 h, hour up to 3 days, day beyond', () => {
    const b = (s: string) => bucket(q(s), range(q(s), now))
    assert.deepEqual(['30m', '1h', '3h', '4h', '24h', '72h', '3d', '4d', '7d', '30d'].map((r) => b(`range=${r}`)),
      ['minute', 'minute', 'minute', 'hour', 'hour', 'hour', 'hour', 'day', 'day', 'day'])
    assert.equal(b('from=0&to=86400000'), 'hour')
    assert.equal(b(`from=0&to=${4 * DAY}`), 'day')
  })
})

describe('one range, one count: totals, top lists and the chart agree', () => {
  let t: TestHub
  const api = async (route: string, s: string): Promise<Record<string, unknown>> => {
    const r = await fetch(`${t.url}/api/${route}?site=${SITE}&${s}`)
    assert.equal(r.status, 200)
    return (await r.json()) as Record<string, unknown>
  }

  before(async () => {
    t = await startHub()
    const now = Date.now()
    // page views at the first minute of the hour 24 h ago and of the UTC day 7 days ago (the
    // ranges' first moments), and one at every 5 hours in between
    const rows = [pageview({ site: SITE, visitor: 'edge-h', ts: Math.floor((now - DAY) / HOUR) * HOUR, path: '/edge', browser: 'Firefox' }),
      pageview({ site: SITE, visitor: 'edge-d', ts: Math.floor((now - 7 * DAY) / DAY) * DAY, path: '/edge', browser: 'Firefox' })]
    for (let ts = now - 7 * DAY + 30 * MIN, i = 0; ts < now; ts += 5 * HOUR, i++) {
      rows.push(pageview({ site: SITE, visitor: `v${i % 9}`, ts, path: i % 2 === 0 ? '/' : '/pricing', browser: i % 3 === 0 ? 'Firefox' : 'Chrome' }))
    }
    await t.hub.store.append(rows)
  })
  after(() => t?.stop())

  for (const r of ['24h', '7d']) {
    for (const f of ['', '&browser=Firefox']) {
      it(`range=${r}${f}: the totals' page views are the sum of the chart and of every list`, async () => {
        const s = `range=${r}${f}`
        const [totals, series, pages, browsers] = await Promise.all([api('totals', s), api('series', s), api('top', `${s}&dim=page&limit=1000`), api('top', `${s}&dim=browser&limit=1000`)])
        const sum = (xs: unknown, k: string) => (xs as Record<string, number>[]).reduce((a, x) => a + (x[k] ?? 0), 0)
        assert.equal(totals.from, series.from)
        assert.ok((pages.rows as { value: string }[]).some((x) => x.value === '/edge'), 'the page view at the range\'s first minute counts')
        assert.deepEqual([sum(series.points, 'pageviews'), sum(pages.rows, 'pageviews'), sum(browsers.rows, 'pageviews')],
          [totals.pageviews, totals.pageviews, totals.pageviews])
      })
    }
  }
})
