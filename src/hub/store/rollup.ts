/**
 * Rollup math that does not depend on the database: which rollup rows a batch of newly stored
 * events changes, and by how much. Every store (SQLite today, PostgreSQL later) feeds its fresh
 * rows through a `RollupBatch` inside its append transaction and writes the result there too.
 *
 * Unique visitors per bucket are exact, by this rule:
 * - For each site and each granularity (minute, hour, day) one bucket is "open": the newest one
 *   that saw a pageview. `OpenVisitors` holds the set of visitor ids seen in it, and the rollup
 *   row stores the set's size as an absolute number, so writing it twice is harmless.
 * - A pageview in a later bucket closes the open one (its count is final) and opens the new one.
 * - A pageview in an older, closed bucket (a batch that straddled a boundary, or a store that
 *   restarted) gets `RECOUNT`: the store adds its pageview and recounts that bucket's visitors
 *   from its stored page views (SQLite: distinct visitor keys of `pv`), in the same transaction.
 *   That is rare and costs one range scan of the bucket, and it never disturbs the open set.
 * - After a restart the store seeds the open buckets from the stored page views of the UTC day of
 *   each site's latest pageview (`seed`, `seedVisitor`), so counting resumes where it stopped, even
 *   after SIGKILL: the page views and the rollups were committed in the same transaction.
 * Bots are stored but never counted; process samples (which carry a client `at`) never touch
 * these rollups at all.
 */
import { BUCKET_MS, BUCKETS, floorTo } from './time'
import type { Dimension, StoredEvent } from './types'

/** Dimension codes in rollup tables are indexes into this list: append only, never reorder. */
export const DIMENSIONS: readonly Dimension[] = Object.freeze([
  'page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'browser', 'os', 'device', 'event', 'keyword', 'country',
  'region', 'city',
])
export const DIM_CODE: Readonly<Record<Dimension, number>> = Object.freeze(
  Object.fromEntries(DIMENSIONS.map((d, i) => [d, i])) as Record<Dimension, number>,
)

/** Visitor count of a closed bucket: the store recounts it from raw events. */
export const RECOUNT = -1

const SIZES: readonly number[] = BUCKETS.map((b) => BUCKET_MS[b])
export const G_HOUR = 1

export interface OpenBucket {
  start: number
  readonly ids: Set<string>
}

/** The open minute, hour and day bucket of every site, with the visitor ids seen in each. */
export class OpenVisitors {
  private readonly sites = new Map<string, OpenBucket[]>()

  /** The site's open buckets, finest first (see BUCKETS). */
  of(site: string): OpenBucket[] {
    let b = this.sites.get(site)
    if (b === undefined) {
      b = SIZES.map(() => ({ start: Number.NEGATIVE_INFINITY, ids: new Set<string>() }))
      this.sites.set(site, b)
    }
    return b
  }

  /** Opens the buckets holding `latest` (a site's newest counted pageview) before replaying its day. */
  seed(site: string, latest: number): void {
    const b = this.of(site)
    for (let g = 0; g < SIZES.length; g++) {
      const o = b[g] as OpenBucket
      o.start = floorTo(latest, SIZES[g] as number)
      o.ids.clear()
    }
  }

  /** Replays one counted pageview of the seeded day. */
  seedVisitor(site: string, ts: number, visitor: string | null): void {
    if (visitor === null) return
    const b = this.of(site)
    for (let g = 0; g < SIZES.length; g++) {
      const o = b[g] as OpenBucket
      if (floorTo(ts, SIZES[g] as number) === o.start) o.ids.add(visitor)
    }
  }

  clear(): void {
    this.sites.clear()
  }
}

/** Absolute visitor count of the bucket starting at `start` once `visitor` is in it, or RECOUNT. */
function countIn(b: OpenBucket, start: number, visitor: string | null): number {
  if (start > b.start) {
    b.start = start
    b.ids.clear()
  } else if (start < b.start) {
    return RECOUNT
  }
  if (visitor !== null) b.ids.add(visitor)
  return b.ids.size
}

export interface SeriesDelta {
  pageviews: number
  /** Absolute count for the bucket, or RECOUNT. */
  visitors: number
}

