/**
 * Goal definitions: `GET /api/goals?site=` lists a site's goals, `POST /api/goals` (JSON body
 * `{ site, name?, page }` or `{ site, name?, event, props? }`) makes one and answers it (201),
 * `DELETE /api/goals?site=&id=` removes one (204); their figures are `/api/conversions`
 * (conversions.ts). Every method passes the read check (token, or on a hub without one a `Host`
 * naming the hub); a write from a browser page must also come from an allowed `Origin` and be
 * `application/json` (which a cross-site form cannot send without a preflight the hub never grants).
 */
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import type { GoalRegistry } from '../goals/registry'
import { readJson } from '../http/json-body'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import * as p from './params'

/** Largest goal body, bytes. */
const MAX_BODY = 16 * 1024

/** Refuses a write that a browser page on another origin could send, or that is not JSON. */
export function writeRefusal(req: IncomingMessage, originAllowed: (req: IncomingMessage) => boolean): LivestatsError | null {
  if (!originAllowed(req)) return new LivestatsError('LS_ERR_ORIGIN_FORBIDDEN')
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase()
  if (req.method === 'POST' && type !== 'application/json') {
    return new LivestatsError('LS_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json')
  }
  return null
}

export function goalRoutes(router: Router, goals: GoalRegistry, originAllowed: (req: IncomingMessage) => boolean): void {
  // a share link reads its site's goals (GET only: share/scope.ts refuses its writes)
  const read = { auth: true, share: 'site' } as const
  router.on('GET', '/api/goals', async (_req, res, url) => {
    const site = p.site(url.searchParams)
    json(res, 200, { site, goals: await goals.list(site) })
  }, read)

  router.on('POST', '/api/goals', async (req, res) => {
    const no = writeRefusal(req, originAllowed)
    if (no !== null) throw no
    const input = await readJson(req, MAX_BODY, () => new LivestatsError('LS_ERR_INVALID_GOAL', 'the body is not JSON'))
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new LivestatsError('LS_ERR_INVALID_GOAL', 'a goal is a JSON object')
    const site = (input as { site?: unknown }).site
    if (typeof site !== 'string' || site === '' || site.length > 253) throw new LivestatsError('LS_ERR_INVALID_GOAL', '`site` is required')
    json(res, 201, await goals.create(site, input))
  }, read)

  router.on('DELETE', '/api/goals', async (req, res, url) => {
    const no = writeRefusal(req, originAllowed)
    if (no !== null) throw no
    const site = p.site(url.searchParams)
    const id = url.searchParams.get('id') ?? ''
    if (!(await goals.remove(site, id))) throw new LivestatsError('LS_ERR_NOT_FOUND', `site ${site} has no goal ${id}`)
    res.writeHead(204, { 'cache-control': 'no-store' })
    res.end()
  }, read)
}
