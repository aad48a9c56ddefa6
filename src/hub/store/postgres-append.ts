/**
 * The PostgreSQL append transaction, correct with any number of writers (hub processes, or store
 * instances) appending at once, resends of one batch included:
 * 1. An advisory lock per (site, visitor) of the batch's page views, taken in sorted order: writers
 *    with a visitor in common run their visit work one after the other, and never wait in a circle.
 * 2. Events inserted sorted by key with `ON CONFLICT DO NOTHING RETURNING`: the primary key decides
 *    which writer stores an id; the other waits for that COMMIT and sees a duplicate (or stores it,
 *    if the first rolled back). Sorted keys: two writers inserting overlapping batches take their
 *    row locks in one order, so they cannot deadlock.
 * 3. Visits joined under the visitor locks (postgres-visits.ts).
 * 4. Unique visitors through `visitor_seen`: only the writer whose insert of (site, bucket, t,
 *    visitor) went in adds 1 to that bucket's visitors, so counts stay exact whoever writes.
 * 5. Rollups upserted as additions (`x = x + excluded.x`), keys sorted, every table in the same
 *    order, then the sites' first and last times: all in the one transaction the events are in.
 */
import { createHash } from 'node:crypto'
import type { PoolClient } from 'pg'
import { DIM_CODE } from './rollup'
import { BUCKET_MS, BUCKETS, floorTo } from './time'
import type { AppendResult, StoredEvent } from './types'
import { SiteIndex, VisitBook } from './postgres-visits'
import { VisitDeltas, isZero, type VisitSums } from './visits'

const SIZES: readonly number[] = BUCKETS.map((b) => BUCKET_MS[b])
const HOUR = BUCKET_MS.hour

/** A 64-bit advisory lock key for one visitor of one site in one schema (as a decimal string). */
export function visitorLock(schema: string, site: string, visitor: string): string {
  return createHash('sha1').update(`${schema}\0${site}\0${visitor}`).digest().readBigInt64BE(0).toString()
}

/** Takes the advisory locks of `keys` in ascending order (pass them de-duplicated). */
export async function lockVisitors(c: PoolClient, keys: Iterable<string>): Promise<void> {
  const sorted = [...new Set(keys)].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0))
  if (sorted.length === 0) return
  // a function scan returns the array's elements in order, so the locks are taken in that order
  await c.query('SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) AS k', [sorted])
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0)
const keyOf = (e: StoredEvent): string => `${e.site}\0${e.type}\0${e.id}`

/** Inserts new events (sorted by key) and says which input positions were fresh. */
async function insertEvents(c: PoolClient, events: readonly StoredEvent[]): Promise<boolean[]> {
  const first = new Map<string, number>()
  for (let i = 0; i < events.length; i++) {
    const k = keyOf(events[i] as StoredEvent)
    if (!first.has(k)) first.set(k, i)
  }
  const order = [...first.keys()].sort(cmp).map((k) => first.get(k) as number)
  const rows = order.map((i) => events[i] as StoredEvent)
  const col = <T>(f: (e: StoredEvent) => T): T[] => rows.map(f)
  const r = await c.query<{ site: string; type: string; id: string }>(`INSERT INTO events (site, type, id, ts, visitor, cid,
    host, path, title, referrer, ref_host, utm_source, utm_medium, utm_campaign, utm_term, keyword, browser, os, device, bot,
    country, region, city, screen, language, name, data, instance)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
      $18::text[], $19::text[], $20::boolean[], $21::text[], $22::text[], $23::text[], $24::int[], $25::text[], $26::text[],
      $27::text[], $28::text[])
    ON CONFLICT DO NOTHING RETURNING site, type, id`, [
    col((e) => e.site), col((e) => e.type), col((e) => e.id), col((e) => e.ts), col((e) => e.visitor), col((e) => e.cid),
    col((e) => e.host), col((e) => e.path), col((e) => e.title), col((e) => e.referrer), col((e) => e.refHost),
    col((e) => e.utmSource), col((e) => e.utmMedium), col((e) => e.utmCampaign), col((e) => e.utmTerm), col((e) => e.keyword),
    col((e) => e.browser), col((e) => e.os), col((e) => e.device), col((e) => e.bot), col((e) => e.country),
    col((e) => e.region), col((e) => e.city), col((e) => e.screen), col((e) => e.language), col((e) => e.name),
    col((e) => e.data), col((e) => e.instance),
  ])
  const stored = new Set(r.rows.map((x) => `${x.site}\0${x.type}\0${x.id}`))
  const fresh = new Array<boolean>(events.length).fill(false)
  for (const [k, i] of first) if (stored.has(k)) fresh[i] = true
  return fresh
}

/** Adds `n` to a map entry. */
function bump<K>(m: Map<K, number>, k: K, n = 1): void {
  m.set(k, (m.get(k) ?? 0) + n)
}

