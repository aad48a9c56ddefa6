/**
 * Turns a validated event into the row the store writes. Everything about the client (IP,
 * agent, country, time) comes from `ClientInfo` and the hub clock, never from the payload.
 */
import type { LivestatsEvent, ProcessSideEvent } from '../../protocol/schema'
import type { StoredEvent } from '../store/types'
import type { ClientInfo } from './types'
import { bareHost, SiteHosts } from './site-hosts'
import { readableUrl, splitUrl, type UrlParts } from './url'
import { normaliseKeyword, queryValue, searchKeyword } from './keywords'

const DAY = 86_400_000
const NO_HOSTS = new SiteHosts()

interface PageParts {
  host: string | null
  path: string
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
  utmTerm: string | null
  /** `utm_term`, as a keyword (normaliseKeyword). */
  keyword: string | null
}

/** Host, page path (src/protocol/page.ts) and UTM parameters of a page URL. */
export function pageParts(url: string): PageParts {
  return partsOf(splitUrl(url))
}

function partsOf(u: UrlParts): PageParts {
  const q = u.query
  // most page URLs carry no campaign: no query scan beyond these two searches
  if (q === '' || (q.indexOf('utm_') === -1 && q.indexOf('ref=') === -1)) {
    return { host: u.host, path: u.path, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null }
  }
  const term = queryValue(q, 'utm_term=')
  return {
    host: u.host, path: u.path, utmSource: queryValue(q, 'utm_source=') ?? queryValue(q, 'ref='),
    utmMedium: queryValue(q, 'utm_medium='), utmCampaign: queryValue(q, 'utm_campaign='), utmTerm: term,
    keyword: normaliseKeyword(term),
  }
}

/**
 * The host (`hostKey`: no `www.`, no port) of an external referrer; null when there is none or it
 * is one of the site's own hosts (the page's host, the site name, hosts listed with it).
 */
export function referrerHost(referrer: string | undefined, pageHost: string | null, site = '', hosts = NO_HOSTS): string | null {
  if (!referrer) return null
  return externalKey(splitUrl(referrer).hostname, pageHost, site, hosts)
}

/** Both hosts as `splitUrl` gives them (parsed: lower case, punycode, no port). */
function externalKey(refHost: string | null, pageHost: string | null, site: string, hosts: SiteHosts): string | null {
  if (refHost === null || refHost === pageHost) return null
  const key = bareHost(refHost)
  return key === '' || hosts.internal(key, pageHost === null ? null : bareHost(pageHost), site) ? null : key
}

function blank(ts: number, type: StoredEvent['type'], id: string, site: string, client: ClientInfo): StoredEvent {
  return {
    id, ts, type, site, visitor: null, cid: null, host: null, path: null, title: null, referrer: null, refHost: null,
    utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null, browser: client.browser, os: client.os, device: client.device,
    bot: client.bot, country: client.country, region: client.region, city: client.city, screen: null, language: null, name: null, data: null,
    instance: null,
  }
}

function processRow(ev: ProcessSideEvent, now: number): StoredEvent {
  // a tracker that buffered while the hub was down sends old samples: keep their time, within a day
  const at = ev.at === undefined ? now : Math.min(now, Math.max(now - DAY, Math.floor(ev.at)))
  const { id, type, app, instance, at: _at, ...payload } = ev
  return {
    id, ts: at, type, site: app, visitor: null, cid: null, host: null, path: null, title: null, referrer: null,
    refHost: null, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null, browser: null, os: null, device: null, bot: false,
    country: null, region: null, city: null, screen: null, language: null, name: type === 'job' ? ev.name : null,
    data: JSON.stringify(payload), instance,
  }
}

/** The stored row for an event, or null for presence and leave (they live in memory only). */
export function toRow(
  ev: LivestatsEvent, ts: number, visitor: string | null, client: ClientInfo, hosts: SiteHosts = NO_HOSTS,
): StoredEvent | null {
  switch (ev.type) {
    case 'pageview': {
      const u = splitUrl(ev.url)
      const p = partsOf(u)
      const row = blank(ts, 'pageview', ev.id, ev.site, client)
      row.visitor = visitor
      row.cid = ev.cid ?? null
      row.host = p.host
      row.path = p.path
      row.title = ev.title ?? null
      // navigation within the site is no referrer, on any surface (top referrers, the feed)
      const r = ev.referrer ? splitUrl(ev.referrer) : null
      const refKey = r === null ? null : externalKey(r.hostname, u.hostname, ev.site, hosts)
      row.refHost = refKey
      row.referrer = refKey === null ? null : readableUrl(ev.referrer as string)
      row.keyword = p.keyword ?? (refKey === null ? null : searchKeyword(refKey, (r as UrlParts).query))
      row.utmSource = p.utmSource
      row.utmMedium = p.utmMedium
      row.utmCampaign = p.utmCampaign
      row.utmTerm = p.utmTerm
      row.screen = ev.screen ?? null
      row.language = ev.language ?? client.language
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
