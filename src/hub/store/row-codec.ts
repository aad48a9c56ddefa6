/**
 * Rows as one string, to hand a batch to the store's worker thread: structured clone pays for
 * every property name and value of every row (about 3.5 µs a row here), one flat string costs a
 * memcpy and a split (about 2 µs a row, most of it off the ingest thread).
 *
 * Fields are joined by NUL in COLUMNS order, every row ending with one; '' stands for null (no
 * stored string is empty: `packRows` refuses a batch holding an empty string or a NUL, and the
 * caller sends that rare batch by structured clone instead).
 */
import type { StoredEvent } from './types'

const SEP = '\0'
const FIELDS = 28

/** Whether `v` can travel in a packed batch: null, or a non-empty string without NUL. */
function ok(v: string | null): boolean {
  return v === null || (v !== '' && v.indexOf(SEP) === -1)
}

function s(v: string | null): string {
  return v === null ? '' : v
}

/** The batch as one string, or null when a field cannot be packed. */
export function packRows(rows: readonly StoredEvent[]): string | null {
  let t = ''
  for (let i = 0; i < rows.length; i++) {
    const e = rows[i] as StoredEvent
    if (!(ok(e.id) && ok(e.type) && ok(e.site) && ok(e.visitor) && ok(e.cid) && ok(e.host) && ok(e.path) &&
      ok(e.title) && ok(e.referrer) && ok(e.refHost) && ok(e.utmSource) && ok(e.utmMedium) && ok(e.utmCampaign) &&
      ok(e.browser) && ok(e.os) && ok(e.device) && ok(e.country) && ok(e.language) && ok(e.name) &&
      ok(e.data) && ok(e.instance) && ok(e.keyword) && ok(e.region) && ok(e.city) && ok(e.utmTerm)) || !Number.isSafeInteger(e.ts) || (e.screen !== null && !Number.isSafeInteger(e.screen))) {
      return null
    }
    t += e.id + SEP + e.ts + SEP + e.type + SEP + e.site + SEP + s(e.visitor) + SEP + s(e.cid) + SEP + s(e.host) + SEP +
      s(e.path) + SEP + s(e.title) + SEP + s(e.referrer) + SEP + s(e.refHost) + SEP + s(e.utmSource) + SEP +
      s(e.utmMedium) + SEP + s(e.utmCampaign) + SEP + s(e.browser) + SEP + s(e.os) + SEP + s(e.device) + SEP +
      (e.bot ? '1' : '') + SEP + s(e.country) + SEP + (e.screen === null ? '' : e.screen) + SEP +
      s(e.language) + SEP + s(e.name) + SEP + s(e.data) + SEP + s(e.instance) + SEP + s(e.keyword) + SEP +
      s(e.region) + SEP + s(e.city) + SEP + s(e.utmTerm) + SEP
  }
  return t
}

function n(v: string | undefined): string | null {
  return v === '' || v === undefined ? null : v
}

/** The rows `packRows` packed. */
export function unpackRows(text: string): StoredEvent[] {
  const f = text.split(SEP)
  const out: StoredEvent[] = []
  for (let i = 0; i + FIELDS <= f.length; i += FIELDS) {
    const screen = f[i + 19]
    out.push({
      id: f[i] as string, ts: Number(f[i + 1]), type: f[i + 2] as StoredEvent['type'], site: f[i + 3] as string,
      visitor: n(f[i + 4]), cid: n(f[i + 5]), host: n(f[i + 6]), path: n(f[i + 7]), title: n(f[i + 8]),
      referrer: n(f[i + 9]), refHost: n(f[i + 10]), utmSource: n(f[i + 11]), utmMedium: n(f[i + 12]),
      utmCampaign: n(f[i + 13]), browser: n(f[i + 14]), os: n(f[i + 15]), device: n(f[i + 16]), bot: f[i + 17] === '1',
      country: n(f[i + 18]), screen: screen === '' || screen === undefined ? null : Number(screen),
      language: n(f[i + 20]), name: n(f[i + 21]), data: n(f[i + 22]), instance: n(f[i + 23]), keyword: n(f[i + 24]),
      region: n(f[i + 25]), city: n(f[i + 26]), utmTerm: n(f[i + 27]),
    })
  }
  return out
}
