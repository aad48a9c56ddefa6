/** Builds `ClientInfo` for a request or WebSocket upgrade, once per request or connection. */
import type { IncomingMessage } from 'node:http'
import { clientIp, ipGroup, maskIp } from './client-ip'
import type { Locate } from './geo'
import type { ClientInfo } from './types'
import { parseAgent } from './user-agent'

// a BCP 47 tag as browsers send them (`en`, `fr-FR`, `zh-Hant-TW`), at most 35 characters
const LANGUAGE_TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8}){0,4}$/

/** The first tag of an `Accept-Language` header (`fr-FR,fr;q=0.9` → `fr-FR`); null for none or `*`. */
export function firstLanguage(header: string | undefined): string | null {
  if (header === undefined) return null
  const end = header.search(/[,;]/)
  const tag = (end === -1 ? header : header.slice(0, end)).trim()
  return tag.length <= 35 && LANGUAGE_TAG.test(tag) ? tag : null
}

export function describeClient(
  req: IncomingMessage,
  trusted: (ip: string) => boolean,
  authenticated: boolean,
  connection: string | null,
  locate: Locate,
): ClientInfo {
  const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted)
  const ua = req.headers['user-agent'] ?? ''
  const agent = parseAgent(ua)
  const place = locate(ip)
  return {
    connection,
    transport: connection === null ? 'http' : 'ws',
    ipMasked: maskIp(ip),
    ipRaw: ip,
    ipGroup: ipGroup(ip),
    userAgent: ua,
    browser: agent.browser,
    os: agent.os,
    device: agent.device,
    bot: agent.bot,
    country: place.country,
    region: place.region,
    city: place.city,
    language: firstLanguage(req.headers['accept-language']),
    authenticated,
  }
}
