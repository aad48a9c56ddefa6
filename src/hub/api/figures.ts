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
