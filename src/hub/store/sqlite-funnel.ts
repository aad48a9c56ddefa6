/**
 * Funnels on SQLite (what a funnel counts: goals/funnel.ts). A page step reads the page-view
 * postings (sqlite-postings.ts) of the dict ids of the paths its pattern matches (tested once per
 * distinct path, not per page view): packed columns that come back as typed arrays. An event step
 * reads the covering index `ce_name` (site, name, ts, visit, vid) as a few JSON arrays in one row;
 * its property matches are a condition on the same read (the range's matching `cp` rows, one
 * subquery), not a lookup per candidate. Which visits count (started in the range, matching the
 * filters) is a bitmap over visit ids, tested by the walk at step 1; "is" filters on country,
 * region, city, browser, OS and device take their visits from the visit postings
 * (sqlite-visit-postings.ts), others from the visits table.
 */
import type Database from 'better-sqlite3'
import type { GoalSpec } from '../goals/spec'
import { FunnelWalk, type FunnelRows, type FunnelStepCount } from '../goals/funnel'
import type { Filter } from './filters'
import type { Dict } from './sqlite-dict'
import type { FilteredQueries } from './sqlite-filtered'
import type { Postings } from './sqlite-postings'
import { StatementCache } from './sqlite-statements'
import { postedFilters, type VisitPostings } from './sqlite-visit-postings'
import type { SqliteVisits } from './sqlite-visits'
import { VISIT_GAP_MS } from './visits'

type Raw = [string, string, string, string]
const COLUMNS = 'json_group_array(visit), json_group_array(vid), json_group_array(ts), json_group_array(rid)'
const NONE = (): FunnelRows => ({ visit: [], visitor: [], ts: [], seq: [] })
/**
 * Visits up to which an event step after the first reads only their events (see rowsOf). The list
 * costs about 1.3 µs a visit (JSON, then SQLite's temporary index), a row read about 0.6 µs: on the
 * shop data, the events of 28,729 visits took 38-42 ms, all 57,458 Signup events 29-59 ms.
 */
const MAX_VISITS_READ = 10_000

function columns(r: Raw | undefined): FunnelRows {
  if (r === undefined) return NONE()
  return { visit: JSON.parse(r[0]) as number[], visitor: JSON.parse(r[1]) as number[], ts: JSON.parse(r[2]) as number[], seq: JSON.parse(r[3]) as number[] }
}

