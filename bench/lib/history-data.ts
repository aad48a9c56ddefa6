/**
 * Realistic traffic for the query benchmark: visits of several page views (about 42 % bounces,
 * page views 5 s to a few minutes apart), thousands of pages and referrer hosts, UTM tags and
 * keywords on some visits, 60 countries, agents per visitor, custom events inside visits, bots, and
 * presence sessions (engaged time) for most visits. Seeded, so every fill writes the same data.
 *
 * `generate` yields batches in time order (each batch is 5 minutes of events, sorted), with the
 * sessions of the visits that ended before it: append the events, then the sessions.
 */
import type { PageStint, SessionRecord, StoredEvent } from '../../src/hub/store/types'
import { prng } from '../../test/helpers/prng'
export { prng }

/** Bump when the data changes: the bench's cached file is keyed by it. */
export const DATA_VERSION = 'h2'

const HOUR = 3_600_000
/** Events are handed over in slices this long: a session follows its visit's last page view by at most this plus a minute, as a closing tab's would. */
const SLICE = 5 * 60_000


/** Skewed pick (Zipf-like): the first values get most picks, as in real traffic. */
function skewed<T>(list: readonly T[], r: number): T {
  return list[Math.floor(list.length * r * r * r)] as T
}

const SECTIONS = ['blog', 'products', 'docs', 'help', 'news', 'category']
/** 5,000 pages: a few hot ones first (/, /pricing, ...), then section pages. */
export const PAGES: readonly string[] = [
  '/', '/pricing', '/features', '/signup', '/login', '/about', '/contact', '/cart', '/checkout', '/search',
  ...Array.from({ length: 4990 }, (_, i) => `/${SECTIONS[i % SECTIONS.length]}/item-${i}`),
]
export const REFERRERS: readonly string[] = [
  'google.com', 'bing.com', 'duckduckgo.com', 'news.ycombinator.com', 'reddit.com', 't.co', 'facebook.com',
  'linkedin.com', 'github.com', 'youtube.com',
  ...Array.from({ length: 1990 }, (_, i) => `site${i}.example`),
]
const SEARCH = new Set(['google.com', 'bing.com', 'duckduckgo.com'])
export const UTM_SOURCES: readonly string[] = ['newsletter', 'twitter', 'facebook', 'google', 'partner', ...Array.from({ length: 25 }, (_, i) => `source${i}`)]
const UTM_MEDIA = ['email', 'social', 'cpc', 'referral', 'display', 'affiliate']
const UTM_CAMPAIGNS = ['winter', 'spring', 'launch', 'black-friday', ...Array.from({ length: 46 }, (_, i) => `campaign-${i}`)]
export const KEYWORDS: readonly string[] = ['winter boots', 'analytics', 'self hosted analytics', ...Array.from({ length: 497 }, (_, i) => `keyword ${i}`)]
export const COUNTRIES: readonly string[] = [
  'US', 'DE', 'GB', 'FR', 'NL', 'IN', 'CA', 'BR', 'JP', 'ES', 'IT', 'PL', 'SE', 'AU', 'CH', 'AT', 'BE', 'DK', 'NO', 'FI',
  'IE', 'PT', 'CZ', 'RO', 'HU', 'GR', 'TR', 'RU', 'UA', 'MX', 'AR', 'CL', 'CO', 'PE', 'ZA', 'NG', 'EG', 'KE', 'MA', 'IL',
  'AE', 'SA', 'PK', 'BD', 'ID', 'MY', 'SG', 'TH', 'VN', 'PH', 'KR', 'CN', 'TW', 'HK', 'NZ', 'SK', 'SI', 'HR', 'BG', 'LT',
]
export const BROWSERS: readonly string[] = ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet', 'Opera']
export const OSES: readonly string[] = ['Windows', 'macOS', 'iOS', 'Android', 'Linux', 'ChromeOS']
export const DEVICES: readonly string[] = ['desktop', 'mobile', 'tablet']
export const EVENTS: readonly string[] = ['signup', 'add_to_cart', 'purchase', 'download', 'play_video', 'share',
  ...Array.from({ length: 14 }, (_, i) => `event_${i}`)]

interface Visitor {
  id: string
  country: string
  browser: string
  os: string
  device: string
}

export interface Batch {
  events: StoredEvent[]
  sessions: SessionRecord[]
}

export interface GenerateOptions {
  site: string
  /** Range of visit starts, ms. */
  start: number
  end: number
  /** About how many events to write (page views, custom events and bots): within 1 % for a month. */
  events: number
}

/**
 * Yields 5-minute batches over the whole range, about `events` events in all: page views are ~92 %, custom events ~5 %,
 * bots ~3 %. Visits start uniformly over [start, end); the visitor pool is sized so most visitors
 * come back a few times.
 */
