/**
 * The figures `/api/totals` answers with, from the store's sums: page views and unique visitors
 * over the range, and the visits that started in it with their rates and means. A rate or mean
 * over no visits is null, not 0: "no visits" is not "no bounces".
 */
import type { VisitTotals } from '../store/types'

export interface Figures {
  pageviews: number
  visitors: number
  visits: number
  bounces: number
  /** Bounces / visits, 0–1. */
  bounceRate: number | null
  /** Page views of the visits / visits. */
  viewsPerVisit: number | null
  /** Mean visit duration (last page view − first), ms. */
  visitDurationMs: number | null
}

export function figures(t: { pageviews: number; visitors: number }, v: VisitTotals): Figures {
  const per = (n: number): number | null => (v.visits === 0 ? null : n / v.visits)
  return {
    pageviews: t.pageviews,
    visitors: t.visitors,
    visits: v.visits,
    bounces: v.bounces,
    bounceRate: per(v.bounces),
    viewsPerVisit: per(v.pageviews),
    visitDurationMs: per(v.durationMs),
  }
}

/** The figures that change reports on. */
const CHANGED: readonly (keyof Figures)[] = ['pageviews', 'visitors', 'visits', 'bounces', 'bounceRate', 'viewsPerVisit', 'visitDurationMs']

/**
 * Change from `prev` to `cur` in percent of `prev`, per figure ((cur − prev) / prev × 100; for
 * the bounce rate too, so 40% → 50% is +25). Null where there is nothing to compare with (prev 0 or null).
 */
export function change(cur: Figures, prev: Figures): Record<string, number | null> {
  const out: Record<string, number | null> = {}
  for (const k of CHANGED) {
    const a = cur[k]
    const b = prev[k]
    out[k] = a === null || b === null || b === 0 ? null : ((a - b) / b) * 100
  }
  return out
}
