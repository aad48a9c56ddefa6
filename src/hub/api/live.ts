/**
 * Seed 002's `State::countStates()` over HTTP, for a cron job or another dashboard:
 * `GET /api/live?site=…` → `{ total, reading, writing, idle, hidden }` (total = reading + writing +
 * idle; `hidden` is the part of idle whose tabs are all in the background) and
 * `GET /api/live/pages?site=…` → `{ site, pages: [{ path, total, reading, writing, idle, hidden }] }`.
 */
import type { Router } from '../http/router'
import { json } from '../http/reply'
import type { Presence } from '../presence/types'
import * as p from './params'

export function liveRoutes(router: Router, presence: Presence): void {
  const read = { auth: true }
  const noStore = { 'cache-control': 'no-store' }
  router.on('GET', '/api/live', async (_req, res, url) => {
    const c = await presence.countStates(p.site(url.searchParams))
    json(res, 200, { total: c.total, reading: c.reading, writing: c.writing, idle: c.idle, hidden: c.hidden }, noStore)
  }, read)
  router.on('GET', '/api/live/pages', async (_req, res, url) => {
    const site = p.site(url.searchParams)
    json(res, 200, { site, pages: await presence.pages(site) }, noStore)
  }, read)
}
