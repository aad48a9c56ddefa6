/** Builds `ClientInfo` for a request or WebSocket upgrade, once per request or connection. */
import type { IncomingMessage } from 'node:http'
import { clientIp, maskIp } from './client-ip'
import type { Locate } from './geo'
import type { ClientInfo } from './types'
import { parseAgent } from './user-agent'

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
  return {
    connection,
    transport: connection === null ? 'http' : 'ws',
    ipMasked: maskIp(ip),
    ipRaw: ip,
    userAgent: ua,
    browser: agent.browser,
    os: agent.os,
    device: agent.device,
    bot: agent.bot,
    country: locate(ip).country,
    authenticated,
  }
}
