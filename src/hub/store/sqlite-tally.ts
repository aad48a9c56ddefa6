/**
 * Counting by key in JavaScript for filtered queries (sqlite-filtered.ts). SQLite has no hash
 * aggregation: `GROUP BY path` over the 300,000 page views of a day sorts them in a temporary
 * b-tree first, about 1 µs a row, most of a filtered query's time (and the visits of a day by
 * referrer, 115,000 rows, the same); count(DISTINCT vid) inserts every key into one. These
 * aggregate functions see the same rows in scan order and count them per key in a Map, or collect
 * visitor keys for goals/distinct.ts (about 0.2 µs a row, most of it the call from SQLite into
 * JavaScript), so a filtered top list, total or series costs one sequential read.
 *
 *   SELECT ls_tally(path), ls_tally_engaged(path, engaged_ms, writing_ms, scroll)
 *     FILTER (WHERE engaged_ms IS NOT NULL OR scroll IS NOT NULL) FROM pv WHERE ...
 *   SELECT ls_tally_visits(ref_host, pageviews, end - start) FROM visits WHERE ...
 *   SELECT ls_tally_points(ts, vid) FROM pv WHERE ...   (a series: visitor keys per point)
 *   SELECT ls_tally_keys(vid) FROM pv WHERE ...         (a total: visitor keys)
 *
 * Each returns the number of keys it saw; the groups themselves are handed over in JavaScript
 * (`Tallies.run`).
 */
import type Database from 'better-sqlite3'

/** Figures of one key: page views, and engaged time and scroll of those that reported them. */
export interface Tallied {
  n: number
  engagedViews: number
  engagedMs: number
  writingMs: number
  scrollViews: number
  scrollSum: number
}

/** Figures of the visits with one value: visits, bounces (one page view), page views, duration (ms). */
export interface VisitsTallied {
  visits: number
  bounces: number
  pageviews: number
  durationMs: number
}

/** The visitor keys of one point of a series' page views, one per page view (count them with countDistinct). */
export type PointTallied = number[]

/** Adds one page view's engaged time and scroll depth, where it reported them, to `g` (not its count `n`). */
export function addEngaged(g: Tallied, engagedMs: number | null, writingMs: number | null, scroll: number | null): void {
  if (engagedMs !== null) {
    g.engagedViews++
    g.engagedMs += engagedMs
    g.writingMs += writingMs ?? 0
  }
  if (scroll !== null) {
    g.scrollViews++
    g.scrollSum += scroll
  }
}

/** Counts one visit (a bounce when it has one page view) in the figures of `value` in `m`. */
export function addVisit(m: Map<string, VisitsTallied>, value: string, pageviews: number, durationMs: number): void {
    let g = m.get(value)
    if (g === undefined) {
      g = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0 }
      m.set(value, g)
    }
    g.visits++
    if (pageviews === 1) g.bounces++
    g.pageviews += pageviews
    g.durationMs += durationMs
}

/** Groups by key (a dict id, a visit's text value, or a series' point), filled by the aggregate functions of one statement. */
export class Tally {
  readonly groups = new Map<number, Tallied>()
  readonly visits = new Map<string, VisitsTallied>()
  readonly points = new Map<number, PointTallied>()
  /** Keys (53-bit visitor keys) of `ls_tally_keys`, `n` of them. */
  keys = new Float64Array(1024)
  n = 0
  /** Series points: the first one's start and their length, ms. */
  constructor(private readonly from = 0, private readonly size = 1) {}

  private group(key: number): Tallied {
    let g = this.groups.get(key)
    if (g === undefined) {
      g = { n: 0, engagedViews: 0, engagedMs: 0, writingMs: 0, scrollViews: 0, scrollSum: 0 }
      this.groups.set(key, g)
    }
    return g
  }

  count(key: number | null): void {
    if (key !== null) this.group(key).n++
  }

  engaged(key: number | null, engagedMs: number | null, writingMs: number | null, scroll: number | null): void {
    if (key !== null) addEngaged(this.group(key), engagedMs, writingMs, scroll)
  }

  point(ts: number, vid: number): void {
    const i = Math.floor((ts - this.from) / this.size)
    let p = this.points.get(i)
    if (p === undefined) {
      p = []
      this.points.set(i, p)
    }
    p.push(vid)
  }

  key(k: number): void {
    if (this.n === this.keys.length) {
      const more = new Float64Array(this.keys.length * 2)
      more.set(this.keys)
      this.keys = more
    }
    this.keys[this.n++] = k
  }

  visit(value: string | null, pageviews: number, durationMs: number): void {
    if (value !== null) addVisit(this.visits, value, pageviews, durationMs)
  }
}

/** The aggregate functions on one connection; `run` gives them the tally a statement fills. */
export class Tallies {
  private current = new Tally()

  constructor(db: Database.Database) {
    // the accumulator stays null: the steps fill the tally `run` set (a statement runs to its
    // end before another starts on this connection, so they cannot mix)
    db.aggregate('ls_tally', {
      start: null,
      step: (_: null, key: number | null) => this.current.count(key),
      result: () => this.current.groups.size,
    })
    // better-sqlite3's types know one argument; SQLite passes as many as the step function declares
    const engaged = (_: null, key: number | null, e: number | null, w: number | null, s: number | null): void => this.current.engaged(key, e, w, s)
    db.aggregate('ls_tally_engaged', {
      start: null,
      step: engaged as unknown as (total: null, next: null) => void,
      result: () => this.current.groups.size,
    })
    const key = (_: null, k: number): void => this.current.key(k)
    db.aggregate('ls_tally_keys', {
      start: null,
      step: key as unknown as (total: null, next: null) => void,
      result: () => this.current.n,
    })
    const point = (_: null, ts: number, vid: number): void => this.current.point(ts, vid)
    db.aggregate('ls_tally_points', {
      start: null,
      step: point as unknown as (total: null, next: null) => void,
      result: () => this.current.points.size,
    })
    const visit = (_: null, value: string | null, pageviews: number, durationMs: number): void => this.current.visit(value, pageviews, durationMs)
    db.aggregate('ls_tally_visits', {
      start: null,
      step: visit as unknown as (total: null, next: null) => void,
      result: () => this.current.visits.size,
    })
  }

  /**
   * Runs `query` (a statement calling the functions above) and returns what they counted; series
   * points start at `from`, `size` ms apart.
   */
  run(query: () => unknown, from?: number, size?: number): Tally {
    const t = (this.current = new Tally(from, size))
    try {
      query()
    } finally {
      this.current = new Tally()
    }
    return t
  }
}
