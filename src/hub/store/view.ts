/**
 * `Store.view` as the separate calls compose it: what PostgreSQL answers, and SQLite when a view
 * has no filters (each figure then reads its rollups, a few rows each). Filtered SQLite reads the
 * fact rows once for the whole view instead (sqlite-view.ts).
 */
import type { HistoryView, Range, Store, ViewOptions } from './types'

/** The calls `view` stands for, run concurrently; each checks its own arguments as it does alone. */
export async function composeView(store: Store, range: Range, opts: ViewOptions): Promise<HistoryView> {
  const dims = [...new Set(opts.dims)]
  const [series, totals, visitTotals, bots, events, ...lists] = await Promise.all([
    store.series(range, opts.bucket), store.totals(range), store.visitTotals(range), store.bots(range),
    opts.events === true ? store.eventTop(range, 'event', opts.limit) : null,
    ...dims.map((d) => store.top(range, d, opts.limit)),
  ])
  return { series, totals, visitTotals, bots, tops: Object.fromEntries(dims.map((d, i) => [d, lists[i] ?? []])), events }
}
