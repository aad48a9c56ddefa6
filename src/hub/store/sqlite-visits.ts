/**
 * Visits on SQLite. The append transaction hands each fresh human page view to `pageview`, which
 * joins it to its visitor's visit (or starts one) in the visits table at once, so a later page view
 * of the same batch sees it.
 *
 * Open and closed visits keep page views cheap:
 * - A visit goes into the rollups once, when it closes: when its site's newest page view is more
 *   than the gap (plus a minute of slack) past its end (`flush`, once per minute of traffic). Until
 *   then it is open (rolled = 0), reads add it from the table, and a page view costs one small
 *   update of its row instead of rewriting rollup rows.
 * - A page view that only grows an open visit (its end, page views and exit) changes the visit in
 *   memory; the row is written once per append, at `flush` (a visitor's several page views in one
 *   batch cost one UPDATE), and before anything reads or rewrites visit rows (`settle`).
 * - Every open visit's latest visit per visitor is in memory (loaded at start), and every closed
 *   visit ended before the site's `closed_to`. So a page view at or after `closed_to + gap` that is
 *   not older than its visitor's open visit can only join that visit, or start one: no read at all.
 * - Any other page view (late, resent after an outage, out of order) reads the visits that started
 *   within the longest visit's span of it, and may join, bridge or reopen closed ones; a reopened
 *   visit leaves the rollups until it closes again. The result is the same as in-order arrival.
 */
import type Database from 'better-sqlite3'
import { KIND_VISITS, type ChunkWriter } from './sqlite-chunk-store'
import { BUCKETS, coverRange } from './time'
import type { StoredEvent, TopRow, VisitDimension, VisitTotals } from './types'
import {
  VISIT_DIM_CODE, VISIT_DIMENSIONS, VISIT_GAP_MS, VisitDeltas, isZero, join, listsNone, NO_VALUE, sameSource, touches, visitOf,
  withNone, zeroSums,
  type Visit, type VisitSums,
} from './visits'

const VISIT_COLUMNS = `id, visitor, start, end, pageviews, entry, exit, ref_host AS refHost, utm_source AS utmSource,
  utm_medium AS utmMedium, utm_campaign AS utmCampaign, utm_term AS utmTerm, keyword, country, region, city, browser, os, device, engaged_n AS engagedN,
  engaged_ms AS engagedMs, writing_ms AS writingMs, rolled`

/** The visits column holding each visit dimension. */
export const VISIT_COLUMN: Readonly<Record<VisitDimension, string>> = {
  entry_page: 'entry', exit_page: 'exit', referrer: 'ref_host', utm_source: 'utm_source', utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign', utm_term: 'utm_term', keyword: 'keyword',
}


/** What a filtered list of a visit dimension groups by: its column, NO_VALUE for none where it lists none. */
export function listColumn(dim: VisitDimension): string {
  return listsNone(dim) ? `coalesce(${VISIT_COLUMN[dim]}, '${NO_VALUE}')` : VISIT_COLUMN[dim]
}

