/**
 * What a share link's token may do (issue 15.5): GET (and HEAD) on routes marked for it, and on a
 * site route only with `?site=` naming its site, once. Everything else (another site, no site, a
 * write, an admin route, a route nobody marked) is LS_ERR_SHARE_FORBIDDEN: a new route is closed to
 * share links until it says otherwise.
 */
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import type { RouteAccess } from '../http/router'

export function shareRefusal(req: IncomingMessage, url: URL, access: RouteAccess, site: string): LivestatsError | null {
  const m = req.method
  if (access.share === null || (m !== 'GET' && m !== 'HEAD')) return new LivestatsError('LS_ERR_SHARE_FORBIDDEN')
  if (access.share === 'site') {
    const asked = url.searchParams.getAll('site')
    if (asked.length !== 1 || asked[0] !== site) return new LivestatsError('LS_ERR_SHARE_FORBIDDEN', `This share link reads ${site} alone: add ?site= with it`)
  }
  return null
}
