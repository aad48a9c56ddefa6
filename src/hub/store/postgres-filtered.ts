/**
 * Filtered queries on PostgreSQL (what a filter means: filters.ts). Unfiltered queries read the
 * rollups; these read the raw events and the visits table. A page view's visit is its visitor's
 * visit whose span holds it (a visitor's visits never overlap); a custom event's visit is found
 * as filters.ts says (the visit that started at or before it within a gap, else the one starting
 * within a gap after it). Values compare as text; `contains` lowers ASCII letters only.
 */
import type { Pool } from 'pg'
import type { Filter, FilterDimension } from './filters'
import type { EventDimension, EventRow, GoalFigures, SeriesPoint, TopRow, VisitDimension, VisitTotals } from './types'
import type { GoalSpec } from '../goals/spec'
import { NO_VALUE, VISIT_GAP_MS, isVisitDimension, listsNone } from './visits'

const GAP = VISIT_GAP_MS
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'
const LOWER = 'abcdefghijklmnopqrstuvwxyz'

/** Filters a page view or custom event answers with its own column. */
const OWN: Partial<Record<FilterDimension, string>> = {
  page: 'path', country: 'country', region: 'region', city: 'city', browser: 'browser', os: 'os', device: 'device',
}
/** visits columns of the visit-level dimensions and of the agent facts (the first page view's). */
const VISIT_COL: Record<VisitDimension | 'country' | 'region' | 'city' | 'browser' | 'os' | 'device', string> = {
  entry_page: 'entry', exit_page: 'exit', referrer: 'ref_host', utm_source: 'utm_source', utm_medium: 'utm_medium',
  utm_campaign: 'utm_campaign', utm_term: 'utm_term', keyword: 'keyword', country: 'country', region: 'region', city: 'city',
  browser: 'browser', os: 'os', device: 'device',
}
const PV_TOP: Readonly<Record<string, string>> = OWN as Record<string, string>

/** Builds parameterised SQL: `p(v)` adds a value and returns its placeholder. */
export class Params {
  readonly values: unknown[] = []
  p(v: unknown): string {
    this.values.push(v)
    return `$${this.values.length}`
  }
}

function text(q: Params, col: string, f: Filter): string {
  // `referrer=` (NO_VALUE): the visits without one; `referrer=!`: those with one
  if (f.value === NO_VALUE && f.op !== 'contains') return `${col} IS ${f.op === 'is' ? '' : 'NOT '}NULL`
  if (f.op === 'is') return `${col} = ${q.p(f.value)}`
  if (f.op === 'not') return `${col} IS DISTINCT FROM ${q.p(f.value)}`
  const lowered = f.value.replace(/[A-Z]/g, (c) => c.toLowerCase())
  return `strpos(translate(${col}, '${UPPER}', '${LOWER}'), ${q.p(lowered)}) > 0`
}

/** Property values a custom event's properties may hold (as text, the way SQLite's cp rows keep them). */
const SCALAR = `('string', 'number', 'boolean')`

/** A custom event `e`'s property `key` as text (null when absent), from its JSON `data`. */
export function propOf(q: Params, e: string, key: string): string {
  const k = q.p(key)
  return `(CASE WHEN jsonb_typeof(${e}.data::jsonb -> ${k}) IN ${SCALAR} THEN ${e}.data::jsonb ->> ${k} END)`
}

/** A custom event `e` matching an `event` (name) or `prop` filter. */
function eventCond(q: Params, e: string, f: Filter): string {
  return f.dim === 'prop' ? text(q, propOf(q, e, f.key), f) : text(q, `${e}.name`, f)
}