function prepare(db: Database.Database) {
  return {
    // a late page view: the visitor's visits that started within the longest visit's span of it
    near: db.prepare<[number, number, number, string], Row>(`SELECT ${VISIT_COLUMNS} FROM visits
      WHERE site = ? AND start >= ? AND start <= ? AND visitor = ? ORDER BY start`),
    allOpen: db.prepare<[], Row & { site: number }>(`SELECT site, ${VISIT_COLUMNS} FROM visits WHERE rolled = 0 ORDER BY start`),
    states: db.prepare<[], { site: number; closedTo: number; maxSpan: number }>(
      'SELECT site, closed_to AS closedTo, max_span AS maxSpan FROM visit_state'),
    setState: db.prepare<[number, number, number]>(`INSERT INTO visit_state (site, closed_to, max_span) VALUES (?, ?, ?)
      ON CONFLICT (site) DO UPDATE SET closed_to = excluded.closed_to, max_span = excluded.max_span`),
    // ids are given, never reused (see lastId)
    insert: db.prepare(`INSERT INTO visits (id, site, visitor, start, end, pageviews, entry, exit, ref_host, utm_source,
      utm_medium, utm_campaign, utm_term, keyword, country, region, city, browser, os, device, rolled)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)`),
    lastId: db.prepare<[], [number | null, number | null]>(
      'SELECT (SELECT max(id) FROM visits), (SELECT max(visit) FROM funnel_aliases)').raw(),
    // SQLite rewrites the index entries of every column a SET names, changed or not: the usual
    // update (a later page view of an open visit) leaves start and rolled, and so every index, alone
    grow: db.prepare<[number, number, string | null, number]>('UPDATE visits SET end = ?, pageviews = ?, exit = ? WHERE id = ?'),
    update: db.prepare(`UPDATE visits SET start = ?, end = ?, pageviews = ?, entry = ?, exit = ?, ref_host = ?,
      utm_source = ?, utm_medium = ?, utm_campaign = ?, utm_term = ?, keyword = ?, engaged_n = ?, engaged_ms = ?,
      writing_ms = ?, rolled = 0 WHERE id = ?`),
    /**
     * Open visits that ended before the watermark: the ones that closed. `end` is tested here, not on
     * each row in JS: open visits that started before the watermark and go on (long visits, the
     * slack) were otherwise read into objects at every close, about a sixth of an append's CPU on
     * bench/lib/history-data traffic; `start < ?` keeps the visits_open range.
     */
    open: db.prepare<[number, number, number], Row>(`SELECT ${VISIT_COLUMNS} FROM visits WHERE site = ? AND rolled = 0 AND start < ?
      AND end < ?`),
    roll: db.prepare<[number]>('UPDATE visits SET rolled = 1 WHERE id = ?'),
    engage: db.prepare<[number, number, number, number]>('UPDATE visits SET engaged_n = ?, engaged_ms = ?, writing_ms = ? WHERE id = ?'),
    openSums: db.prepare<[number, number, number], VisitSums>(`SELECT count(*) AS visits, coalesce(sum(pageviews = 1), 0) AS bounces,
      coalesce(sum(pageviews), 0) AS pageviews, coalesce(sum(end - start), 0) AS durationMs,
      coalesce(sum(engaged_n > 0), 0) AS engagedVisits, coalesce(sum(engaged_ms), 0) AS engagedMs,
      coalesce(sum(writing_ms), 0) AS writingMs FROM visits WHERE site = ? AND rolled = 0 AND start >= ? AND start < ?`),
    delete: db.prepare<[number]>('DELETE FROM visits WHERE id = ?'),
    addSeries: db.prepare<[number, number, number, ...number[]]>(`INSERT INTO rollup_visits (site, bucket, t, visits,
      bounces, pageviews, duration, engaged_visits, engaged_ms, writing_ms) VALUES (?,?,?,?,?,?,?,?,?,?)
      ON CONFLICT (site, bucket, t) DO UPDATE SET visits = visits + excluded.visits, bounces = bounces + excluded.bounces,
      pageviews = pageviews + excluded.pageviews, duration = duration + excluded.duration,
      engaged_visits = engaged_visits + excluded.engaged_visits, engaged_ms = engaged_ms + excluded.engaged_ms,
      writing_ms = writing_ms + excluded.writing_ms`),
    addTop: db.prepare<[number, number, number, string, number, number, number, number]>(`INSERT INTO rollup_vtop
      (site, dim, t, value, visits, bounces, pageviews, duration) VALUES (?,?,?,?,?,?,?,?)
      ON CONFLICT (site, dim, t, value) DO UPDATE SET visits = visits + excluded.visits,
      bounces = bounces + excluded.bounces, pageviews = pageviews + excluded.pageviews,
      duration = duration + excluded.duration`),
    sumSeries: db.prepare<[number, number, number, number], VisitSums>(`SELECT coalesce(sum(visits), 0) AS visits,
      coalesce(sum(bounces), 0) AS bounces, coalesce(sum(pageviews), 0) AS pageviews,
      coalesce(sum(duration), 0) AS durationMs, coalesce(sum(engaged_visits), 0) AS engagedVisits,
      coalesce(sum(engaged_ms), 0) AS engagedMs, coalesce(sum(writing_ms), 0) AS writingMs
      FROM rollup_visits WHERE site = ? AND bucket = ? AND t >= ? AND t < ?`),
    top: VISIT_DIMENSIONS.map((dim, code) => {
      const groups = `SELECT value, sum(pageviews) AS pageviews, sum(visits) AS visits, sum(bounces) AS bounces,
        sum(duration) AS durationMs FROM (
          SELECT value, visits, bounces, pageviews, duration FROM rollup_vtop WHERE site = ? AND dim = ${code} AND t >= ? AND t < ?
          UNION ALL
          SELECT ${VISIT_COLUMN[dim]}, 1, pageviews = 1, pageviews, end - start FROM visits
          WHERE site = ? AND rolled = 0 AND start >= ? AND start < ? AND ${VISIT_COLUMN[dim]} IS NOT NULL
        ) GROUP BY value HAVING sum(visits) > 0`
      // a list with a NO_VALUE row also sums every value (a last row, value NULL) to take from the range's visits:
      // the groups once, then both (about 0.7 ms on 2,000 referrers, a window sum over them about 1.5 ms)
      return db.prepare<[number, number, number, number, number, number, number], Omit<Required<TopRow>, 'value'> & { value: string | null }>(
        listsNone(dim) ? `WITH g AS MATERIALIZED (${groups})
          SELECT * FROM (SELECT * FROM g ORDER BY visits DESC, value LIMIT ?)
          UNION ALL SELECT NULL, sum(pageviews), sum(visits), sum(bounces), sum(durationMs) FROM g`
          : `${groups} ORDER BY visits DESC, value LIMIT ?`)
    }),
  }
}

