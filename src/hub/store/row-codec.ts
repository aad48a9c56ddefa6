/**
 * Rows as one string, to hand a batch to the store's worker thread: structured clone pays for
 * every property name and value of every row (about 3.5 µs a row here), one flat string costs a
 * memcpy and a split (about 2 µs a row, most of it off the ingest thread).
 *
 * Fields are joined by NUL in COLUMNS order, every row ending with one; '' stands for null (no
 * stored string is empty: `packRows` refuses a batch holding an empty string or a NUL, and the
 * caller sends that rare batch by structured clone instead). A field equal to the same field of the
 * row before is sent as SAME: a frame's rows share their client's visitor, agent, place, site and
 * often the time, so most of a row's bytes are not copied, flattened and split again (about 60 % of
 * a row of the WebSocket bench's stream), and the unpacked rows share those strings.
 */
import type { StoredEvent } from './types'

const SEP = '\0'
/** A field with the value of the same field in the row before (no stored string is exactly this). */
const SAME = '\x01'
const FIELDS = 28

/** Whether `v` can travel in a packed batch: null, or a non-empty string without NUL that is not SAME. */
function ok(v: string | null): boolean {
  return v === null || (v !== '' && v !== SAME && v.indexOf(SEP) === -1)
}

/** `v` as packed after a row whose field held `was`. */
function s(v: string | null, was: string | null): string {
  return v === null ? '' : v === was ? SAME : v
}

/** The row before the first: nothing to repeat. */
const NONE: StoredEvent = {
  id: '', ts: Number.NaN, type: 'pageview', site: '', visitor: null, cid: null, host: null, path: null, title: null,
  referrer: null, refHost: null, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null,
  browser: null, os: null, device: null, bot: false, country: null, region: null, city: null, screen: null,
  language: null, name: null, data: null, instance: null,
}

/** The batch as one string, or null when a field cannot be packed. */
export function packRows(rows: readonly StoredEvent[]): string | null {
  let t = ''
  let p = NONE
  for (let i = 0; i < rows.length; i++) {
    const e = rows[i] as StoredEvent
    if (!(ok(e.id) && ok(e.type) && ok(e.site) && ok(e.visitor) && ok(e.cid) && ok(e.host) && ok(e.path) &&
      ok(e.title) && ok(e.referrer) && ok(e.refHost) && ok(e.utmSource) && ok(e.utmMedium) && ok(e.utmCampaign) &&
      ok(e.browser) && ok(e.os) && ok(e.device) && ok(e.country) && ok(e.language) && ok(e.name) &&
      ok(e.data) && ok(e.instance) && ok(e.keyword) && ok(e.region) && ok(e.city) && ok(e.utmTerm)) || !Number.isSafeInteger(e.ts) || (e.screen !== null && !Number.isSafeInteger(e.screen))) {
      return null
    }
    t += e.id + SEP + (e.ts === p.ts ? SAME : e.ts) + SEP + s(e.type, p.type) + SEP + s(e.site, p.site) + SEP +
      s(e.visitor, p.visitor) + SEP + s(e.cid, p.cid) + SEP + s(e.host, p.host) + SEP + s(e.path, p.path) + SEP +
      s(e.title, p.title) + SEP + s(e.referrer, p.referrer) + SEP + s(e.refHost, p.refHost) + SEP +
      s(e.utmSource, p.utmSource) + SEP + s(e.utmMedium, p.utmMedium) + SEP + s(e.utmCampaign, p.utmCampaign) + SEP +
      s(e.browser, p.browser) + SEP + s(e.os, p.os) + SEP + s(e.device, p.device) + SEP + (e.bot ? '1' : '') + SEP +
      s(e.country, p.country) + SEP + (e.screen === null ? '' : e.screen) + SEP + s(e.language, p.language) + SEP +
      s(e.name, p.name) + SEP + s(e.data, p.data) + SEP + s(e.instance, p.instance) + SEP + s(e.keyword, p.keyword) + SEP +
      s(e.region, p.region) + SEP + s(e.city, p.city) + SEP + s(e.utmTerm, p.utmTerm) + SEP
    p = e
  }
  return t
}

/** A packed field after a row whose field held `was`. */
function n(v: string | undefined, was: string | null): string | null {
  return v === SAME ? was : v === '' || v === undefined ? null : v
}

/** The rows `packRows` packed. */
export function unpackRows(text: string): StoredEvent[] {
  const f = text.split(SEP)
  const out: StoredEvent[] = []
  let p = NONE
  for (let i = 0; i + FIELDS <= f.length; i += FIELDS) {
    const ts = f[i + 1]
    const screen = f[i + 19]
    const e: StoredEvent = {
      id: f[i] as string, ts: ts === SAME ? p.ts : Number(ts), type: n(f[i + 2], p.type) as StoredEvent['type'],
      site: n(f[i + 3], p.site) as string, visitor: n(f[i + 4], p.visitor), cid: n(f[i + 5], p.cid),
      host: n(f[i + 6], p.host), path: n(f[i + 7], p.path), title: n(f[i + 8], p.title),
      referrer: n(f[i + 9], p.referrer), refHost: n(f[i + 10], p.refHost), utmSource: n(f[i + 11], p.utmSource),
      utmMedium: n(f[i + 12], p.utmMedium), utmCampaign: n(f[i + 13], p.utmCampaign), browser: n(f[i + 14], p.browser),
      os: n(f[i + 15], p.os), device: n(f[i + 16], p.device), bot: f[i + 17] === '1', country: n(f[i + 18], p.country),
      screen: screen === '' || screen === undefined ? null : Number(screen), language: n(f[i + 20], p.language),
      name: n(f[i + 21], p.name), data: n(f[i + 22], p.data), instance: n(f[i + 23], p.instance),
      keyword: n(f[i + 24], p.keyword), region: n(f[i + 25], p.region), city: n(f[i + 26], p.city),
      utmTerm: n(f[i + 27], p.utmTerm),
    }
    out.push(e)
    p = e
  }
  return out
}
