/**
 * `POST /api/collect`: one event or a batch, as JSON or as `text/plain` (what `sendBeacon` and a
 * keepalive `fetch` send without a CORS preflight). Answers 202 `{ stored, duplicates, rejected }`
 * once committed; 400 when every event was refused; a frame-level fault answers its own status.
 * A rejection names its code in `X-Livestats-Rejected`, and a cut field its JSON pointer in
 * `X-Livestats-Cut`, so a site owner can debug the snippet from the browser's network tab.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { LivestatsError } from '../../protocol/errors'
import type { Ack } from '../../protocol/messages'
import type { HubConfig } from '../config'
import { readBody } from '../http/body'
import { fail, json } from '../http/reply'
import type { HubMetrics } from '../metrics'
import { TokenAuth } from '../api/auth'
import { describeClient } from './client'
import type { Locate } from './geo'
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
  lang: string | undefined
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
  locate: Locate,
): (req: IncomingMessage, res: ServerResponse, url: URL) => void {
  // a keep-alive connection sends request after request with the same agent: describe it once
  const bySocket = new WeakMap<Socket, SocketClient>()
  function clientOf(req: IncomingMessage, url: URL): ClientInfo {
    const token = TokenAuth.fromRequest(req, url)
    const ua = req.headers['user-agent']
    const forwarded = req.headers['x-forwarded-for']
    const lang = req.headers['accept-language']
    const known = bySocket.get(req.socket)
    if (known !== undefined && known.ua === ua && known.token === token && known.forwarded === forwarded && known.lang === lang) {
      return known.client
    }
    const client = describeClient(req, trusted, token !== null && auth.check(token), null, locate)
    bySocket.set(req.socket, { ua, forwarded, lang, token, client })
    return client
  }

  function refuse(req: IncomingMessage, res: ServerResponse, err: unknown): void {
    if (err instanceof LivestatsError) metrics.reject(err.code)
    else config.logger.error('livestats: collect failed', err)
    fail(res, err, CORS)
    if (err instanceof LivestatsError && err.code === 'LS_ERR_BODY_TOO_LARGE') req.resume()
  }

  // callbacks rather than async/await: each await is a promise and a microtask per request
  return (req, res, url) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, CORS)
      res.end()
      return
    }
    if (req.method !== 'POST') return refuse(req, res, new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED', 'Use POST to send events'))
    const type = mediaType(req.headers['content-type'])
    if (type !== 'application/json' && type !== 'text/plain') return refuse(req, res, new LivestatsError('LS_ERR_UNSUPPORTED_MEDIA_TYPE'))
    readBody(req, config.limits.maxPayloadBytes, (bodyErr, text) => {
      if (bodyErr !== null) return refuse(req, res, bodyErr)
      metrics.framesHttp++
      let client: ClientInfo
      try {
        client = clientOf(req, url)
      } catch (err) {
        return refuse(req, res, err)
      }
      ingest.receive(text, client, (err, handled) => {
        if (handled === null) return refuse(req, res, err)
        try {
          reply(res, handled.ack, handled.items)
        } catch (thrown) {
          refuse(req, res, thrown)
        }
      })
    })
  }
}

/** The ack as `json()` would send it, without its header spread and JSON walk for the common case. */
function reply(res: ServerResponse, ack: Ack, items: number): void {
  const status = ack.rejected.length === items ? 400 : 202
  const first = ack.rejected[0]
  if (first !== undefined || ack.cut !== undefined) {
    const headers: Record<string, string> = { ...CORS }
    if (first !== undefined) headers['x-livestats-rejected'] = first.code
    const cut = ack.cut?.[0]
    // a pointer holds what the sender wrote in a prop key: keep the header to header-safe text
    if (cut !== undefined) headers['x-livestats-cut'] = cut.fields.join(', ').replace(/[^\x20-\x7e]/g, '?').slice(0, 200)
    json(res, status, ack, headers)
    return
  }
  const text = ackText(ack)
  // json()'s headers, then CORS, in the same order
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'POST, OPTIONS',
    'access-control-allow-headers': 'content-type, authorization',
    'access-control-max-age': '86400',
  })
  res.end(text)
}

/** `JSON.stringify(ack)` for an ack with nothing rejected: the same bytes (keys in the pipeline's order). */
export function ackText(ack: Ack): string {
  if (ack.rejected.length > 0 || ack.cut !== undefined) return JSON.stringify(ack)
  const tail = ack.seq !== undefined ? `,"seq":${ack.seq}` : ack.id !== undefined ? `,"id":${JSON.stringify(ack.id)}` : ''
  return `{"type":"ack","stored":${ack.stored},"duplicates":${ack.duplicates},"rejected":[]${tail}}`
}
