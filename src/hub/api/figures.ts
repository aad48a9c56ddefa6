/**
 * The figures `/api/totals` answers with, from the store's sums: page views and unique visitors
 * over the range, and the visits that started in it with their rates and means. A rate or mean
 * over no visits is null, not 0: "no visits" is not "no bounces".
 */
import type { TopRow, VisitTotals } from '../store/types'

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
  /** Visits presence reported time for (a tab of theirs ran the snippet). */
  engagedVisits: number
  /** Mean engaged time (reading + writing) per such visit, ms. */
  engagedMs: number | null
  /** Share of the engaged time spent writing, 0–1. */
  writingShare: number | null
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
    engagedVisits: v.engagedVisits,
    engagedMs: v.engagedVisits === 0 ? null : v.engagedMs / v.engagedVisits,
    writingShare: v.engagedMs === 0 ? null : v.writingMs / v.engagedMs,
  }
}

/**
 * A top-list row as the API answers it: a page's summed engaged time becomes the mean per page view
 * presence reported on, and the writing share of it; its summed scroll depth the mean per page view
 * that reported one (`scrollDepth`, percent, with `scrollViews`).
 */
export function topRow(r: TopRow): Record<string, unknown> {
  const { scrollViews, scrollSum = 0, ...row } = r
  // scroll depth: the mean of the deepest points of the page views that reported one, percent
  const scroll = scrollViews === undefined || scrollViews === 0 ? {} : { scrollViews, scrollDepth: scrollSum / scrollViews }
  if (row.engagedViews === undefined) return { ...row, ...scroll }
  const { engagedViews, engagedMs = 0, writingMs = 0, ...rest } = row
  return { ...rest, engagedViews, engagedMs: engagedMs / engagedViews, writingShare: engagedMs === 0 ? null : writingMs / engagedMs, ...scroll }
}

/** The figures that change reports on. */
const CHANGED: readonly (keyof Figures)[] = [
  'pageviews', 'visitors', 'visits', 'bounces', 'bounceRate', 'viewsPerVisit', 'visitDurationMs', 'engagedMs', 'writingShare',
]

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
