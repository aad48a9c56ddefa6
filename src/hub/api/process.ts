/**
 * `GET /api/processes?range=1h[&app=]` → `{ from, to, processes: [ProcessSeries…] }`: the
 * per-process minute series folded by `ProcessSeriesStore` (src/hub/process/series.ts).
 */
import { LivestatsError } from '../../protocol/errors'
import type { Logger } from '../config'
import type { Gauge } from '../metrics'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import type { Ingest } from '../ingest/pipeline'
import { KEEP_MINUTES, MINUTE } from '../process/buckets'
import { ProcessSeriesStore } from '../process/series'
import { METRICS_FRESH_MS, serviceGauges } from '../process/prometheus'
import { foldHistory, historyRange } from '../process/history'
import type { Store } from '../store/types'

export { ProcessSeriesStore, type ProcessPoint, type ProcessSeries } from '../process/series'
export type { HistoryPoint, ProcessHistory } from '../process/history'

function rangeOf(q: URLSearchParams, now: number): { from: number; to: number } {
  const r = q.get('range') ?? '1h'
  const m = /^(\d{1,4})([mh])$/.exec(r)
  if (m === null) throw new LivestatsError('LS_ERR_BAD_QUERY', `range must look like 15m or 1h (at most 24h), got "${r}"`)
  const span = Number(m[1]) * (m[2] === 'h' ? 3_600_000 : MINUTE)
  return { from: now - Math.min(span, KEEP_MINUTES * MINUTE), to: now + 1 }
}

/**
 * Adds the process-series listener to ingest and `GET /api/processes` to the router.
 * The listener goes first: presence must find a sample's rates (`sampleRates`) when it sees the sample.
 * It never refuses an event, so it cannot hide one from the listeners after it.
 * @example
 * wireProcessSeries(hub) // in hub.ts, after wireLive(this)
 */
export function wireProcessSeries(hub: {
  router: Router
  ingest: Ingest
  store: Store
  config: { logger: Logger; limits: { maxJobNames: number; maxHttpRoutes: number } }
  gauges: (() => Gauge[])[]
  starters: (() => Promise<void> | void)[]
  closers: (() => Promise<void> | void)[]
}): ProcessSeriesStore {
  const store = new ProcessSeriesStore(hub.store, hub.config.logger, hub.config.limits.maxJobNames, hub.config.limits.maxHttpRoutes)
  hub.gauges.push(() => [{
    name: 'livestats_job_names_folded_total', type: 'counter',
    help: 'Job events counted as "(other)" because their process already had limits.maxJobNames job names.',
    samples: [{ value: store.foldedJobs }],
  }, {
    name: 'livestats_http_routes_folded_total', type: 'counter',
    help: 'HTTP route entries counted as "(other)" because their process already had limits.maxHttpRoutes routes.',
    samples: [{ value: store.foldedRoutes }],
  }, ...serviceGauges(store.recent(Date.now() - METRICS_FRESH_MS))])
  hub.ingest.listeners.unshift(store)
  hub.starters.push(() => store.load())
  hub.closers.push(() => store.close())
  hub.router.on('GET', '/api/processes', (_req, res, url) => {
    const now = Date.now()
    const { from, to } = rangeOf(url.searchParams, now)
    json(res, 200, { from, to, processes: store.query(from, to, url.searchParams.get('app')) })
  }, { auth: true })
  // issue 15.2: 1 h, 24 h or 7 d of stored minutes, in steps of 1, 5 or 60 minutes
  hub.router.on('GET', '/api/processes/history', async (_req, res, url) => {
    const now = Date.now()
    const { range, from, to, step } = historyRange(url.searchParams.get('range'), now)
    await store.persist()
    const by = url.searchParams.get('by') ?? 'instance'
    if (by !== 'instance' && by !== 'app') throw new LivestatsError('LS_ERR_BAD_QUERY', `by must be instance or app, got "${by}"`)
    const rows = await hub.store.processMinutes(from, to)
    json(res, 200, { range, from, to, step, by, processes: foldHistory(rows, step, now, url.searchParams.get('app'), by) })
  }, { auth: true })
  return store
}

