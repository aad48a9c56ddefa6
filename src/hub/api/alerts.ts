/**
 * The alert API (issue 15.4, docs/alerts.md), admin routes (the hub token):
 * - `GET /api/alerts` → `{ rules: [rule + firing], settings }`; `POST /api/alerts` (a rule) → 201 the rule
 * - `GET|PUT|DELETE /api/alerts?id=` one rule (PUT sends the fields to change; DELETE → 204)
 * - `GET /api/alerts/deliveries[?rule=&limit=]` → `{ deliveries }`, newest first
 */
import { json } from '../http/reply'
import { readJson } from '../http/json-body'
import type { Router } from '../http/router'
import type { AlertEngine, AlertSettings } from '../alerts/engine'
import { ruleView, type AlertRule } from '../alerts/rules'
import { LivestatsError } from '../../protocol/errors'
import * as p from './params'

function id(q: URLSearchParams): string {
  const v = q.get('id')
  if (v === null || v === '') throw new LivestatsError('LS_ERR_BAD_QUERY', 'id is required')
  return v
}

export function alertRoutes(router: Router, engine: AlertEngine, settings: AlertSettings): void {
  const admin = { admin: true }
  const view = (r: AlertRule): Record<string, unknown> => ({ ...ruleView(r), firing: engine.firing(r.id) })
  router.on('GET', '/api/alerts', (_req, res, url) => {
    if (url.searchParams.has('id')) return json(res, 200, view(engine.get(id(url.searchParams))))
    json(res, 200, { rules: engine.list().map(view), settings: { intervalMs: settings.intervalMs, attempts: settings.attempts } })
  }, admin)
  router.on('POST', '/api/alerts', async (req, res) => json(res, 201, view(await engine.create(await readJson(req)))), admin)
  router.on('PUT', '/api/alerts', async (req, res, url) => {
    const rid = id(url.searchParams)
    engine.get(rid)
    json(res, 200, view(await engine.update(rid, await readJson(req))))
  }, admin)
  router.on('DELETE', '/api/alerts', async (_req, res, url) => {
    await engine.remove(id(url.searchParams))
    res.writeHead(204, { 'cache-control': 'no-store' }).end()
  }, admin)
  router.on('GET', '/api/alerts/deliveries', (_req, res, url) => {
    const q = url.searchParams
    json(res, 200, { deliveries: engine.deliveries.list(p.limit(q, 50, 1000), q.get('rule')) })
  }, admin)
}
