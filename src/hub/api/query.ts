/** The read API: time series, top lists, totals, the overview and the page-view feed. JSON only. */
import type { Router } from '../http/router'
import { json } from '../http/reply'
import type { GeoSource } from '../ingest/geo'
import type { Dimension, Store } from '../store/types'
import { opaqueFeed } from '../live/feed'
import { figures } from './figures'
import * as p from './params'

/** Dimensions whose values come from the IP database: their answers carry its licence notice. */
const GEO_DIMS: ReadonlySet<Dimension> = new Set(['country', 'region', 'city'])

/**
 * `feedId` makes `/api/feed` ids opaque, as on the live channel (see `feedIds` in live/feed.ts);
 * `geo` is the IP database countries come from (null when lookups are off).
 */
export function queryRoutes(router: Router, store: Store, feedId: (id: string) => string, geo: GeoSource | null): void {
  const read = { auth: true }
  router.on('GET', '/api/sites', async (_req, res) => json(res, 200, { sites: await store.sites() }), read)

  router.on('GET', '/api/series', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const b = p.bucket(url.searchParams, r)
    json(res, 200, { site: r.site, from: r.from, to: r.to, bucket: b, points: await store.series(r, b) })
  }, read)

  router.on('GET', '/api/top', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const dim = p.dimension(url.searchParams)
    const rows = await store.top(r, dim, p.limit(url.searchParams, 10, 1000))
    if (GEO_DIMS.has(dim)) json(res, 200, { site: r.site, from: r.from, to: r.to, dim, rows, attribution: geo?.attribution ?? null })
    else json(res, 200, { site: r.site, from: r.from, to: r.to, dim, rows })
  }, read)

  router.on('GET', '/api/totals', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const [t, v, bots] = await Promise.all([store.totals(r), store.visitTotals(r), store.bots(r)])
    json(res, 200, { site: r.site, from: r.from, to: r.to, ...figures(t, v), bots })
  }, read)

  // what the dashboard's history view opens with, in one round trip
  router.on('GET', '/api/overview', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const b = p.bucket(url.searchParams, r)
    const n = p.limit(url.searchParams, 10, 100)
    const [series, pages, referrers, bots] = await Promise.all([
      store.series(r, b), store.top(r, 'page', n), store.top(r, 'referrer', n), store.bots(r),
    ])
    // bots: page views kept out of every count as bots, so a tester sees why their visits are missing
    json(res, 200, { site: r.site, from: r.from, to: r.to, bucket: b, series, pages, referrers, bots })
  }, read)

  // the IP database countries come from: the dashboard shows its licence notice
  router.on('GET', '/api/geo', (_req, res) => json(res, 200, geo === null
    ? { enabled: false, type: null, built: null, cities: false, attribution: null }
    : { enabled: true, type: geo.type, built: geo.built, cities: geo.cities, attribution: geo.attribution }), read)

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