/** The changes one batch makes to one site's rollups. */
export class SiteChanges {
  /** First and last event time in the batch, every event type included. */
  first: number
  last: number
  /** Per granularity (index into BUCKETS): bucket start → change. */
  readonly series: Map<number, SeriesDelta>[] = SIZES.map(() => new Map())
  /** Hour start → per dimension code (index into DIMENSIONS): value → pageviews to add. */
  readonly top = new Map<number, Map<string, number>[]>()
  // Events of a batch mostly share their buckets: remember the last ones to skip map lookups.
  private readonly lastStart: number[] = SIZES.map(() => Number.NaN)
  private readonly lastDelta: (SeriesDelta | null)[] = SIZES.map(() => null)
  private lastHour = Number.NaN
  private lastDims: Map<string, number>[] = []

  /** The start of the site's open hour before the batch (closed by it when the open hour moved on). */
  readonly hourWas: number

  constructor(private readonly open: OpenBucket[], ts: number) {
    this.hourWas = (open[G_HOUR] as OpenBucket).start
    this.first = ts
    this.last = ts
  }

  pageview(ts: number, visitor: string | null): void {
    for (let g = 0; g < SIZES.length; g++) {
      const start = floorTo(ts, SIZES[g] as number)
      const count = countIn(this.open[g] as OpenBucket, start, visitor)
      let d = this.lastStart[g] === start ? this.lastDelta[g] : null
      if (d === null || d === undefined) {
        const m = this.series[g] as Map<number, SeriesDelta>
        d = m.get(start)
        if (d === undefined) m.set(start, (d = { pageviews: 0, visitors: count }))
        this.lastStart[g] = start
        this.lastDelta[g] = d
      }
      d.pageviews++
      // RECOUNT sticks: once a bucket closed within this batch only a recount is exact.
      if (d.visitors !== RECOUNT) d.visitors = count
    }
  }

  /** The per-dimension maps of the hour holding `ts`. */
  dims(ts: number): Map<string, number>[] {
    const hour = floorTo(ts, SIZES[G_HOUR] as number)
    if (hour === this.lastHour) return this.lastDims
    let dims = this.top.get(hour)
    if (dims === undefined) this.top.set(hour, (dims = DIMENSIONS.map(() => new Map<string, number>())))
    this.lastHour = hour
    this.lastDims = dims
    return dims
  }
}

function bump(dims: Map<string, number>[], code: number, value: string | null): void {
  if (value === null) return
  const m = dims[code] as Map<string, number>
  m.set(value, (m.get(value) ?? 0) + 1)
}

/** The rollup changes of one append transaction. Build one per batch; feed it fresh rows only. */
export class RollupBatch {
  readonly sites = new Map<string, SiteChanges>()
  private lastSite = ''
  private last: SiteChanges | null = null

  constructor(private readonly open: OpenVisitors) {}

  add(e: StoredEvent): void {
    let c = e.site === this.lastSite ? this.last : null
    if (c === null) {
      c = this.sites.get(e.site) ?? null
      if (c === null) this.sites.set(e.site, (c = new SiteChanges(this.open.of(e.site), e.ts)))
      this.lastSite = e.site
      this.last = c
    }
    if (e.ts < c.first) c.first = e.ts
    if (e.ts > c.last) c.last = e.ts
    if (e.bot) return
    if (e.type === 'pageview') {
      c.pageview(e.ts, e.visitor)
      const dims = c.dims(e.ts)
      // referrer, UTM and keyword are a visit's, rolled up with visits (visits.ts); their codes stay unused
      bump(dims, DIM_CODE.page, e.path)
      bump(dims, DIM_CODE.browser, e.browser)
      bump(dims, DIM_CODE.os, e.os)
      bump(dims, DIM_CODE.device, e.device)
      bump(dims, DIM_CODE.country, e.country)
      bump(dims, DIM_CODE.region, e.region)
      bump(dims, DIM_CODE.city, e.city)
    } else if (e.type === 'event') {
      bump(c.dims(e.ts), DIM_CODE.event, e.name)
    }
  }
}