/** The smallest and largest visit id of a step's rows ([Infinity, −Infinity] for none). */
function visitBounds(rows: FunnelRows | readonly FunnelRows[]): [number, number] {
  let lo = Infinity
  let hi = -Infinity
  for (const r of Array.isArray(rows) ? (rows as readonly FunnelRows[]) : [rows as FunnelRows]) {
    for (let i = 0; i < r.visit.length; i++) {
      const v = r.visit[i] as number
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  }
  return [lo, hi]
}

/** Visit ids as a bitmap over [base, base + bits.length). */
function bitmap(ids: readonly number[]): (visit: number) => boolean {
  if (ids.length === 0) return () => false
  let min = Infinity
  let max = -Infinity
  for (const id of ids) {
    if (id < min) min = id
    if (id > max) max = id
  }
  const bits = new Uint8Array(max - min + 1)
  for (const id of ids) bits[id - min] = 1
  return (v) => bits[v - min] === 1
}

export class SqliteFunnels {
  private readonly edgeVisits: Database.Statement<[number, number, number, number, number], [string]>
  private readonly firstPv: Database.Statement<[number], [number]>
  private readonly cache: StatementCache

  constructor(db: Database.Database, private readonly dict: Dict, private readonly visits: SqliteVisits,
    private readonly filtered: FilteredQueries, private readonly postings: Postings, private readonly visitPostings: VisitPostings) {
    this.cache = new StatementCache(db, 100)
    this.edgeVisits = db.prepare<[number, number, number, number, number], [string]>(`SELECT json_group_array(id) FROM visits
      WHERE site = ? AND ((start >= ? AND start < ?) OR (start >= ? AND start <= ?))`).raw()
    this.firstPv = db.prepare<[number], [number]>('SELECT ts FROM pv WHERE site = ? ORDER BY ts LIMIT 1').raw()
  }

  /**
   * Counts per step for the visits of site id `site` that started in [from, to) and match `filters`.
   * `steps` are checked already (parseFunnelSteps). Pending postings must be flushed first.
   */
  run(site: number, from: number, to: number, filters: readonly Filter[], steps: readonly GoalSpec[]): FunnelStepCount[] {
    const span = this.visits.maxSpan(site)
    // a custom event belongs to a visit up to a gap before its first page view and after its last
    const lo = from - VISIT_GAP_MS
    const hi = to + span + VISIT_GAP_MS
    const cache = new Map<string, FunnelRows | FunnelRows[]>()
    // later steps need no condition on the visit: only visits that reached step 1 can reach them
    // rows read for the visits of an earlier step serve a later one: its visits are among them
    const rows = (step: GoalSpec, visits: readonly number[] | null): FunnelRows | FunnelRows[] => {
      const key = JSON.stringify(step)
      let r = cache.get(key)
      if (r === undefined) cache.set(key, (r = this.rowsOf(site, step, lo, hi, visits)))
      return r
    }
    const first = rows(steps[0] as GoalSpec, null)
    const walk = new FunnelWalk(this.allowed(site, from, to, filters, span, first))
    walk.start(first)
    for (const step of steps.slice(1)) walk.advance(rows(step, step.kind === 'event' ? walk.reached(MAX_VISITS_READ) : null))
    return walk.counts()
  }

  /**
   * The events matching a step in [lo, hi] (a page step's in parts: one per postings chunk). An
   * event step after the first reads only the events of `visits` (those still in the funnel, when
   * they are at most MAX_VISITS_READ; null: all): the rows come back as JSON, and a month of a
   * common event is hundreds of thousands of rows of which the walk keeps those of a few visits.
   */
  private rowsOf(site: number, step: GoalSpec, lo: number, hi: number, visits: readonly number[] | null): FunnelRows | FunnelRows[] {
    if (step.kind === 'page') {
      const ids = this.dict.pageIds(step.page)
      if (ids.length === 0) return NONE()
      // a prune leaves the chunks that straddle its cutoff: the pv rows say where the page views start
      const first = this.firstPv.get(site)?.[0]
      return this.postings.parts(site, ids, Math.max(lo, first ?? hi + 1), hi)
    }
    const name = this.dict.lookup(step.event)
    if (name === null) return NONE()
    let sql = `SELECT ${COLUMNS} FROM ce INDEXED BY ce_name WHERE site = ? AND name = ? AND visit IS NOT NULL AND ts >= ? AND ts <= ?`
    const params: (number | string)[] = [site, name, lo, hi]
    // each property: the event's rid among the range's cp rows with that key and value (a key or value never stored: none)
    for (const [k, v] of Object.entries(step.props ?? {})) {
      const key = this.dict.lookup(k)
      const value = this.dict.lookup(v)
      if (key === null || value === null) return NONE()
      sql += ' AND rid IN (SELECT rid FROM cp WHERE site = ? AND ts >= ? AND ts <= ? AND key = ? AND value = ?)'
      params.push(site, lo, hi, key, value)
    }
    if (visits !== null) {
      if (visits.length === 0) return NONE()
      sql += ' AND visit IN (SELECT value FROM json_each(?))'
      params.push(JSON.stringify(visits))
    }
    return columns(this.stmt(sql).raw().get(...params) as Raw | undefined)
  }

  private stmt(sql: string): Database.Statement {
    return this.cache.get(sql)
  }

  /**
   * Which visits count. Without filters: every visit except those near the range that started
   * outside it (before `from`, or from `to` on), whose page views or events may fall in the windows
   * the steps read. With "is" filters on posted dimensions only: those of them whose ids the visit
   * postings hold for each filter, among the ids of step 1's rows (`first`). With other filters:
   * the matching visits that started in the range (a bitmap of their ids, from the visits table).
   */
  private allowed(site: number, from: number, to: number, filters: readonly Filter[], span: number,
    first: FunnelRows | readonly FunnelRows[]): (visit: number) => boolean {
    const posted = filters.length > 0 ? postedFilters(filters) : null
    if (posted !== null) {
      // the visits with each value (visit postings) among the ids of step 1's rows, less the
      // visits near the range that started outside it, as without filters
      const [lo, hi] = visitBounds(first)
      if (lo > hi) return () => false
      const inRange = this.allowed(site, from, to, [], span, first)
      const each = posted.map((f) => {
        const bits = new Uint8Array(hi - lo + 1)
        for (const ids of this.visitPostings.ids(site, f.dim, f.value, lo, hi)) {
          for (let i = 0; i < ids.length; i++) {
            const v = ids[i] as number
            if (v >= lo && v <= hi) bits[v - lo] = 1
          }
        }
        return bits
      })
      return (v) => v >= lo && v <= hi && inRange(v) && each.every((bits) => bits[v - lo] === 1)
    }
    if (filters.length > 0) {
      const w = this.filtered.visitWhere(site, from, to, filters)
      const ids = JSON.parse((this.stmt(`SELECT json_group_array(id) FROM visits WHERE ${w.sql}`).raw().get(...w.params) as [string])[0]) as number[]
      return bitmap(ids)
    }
    const reach = span + 2 * VISIT_GAP_MS
    const out = JSON.parse(this.edgeVisits.get(site, from - reach, from, to, to + reach)?.[0] ?? '[]') as number[]
    if (out.length === 0) return () => true
    const edge = bitmap(out)
    return (v) => !edge(v)
  }
}
