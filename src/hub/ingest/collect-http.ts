/**
 * `POST /api/collect`: one event or a batch, as JSON or as `text/plain` (what `sendBeacon` and a
 * keepalive `fetch` send without a CORS preflight). Answers 202 `{ stored, duplicates, rejected }`
 * once committed; 400 when every event was refused; a frame-level fault answers its own status.
 * A rejection names its code in `X-Livestats-Rejected`, so a site owner can debug the snippet.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { LivestatsError } from '../../protocol/errors'
import type { HubConfig } from '../config'
import { readBody } from '../http/body'
import { fail, json } from '../http/reply'
import type { HubMetrics } from '../metrics'
import { TokenAuth } from '../api/auth'
import { describeClient } from './client'
import type { Ingest } from './pipeline'
import type { ClientInfo } from './types'

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'POST, OPTIONS',
  'access-control-allow-headers': 'content-type, authorization',
  'access-control-max-age': '86400',
}

/** The ClientInfo a keep-alive socket's last request got, and what it was derived from. */
interface SocketClient {
  ua: string | undefined
  forwarded: string | string[] | undefined
  token: string | null
  client: ClientInfo
}

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined || header === 'text/plain' || header === 'application/json') return header ?? 'text/plain'
  return header.split(';', 1)[0]?.trim().toLowerCase()
}

export function collectHttp(
  config: HubConfig,
  ingest: Ingest,
  metrics: HubMetrics,
  auth: TokenAuth,
  trusted: (ip: string) => boolean,
): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  // a keep-alive connection sends request after request with the same agent: describe it once
  const bySocket = new WeakMap<Socket, SocketClient>()
  function clientOf(req: IncomingMessage, url: URL): ClientInfo {
    const token = TokenAuth.fromRequest(req, url)
    const ua = req.headers['user-agent']
    const forwarded = req.headers['x-forwarded-for']
    const known = bySocket.get(req.socket)
    if (known !== undefined && known.ua === ua && known.token === token && known.forwarded === forwarded) return known.client
    const client = describeClient(req, trusted, token !== null && auth.check(token), null)
    bySocket.set(req.socket, { ua, forwarded, token, client })
    return client
  }

  return async (req, res, url) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS)
      res.end()
      return
    }
    try {
      if (req.method !== 'POST') throw new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED', 'Use POST to send events')
      const type = mediaType(req.headers['content-type'])
      if (type !== 'application/json' && type !== 'text/plain') throw new LivestatsError('LS_ERR_UNSUPPORTED_MEDIA_TYPE')
      const text = await readBody(req, config.limits.maxPayloadBytes)
      metrics.framesHttp++
      const { ack, items } = await ingest.handle(text, clientOf(req, url))
      const first = ack.rejected[0]
      json(res, ack.rejected.length === items ? 400 : 202, ack,
        first === undefined ? CORS : { ...CORS, 'x-livestats-rejected': first.code })
    } catch (err) {
      if (err instanceof LivestatsError) metrics.reject(err.code)
      else config.logger.error('livestats: collect failed', err)
      fail(res, err, CORS)
      if (err instanceof LivestatsError && err.code === 'LS_ERR_BODY_TOO_LARGE') req.resume()
    }
  }
}