/**
 * Appends one batch inside the caller's open transaction (BEGIN … COMMIT is the caller's). `w` is
 * the writer shard (0 to PG_SHARDS - 1) whose rollup and site rows this transaction adds to.
 */
export async function appendTx(c: PoolClient, schema: string, w: number, events: readonly StoredEvent[]): Promise<AppendResult> {
  const locks: string[] = []
  for (const e of events) {
    if (e.type === 'pageview' && !e.bot && e.visitor !== null) locks.push(visitorLock(schema, e.site, e.visitor))
  }
  await lockVisitors(c, locks)
  const fresh = await insertEvents(c, events)
  const sites = new Map<string, { first: number; last: number }>()
  /** site\0bucket\0t → page views */
  const series = new Map<string, number>()
  /** site\0bucket\0t\0visitor */
  const seen = new Set<string>()
  /** site\0dim\0t\0value → page views (or custom events) */
  const top = new Map<string, number>()
  const views: StoredEvent[] = []
  let stored = 0
  for (let i = 0; i < events.length; i++) {
    if (!fresh[i]) continue
    stored++
    const e = events[i] as StoredEvent
    const s = sites.get(e.site)
    if (s === undefined) sites.set(e.site, { first: e.ts, last: e.ts })
    else {
      if (e.ts < s.first) s.first = e.ts
      if (e.ts > s.last) s.last = e.ts
    }
    if (e.bot) continue
    if (e.type === 'pageview') {
      for (let g = 0; g < SIZES.length; g++) {
        const t = floorTo(e.ts, SIZES[g] as number)
        bump(series, `${e.site}\0${g}\0${t}`)
        if (e.visitor !== null) seen.add(`${e.site}\0${g}\0${t}\0${e.visitor}`)
      }
      const h = floorTo(e.ts, HOUR)
      const dims: [number, string | null][] = [[DIM_CODE.page, e.path], [DIM_CODE.browser, e.browser], [DIM_CODE.os, e.os],
        [DIM_CODE.device, e.device], [DIM_CODE.country, e.country], [DIM_CODE.region, e.region], [DIM_CODE.city, e.city]]
      for (const [dim, value] of dims) if (value !== null) bump(top, `${e.site}\0${dim}\0${h}\0${value}`)
      if (e.visitor !== null) views.push(e)
    } else if (e.type === 'event' && e.name !== null) {
      bump(top, `${e.site}\0${DIM_CODE.event}\0${floorTo(e.ts, HOUR)}\0${e.name}`)
    }
  }
  const idx = new SiteIndex()
  const deltas = new VisitDeltas()
  if (views.length > 0) {
    const book = new VisitBook(idx, deltas)
    await book.load(c, views)
    for (const e of views) book.pageview(e)
    await book.write(c)
  }
  const visitors = await countSeen(c, seen)
  await writeSeries(c, w, series, visitors)
  await writeTop(c, w, top)
  await writeVisitDeltas(c, w, idx, deltas)
  await writeSites(c, w, sites)
  return { stored, duplicates: events.length - stored, fresh }
}

/** Inserts who was seen in which bucket; returns, per bucket, how many were new to it. */
async function countSeen(c: PoolClient, seen: Set<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  if (seen.size === 0) return out
  const rows = [...seen].sort(cmp).map((k) => k.split('\0'))
  const r = await c.query<{ site: string; bucket: number; t: number }>(`INSERT INTO visitor_seen (site, bucket, t, visitor)
    SELECT * FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::text[]) ON CONFLICT DO NOTHING
    RETURNING site, bucket, t`, [rows.map((x) => x[0]), rows.map((x) => Number(x[1])), rows.map((x) => Number(x[2])), rows.map((x) => x[3])])
  for (const x of r.rows) bump(out, `${x.site}\0${x.bucket}\0${x.t}`)
  return out
}

async function writeSeries(c: PoolClient, w: number, series: Map<string, number>, visitors: Map<string, number>): Promise<void> {
  if (series.size === 0) return
  const keys = [...series.keys()].sort(cmp)
  const parts = keys.map((k) => k.split('\0'))
  await c.query(`INSERT INTO rollup_series (site, bucket, t, pageviews, visitors, w)
    SELECT *, $6::smallint FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bigint[])
    ON CONFLICT (site, bucket, t, w) DO UPDATE SET pageviews = rollup_series.pageviews + excluded.pageviews,
    visitors = rollup_series.visitors + excluded.visitors`, [
    parts.map((p) => p[0]), parts.map((p) => Number(p[1])), parts.map((p) => Number(p[2])),
    keys.map((k) => series.get(k) ?? 0), keys.map((k) => visitors.get(k) ?? 0), w,
  ])
}

