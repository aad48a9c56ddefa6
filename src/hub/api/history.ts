/**
 * `GET /api/history`: what the dashboard's History view shows of a range, in one round trip and one
 * store call per period (`Store.view`, issue 12.6): the series, the totals and visit figures, bots,
 * a top list per dimension, custom events, and the live-state history; with `compare`, the earlier
 * period's series, figures and counts beside them, as `/api/series`, `/api/totals` and `/api/top`
 * give them. Those routes stay, for one figure at a time.
 */
import type { GeoSource } from '../ingest/geo'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import type { Dimension, EventRow, Store, TopRow } from '../store/types'
import { change, figures, topRow } from './figures'
import * as p from './params'

/** The lists `dims` defaults to: every page-view and visit dimension (custom events come as `events`). */
export const HISTORY_DIMS: readonly Dimension[] = p.DIMENSIONS.filter((d) => d !== 'event')
/** Rows the earlier period ranks per list: the ones a row of the range finds its count in. */
const COMPARED_ROWS = 1000

/** `dims=page,referrer`: the lists to rank, each a dimension of `/api/top` other than custom events. */
function dims(q: URLSearchParams): readonly Dimension[] {
  const v = q.get('dims')
  if (v === null) return HISTORY_DIMS
  const out = v.split(',').filter((d) => d !== '')
  for (const d of out) {
    if (!(HISTORY_DIMS as readonly string[]).includes(d)) p.bad(`dims must be a comma-separated list of ${HISTORY_DIMS.join(', ')}`)
  }
  return out as Dimension[]
}

/** A row's count in the earlier period (visits for visit lists, page views or events otherwise) and its change, percent (null from 0). */
function compared<T extends { value: string }>(rows: T[], before: readonly T[], count: (r: T) => number): (T & { previous: number; change: number | null })[] {
  const by = new Map(before.map((r) => [r.value, count(r)]))
  return rows.map((r) => {
    const prev = by.get(r.value) ?? 0
    return { ...r, previous: prev, change: prev === 0 ? null : ((count(r) - prev) / prev) * 100 }
  })
}

export function historyRoutes(router: Router, store: Store, geo: GeoSource | null): void {
  router.on('GET', '/api/history', async (_req, res, url) => {
    const q = url.searchParams
    const r = p.range(q)
    const bucket = p.bucket(q, r)
    const limit = p.limit(q, 10, 1000)
    const c = p.compare(q, r)
    const list = dims(q)
    const [now, before, samples] = await Promise.all([
      store.view(r, { bucket, dims: list, limit, events: true }),
      c === null ? null : store.view(c, { bucket, dims: list, limit: COMPARED_ROWS, events: true }),
      store.liveHistory(r, bucket),
    ])
    const totals: Record<string, unknown> = { ...figures(now.totals, now.visitTotals), bots: now.bots }
    if (c !== null && before !== null) {
      const was = figures(before.totals, before.visitTotals)
      totals.compare = { from: c.from, to: c.to, ...was, change: change(figures(now.totals, now.visitTotals), was) }
    }
    const tops: Record<string, unknown> = {}
    for (const d of list) {
      const rows = now.tops[d] ?? []
      const counted = before === null ? rows : compared(rows, before.tops[d] ?? [], (x: TopRow) => x.visits ?? x.pageviews)
      tops[d] = counted.map(topRow)
    }
    const events: EventRow[] = before === null ? now.events ?? [] : compared(now.events ?? [], before.events ?? [], (x) => x.events)
    const body: Record<string, unknown> = {
      site: r.site, from: r.from, to: r.to, bucket, series: now.series, totals, tops, events, samples,
      // the licence notice of the IP database the country, region and city lists come from
      attribution: geo?.attribution ?? null,
    }
    if (c !== null && before !== null) body.previous = { from: c.from, to: c.to, series: before.series }
    json(res, 200, body)
  }, { auth: true, share: 'site' })
}
