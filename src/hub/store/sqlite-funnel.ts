/**
 * Funnels on SQLite (what a funnel counts: goals/funnel.ts). Each step becomes one read of a
 * covering index: page steps read `pv_path` (site, path, ts, visit, vid) for the dict ids of the
 * paths the step's pattern matches (tested once per distinct path, not per page view), event
 * steps read `ce_name` (site, name, ts, visit, vid). A step's rows come back as a few JSON arrays
 * in one row, which is several times cheaper than a row object per page view (counting step 1's
 * distinct visits in SQL instead, and sending back only the visits that have step 2, measured
 * slower: count(DISTINCT) builds a temporary b-tree per column). Property matches read the
 * event's property rows (`cp`) only for the events that would otherwise reach the step.
 */
import type Database from 'better-sqlite3'
import type { EventGoalSpec, GoalSpec } from '../goals/spec'
import { FunnelWalk, type FunnelRows, type FunnelStepCount } from '../goals/funnel'
import type { Filter } from './filters'
import type { Dict } from './sqlite-dict'
import type { Cond, FilteredQueries } from './sqlite-filtered'
import type { SqliteVisits } from './sqlite-visits'
import { VISIT_GAP_MS } from './visits'

/** Covering indexes the step reads use (schema 14). */
export const FUNNEL_INDEXES = `
  CREATE INDEX pv_path ON pv (site, path, ts, visit, vid);
  CREATE INDEX ce_name ON ce (site, name, ts, visit, vid) WHERE visit IS NOT NULL;
`

type Raw = [string, string, string, string]
const COLUMNS = 'json_group_array(visit), json_group_array(vid), json_group_array(ts), json_group_array(rid)'
const ALL: Cond = { sql: '1', params: [] }
const NONE = (): FunnelRows => ({ visit: [], visitor: [], ts: [], seq: [] })

function columns(r: Raw | undefined): FunnelRows {
  if (r === undefined) return NONE()
  return { visit: JSON.parse(r[0]) as number[], visitor: JSON.parse(r[1]) as number[], ts: JSON.parse(r[2]) as number[], seq: JSON.parse(r[3]) as number[] }
}

export class SqliteFunnels {
  private readonly propCount: Database.Statement<[number, number, number, string], [number]>
  private readonly edgeVisits: Database.Statement<[number, number, number, number, number], [string]>
  private readonly cache = new Map<string, Database.Statement>()

  constructor(private readonly db: Database.Database, private readonly dict: Dict, private readonly visits: SqliteVisits,
    private readonly filtered: FilteredQueries) {
    // how many of the given (key, value) dict-id pairs one custom event has (its cp rows, issue 13.1)
    this.propCount = db.prepare<[number, number, number, string], [number]>(`SELECT count(*) FROM cp WHERE site = ? AND ts = ?
      AND rid = ? AND (key, value) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?))`).raw()
    this.edgeVisits = db.prepare<[number, number, number, number, number], [string]>(`SELECT json_group_array(id) FROM visits
      WHERE site = ? AND ((start >= ? AND start < ?) OR (start >= ? AND start <= ?))`).raw()
  }

  /**
   * Counts per step for the visits of site id `site` that started in [from, to) and match `filters`.
   * `steps` are checked already (parseFunnelSteps).
   */
  run(site: number, from: number, to: number, filters: readonly Filter[], steps: readonly GoalSpec[]): FunnelStepCount[] {
    const span = this.visits.maxSpan(site)
    // a custom event belongs to a visit up to a gap before its first page view and after its last
    const lo = from - VISIT_GAP_MS
    const hi = to + span + VISIT_GAP_MS
    const allowed = this.allowed(site, from, to, filters, span)
    const cache = new Map<string, FunnelRows>()
    // later steps need no condition on the visit: only visits that reached step 1 can reach them
    const later = (step: GoalSpec): FunnelRows => {
      const key = JSON.stringify(step)
      let rows = cache.get(key)
      if (rows === undefined) cache.set(key, (rows = this.rowsOf(site, step, lo, hi, ALL)))
      return rows
    }
    const walk = new FunnelWalk(() => true)
    const first = steps[0] as GoalSpec
    const rows = this.rowsOf(site, first, lo, hi, allowed)
    walk.start(rows, first.kind === 'event' && first.props !== undefined ? this.propsTest(site, first, rows) : undefined)
    for (const step of steps.slice(1)) {
      const rows = later(step)
      walk.advance(rows, step.kind === 'event' && step.props !== undefined ? this.propsTest(site, step, rows) : undefined)
    }
    return walk.counts()
  }

  /** The index read of a step: its table, and the condition and parameters that select its events; null when none can match. */
  private source(step: GoalSpec): { sql: string; key: number | string } | null {
    if (step.kind === 'page') {
      const ids = this.dict.pageIds(step.page)
      if (ids.length === 0) return null
      return { sql: 'pv INDEXED BY pv_path WHERE site = ? AND path IN (SELECT value FROM json_each(?))', key: JSON.stringify(ids) }
    }
    const id = this.dict.lookup(step.event)
    return id === null ? null : { sql: 'ce INDEXED BY ce_name WHERE site = ? AND name = ? AND visit IS NOT NULL', key: id }
  }

  /** The events matching a step in [lo, hi] of the visits `allowed` keeps. */
  private rowsOf(site: number, step: GoalSpec, lo: number, hi: number, allowed: Cond): FunnelRows {
    const src = this.source(step)
    if (src === null) return NONE()
    return columns(this.stmt(`SELECT ${COLUMNS} FROM ${src.sql} AND ts >= ? AND ts <= ? AND ${allowed.sql}`).raw()
      .get(site, src.key, lo, hi, ...allowed.params) as Raw | undefined)
  }

  private stmt(sql: string): Database.Statement {
    let st = this.cache.get(sql)
    if (st === undefined) {
      if (this.cache.size >= 100) this.cache.clear()
      this.cache.set(sql, (st = this.db.prepare(sql)))
    }
    return st
  }

  /**
   * Which visits count, as a condition on `visit`. With filters: the matching visits that started
   * in the range. Without: every visit except those near the range that started outside it (before
   * `from`, or from `to` on), whose page views or events may fall in the windows the steps read.
   */
  private allowed(site: number, from: number, to: number, filters: readonly Filter[], span: number): Cond {
    if (filters.length > 0) {
      const w = this.filtered.visitWhere(site, from, to, filters)
      return { sql: `visit IN (SELECT id FROM visits WHERE ${w.sql})`, params: w.params }
    }
    const reach = span + 2 * VISIT_GAP_MS
    const out = this.edgeVisits.get(site, from - reach, from, to, to + reach)?.[0] ?? '[]'
    return out === '[]' ? ALL : { sql: 'visit NOT IN (SELECT value FROM json_each(?))', params: [out] }
  }


  /**
   * For an event step with properties: whether a candidate event has every one, from its property
   * rows (`cp`); a key or value never stored matches no event.
   */
  private propsTest(site: number, step: EventGoalSpec, rows: FunnelRows): (i: number) => boolean {
    const pairs: [number, number][] = []
    for (const [k, v] of Object.entries(step.props ?? {})) {
      const key = this.dict.lookup(k)
      const value = this.dict.lookup(v)
      if (key === null || value === null) return () => false
      pairs.push([key, value])
    }
    const want = JSON.stringify(pairs)
    return (i) => (this.propCount.get(site, rows.ts[i] as number, rows.seq[i] as number, want)?.[0] ?? 0) === pairs.length
  }
}