export function* generate(o: GenerateOptions): Generator<Batch> {
  const rand = prng(42)
  // 2.81 events per visit, as the data below makes them (h1 assumed 2.9 and came out at 9.73 M of
  // 10 M); a visitor makes ~4 visits
  const visitsWanted = Math.ceil(o.events / 2.81)
  const pool = Math.max(100, Math.ceil(visitsWanted / 4))
  const visitors = new Map<number, Visitor>()
  const visitorOf = (n: number): Visitor => {
    let v = visitors.get(n)
    if (v === undefined) {
      const r = prng(n + 1)
      v = {
        id: `v${(n * 2654435761 >>> 0).toString(36)}${n.toString(36)}`.padEnd(22, 'x'),
        country: skewed(COUNTRIES, r()), browser: skewed(BROWSERS, r()), os: skewed(OSES, r()), device: skewed(DEVICES, r()),
      }
      visitors.set(n, v)
    }
    return v
  }
  const slices = Math.ceil((o.end - o.start) / SLICE)
  const perSlice = visitsWanted / slices
  let seq = 0
  let pending: StoredEvent[] = []
  let sessions: SessionRecord[] = []
  const event = (ts: number, type: 'pageview' | 'event', v: Visitor, path: string, extra: Partial<StoredEvent>): StoredEvent => ({
    id: (seq++).toString(36).padStart(12, '0'), ts, type, site: o.site, visitor: v.id, cid: `c${seq}`, host: o.site, path,
    title: null, referrer: null, refHost: null, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null,
    keyword: null, browser: v.browser, os: v.os, device: v.device, bot: false, country: v.country, region: null, city: null,
    screen: 1920, language: 'en', name: null, data: null, instance: null, ...extra,
  })
  for (let h = 0; h < slices; h++) {
    const sliceStart = o.start + h * SLICE
    // a daily rhythm: afternoons busier than nights
    const hourOfDay = Math.floor(sliceStart / HOUR) % 24
    const want = perSlice * (0.55 + 0.9 * Math.sin((Math.PI * hourOfDay) / 24) ** 2)
    const n = Math.floor(want) + (rand() < want % 1 ? 1 : 0)
    for (let k = 0; k < n; k++) {
      const v = visitorOf(Math.floor(pool * rand()))
      let ts = sliceStart + Math.floor(rand() * SLICE)
      const views = rand() < 0.42 ? 1 : 2 + Math.min(28, Math.floor(-Math.log(1 - rand()) * 2.2))
      const direct = rand() < 0.4
      const ref = direct ? null : skewed(REFERRERS, rand())
      const tagged = rand() < 0.08
      const source: Partial<StoredEvent> = {
        referrer: ref === null ? null : `https://${ref}/`, refHost: ref,
        utmSource: tagged ? skewed(UTM_SOURCES, rand()) : null, utmMedium: tagged ? skewed(UTM_MEDIA, rand()) : null,
        utmCampaign: tagged ? skewed(UTM_CAMPAIGNS, rand()) : null,
        utmTerm: tagged && rand() < 0.5 ? skewed(KEYWORDS, rand()) : null,
      }
      source.keyword = source.utmTerm ?? (ref !== null && SEARCH.has(ref) && rand() < 0.3 ? skewed(KEYWORDS, rand()) : null)
      const stints: PageStint[] = []
      let path = skewed(PAGES, rand())
      const first = ts
      for (let i = 0; i < views; i++) {
        pending.push(event(ts, 'pageview', v, path, i === 0 ? source : {}))
        const gap = 5_000 + Math.floor(-Math.log(1 - rand()) * 60_000)
        if (rand() < 0.055) {
          pending.push(event(ts + Math.floor(gap / 2), 'event', v, path, { name: skewed(EVENTS, rand()) }))
          }
        const reading = Math.floor(gap * 0.7)
        const writing = rand() < 0.1 ? Math.floor(gap * 0.2) : 0
        stints.push({ path, at: ts, viewed: true, readingMs: reading, writingMs: writing, idleMs: gap - reading - writing, hiddenMs: 0 })
        if (i < views - 1) {
          ts += gap
          path = skewed(PAGES, rand())
        }
      }
      // a bot now and then: one page view, never counted
      if (rand() < 0.09) {
        pending.push(event(first + 1, 'pageview', v, skewed(PAGES, rand()), { bot: true, browser: 'Googlebot', visitor: `bot${seq}` }))
      }
      // most tabs run the presence snippet: their time per page becomes engaged time
      if (rand() < 0.6) {
        const last = stints[stints.length - 1]
        const ended = (last?.at ?? ts) + 60_000
        sessions.push({
          id: `s${seq}`, site: o.site, visitor: v.id, started: first, ended, pageviews: views,
          readingMs: stints.reduce((a, s) => a + s.readingMs, 0), writingMs: stints.reduce((a, s) => a + s.writingMs, 0),
          idleMs: stints.reduce((a, s) => a + s.idleMs, 0), hiddenMs: 0, entry: stints[0]?.path ?? null, exit: last?.path ?? null, pages: stints,
        })
      }
    }
    // visits that start later begin after this slice: everything before its end is final
    const cut = sliceStart + SLICE
    pending.sort((a, b) => a.ts - b.ts)
    let i = 0
    while (i < pending.length && (pending[i] as StoredEvent).ts < cut) i++
    const final = h === slices - 1
    const ready = final ? pending : pending.slice(0, i)
    pending = final ? [] : pending.slice(i)
    const done = final ? sessions : sessions.filter((s) => s.ended - 60_000 < cut)
    sessions = final ? [] : sessions.filter((s) => s.ended - 60_000 >= cut)
    yield { events: ready, sessions: done }
  }
  if (pending.length > 0 || sessions.length > 0) yield { events: pending.sort((a, b) => a.ts - b.ts), sessions }
}
