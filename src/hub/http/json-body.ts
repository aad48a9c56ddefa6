/**
 * The JSON body of an admin write (`POST /api/alerts`, ...). It must say `Content-Type:
 * application/json`: a page on another origin can send only `text/plain` and form types without a
 * CORS preflight, which the hub never grants, so a cross-site form cannot write.
 */
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import { readBody } from './body'

/** Admin bodies are small: a rule is well under 4 KiB. */
export const ADMIN_BODY_LIMIT = 16 * 1024

/**
 * Reads a JSON body of at most `limit` bytes. A body that does not parse is refused with
 * `invalid()` (default `LS_ERR_INVALID_JSON`), so a route can keep its own code for it.
 * @throws LivestatsError `LS_ERR_UNSUPPORTED_MEDIA_TYPE` (415) without `application/json`.
 */
export function readJson(
  req: IncomingMessage, limit = ADMIN_BODY_LIMIT, invalid = (): LivestatsError => new LivestatsError('LS_ERR_INVALID_JSON'),
): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    req.resume()
    return Promise.reject(new LivestatsError('LS_ERR_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'))
  }
  return new Promise((resolve, reject) => {
    readBody(req, limit, (err, text) => {
      if (err !== null) return reject(err instanceof LivestatsError ? err : new LivestatsError('LS_ERR_BAD_REQUEST'))
      try {
        resolve(JSON.parse(text))
      } catch {
        reject(invalid())
      }
    })
  })
}
