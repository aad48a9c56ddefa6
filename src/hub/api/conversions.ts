/**
 * `GET /api/conversions?site=&range…&filters…[&compare=previous|year]`: each goal's figures over a
 * range: unique converting visitors, conversions, and the rate (converting visitors / the range's
 * unique visitors under the same filters). With `compare` (issue 12.4, as `/api/totals`): a
 * `compare` object beside the range's visitors, and one beside each goal's figures, holding the
 * earlier period's figures and their `change` in percent.
 */
import type { Goal, GoalRegistry } from '../goals/registry'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import type { Range, Store } from '../store/types'
import * as p from './params'

/** A goal's figures over one period. */
export interface GoalPeriod {
  visitors: number
  conversions: number
  /** Converting visitors / the period's visitors, 0–1; null over no visitors (as the bounce rate). */
  rate: number | null
}

/** Change from `prev` to `cur` in percent of `prev`; null from 0 or null (the rule of `/api/totals`). */
export function pctChange(cur: number | null, prev: number | null): number | null {
  return cur === null || prev === null || prev === 0 ? null : ((cur - prev) / prev) * 100
}

/** Each goal's figures over `r`, in the order of `list`, and the period's unique visitors. */
async function period(store: Store, r: Range, list: readonly Goal[]): Promise<{ visitors: number; goals: GoalPeriod[] }> {
  const [figures, totals] = await Promise.all([store.conversions(r, list), store.totals(r)])
  return {
    visitors: totals.visitors,
    goals: list.map((_, i) => {
      const f = figures[i] ?? { visitors: 0, conversions: 0 }
      return { visitors: f.visitors, conversions: f.conversions, rate: totals.visitors === 0 ? null : f.visitors / totals.visitors }
    }),
  }
}

/** The earlier figures beside the current ones, with the change of each. */
function compared(cur: GoalPeriod, prev: GoalPeriod): GoalPeriod & { change: Record<keyof GoalPeriod, number | null> } {
  return {
    ...prev,
    change: {
      visitors: pctChange(cur.visitors, prev.visitors),
      conversions: pctChange(cur.conversions, prev.conversions),
      // relative, as the bounce rate's: 20% → 30% is +50
      rate: pctChange(cur.rate, prev.rate),
    },
  }
}

export function conversionRoutes(router: Router, store: Store, goals: GoalRegistry): void {
  // a share link reads its site's conversions (share/scope.ts)
  router.on('GET', '/api/conversions', async (_req, res, url) => {
    const r = p.range(url.searchParams)
    const c = p.compare(url.searchParams, r)
    const list = await goals.list(r.site)
    const [now, before] = await Promise.all([period(store, r, list), c === null ? null : period(store, c, list)])
    const body: Record<string, unknown> = {
      site: r.site, from: r.from, to: r.to, visitors: now.visitors,
      goals: list.map((g, i) => {
        const cur = now.goals[i] as GoalPeriod
        const prev = before?.goals[i]
        return prev === undefined ? { ...g, ...cur } : { ...g, ...cur, compare: compared(cur, prev) }
      }),
    }
    if (c !== null && before !== null) {
      body.compare = { from: c.from, to: c.to, visitors: before.visitors, change: { visitors: pctChange(now.visitors, before.visitors) } }
    }
    json(res, 200, body)
  }, { auth: true, share: 'site' })
}