/** What joining a page view did. */
export interface Joined {
  visit: Visit
  /** The later visit the page view bridged into `visit` (now deleted), or null. */
  merged: Visit | null
  /** Whether the visit's source (referrer, UTM, keyword) changed for page views it already had (a new first page view). */
  sourceChanged: boolean
  /** The visit is new, or starts earlier than before. */
  began: boolean
  /** The visit is new: this page view made it. */
  created: boolean
  /**
   * The page view came before the visitor's latest open visit or near the closed ones (not the
   * in-order case): a visit of the visitor may start after it, and hold custom events that now
   * belong to `visit`.
   */
  late: boolean
}

function sourceOf(v: Visit): Visit {
  return { ...v }
}

/** A visits row: `rolled` is 1 once its figures are in the rollups (it closed), 0 while it is open. */
type Row = Visit & { rolled: number }

/** Slack for page views a little older than the newest (concurrent frames): they still take the fast path, ms. */
const SLACK_MS = 60_000
/** How far a site's newest page view moves before its open visits are checked for closing again, ms. */
const CLOSE_EVERY_MS = 60_000

/** Per site: open visits, and what bounds the closed ones. */
interface SiteVisits {
  /** visitor → their latest open visit (the same object as long as it is open). */
  readonly open: Map<string, Row>
  /** Every closed visit ended before this, ms. */
  closedTo: number
  /** The longest visit seen (end − start), ms. */
  maxSpan: number
  /** Newest page view of the current transaction; NaN when none. */
  seen: number
  dirty: boolean
}

export class SqliteVisits {
  private readonly q: ReturnType<typeof prepare>
  private deltas = new VisitDeltas()
  private readonly sites = new Map<number, SiteVisits>()
  /** Visits grown in memory since their row was last written (by id): `settle` writes them. */
  private readonly grown = new Map<number, Row>()
  /**
   * The highest visit id ever given (in the table, or merged away: funnel aliases name it). SQLite
   * would give a deleted newest id again; a funnel alias (sqlite-postings.ts) must never name two visits.
   */
  private lastId = 0