/** A custom event `c` attributed to visit `v` whose name (or property) matches `f`. */
function eventOf(q: Params, v: string, f: Filter): string {
  return `EXISTS (SELECT 1 FROM events c WHERE c.site = ${v}.site AND c.type = 'event' AND NOT c.bot AND c.visitor = ${v}.visitor
    AND c.ts >= ${v}.start_ms - ${GAP} AND c.ts <= ${v}.end_ms + ${GAP} AND ${eventCond(q, 'c', f)}
    AND (c.ts >= ${v}.start_ms OR NOT EXISTS (SELECT 1 FROM visits w WHERE w.site = c.site AND w.visitor = c.visitor
      AND w.start_ms <= c.ts AND w.end_ms >= c.ts - ${GAP})))`
}

/** Condition on visit `v` for one filter. */
function visitCond(q: Params, v: string, f: Filter): string {
  if (f.dim === 'page') {
    return `EXISTS (SELECT 1 FROM events p WHERE p.site = ${v}.site AND p.type = 'pageview' AND NOT p.bot
      AND p.visitor = ${v}.visitor AND p.ts >= ${v}.start_ms AND p.ts <= ${v}.end_ms AND ${text(q, 'p.path', f)})`
  }
  if (f.dim === 'event' || f.dim === 'prop') return eventOf(q, v, f)
  return text(q, `${v}.${VISIT_COL[f.dim]}`, f)
}

/** Counted page views `e` joined with their visit `v`. */
const PV_FROM = `events e JOIN visits v ON v.site = e.site AND v.visitor = e.visitor AND e.ts >= v.start_ms AND e.ts <= v.end_ms`

function pvWhere(q: Params, site: string, from: number, to: number, filters: readonly Filter[]): string {
  const parts = [`e.site = ${q.p(site)} AND e.type = 'pageview' AND NOT e.bot AND e.ts >= ${q.p(from)} AND e.ts < ${q.p(to)}`]
  for (const f of filters) {
    const own = f.dim === 'prop' ? undefined : OWN[f.dim]
    parts.push(own !== undefined ? text(q, `e.${own}`, f) : visitCond(q, 'v', f))
  }
  return parts.join(' AND ')
}

export function visitWhere(q: Params, site: string, from: number, to: number, filters: readonly Filter[]): string {
  const parts = [`v.site = ${q.p(site)} AND v.start_ms >= ${q.p(from)} AND v.start_ms < ${q.p(to)}`]
  for (const f of filters) parts.push(visitCond(q, 'v', f))
  return parts.join(' AND ')
}

/** Custom events `e` with their visit `v` (null columns when they fell in none). */
const CE_FROM = `events e LEFT JOIN LATERAL (SELECT * FROM visits x WHERE x.site = e.site AND x.visitor = e.visitor
  AND x.end_ms >= e.ts - ${GAP} AND x.start_ms <= e.ts + ${GAP} ORDER BY (x.start_ms <= e.ts) DESC, x.start_ms DESC LIMIT 1) v ON true`

function ceWhere(q: Params, site: string, from: number, to: number, filters: readonly Filter[]): string {
  const parts = [`e.site = ${q.p(site)} AND e.type = 'event' AND NOT e.bot AND e.visitor IS NOT NULL AND e.ts >= ${q.p(from)} AND e.ts < ${q.p(to)}`]
  for (const f of filters) {
    if (f.dim === 'event' || f.dim === 'prop') {
      parts.push(eventCond(q, 'e', f))
      continue
    }
    const own = OWN[f.dim]
    parts.push(own !== undefined ? text(q, `e.${own}`, f) : `(v.id IS NOT NULL AND ${visitCond(q, 'v', f)})`)
  }
  return parts.join(' AND ')
}

/** Sorted as the rollup lists are: most first, then by value (UTF-16 order, as JavaScript compares). */
function rank<T extends { value: string }>(rows: T[], n: (r: T) => number, limit: number): T[] {
  return rows.sort((a, b) => n(b) - n(a) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, limit)
}

export class PgFiltered {
  constructor(private readonly pool: Pool) {}

