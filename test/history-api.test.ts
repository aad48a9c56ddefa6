/**
 * `GET /api/history` (issue 12.6): the dashboard's History view in one round trip. Every part of
 * its answer is what the separate routes answer for the same query (series, totals, each top list,
 * custom events, live history), with and without filters and comparison, on ranges that are not
 * hour-aligned; bad parameters are 400 LS_ERR_BAD_QUERY; a share link reads its own site's alone.
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { pageview } from './helpers/store-contract'

const MIN = 60_000
const TOKEN = 'history-admin-token-0123456789'
const SITE = 'history.test'
const OTHER = 'other.test'
const at = (y: number, m: number, d: number, h: number, min = 0): number => Date.UTC(y, m - 1, d, h, min)
const admin = { authorization: `Bearer ${TOKEN}` }
const DIMS = ['page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword', 'browser', 'os', 'device',
  'country', 'region', 'city', 'entry_page', 'exit_page']

async function call(t: TestHub, path: string, headers: Record<string, string> = admin): Promise<{ status: number; code: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${t.url}${path}`, { headers })
  return { status: res.status, code: res.headers.get('x-livestats-error'), body: (await res.json()) as Record<string, unknown> }
}

async function ok(t: TestHub, path: string): Promise<Record<string, unknown>> {
  const r = await call(t, path)
  assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`)
  return r.body
}

describe('GET /api/history', () => {
  let t: TestHub
  before(async () => {
    t = await startHub({ token: TOKEN })
    const v = (visitor: string, ts: number, path: string, more: object = {}) => pageview({ site: SITE, visitor, ts, path, ...more })
    const events = []
    // three days of visitors, each a few page views from a few sources, some with a custom event
    const refs = [null, 'google.com', 'news.example', null]
    const places = [['DE', 'Bavaria', 'Munich'], ['NL', null, null], ['US', 'Ohio', 'Columbus']] as const
    for (let i = 0; i < 90; i++) {
      const start = at(2025, 3, 9, 0) + i * 47 * MIN + (i % 7) * 1000
      const [country, region, city] = places[i % 3] as readonly [string, string | null, string | null]
      const who = { country, region, city, browser: i % 2 === 0 ? 'Firefox' : 'Chrome', os: i % 5 === 0 ? 'Linux' : 'Windows', device: i % 4 === 0 ? 'mobile' : 'desktop' }
      const src = { refHost: refs[i % 4] ?? null, utmSource: i % 6 === 0 ? 'newsletter' : null, utmMedium: i % 6 === 0 ? 'email' : null,
        utmCampaign: i % 12 === 0 ? 'spring' : null, utmTerm: i % 9 === 0 ? 'boots' : null, keyword: i % 9 === 0 ? 'boots' : null }
      const pages = ['/', '/pricing', '/docs', '/blog/a'].slice(0, 1 + (i % 4))
      pages.forEach((p, k) => events.push(v(`v${i % 40}`, start + k * 3 * MIN, p, { ...who, ...(k === 0 ? src : {}) })))
      if (i % 3 === 0) events.push(v(`v${i % 40}`, start + MIN, pages[0] as string, { ...who, type: 'event', name: i % 2 === 0 ? 'signup' : 'download' }))
    }
    // bots are counted apart; a year before, for compare=year
    events.push(v('bot', at(2025, 3, 10, 9), '/', { bot: true, browser: 'Googlebot' }))
    events.push(v('y1', at(2024, 3, 10, 9), '/pricing', { refHost: 'google.com', country: 'DE' }))
    events.push(pageview({ site: OTHER, visitor: 'o', ts: at(2025, 3, 10, 9), path: '/secret' }))
    await t.hub.store.append(events.sort((a, b) => a.ts - b.ts))
  })
  after(() => t.stop())

  /** What the separate routes answer for `q`, shaped as /api/history answers it. */
  async function separately(q: string, compare: boolean): Promise<Record<string, unknown>> {
    const c = compare ? `${q}&compare=${new URLSearchParams(q).get('compare') ?? ''}` : q
    const series = await ok(t, `/api/series?${c}`)
    const { site: _s, from: _f, to: _t, ...totals } = await ok(t, `/api/totals?${c}`)
    const tops: Record<string, unknown> = {}
    for (const d of DIMS) tops[d] = (await ok(t, `/api/top?${c}&dim=${d}`)).rows
    const events = (await ok(t, `/api/top?${c}&dim=event`)).rows
    const live = await ok(t, `/api/live-history?${q}`)
    const country = await ok(t, `/api/top?${c}&dim=country`)
    const body: Record<string, unknown> = {
      site: series.site, from: series.from, to: series.to, bucket: series.bucket, series: series.points, totals, tops, events,
      samples: live.samples, attribution: country.attribution,
    }
    const prev = series.previous as { from: number; to: number; points: unknown } | undefined
    if (prev !== undefined) body.previous = { from: prev.from, to: prev.to, series: prev.points }
    return body
  }

  it('answers what the separate routes answer, for each filter kind, with and without compare, on ragged ranges', async () => {
    const ranges = [
      `site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`,
      `site=${SITE}&from=${at(2025, 3, 10, 7, 17) + 5000}&to=${at(2025, 3, 10, 19, 43)}&bucket=minute`,
      `site=${SITE}&from=2025-03-09T05:13:00Z&to=2025-03-11T22:00:00Z&bucket=day&limit=3`,
    ]
    const filters = ['', '&country=DE', '&page=!/', '&page=~doc', '&referrer=google.com', '&entry_page=/', '&event=signup', '&browser=Firefox&device=!mobile']
    let counted = 0
    for (const r of ranges) {
      for (const f of filters) {
        for (const cmp of ['', '&compare=previous', '&compare=year']) {
          const q = `${r}${f}${cmp}`
          const got = await ok(t, `/api/history?${q}`)
          assert.deepEqual(got, await separately(q, cmp !== ''), q)
          if ((got.totals as { pageviews: number }).pageviews > 0) counted++
        }
      }
    }
    assert.ok(counted >= 40, `most queries count page views (${counted})`)
  })

  it('ranks only the lists asked for with dims=', async () => {
    const b = await ok(t, `/api/history?site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z&dims=referrer,page&limit=2`)
    assert.deepEqual(Object.keys(b.tops as object).sort(), ['page', 'referrer'])
    assert.equal((b.tops as { page: unknown[] }).page.length, 2)
    assert.ok(((b.totals as { bots: number }).bots) === 1, 'the bot page view is counted apart')
  })

  it('refuses bad parameters with LS_ERR_BAD_QUERY naming them', async () => {
    const day = `site=${SITE}&from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z`
    for (const [q, word] of [
      [day.replace(`site=${SITE}&`, ''), 'site'], [`${day}&dims=page,nope`, 'dims'], [`${day}&dims=event`, 'dims'], [`${day}&limit=0`, 'limit'],
      [`${day}&limit=1001`, 'limit'], [`${day}&bucket=week`, 'bucket'], [`${day}&compare=week`, 'compare'],
      [`site=${SITE}&from=2025-03-11T00:00:00Z&to=2025-03-10T00:00:00Z`, 'to'], [`${day}&country=`, 'country'],
      [`site=${SITE}&from=2000-01-01T00:00:00Z&to=2025-03-11T00:00:00Z&bucket=minute`, 'buckets'],
    ] as const) {
      const r = await call(t, `/api/history?${q}`)
      assert.equal(r.status, 400, q)
      assert.equal(r.code, 'LS_ERR_BAD_QUERY', q)
      assert.match(JSON.stringify(r.body), new RegExp(word), q)
    }
    assert.equal((await call(t, `/api/history?${day}`, {})).code, 'LS_ERR_UNAUTHORIZED')
  })

  it('lets a share link read its own site alone', async () => {
    const made = await fetch(`${t.url}/api/shares`, { method: 'POST', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify({ site: SITE }) })
    const share = (await made.json()) as { token: string }
    const auth = { authorization: `Bearer ${share.token}` }
    const day = 'from=2025-03-10T00:00:00Z&to=2025-03-11T00:00:00Z&compare=previous'
    const own = await call(t, `/api/history?site=${SITE}&${day}`, auth)
    assert.equal(own.status, 200)
    assert.deepEqual(own.body, await ok(t, `/api/history?site=${SITE}&${day}`))
    for (const q of [`site=${OTHER}&${day}`, `site=${SITE}&site=${OTHER}&${day}`, day]) {
      const r = await call(t, `/api/history?${q}`, auth)
      assert.equal(r.status, 403, q)
      assert.equal(r.code, 'LS_ERR_SHARE_FORBIDDEN', q)
    }
  })
})