  /** `chunks` drops the stored hour chunks each write makes stale (sqlite-chunk-store.ts). */
  constructor(db: Database.Database, private readonly chunks: ChunkWriter) {
    this.q = prepare(db)
    this.load()
  }

  /** Reads the open visits and the per-site bounds (at start, and after a rollback left memory unsure). */
  private load(): void {
    this.sites.clear()
    const [inTable, merged] = this.q.lastId.get() ?? [null, null]
    this.lastId = Math.max(inTable ?? 0, merged ?? 0)
    for (const st of this.q.states.all()) {
      const site = this.site(st.site)
      site.closedTo = st.closedTo
      site.maxSpan = st.maxSpan
    }
    for (const row of this.q.allOpen.all()) {
      const { site, ...v } = row
      this.site(site).open.set(v.visitor, v)
    }
  }

  private site(id: number): SiteVisits {
    let s = this.sites.get(id)
    if (s === undefined) {
      this.sites.set(id, (s = { open: new Map(), closedTo: Number.NEGATIVE_INFINITY, maxSpan: 0, seen: Number.NaN, dirty: false }))
    }
    return s
  }

  /** Starts a transaction's bookkeeping. */
  begin(): void {
    this.deltas = new VisitDeltas()
    for (const s of this.sites.values()) s.seen = Number.NaN
  }

  /** Forgets a transaction that rolled back: memory is read again from the table. */
  rollback(): void {
    this.deltas = new VisitDeltas()
    this.grown.clear()
    this.load()
  }

  /**
   * Joins a fresh, human page view (with a visitor) of site id `site` to its visit, and says what
   * changed for the fact rows of the visit's other page views.
   */
  pageview(siteId: number, e: StoredEvent): Joined {
    const visitor = e.visitor ?? ''
    const site = this.site(siteId)
    if (!(e.ts <= site.seen)) site.seen = e.ts
    const last = site.open.get(visitor)
    let into: Row | null = null
    let other: Row | null = null
    const late = !(e.ts >= site.closedTo + VISIT_GAP_MS && (last === undefined || e.ts >= last.start))
    if (!late) {
      // the usual case: only the visitor's latest open visit can be touched
      if (last !== undefined && e.ts <= last.end + VISIT_GAP_MS) into = last
    } else {
      this.settle()
      const near = this.q.near.all(siteId, e.ts - VISIT_GAP_MS - site.maxSpan, e.ts + VISIT_GAP_MS, visitor)
      for (const row of near) {
        const v = last !== undefined && row.id === last.id ? last : row
        if (!touches(v, e.ts)) continue
        // start order: the earlier visit keeps its id and takes the later one in
        if (into === null) into = v
        else other = v
      }
    }
    if (into === null) {
      const v: Row = { ...visitOf(e), rolled: 0 }
      v.id = ++this.lastId
      this.q.insert.run(v.id, siteId, visitor, v.start, v.end, v.pageviews, v.entry, v.exit, v.refHost,
        v.utmSource, v.utmMedium, v.utmCampaign, v.utmTerm, v.keyword, v.country, v.region, v.city, v.browser, v.os, v.device)
      this.chunks.touch(KIND_VISITS, siteId, v.start)
      if (last === undefined || v.start > last.start) site.open.set(visitor, v)
      return { visit: v, merged: null, sourceChanged: false, began: true, created: true, late }
    }
    const start = into.start
    // only a new first page view changes the source: copy it only then
    const was = e.ts < start || (other !== null && other.start < start) ? sourceOf(into) : null
    // a closed visit that grows again leaves the rollups until it closes anew
    const reopened = into.rolled === 1
    if (reopened) this.deltas.remove(siteId, into)
    if (other !== null && other.rolled === 1) this.deltas.remove(siteId, other)
    join(into, e, other)
    into.rolled = 0
    if (into.start === start && !reopened && other === null) {
      this.grown.set(into.id, into)
    } else {
      this.grown.delete(into.id)
      this.q.update.run(into.start, into.end, into.pageviews, into.entry, into.exit, into.refHost, into.utmSource,
        into.utmMedium, into.utmCampaign, into.utmTerm, into.keyword, into.engagedN, into.engagedMs, into.writingMs, into.id)
      // a new first page view moves the visit to an earlier start, maybe another hour
      this.chunks.touch(KIND_VISITS, siteId, start)
      this.chunks.touch(KIND_VISITS, siteId, into.start)
    }
    if (other !== null) {
      this.q.delete.run(other.id)
      this.chunks.touch(KIND_VISITS, siteId, other.start)
    }
    if (into.end - into.start > site.maxSpan) {
      site.maxSpan = into.end - into.start
      site.dirty = true
    }
    const latest = site.open.get(visitor)
    if (latest === undefined || latest.id === other?.id || into.start > latest.start) site.open.set(visitor, into)
    return { visit: into, merged: other, sourceChanged: was !== null && !sameSource(was, into), began: into.start < start, created: false, late }
  }