async function writeTop(c: PoolClient, w: number, top: Map<string, number>): Promise<void> {
  if (top.size === 0) return
  const keys = [...top.keys()].sort(cmp)
  const parts = keys.map((k) => k.split('\0'))
  await c.query(`INSERT INTO rollup_top (site, dim, t, value, pageviews, w)
    SELECT *, $6::smallint FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::text[], $5::bigint[])
    ON CONFLICT (site, dim, t, value, w) DO UPDATE SET pageviews = rollup_top.pageviews + excluded.pageviews`, [
    parts.map((p) => p[0]), parts.map((p) => Number(p[1])), parts.map((p) => Number(p[2])),
    parts.map((p) => p.slice(3).join('\0')), keys.map((k) => top.get(k) ?? 0), w,
  ])
}

/** Writes the visit rollup changes to the rows of shard `w`, keys sorted. */
export async function writeVisitDeltas(c: PoolClient, w: number, idx: SiteIndex, d: VisitDeltas): Promise<void> {
  const series: { k: string; site: string; g: number; t: number; s: VisitSums }[] = []
  for (const [sid, grans] of d.series) {
    const site = idx.names[sid] as string
    grans.forEach((m, g) => {
      for (const [t, s] of m) if (!isZero(s)) series.push({ k: `${site}\0${g}\0${String(t).padStart(16, '0')}`, site, g, t, s })
    })
  }
  if (series.length > 0) {
    series.sort((a, b) => cmp(a.k, b.k))
    const col = (f: (s: VisitSums) => number): number[] => series.map((r) => f(r.s))
    await c.query(`INSERT INTO rollup_visits (site, bucket, t, visits, bounces, pageviews, duration, engaged_visits, engaged_ms, writing_ms, w)
      SELECT *, $11::smallint FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
        $8::bigint[], $9::bigint[], $10::bigint[])
      ON CONFLICT (site, bucket, t, w) DO UPDATE SET visits = rollup_visits.visits + excluded.visits,
      bounces = rollup_visits.bounces + excluded.bounces, pageviews = rollup_visits.pageviews + excluded.pageviews,
      duration = rollup_visits.duration + excluded.duration, engaged_visits = rollup_visits.engaged_visits + excluded.engaged_visits,
      engaged_ms = rollup_visits.engaged_ms + excluded.engaged_ms, writing_ms = rollup_visits.writing_ms + excluded.writing_ms`, [
      series.map((r) => r.site), series.map((r) => r.g), series.map((r) => r.t), col((s) => s.visits), col((s) => s.bounces),
      col((s) => s.pageviews), col((s) => s.durationMs), col((s) => s.engagedVisits), col((s) => s.engagedMs), col((s) => s.writingMs), w,
    ])
  }
  const top: { k: string; site: string; dim: number; t: number; value: string; s: VisitSums }[] = []
  for (const [sid, hours] of d.top) {
    const site = idx.names[sid] as string
    for (const [t, dims] of hours) {
      dims.forEach((m, dim) => {
        for (const [value, s] of m) {
          const visitOnly = { ...s, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
          if (!isZero(visitOnly)) top.push({ k: `${site}\0${dim}\0${String(t).padStart(16, '0')}\0${value}`, site, dim, t, value, s })
        }
      })
    }
  }
  if (top.length > 0) {
    top.sort((a, b) => cmp(a.k, b.k))
    const col = (f: (s: VisitSums) => number): number[] => top.map((r) => f(r.s))
    await c.query(`INSERT INTO rollup_vtop (site, dim, t, value, visits, bounces, pageviews, duration, w)
      SELECT *, $9::smallint FROM unnest($1::text[], $2::smallint[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
      ON CONFLICT (site, dim, t, value, w) DO UPDATE SET visits = rollup_vtop.visits + excluded.visits,
      bounces = rollup_vtop.bounces + excluded.bounces, pageviews = rollup_vtop.pageviews + excluded.pageviews,
      duration = rollup_vtop.duration + excluded.duration`, [
      top.map((r) => r.site), top.map((r) => r.dim), top.map((r) => r.t), top.map((r) => r.value), col((s) => s.visits),
      col((s) => s.bounces), col((s) => s.pageviews), col((s) => s.durationMs), w,
    ])
  }
}

async function writeSites(c: PoolClient, w: number, sites: Map<string, { first: number; last: number }>): Promise<void> {
  if (sites.size === 0) return
  const names = [...sites.keys()].sort(cmp)
  // only a row whose first or last moves is written (and locked)
  await c.query(`INSERT INTO sites (name, first, last, w) SELECT *, $4::smallint FROM unnest($1::text[], $2::bigint[], $3::bigint[])
    ON CONFLICT (name, w) DO UPDATE SET first = least(sites.first, excluded.first), last = greatest(sites.last, excluded.last)
    WHERE excluded.first < sites.first OR excluded.last > sites.last`, [
    names, names.map((n) => sites.get(n)?.first ?? 0), names.map((n) => sites.get(n)?.last ?? 0), w,
  ])
}