  /** Custom events per name, property key (`prop`) or one key's values (`prop:K`): events and unique visitors. */
  async eventTop(site: string, dim: EventDimension, from: number, to: number, limit: number, filters: readonly Filter[]): Promise<EventRow[]> {
    const q = new Params()
    const w = ceWhere(q, site, from, to, filters)
    let sql: string
    if (dim === 'event') {
      sql = `SELECT e.name AS value, count(*) AS events, count(DISTINCT e.visitor) AS visitors FROM ${CE_FROM}
        WHERE ${w} AND e.name IS NOT NULL GROUP BY e.name`
    } else if (dim === 'prop') {
      sql = `SELECT k.key AS value, count(*) AS events, count(DISTINCT e.visitor) AS visitors FROM ${CE_FROM}
        CROSS JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(e.data::jsonb) = 'object' THEN e.data::jsonb ELSE '{}'::jsonb END) k
        WHERE ${w} AND e.data IS NOT NULL AND jsonb_typeof(k.value) IN ${SCALAR} GROUP BY k.key`
    } else {
      const col = propOf(q, 'e', dim.slice(5))
      sql = `SELECT ${col} AS value, count(*) AS events, count(DISTINCT e.visitor) AS visitors FROM ${CE_FROM}
        WHERE ${w} AND e.data IS NOT NULL AND ${col} IS NOT NULL GROUP BY 1`
    }
    const r = await this.pool.query<EventRow>(sql, q.values)
    return rank(r.rows, (x) => x.events, limit)
  }

  /**
   * A goal's converting visitors and conversions in [from, to): a page goal's page views (its
   * pattern run over the distinct paths of the range's page rollups, then page views selected by
   * those paths), an event goal's custom events (by name and properties).
   */
  async conversion(site: string, from: number, to: number, filters: readonly Filter[], goal: GoalSpec, paths: readonly string[]): Promise<GoalFigures> {
    const q = new Params()
    let sql: string
    if (goal.kind === 'page') {
      if (paths.length === 0) return { visitors: 0, conversions: 0 }
      const w = pvWhere(q, site, from, to, filters)
      sql = `SELECT count(DISTINCT e.visitor) AS visitors, count(*) AS conversions FROM ${PV_FROM} WHERE ${w} AND e.path = ANY(${q.p(paths)}::text[])`
    } else {
      const parts = [ceWhere(q, site, from, to, filters), `e.name = ${q.p(goal.event)}`]
      for (const [key, value] of Object.entries(goal.props ?? {})) parts.push(`${propOf(q, 'e', key)} = ${q.p(value)}`)
      sql = `SELECT count(DISTINCT e.visitor) AS visitors, count(*) AS conversions FROM ${CE_FROM} WHERE ${parts.join(' AND ')}`
    }
    const r = await this.pool.query<GoalFigures>(sql, q.values)
    return { visitors: r.rows[0]?.visitors ?? 0, conversions: r.rows[0]?.conversions ?? 0 }
  }

  async totals(site: string, from: number, to: number, filters: readonly Filter[]): Promise<{ pageviews: number; visitors: number }> {
    const q = new Params()
    const w = pvWhere(q, site, from, to, filters)
    const r = await this.pool.query<{ n: number; u: number }>(`SELECT count(*) AS n, count(DISTINCT e.visitor) AS u FROM ${PV_FROM} WHERE ${w}`, q.values)
    return { pageviews: r.rows[0]?.n ?? 0, visitors: r.rows[0]?.u ?? 0 }
  }

  /** Fills `out` (zeroed points from `from`, `size` apart) with the filtered page views and visitors. */
  async series(site: string, from: number, size: number, out: SeriesPoint[], filters: readonly Filter[]): Promise<void> {
    const q = new Params()
    const w = pvWhere(q, site, from, from + out.length * size, filters)
    const r = await this.pool.query<{ i: number; n: number; u: number }>(`SELECT (e.ts - ${q.p(from)}) / ${q.p(size)} AS i,
      count(*) AS n, count(DISTINCT e.visitor) AS u FROM ${PV_FROM} WHERE ${w} GROUP BY 1`, q.values)
    for (const { i, n, u } of r.rows) {
      const p = out[i]
      if (p !== undefined) {
        p.pageviews = n
        p.visitors = u
      }
    }
  }