  /**
   * The visit a fresh custom event at `ts` belongs to: its visitor's visit that starts at most a gap
   * after it and ends at most a gap before it; of two, the one that started before it. Null for none.
   */
  visitAt(siteId: number, visitor: string, ts: number): Visit | null {
    const site = this.site(siteId)
    const last = site.open.get(visitor)
    // A visit the latest open one touches at or after its start is the answer: the visitor's other
    // visits are over a gap away from it, so any earlier one ended before ts - gap and any later
    // one starts after ts (and the rule prefers the one that started before ts). Presence reports
    // a tab's pages when it ends, minutes after most of them: this spares each a read of the visits.
    if (last !== undefined && ts >= last.start && touches(last, ts)) return last
    if (ts >= site.closedTo + VISIT_GAP_MS && (last === undefined || ts >= last.start)) return null
    this.settle()
    let found: Visit | null = null
    for (const row of this.q.near.all(siteId, ts - VISIT_GAP_MS - site.maxSpan, ts + VISIT_GAP_MS, visitor)) {
      const v = last !== undefined && row.id === last.id ? last : row
      if (touches(v, ts) && (found === null || v.start <= ts)) found = v
    }
    return found
  }

  /** Adds engaged time (a presence stint that began at `at`) to the visitor's visit then, if any. */
  engage(siteId: number, visitor: string, at: number, engagedMs: number, writingMs: number): void {
    const v = this.visitAt(siteId, visitor, at) as Row | null
    if (v === null) return
    // a closed visit's figures are in the rollups: they move with it
    if (v.rolled === 1) this.deltas.remove(siteId, v)
    v.engagedN++
    v.engagedMs += engagedMs
    v.writingMs += writingMs
    if (v.rolled === 1) this.deltas.add(siteId, v)
    this.q.engage.run(v.engagedN, v.engagedMs, v.writingMs, v.id)
    this.chunks.touch(KIND_VISITS, siteId, v.start)
  }

  /** The longest visit of a site so far, ms: queries widen ranges by it to find a visit's page views. */
  maxSpan(siteId: number): number {
    return this.sites.get(siteId)?.maxSpan ?? 0
  }

