/**
 * Filters over the HTTP API (issue 12.3) against a hand-counted fixture written into the hub's
 * store: every route, "is", "is not" (`!`), "contains" (`~`), combined, across page views, visits
 * and custom events; bad filters are LS_ERR_BAD_QUERY. The contract suite (test/helpers/
 * store-contract.ts) checks the same rules on random traffic against a reference implementation.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'

const MIN = 60_000
const DAY0 = Date.UTC(2025, 2, 10)
const at = (h: number, m = 0): number => DAY0 + h * 3_600_000 + m * MIN
const SITE = 'filters.test'
const DAY = `site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`

async function api(t: TestHub, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('filters over the HTTP API', () => {
  let t: TestHub
  before(async () => {
    t = await startHub()
    const A = { visitor: 'A', country: 'DE', browser: 'Chrome', os: 'Windows', device: 'desktop' }
    const B = { visitor: 'B', country: 'NL', browser: 'Firefox', os: 'Linux', device: 'desktop' }
    const C = { visitor: 'C', country: 'DE', browser: 'Safari', os: 'iOS', device: 'mobile' }
    const D = { visitor: 'D', country: 'US', browser: 'Chrome', os: 'macOS', device: 'desktop' }
    const E = { visitor: 'E', country: 'DE', browser: 'Firefox', os: 'Linux', device: 'desktop' }
    const v = (who: object, ts: number, path: string, more: object = {}) => pageview({ site: SITE, ...who, ts, path, ...more })
    await t.hub.store.append([
      // A: from google.com, /, /pricing, /signup (12 min), and a signup event
      v(A, at(10), '/', { refHost: 'google.com', referrer: 'https://google.com/' }), v(A, at(10, 5), '/pricing'), v(A, at(10, 12), '/signup'),
      v(A, at(10, 13), '/signup', { type: 'event', name: 'signup' }),
      // B: from twitter.com with utm_source=twitter, one page: a bounce
      v(B, at(10, 20), '/pricing', { refHost: 'twitter.com', utmSource: 'twitter' }),
      // C: from google.com, /blog/x then /pricing (10 min)
      v(C, at(11), '/blog/x', { refHost: 'google.com' }), v(C, at(11, 10), '/pricing'),
      // D: direct, /docs then /docs/api (1 min), a download event
      v(D, at(11, 30), '/docs'), v(D, at(11, 31), '/docs/api'), v(D, at(11, 32), '/docs/api', { type: 'event', name: 'download' }),
      // E: direct, /pricing only
      v(E, at(12), '/pricing'),
    ])
  })
  after(() => t.stop())

  const rows = async (q: string) => {
    const r = await api(t, `/api/top?${DAY}&${q}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.rows
  }
  const totals = async (q: string) => {
    const r = await api(t, `/api/totals?${DAY}&${q}`)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body
  }

  it('answers where the visitors of a page came from, leaving a country out', async () => {
    // visits that saw /pricing: A and C (google.com, DE), B (twitter.com, NL), E (direct, DE)
    assert.deepEqual(await rows('dim=referrer&page=/pricing&country=!DE'), [
      { value: 'twitter.com', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
    ])
    // E came direct: the '' row ("Direct / None"), first of the ties at one visit
    assert.deepEqual(await rows('dim=referrer&page=/pricing'), [
      { value: 'google.com', pageviews: 5, visits: 2, bounces: 0, durationMs: 22 * MIN },
      { value: '', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
      { value: 'twitter.com', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
    ])
  })

  it('lists the direct visits as the referrer row "", so the rows add up to the visits, and filters them with referrer= (and the others with referrer=!)', async () => {
    // D (2 page views, 1 min) and E (a bounce) came direct
    const direct = { value: '', pageviews: 3, visits: 2, bounces: 1, durationMs: MIN }
    assert.deepEqual(await rows('dim=referrer'), [
      direct,
      { value: 'google.com', pageviews: 5, visits: 2, bounces: 0, durationMs: 22 * MIN },
      { value: 'twitter.com', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 },
    ])
    assert.deepEqual(await rows('dim=referrer&limit=1'), [direct])
    assert.deepEqual(await rows('dim=utm_source'), [{ value: 'twitter', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 }], 'no row of none')
    const d = await totals('referrer=')
    assert.deepEqual([d.pageviews, d.visitors, d.visits, d.bounces], [3, 2, 2, 1])
    assert.deepEqual(await rows('dim=referrer&referrer='), [direct])
    assert.deepEqual(await rows('dim=page&referrer='), [{ value: '/docs', pageviews: 1 }, { value: '/docs/api', pageviews: 1 }, { value: '/pricing', pageviews: 1 }])
    assert.deepEqual(await rows('dim=event&referrer='), [{ value: 'download', events: 1, visitors: 1 }])
    const o = await totals('referrer=!')
    assert.deepEqual([o.pageviews, o.visitors, o.visits, o.bounces], [6, 3, 3, 1])
    assert.deepEqual((await rows('dim=referrer&referrer=!') as { value: string }[]).map((r) => r.value), ['google.com', 'twitter.com'])
    assert.deepEqual(await rows('dim=referrer&referrer=&country=DE'), [{ value: '', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 }])
  })

  it('filters totals: page views of the page, visits that saw it', async () => {
    const b = await totals('page=/pricing')
    assert.deepEqual([b.pageviews, b.visitors, b.visits, b.bounces, b.bounceRate, b.viewsPerVisit, b.visitDurationMs],
      [4, 4, 4, 2, 0.5, 7 / 4, 22 * MIN / 4])
    const all = await totals('')
    assert.deepEqual([all.pageviews, all.visitors, all.visits, all.bounces], [9, 5, 5, 2])
  })

  it('lists the pages of visits from a source, and pages containing a text (any case)', async () => {
    assert.deepEqual(await rows('dim=page&referrer=google.com'), [
      { value: '/pricing', pageviews: 2 }, { value: '/', pageviews: 1 }, { value: '/blog/x', pageviews: 1 }, { value: '/signup', pageviews: 1 },
    ])
    assert.deepEqual(await rows('dim=page&referrer=~GOOGLE'), await rows('dim=page&referrer=google.com'))
    assert.deepEqual(await rows('dim=page&page=~DOC'), [{ value: '/docs', pageviews: 1 }, { value: '/docs/api', pageviews: 1 }])
    assert.deepEqual(await rows('dim=page&utm_source=twitter'), [{ value: '/pricing', pageviews: 1 }])
  })

  it('filters by custom event: the visits that had it, their page views, the events themselves', async () => {
    const b = await totals('event=signup')
    assert.deepEqual([b.pageviews, b.visitors, b.visits, b.bounces], [3, 1, 1, 0])
    assert.deepEqual(await rows('dim=event'), [{ value: 'download', events: 1, visitors: 1 }, { value: 'signup', events: 1, visitors: 1 }])
    assert.deepEqual(await rows('dim=event&country=US'), [{ value: 'download', events: 1, visitors: 1 }])
    assert.deepEqual(await rows('dim=event&referrer=google.com'), [{ value: 'signup', events: 1, visitors: 1 }])
    assert.deepEqual(await rows('dim=page&event=!signup'), [{ value: '/docs', pageviews: 1 }, { value: '/docs/api', pageviews: 1 }])
  })

  it('filters by entry and exit page, and combines filters with AND', async () => {
    assert.deepEqual(await rows('dim=entry_page&exit_page=/pricing'), [
      { value: '/pricing', pageviews: 2, visits: 2, bounces: 2, durationMs: 0 },
      { value: '/blog/x', pageviews: 2, visits: 1, bounces: 0, durationMs: 10 * MIN },
    ])
    assert.deepEqual(await rows('dim=browser&exit_page=/pricing&device=desktop'), [{ value: 'Firefox', pageviews: 2 }])
    assert.deepEqual(await rows('dim=page&entry_page=/&browser=Chrome'), [
      { value: '/', pageviews: 1 }, { value: '/pricing', pageviews: 1 }, { value: '/signup', pageviews: 1 },
    ])
    // two filters on one dimension: both hold
    assert.deepEqual(await rows('dim=page&page=~pric&page=!/pricing'), [])
    assert.deepEqual(await rows('dim=country&page=!/pricing&page=~/'), [
      { value: 'DE', pageviews: 3 }, { value: 'US', pageviews: 2 },
    ])
  })

  it('filters the chart and the overview', async () => {
    const s = await api(t, `/api/series?${DAY}&bucket=hour&browser=Chrome`)
    const points = s.body.points as { t: number; pageviews: number; visitors: number }[]
    assert.equal(points.length, 24)
    assert.deepEqual(points.filter((p) => p.pageviews > 0), [{ t: at(10), pageviews: 3, visitors: 1 }, { t: at(11), pageviews: 2, visitors: 1 }])
    const o = await api(t, `/api/overview?${DAY}&bucket=hour&country=DE`)
    assert.deepEqual(o.body.pages, [
      { value: '/pricing', pageviews: 3 }, { value: '/', pageviews: 1 }, { value: '/blog/x', pageviews: 1 }, { value: '/signup', pageviews: 1 },
    ])
    assert.deepEqual((o.body.referrers as { value: string }[]).map((r) => r.value), ['google.com', ''])
    assert.equal((o.body.series as { pageviews: number }[]).reduce((n, p) => n + p.pageviews, 0), 6)
  })

  it('takes a value starting with ! or ~ literally after a backslash, and refuses bad filters', async () => {
    assert.deepEqual(await rows(`dim=page&page=${encodeURIComponent('\\!/pricing')}`), [])
    for (const q of ['page=', 'country=!', 'referrer=~', `page=${'x'.repeat(2049)}`, 'compare=week',
      Array.from({ length: 21 }, (_, i) => `page=!/p${i}`).join('&')]) {
      for (const route of ['top', 'totals', 'series', 'overview']) {
        const r = await api(t, `/api/${route}?${DAY}&${q}`)
        assert.equal(r.status, 400, `${route} ${q.slice(0, 40)}`)
        assert.equal(r.body.code, 'LS_ERR_BAD_QUERY')
      }
    }
  })
})
