/**
 * Funnels on PostgreSQL (what a funnel counts: goals/funnel.ts). One query gathers the page views
 * and custom events matching any step, each with its visit (a page view's visit holds it; a custom
 * event's is the one filters.ts names), for the visits that started in the range and match the
 * filters; `dense_rank` over (time, type, id) orders events of the same ms the same way in every
 * step. The walk itself is the shared FunnelWalk.
 */
import type { Pool } from 'pg'
import { FunnelWalk, type FunnelRows, type FunnelStepCount } from '../goals/funnel'
import { compilePage, type GoalSpec } from '../goals/spec'
import type { Filter } from './filters'
import { Params, propOf, visitWhere } from './postgres-filtered'
import { VISIT_GAP_MS } from './visits'

const GAP = VISIT_GAP_MS

/**
 * Counts per step. `paths` lists the site's stored paths a pattern step may match (exact steps
 * need none).
 */
export async function pgFunnel(pool: Pool, site: string, from: number, to: number, filters: readonly Filter[],
  steps: readonly GoalSpec[], paths: () => Promise<string[]>): Promise<FunnelStepCount[]> {
  const q = new Params()
  const parts: string[] = []
  for (const [k, step] of steps.entries()) {
    const visits = visitWhere(q, site, from, to, filters)
    if (step.kind === 'page') {
      const list = step.page.includes('*') ? (await paths()).filter(compilePage(step.page)) : [step.page]
      if (list.length === 0) continue
      parts.push(`SELECT ${k} AS step, v.id AS visit, e.visitor, e.ts, e.type, e.id FROM events e JOIN visits v ON v.site = e.site
        AND v.visitor = e.visitor AND e.ts >= v.start_ms AND e.ts <= v.end_ms
        WHERE e.site = ${q.p(site)} AND e.type = 'pageview' AND NOT e.bot AND e.ts >= ${q.p(from)} AND e.path = ANY(${q.p(list)}::text[])
        AND ${visits}`)
    } else {
      const props = Object.entries(step.props ?? {}).map(([key, value]) => `${propOf(q, 'e', key)} = ${q.p(value)}`)
      parts.push(`SELECT ${k} AS step, v.id AS visit, e.visitor, e.ts, e.type, e.id FROM events e JOIN LATERAL (SELECT * FROM visits x
        WHERE x.site = e.site AND x.visitor = e.visitor AND x.end_ms >= e.ts - ${GAP} AND x.start_ms <= e.ts + ${GAP}
        ORDER BY (x.start_ms <= e.ts) DESC, x.start_ms DESC LIMIT 1) v ON true
        WHERE e.site = ${q.p(site)} AND e.type = 'event' AND NOT e.bot AND e.visitor IS NOT NULL AND e.ts >= ${q.p(from - GAP)}
        AND e.name = ${q.p(step.event)} ${props.map((c) => `AND ${c}`).join(' ')} AND ${visits}`)
    }
  }
  const byStep = steps.map((): { visit: number[]; visitor: string[]; ts: number[]; seq: number[] } => ({ visit: [], visitor: [], ts: [], seq: [] }))
  if (parts.length > 0) {
    const r = await pool.query<{ step: number; visit: string; visitor: string; ts: string; seq: string }>(`SELECT step, visit, visitor, ts,
      dense_rank() OVER (ORDER BY ts, type, id) AS seq FROM (${parts.join(' UNION ALL ')}) s`, q.values)
    for (const row of r.rows) {
      const b = byStep[row.step]
      if (b === undefined) continue
      b.visit.push(Number(row.visit))
      b.visitor.push(row.visitor)
      b.ts.push(Number(row.ts))
      b.seq.push(Number(row.seq))
    }
  }
  const walk = new FunnelWalk(() => true)
  byStep.forEach((rows: FunnelRows, k) => (k === 0 ? walk.start(rows) : walk.advance(rows)))
  return walk.counts()
}