  /**
   * Ends the transaction's visit work: closes the visits of each site it saw that ended over a gap
   * (and the slack) before the site's newest page view (their figures go into the rollups, once),
   * and writes the rollup changes.
   */
  flush(): void {
    this.settle()
    for (const [id, site] of this.sites) {
      if (Number.isNaN(site.seen)) continue
      const watermark = site.seen - VISIT_GAP_MS - SLACK_MS
      if (watermark - site.closedTo >= CLOSE_EVERY_MS) this.close(id, site, watermark)
      if (site.dirty) {
        this.q.setState.run(id, site.closedTo, site.maxSpan)
        site.dirty = false
      }
    }
    const d = this.deltas
    this.deltas = new VisitDeltas()
    const q = this.q
    for (const [site, series] of d.series) {
      for (let g = 0; g < series.length; g++) {
        for (const [t, s] of series[g] ?? []) {
          if (!isZero(s)) q.addSeries.run(site, g, t, s.visits, s.bounces, s.pageviews, s.durationMs, s.engagedVisits, s.engagedMs, s.writingMs)
        }
      }
    }
    for (const [site, hours] of d.top) {
      for (const [t, dims] of hours) {
        for (let dim = 0; dim < dims.length; dim++) {
          for (const [value, s] of dims[dim] ?? []) {
            if (!isZero(s)) q.addTop.run(site, dim, t, value, s.visits, s.bounces, s.pageviews, s.durationMs)
          }
        }
      }
    }
  }

  /** Writes the rows of the visits grown in memory: one UPDATE each, however many page views grew it. */
  // No chunk to drop: a grown visit was open before, and no hour holding an open visit has a
  // chunk (an insert or a reopen of a visit drops its hour's, sqlite-chunk-store.ts).
  private settle(): void {
    if (this.grown.size === 0) return
    for (const v of this.grown.values()) this.q.grow.run(v.end, v.pageviews, v.exit, v.id)
    this.grown.clear()
  }

  /** Closes the site's open visits that ended before `watermark`. */
  private close(id: number, site: SiteVisits, watermark: number): void {
    this.settle()
    for (const row of this.q.open.all(id, watermark, watermark)) {
      this.deltas.add(id, row)
      this.q.roll.run(row.id)
      const cached = site.open.get(row.visitor)
      if (cached?.id === row.id) site.open.delete(row.visitor)
    }
    site.closedTo = watermark
    site.dirty = true
  }

  /** Closes every open visit that ended before `before`, on every site (before a prune deletes them). */
  closeBefore(before: number): void {
    for (const [id, site] of this.sites) if (before > site.closedTo) this.close(id, site, before)
    this.flush()
  }

  /** Visits that started in a minute-aligned [from, to): closed ones from the rollups, open ones from the table. */
  totals(site: number, from: number, to: number): VisitTotals {
    const sum = zeroSums()
    const parts = coverRange(from, to).map((span) => this.q.sumSeries.get(site, BUCKETS.indexOf(span.bucket), span.from, span.to))
    parts.push(this.q.openSums.get(site, from, to))
    for (const r of parts) {
      if (r === undefined) continue
      sum.visits += r.visits
      sum.bounces += r.bounces
      sum.pageviews += r.pageviews
      sum.durationMs += r.durationMs
      sum.engagedVisits += r.engagedVisits
      sum.engagedMs += r.engagedMs
      sum.writingMs += r.writingMs
    }
    return sum
  }

  /**
   * Top values of a visit dimension among the visits that started in an hour-aligned [from, to); the
   * referrer list's NO_VALUE row is the range's visits (the rollups at the same alignment) less those
   * of every referrer.
   */
  top(site: number, dim: VisitDimension, from: number, to: number, limit: number): TopRow[] {
    const rows = (this.q.top[VISIT_DIM_CODE[dim]] as (typeof this.q.top)[number]).all(site, from, to, site, from, to, limit)
    if (!listsNone(dim)) return rows as TopRow[]
    const listed = zeroSums()
    const own: TopRow[] = []
    for (const r of rows) {
      if (r.value !== null) {
        own.push({ value: r.value, pageviews: r.pageviews, visits: r.visits, bounces: r.bounces, durationMs: r.durationMs })
        continue
      }
      listed.visits = r.visits ?? 0
      listed.bounces = r.bounces ?? 0
      listed.pageviews = r.pageviews ?? 0
      listed.durationMs = r.durationMs ?? 0
    }
    return withNone(own, this.totals(site, from, to), listed, limit)
  }
}

