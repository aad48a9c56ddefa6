/** Builders for presence tests and the fidelity bench: accepted events and client facts. */
import type { Accepted, ClientInfo } from '../../src/hub/ingest/types'
import type { LivestatsEvent } from '../../src/protocol/schema'
import type { PresenceState } from '../../src/protocol/limits'

let n = 0
const id = (): string => `ev${(++n).toString().padStart(10, '0')}`

/** Client facts; every client is 127.0.0.1 unless `extra.ipRaw` says otherwise (`ipGroup` follows it). */
export function client(connection: string | null, extra: Partial<ClientInfo> = {}): ClientInfo {
  return {
    ipGroup: extra.ipRaw ?? '127.0.0.1',
    connection, transport: connection === null ? 'http' : 'ws', ipMasked: '127.0.0.0', ipRaw: '127.0.0.1',
    userAgent: 'test', browser: null, os: null, device: null, bot: false, country: null, region: null, city: null, language: null, authenticated: false,
    ...extra,
  }
}

function item(event: LivestatsEvent, visitor: string | null, ts = Date.now()): Accepted {
  return { event, ts, visitor, row: null }
}

/** `ts`: the time the hub stamped on the stored page view (default now). */
export function pageview(site: string, cid: string, visitor: string, url: string, ts?: number): Accepted {
  return item({ type: 'pageview', id: id(), site, cid, url: `https://${site}${url}` }, visitor, ts)
}

export function presence(
  site: string, cid: string, visitor: string, state: PresenceState, url?: string, interval?: number,
): Accepted {
  const ev: LivestatsEvent = { type: 'presence', id: id(), site, cid, state }
  if (url !== undefined) ev.url = `https://${site}${url}`
  if (interval !== undefined) ev.interval = interval
  return item(ev, visitor)
}

export function leave(site: string, cid: string, visitor: string): Accepted {
  return item({ type: 'leave', id: id(), site, cid }, visitor)
}

export function cid(i: number): string {
  return `tab${i.toString().padStart(8, '0')}`
}

/** A fake clock: `clock.now()` for the presence, `clock.t += ms` to move it. */
export function fakeClock(start = Date.UTC(2025, 0, 1, 12, 0, 0)): { t: number; now: () => number } {
  const c = { t: start, now: (): number => c.t }
  return c
}
