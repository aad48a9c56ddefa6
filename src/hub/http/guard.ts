/**
 * Who may read, besides what the token decides. Two browser attacks reach a hub on the same machine
 * without knowing anything about it:
 * - DNS rebinding: a page on `attacker.example` whose name starts resolving to 127.0.0.1 reads the
 *   hub as its own origin, so CORS does not stop it; but its requests still say `Host: attacker.example`.
 * - Cross-site WebSocket hijacking: browsers apply no CORS to WebSockets, so a page on any origin can
 *   open `ws://127.0.0.1:3000/live`; but they always send its `Origin`.
 * The allowed names are built once from the config; a check parses one header.
 */
import type { IncomingMessage } from 'node:http'
import { isIP } from 'node:net'
import type { HubConfig } from '../config'
import { normalizeIp } from '../ingest/client-ip'

export interface ReadGuard {
  /**
   * True when `Host` is a loopback name (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`, any port),
   * the host of `publicUrl`, or in `allowedHosts`; or absent (only a non-browser client omits it).
   */
  hostAllowed(req: IncomingMessage): boolean
  /**
   * True when `Origin` is absent (not a browser), the hub's own origin (the request's scheme and
   * `Host`), the origin of `publicUrl`, or in `allowedOrigins`.
   */
  originAllowed(req: IncomingMessage): boolean
}

// characters a Host header may hold that would make `new URL('http://' + host)` read another host
const NOT_A_HOST = /[/?#@\\\s]/

/** The host name of a `Host` header as WHATWG URL spells it (lower case, IPv6 in brackets), or null. */
export function hostNameOf(host: string): string | null {
  if (host === '' || NOT_A_HOST.test(host)) return null
  try {
    return new URL(`http://${host}`).hostname
  } catch {
    return null
  }
}

/** Loopback names: what only this machine resolves (RFC 6761 reserves `localhost` and `*.localhost`). */
export function isLoopbackName(name: string): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true
  if (isIP(name) === 4) return name.startsWith('127.')
  if (name.startsWith('[') && name.endsWith(']')) {
    const ip = normalizeIp(name.slice(1, -1))
    // URL writes ::ffff:127.0.0.1 as ::ffff:7f00:1
    return ip === '::1' || ip.startsWith('127.') || /^::ffff:7f[0-9a-f]{0,2}:/.test(ip)
  }
  return false
}

export function readGuard(config: HubConfig, trusted: (ip: string) => boolean): ReadGuard {
  const hosts = new Set(config.allowedHosts)
  const origins = new Set(config.allowedOrigins)
  if (config.publicUrl !== null) {
    const u = new URL(config.publicUrl)
    hosts.add(u.hostname)
    origins.add(u.origin)
  }
  // a hub sees few distinct Host headers; remember the good ones (bounded: anyone can send any)
  const known = new Set<string>()

  function scheme(req: IncomingMessage): 'http' | 'https' {
    if ('encrypted' in req.socket && req.socket.encrypted === true) return 'https'
    const proto = req.headers['x-forwarded-proto']
    if (typeof proto !== 'string' || !trusted(normalizeIp(req.socket.remoteAddress ?? ''))) return 'http'
    return proto.split(',', 1)[0]?.trim().toLowerCase() === 'https' ? 'https' : 'http'
  }

  return {
    hostAllowed(req) {
      const host = req.headers.host
      if (host === undefined) return true
      if (known.has(host)) return true
      const name = hostNameOf(host)
      if (name === null || !(isLoopbackName(name) || hosts.has(name))) return false
      if (known.size < 64) known.add(host)
      return true
    },
    originAllowed(req) {
      const origin = req.headers.origin
      if (origin === undefined) return true
      let o: string
      try {
        o = new URL(origin).origin
      } catch {
        return false // "null" (sandboxed frames, file:) and anything unparsable
      }
      if (origins.has(o)) return true
      const host = req.headers.host
      if (host === undefined || hostNameOf(host) === null) return false
      try {
        return new URL(`${scheme(req)}://${host}`).origin === o
      } catch {
        return false
      }
    },
  }
}
