/**
 * Seed 002's `State::countStates()` over HTTP, for a cron job or another dashboard:
 * `GET /api/live?site=…` → `{ total, reading, writing, idle, hidden }` (total = reading + writing +
 * idle; `hidden` is the part of idle whose tabs are all in the background) and
 * `GET /api/live/pages?site=…` → `{ site, pages: [{ path, total, reading, writing, idle, hidden }] }`.
 * Both carry `partial: true` while a cluster node answers with its own visitors only (Redis unreachable).
 */
import type { Router } from '../http/router'
import { json } from '../http/reply'
import type { Presence } from '../presence/types'
import * as p from './params'

export function liveRoutes(router: Router, presence: Presence): void {
  const read = { auth: true, share: 'site' } as const
  const noStore = { 'cache-control': 'no-store' }
  router.on('GET', '/api/live', async (_req, res, url) => {
    const c = await presence.countStates(p.site(url.searchParams))
    const body: Record<string, unknown> = { total: c.total, reading: c.reading, writing: c.writing, idle: c.idle, hidden: c.hidden }
    // a cluster node cut off from Redis counts its own visitors only, and says so
    if (presence.partial) body.partial = true
    json(res, 200, body, noStore)
  }, read)
  router.on('GET', '/api/live/pages', async (_req, res, url) => {
    const site = p.site(url.searchParams)
    const pages = await presence.pages(site)
    json(res, 200, presence.partial ? { site, pages, partial: true } : { site, pages }, noStore)
  }, read)
}