  async visitTotals(site: string, from: number, to: number, filters: readonly Filter[]): Promise<VisitTotals> {
    const q = new Params()
    const w = visitWhere(q, site, from, to, filters)
    const r = await this.pool.query<VisitTotals>(`SELECT count(*) AS visits, count(*) FILTER (WHERE v.pageviews = 1) AS bounces,
      coalesce(sum(v.pageviews), 0) AS pageviews, coalesce(sum(v.end_ms - v.start_ms), 0) AS "durationMs",
      count(*) FILTER (WHERE v.engaged_n > 0) AS "engagedVisits", coalesce(sum(v.engaged_ms), 0) AS "engagedMs",
      coalesce(sum(v.writing_ms), 0) AS "writingMs" FROM visits v WHERE ${w}`, q.values)
    const t = r.rows[0]
    return {
      visits: t?.visits ?? 0, bounces: t?.bounces ?? 0, pageviews: t?.pageviews ?? 0, durationMs: t?.durationMs ?? 0,
      engagedVisits: t?.engagedVisits ?? 0, engagedMs: t?.engagedMs ?? 0, writingMs: t?.writingMs ?? 0,
    }
  }

  async top(site: string, dim: string, from: number, to: number, limit: number, filters: readonly Filter[]): Promise<TopRow[]> {
    const q = new Params()
    if (isVisitDimension(dim)) {
      const col = listsNone(dim) ? `coalesce(v.${VISIT_COL[dim]}, '${NO_VALUE}')` : `v.${VISIT_COL[dim]}`
      const w = visitWhere(q, site, from, to, filters)
      const r = await this.pool.query<Required<Pick<TopRow, 'value' | 'pageviews' | 'visits' | 'bounces' | 'durationMs'>>>(
        `SELECT ${col} AS value, sum(v.pageviews) AS pageviews, count(*) AS visits, count(*) FILTER (WHERE v.pageviews = 1) AS bounces,
        sum(v.end_ms - v.start_ms) AS "durationMs" FROM visits v WHERE ${w} AND ${col} IS NOT NULL GROUP BY ${col}`, q.values)
      return rank(r.rows, (x) => x.visits, limit)
    }
    if (dim === 'event') {
      const w = ceWhere(q, site, from, to, filters)
      const r = await this.pool.query<TopRow>(`SELECT e.name AS value, count(*) AS pageviews FROM ${CE_FROM}
        WHERE ${w} AND e.name IS NOT NULL GROUP BY e.name`, q.values)
      return rank(r.rows, (x) => x.pageviews, limit)
    }
    const col = PV_TOP[dim]
    if (col === undefined) return []
    const w = pvWhere(q, site, from, to, filters)
    const more = dim === 'page'
      ? `, count(e.engaged_ms) AS "engagedViews", coalesce(sum(e.engaged_ms), 0) AS "engagedMs", coalesce(sum(e.writing_ms), 0) AS "writingMs",
        count(e.scroll) AS "scrollViews", coalesce(sum(e.scroll), 0) AS "scrollSum"`
      : ''
    const r = await this.pool.query<TopRow>(`SELECT e.${col} AS value, count(*) AS pageviews${more} FROM ${PV_FROM}
      WHERE ${w} AND e.${col} IS NOT NULL GROUP BY e.${col}`, q.values)
    const rows = r.rows.map((x) => {
      if (x.engagedViews === undefined) return x
      const { engagedViews, engagedMs, writingMs, scrollViews, scrollSum, ...row } = x
      return {
        ...row,
        ...(engagedViews > 0 && { engagedViews, engagedMs, writingMs }),
        ...(scrollViews !== undefined && scrollViews > 0 && { scrollViews, scrollSum }),
      }
    })
    return rank(rows, (x) => x.pageviews, limit)
  }
}
