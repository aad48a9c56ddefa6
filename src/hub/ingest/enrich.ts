/**
 * Turns a validated event into the row the store writes. Everything about the client (IP,
 * agent, country, time) comes from `ClientInfo` and the hub clock, never from the payload.
 */
import type { LivestatsEvent, ProcessSideEvent } from '../../protocol/schema'
import type { StoredEvent } from '../store/types'
import type { ClientInfo } from './types'

const DAY = 86_400_000

interface PageParts {
  host: string | null
  path: string
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
}

// Most URLs a tracker sends are `https://host/path?query`: lower-case DNS host, no port, no
// userinfo, nothing WHATWG URL would re-encode or resolve. Those are split by hand; anything else
// (ports, IPs, IDNs, `..` segments, odd characters) goes through `new URL`, which costs about 1 µs
// an event. The hand-split result is the same as URL's for every URL the pattern admits.
const SIMPLE = /^https?:\/\/((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*)(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?(?:\?([^#]*))?(?:#.*)?$/
// query characters URL keeps as they are (anything else would be percent-encoded by it)
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/

function simple(url: string): RegExpExecArray | null {
  if (url.length > 2048) return null
  const m = SIMPLE.exec(url)
  if (m === null) return null
  const host = m[1] as string
  const path = m[2]
  const query = m[3]
  if (host.startsWith('xn--') || host.includes('.xn--')) return null
  // dot segments, plain or percent-encoded, are resolved by URL
  if (path !== undefined && (path.includes('/.') || (path.includes('%') && /%2e/i.test(path)))) return null
  if (query !== undefined && !PLAIN_QUERY.test(query)) return null
  return m
}

function parts(host: string | null, path: string, q: URLSearchParams | null): PageParts {
  if (q === null) return { host, path, utmSource: null, utmMedium: null, utmCampaign: null }
  return { host, path, utmSource: q.get('utm_source') ?? q.get('ref') ?? null, utmMedium: q.get('utm_medium'), utmCampaign: q.get('utm_campaign') }
}

export function pageParts(url: string): PageParts {
  const m = simple(url)
  if (m !== null) {
    const query = m[3]
    const q = query !== undefined && query !== '' && (query.includes('utm_') || query.includes('ref='))
      ? new URLSearchParams(query) : null
    return parts(m[1] as string, m[2] || '/', q)
  }
  try {
    const u = new URL(url)
    return parts(u.host || null, u.pathname || '/', u.searchParams)
  } catch {
    // a relative or odd URL: keep its path part, drop the query
    const path = url.split(/[?#]/, 1)[0] || '/'
    return { host: null, path, utmSource: null, utmMedium: null, utmCampaign: null }
  }
}

/** Host of an external referrer; null when there is none or it is the page's own host. */
export function referrerHost(referrer: string | undefined, pageHost: string | null): string | null {
  if (!referrer) return null
  let host: string
  const m = simple(referrer)
  if (m !== null) host = m[1] as string
  else {
    try {
      host = new URL(referrer).host
    } catch {
      return null
    }
  }
  if (!host || host === pageHost) return null
  return host.startsWith('www.') ? host.slice(4) : host
}

function blank(ts: number, type: StoredEvent['type'], id: string, site: string, client: ClientInfo): StoredEvent {
  return {
    id, ts, type, site, visitor: null, cid: null, host: null, path: null, title: null, referrer: null, refHost: null,
    utmSource: null, utmMedium: null, utmCampaign: null, browser: client.browser, os: client.os, device: client.device,
    bot: client.bot, ip: client.ipMasked, country: client.country, screen: null, language: null, name: null, data: null,
    instance: null,
  }
}

function processRow(ev: ProcessSideEvent, now: number): StoredEvent {
  // a tracker that buffered while the hub was down sends old samples: keep their time, within a day
  const at = ev.at === undefined ? now : Math.min(now, Math.max(now - DAY, Math.floor(ev.at)))
  const { id, type, app, instance, at: _at, ...payload } = ev
  return {
    id, ts: at, type, site: app, visitor: null, cid: null, host: null, path: null, title: null, referrer: null,
    refHost: null, utmSource: null, utmMedium: null, utmCampaign: null, browser: null, os: null, device: null, bot: false,
    ip: null, country: null, screen: null, language: null, name: type === 'job' ? ev.name : null,
    data: JSON.stringify(payload), instance,
  }
}

/** The stored row for an event, or null for presence and leave (they live in memory only). */
export function toRow(ev: LivestatsEvent, ts: number, visitor: string | null, client: ClientInfo): StoredEvent | null {
  switch (ev.type) {
    case 'pageview': {
      const p = pageParts(ev.url)
      const row = blank(ts, 'pageview', ev.id, ev.site, client)
      row.visitor = visitor
      row.cid = ev.cid ?? null
      row.host = p.host
      row.path = p.path
      row.title = ev.title ?? null
      row.referrer = ev.referrer || null
      row.refHost = referrerHost(ev.referrer, p.host)
      row.utmSource = p.utmSource
      row.utmMedium = p.utmMedium
      row.utmCampaign = p.utmCampaign
      row.screen = ev.screen ?? null
      row.language = ev.language ?? null
      return row
    }
    case 'event': {
      const row = blank(ts, 'event', ev.id, ev.site, client)
      row.visitor = visitor
      row.cid = ev.cid ?? null
      if (ev.url !== undefined) {
        const p = pageParts(ev.url)
        row.host = p.host
        row.path = p.path
      }
      row.name = ev.name
      row.data = ev.props === undefined ? null : JSON.stringify(ev.props)
      return row
    }
    case 'presence':
    case 'leave':
      return null
    default:
      return processRow(ev, ts)
  }
}
