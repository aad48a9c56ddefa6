/**
 * `POST /api/collect`: one event or a batch, as JSON or as `text/plain` (what `sendBeacon` and a
 * keepalive `fetch` send without a CORS preflight). Answers 202 `{ stored, duplicates, rejected }`
 * once committed; 400 when every event was refused; a frame-level fault answers its own status.
 * A rejection names its code in `X-Livestats-Rejected`, so a site owner can debug the snippet.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import type { HubConfig } from '../config'
import { readBody } from '../http/body'
import { fail, json } from '../http/reply'
import type { HubMetrics } from '../metrics'
import { TokenAuth } from '../api/auth'
import { describeClient } from './client'
import type { Ingest } from './pipeline'

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type, authorization',
  'access-control-max-age': '86400',
}

export function collectHttp(
  config: HubConfig,
  ingest: Ingest,
  metrics: HubMetrics,
  auth: TokenAuth,
  trusted: (ip: string) => boolean,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  return async (req, res, url) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS)
      res.end()
      return
    }
    try {
      if (req.method !== 'POST') throw new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED', 'Use POST to send events')
      const type = (req.headers['content-type'] ?? 'text/plain').split(';', 1)[0]?.trim().toLowerCase()
      if (type !== 'application/json' && type !== 'text/plain') throw new LivestatsError('LS_ERR_UNSUPPORTED_MEDIA_TYPE')
      const text = await readBody(req, config.limits.maxPayloadBytes)
      metrics.framesHttp++
      const token = TokenAuth.fromRequest(req, url)
      const client = describeClient(req, trusted, token !== null && auth.check(token), null)
      const { ack, items } = await ingest.handle(text, client)
      const headers: Record<string, string> = { ...CORS }
      const first = ack.rejected[0]
      if (first !== undefined) headers['x-livestats-rejected'] = first.code
      const all = ack.rejected.length === items
      json(res, all ? 400 : 202, ack, headers)
    } catch (err) {
      if (err instanceof LivestatsError) metrics.reject(err.code)
      else config.logger.error('livestats: collect failed', err)
      fail(res, err, CORS)
      if (err instanceof LivestatsError && err.code === 'LS_ERR_BODY_TOO_LARGE') req.resume()
    }
  }
}

