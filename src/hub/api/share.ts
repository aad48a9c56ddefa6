/**
 * Share links and live badges (issue 15.5), admin routes (the hub token):
 * - `GET /api/shares[?site=]` → `{ shares: [{ id, site, label, created }] }`
 * - `POST /api/shares` `{ site, label? }` → 201 `{ id, site, label, created, token }` (the token once)
 * - `DELETE /api/shares?id=` → 204: the token reads nothing from now on
 * - `GET /api/badges` → `{ sites }`; `PUT /api/badges?site=` → 204 (on); `DELETE /api/badges?site=` → 204 (off)
 * and the public `GET /badge/<site>.svg` (see share/badge.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import { fail, json } from '../http/reply'
import { readJson } from '../http/json-body'
import type { Router } from '../http/router'
import { BADGE_MAX_AGE_S, type Badges } from '../share/badge'
import type { ShareTokens } from '../share/tokens'
import * as p from './params'

const noContent = (res: ServerResponse): void => {
  res.writeHead(204, { 'cache-control': 'no-store' }).end()
}

/** `revoked` is told the hash of a token just revoked (the hub closes the `/live` sockets it opened). */
export function shareRoutes(router: Router, shares: ShareTokens, badges: Badges, revoked: (hash: string) => void): void {
  const admin = { admin: true }
  router.on('GET', '/api/shares', (_req, res, url) => json(res, 200, { shares: shares.list(url.searchParams.get('site')) }), admin)
  router.on('POST', '/api/shares', async (req, res) => {
    const b = await readJson(req)
    const o = typeof b === 'object' && b !== null && !Array.isArray(b) ? b as Record<string, unknown> : {}
    const { share, token } = await shares.create(o.site, o.label)
    json(res, 201, { ...share, token })
  }, admin)
  router.on('DELETE', '/api/shares', async (_req, res, url) => {
    const id = url.searchParams.get('id')
    if (id === null || id === '') throw new LivestatsError('LS_ERR_BAD_QUERY', 'id is required')
    revoked(await shares.revoke(id))
    noContent(res)
  }, admin)
  router.on('GET', '/api/badges', (_req, res) => json(res, 200, { sites: badges.list() }), admin)
  router.on('PUT', '/api/badges', async (_req, res, url) => {
    await badges.enable(p.site(url.searchParams))
    noContent(res)
  }, admin)
  router.on('DELETE', '/api/badges', async (_req, res, url) => {
    await badges.disable(p.site(url.searchParams))
    noContent(res)
  }, admin)
}

/** `/badge/<site>.svg`: the site's name percent-encoded as one path segment. */
export function badgeSite(pathname: string): string | null {
  if (!pathname.startsWith('/badge/') || !pathname.endsWith('.svg')) return null
  const raw = pathname.slice('/badge/'.length, -'.svg'.length)
  if (raw === '' || raw.includes('/')) return null
  try {
    return decodeURIComponent(raw)
  } catch {
    return null
  }
}

/** Answers `GET|HEAD /badge/<site>.svg`. Public: no token, no Host check; a site not enabled is 404 LS_ERR_BADGE_OFF. */
export function serveBadge(req: IncomingMessage, res: ServerResponse, site: string, badges: Badges): void {
  badges.svg(site).then((svg) => {
    res.writeHead(200, {
      'content-type': 'image/svg+xml; charset=utf-8',
      'content-length': Buffer.byteLength(svg),
      'cache-control': `public, max-age=${BADGE_MAX_AGE_S}`,
      'x-content-type-options': 'nosniff',
      // opened on its own, the SVG runs nothing and loads nothing
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'access-control-allow-origin': '*',
    })
    res.end(req.method === 'HEAD' ? undefined : svg)
  }, (err: unknown) => fail(res, err, { 'cache-control': `public, max-age=${BADGE_MAX_AGE_S}` }))
}
