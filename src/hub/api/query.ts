/** The read API: time series, top lists, totals, the overview and the page-view feed. JSON only. */
import type { Router } from '../http/router'
import { json } from '../http/reply'
import type { GeoSource } from '../ingest/geo'
import type { Dimension, EventRow, Range, Store, TopRow } from '../store/types'
import { opaqueFeed } from '../live/feed'
import { change, figures, topRow, type Figures } from './figures'
import * as p from './params'

/**
 * Gives each row the same value's count in the earlier period (`previous`, 0 when absent there) and
 * the change in percent (null from 0): visits for visit dimensions, page views for the others.
 */
async function withPrevious(rows: TopRow[], before: TopRow[]): Promise<void> {
  const by = new Map(before.map((r) => [r.value, r]))
  for (const row of rows as (TopRow & { previous?: number; change?: number | null })[]) {
    const old = by.get(row.value)
    const count = (x: TopRow | undefined): number => (x === undefined ? 0 : x.visits ?? x.pageviews)
    const prev = count(old)
    row.previous = prev
    row.change = prev === 0 ? null : ((count(row) - prev) / prev) * 100
  }
}

/** Dimensions whose values come from the IP database: their answers carry its licence notice. */
const GEO_DIMS: ReadonlySet<Dimension> = new Set(['country', 'region', 'city'])

/**
 * `feedId` makes `/api/feed` ids opaque, as on the live channel (see `feedIds` in live/feed.ts);
 * `geo` is the IP database countries come from (null when lookups are off).
 */
export function queryRoutes(router: Router, store: Store, feedId: (id: string) => string, geo: GeoSource | null): void {
  // a share link reads these for its site alone (share/scope.ts); /api/sites names every site: not for it
  const read = { auth: true, share: 'site' } as const
  router.on('GET', '/api/sites', async (_req, res) => json(res, 200, { sites: await store.sites() }), { auth: true })

  /** Totals of a range: page views and visitors, and the visits that started in it. */
  const totalsOf = async (r: Range): Promise<Figures> => {
    const [t, v] = await Promise.all([store.totals(r), store.visitTotals(r)])
    return figures(t, v)
  }

  router.on('GET', '/api/series', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const b = p.bucket(url.searchParams, r)
    const c = p.compare(url.searchParams, r)
    const [points, previous] = await Promise.all([store.series(r, b), c === null ? null : store.series(c, b)])
    const body: Record<string, unknown> = { site: r.site, from: r.from, to: r.to, bucket: b, points }
    // the earlier period's buckets, in the same order: point i compares with previous.points[i]
    if (c !== null) body.previous = { from: c.from, to: c.to, points: previous }
    json(res, 200, body)
  }, read)

  router.on('GET', '/api/top', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const dim = p.dimension(url.searchParams)
    const c = p.compare(url.searchParams, r)
    if (p.isEventDimension(dim)) {
      // custom events (issue 13.1): events and unique visitors per name, property key or value
      const rows: (EventRow & { previous?: number; change?: number | null })[] = await store.eventTop(r, dim, p.limit(url.searchParams, 10, 1000))
      if (c !== null) {
        const before = new Map((await store.eventTop(c, dim, 1000)).map((x) => [x.value, x.events]))
        for (const row of rows) {
          const prev = before.get(row.value) ?? 0
          row.previous = prev
          row.change = prev === 0 ? null : ((row.events - prev) / prev) * 100
        }
      }
      json(res, 200, { site: r.site, from: r.from, to: r.to, dim, rows })
      return
    }
    const found = await store.top(r, dim, p.limit(url.searchParams, 10, 1000))
    if (c !== null) await withPrevious(found, await store.top(c, dim, 1000))
    const rows = found.map(topRow)
    if (GEO_DIMS.has(dim)) json(res, 200, { site: r.site, from: r.from, to: r.to, dim, rows, attribution: geo?.attribution ?? null })
    else json(res, 200, { site: r.site, from: r.from, to: r.to, dim, rows })
  }, read)

  router.on('GET', '/api/totals', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const c = p.compare(url.searchParams, r)
    const [now, before, bots] = await Promise.all([totalsOf(r), c === null ? null : totalsOf(c), store.bots(r)])
    const body: Record<string, unknown> = { site: r.site, from: r.from, to: r.to, ...now, bots }
    if (c !== null && before !== null) body.compare = { from: c.from, to: c.to, ...before, change: change(now, before) }
    json(res, 200, body)
  }, read)

  // what the dashboard's history view opens with, in one round trip
  router.on('GET', '/api/overview', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const b = p.bucket(url.searchParams, r)
    const n = p.limit(url.searchParams, 10, 100)
    const c = p.compare(url.searchParams, r)
    const [series, pages, referrers, bots, previous] = await Promise.all([
      store.series(r, b), store.top(r, 'page', n), store.top(r, 'referrer', n), store.bots(r),
      c === null ? null : store.series(c, b),
    ])
    // bots: page views kept out of every count as bots, so a tester sees why their visits are missing
    const body: Record<string, unknown> = { site: r.site, from: r.from, to: r.to, bucket: b, series, pages: pages.map(topRow), referrers, bots }
    if (c !== null) body.previous = { from: c.from, to: c.to, series: previous }
    json(res, 200, body)
  }, read)

  // the IP database countries come from: the dashboard shows its licence notice
  router.on('GET', '/api/geo', (_req, res) => json(res, 200, geo === null
    ? { enabled: false, type: null, built: null, cities: false, attribution: null }
    : { enabled: true, type: geo.type, built: geo.built, cities: geo.cities, attribution: geo.attribution }), { auth: true, share: 'hub' })

  router.on('GET', '/api/feed', async (_req, res, url) => {
    const q = url.searchParams
    const rows = await store.feed(q.get('site'), p.limit(q, 50, 500), p.optionalTime(q, 'before'))
    json(res, 200, { rows: rows.map((r) => opaqueFeed(r, feedId)) })
  }, read)

  router.on('GET', '/api/live-history', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const b = p.bucket(url.searchParams, r)
    json(res, 200, { site: r.site, from: r.from, to: r.to, bucket: b, samples: await store.liveHistory(r, b) })
  }, read)
}
