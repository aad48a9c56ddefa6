/**
 * Unfiltered top lists counted column-wise (src/hub/store/sqlite-col-top.ts, `columnTops: 'all'`, every dimension) against
 * the rollup path (`columnTops: false`) on one real SQLite file: random traffic on two sites with
 * late page views into closed hours (visits joined, bridged and given a new source), engaged
 * sessions with scroll (some page views reported twice), values that tie and values outside the
 * Basic Multilingual Plane (UTF-8 order), ragged ranges including the open hour, limits 1, 3, 10
 * and 100, every dimension; then a prune at an unaligned bound, with ranges reaching before it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSqliteStore, type SqliteStore } from '../src/hub/store/sqlite'
import { compareUtf8 } from '../src/hub/store/sqlite-col-top'
import type { Dimension, SessionRecord, StoredEvent, TopRow } from '../src/hub/store/types'
import { pageview } from './helpers/store-contract'
import { prng } from './helpers/prng'
import { fileRows, tempDbFile } from './helpers/sqlite-file'

const MIN = 60_000
const HOUR = 3_600_000
const T = Date.UTC(2025, 0, 15, 0, 0, 0)
const SITES = ['a.example', 'b.example']
const DIMS: Dimension[] = ['page', 'country', 'region', 'city', 'browser', 'os', 'device', 'event', 'referrer', 'entry_page', 'exit_page',
  'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword']
const LIMITS = [1, 3, 10, 100]
// few values, so counts tie; some outside the BMP or in U+E000-FFFF, where UTF-16 and UTF-8 order differ
const PATHS = ['/', '/a', '/b', '/\u{1F600}', '/\uFFFD', '/\uE000x', '/é', ...Array.from({ length: 30 }, (_, i) => `/p${i}`)]
const REFS = ['google.com', 'bing.com', '\u{1F600}.example', '\uFFFD.example', 'x.example']

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T
}

/**
 * `hours` hours of events from `start`, in time order except that about one in `lateEvery` goes
 * back up to five hours; visitors from a pool of 300, some sources, campaigns and keywords, places,
 * agents, custom events and bots.
 */
function traffic(seed: number, start: number, hours: number, lateEvery = 20): StoredEvent[] {
  const r = prng(seed)
  const out: StoredEvent[] = []
  let ts = start
  while (ts < start + hours * HOUR) {
    ts += Math.floor(r() * 90_000)
    const late = r() * lateEvery < 1 ? Math.floor(r() * 5 * HOUR) : 0
    const place = pick(r, [['DE', 'Bavaria', 'Munich'], ['NL', 'Utrecht', 'Utrecht'], ['US', null, null], [null, null, null], ['\u{1F1F3}', '\uFFFD', '\u{1F600}']] as const)
    const src = r() < 0.3
    out.push(pageview({
      ts: Math.max(start, ts - late), site: pick(r, SITES), visitor: `v${Math.floor(r() * 300)}`, path: pick(r, PATHS),
      type: r() < 0.08 ? 'event' : 'pageview', name: pick(r, ['signup', 'play', '\u{1F600}']), bot: r() < 0.03,
      refHost: src ? pick(r, REFS) : null, utmSource: src && r() < 0.5 ? pick(r, ['news', 'Twitter']) : null,
      utmMedium: src && r() < 0.3 ? 'email' : null, utmCampaign: src && r() < 0.2 ? pick(r, ['c1', 'c2', '\u{1F600}']) : null,
      utmTerm: src && r() < 0.2 ? 'boots' : null, keyword: src && r() < 0.2 ? pick(r, ['boots', 'shoes']) : null,
      country: place[0], region: place[1], city: place[2], browser: pick(r, ['Chrome', 'Firefox', 'Safari', null]),
      os: pick(r, ['Linux', 'iOS', 'Windows', null]), device: pick(r, ['desktop', 'mobile', null]),
    }))
  }
  return out
}

/** Sessions with engaged time for `n` page views of `events`, most with scroll; every fifth reports its page view twice. */
function sessions(seed: number, events: readonly StoredEvent[], n: number): SessionRecord[] {
  const r = prng(seed)
  const out: SessionRecord[] = []
  for (let i = 0; i < n; i++) {
    const e = events[Math.floor(r() * events.length)] as StoredEvent
    if (e.bot || e.visitor === null || e.path === null || e.type !== 'pageview') continue
    const readingMs = 1000 + Math.floor(r() * 60_000)
    const writingMs = Math.floor(r() * 5000)
    const stint = { path: e.path, at: e.ts, viewed: true, readingMs, writingMs, idleMs: 0, hiddenMs: 0, ...(r() < 0.7 ? { scroll: Math.floor(r() * 100) } : {}) }
    out.push({
      id: `s${seed}-${i}`, site: e.site, visitor: e.visitor, started: e.ts, ended: e.ts + readingMs + writingMs, pageviews: 1,
      readingMs, writingMs, idleMs: 0, hiddenMs: 0, entry: e.path, exit: e.path,
      pages: i % 5 === 0 ? [stint, { ...stint, readingMs: 500, scroll: Math.floor(r() * 100) }] : [stint],
    })
  }
  return out
}

/** Appends `events` in random batches of 1 to 40, sessions of what came before every tenth batch. */
async function feed(s: SqliteStore, events: readonly StoredEvent[], seed: number): Promise<void> {
  const r = prng(seed)
  let batches = 0
  for (let i = 0; i < events.length;) {
    const n = 1 + Math.floor(r() * 40)
    await s.append(events.slice(i, i + n))
    i += n
    if (++batches % 10 === 0) await s.appendSessions(sessions(seed + batches, events.slice(0, i), 4))
  }
}

/** Ragged ranges in `span`: unaligned minutes and milliseconds, whole hours, a few minutes, past the newest event (the open hour). */
function ranges(seed: number, span: [number, number], n: number): [number, number][] {
  const r = prng(seed)
  const out: [number, number][] = [[span[0], span[1]]]
  for (let i = 0; i < n; i++) {
    const from = span[0] + Math.floor(r() * (span[1] - span[0]))
    const to = i % 5 === 0 ? from + Math.floor(r() * 5 * MIN) : i % 5 === 1 ? from - (from % HOUR) + 3 * HOUR : from + Math.floor(r() * 14 * HOUR)
    out.push([from, to])
  }
  return out
}

type Lists = Map<string, TopRow[]>

/** Every dimension's list for every range and limit, on both sites, from a fresh open of `file`. */
async function lists(file: string, columnTops: boolean | 'all', rs: readonly [number, number][]): Promise<Lists> {
  const s = createSqliteStore(file, { columnTops, postingsIdleMs: 3_600_000 })
  await s.init()
  const out: Lists = new Map()
  try {
    for (const site of SITES) {
      for (const [from, to] of rs) {
        for (const dim of DIMS) {
          for (const limit of LIMITS) out.set(`${site} ${dim} [${from}, ${to}) ${limit}`, await s.top({ site, from, to }, dim, limit))
        }
      }
    }
  } finally {
    await s.close()
  }
  return out
}

/** Both paths give the same lists; returns how many are non-empty. */
async function same(file: string, rs: readonly [number, number][]): Promise<number> {
  const rollup = await lists(file, false, rs)
  const cols = await lists(file, 'all', rs)
  let full = 0
  for (const [key, want] of rollup) {
    const got = cols.get(key)
    assert.deepEqual(got, want, key)
    // byte for byte, key order included
    assert.equal(JSON.stringify(got), JSON.stringify(want), key)
    if (want.length > 0) full++
  }
  return full
}

describe('unfiltered top lists from columns (issue 12.6)', () => {
  it('compareUtf8 orders as UTF-8 bytes (SQLite BINARY), unlike UTF-16 code units', () => {
    const words = ['', 'a', 'ab', 'b', 'é', '\uE000', '\uFFFD', '\u{1F600}', '\u{10FFFF}', 'a\u{1F600}', 'a\uFFFD', '\u007F', '\u0080']
    const bytes = (x: string, y: string) => Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'))
    for (const x of words) for (const y of words) assert.equal(Math.sign(compareUtf8(x, y)), bytes(x, y), `${JSON.stringify(x)} ${JSON.stringify(y)}`)
    // where JavaScript's order differs
    assert.ok('\u{1F600}' < '\uFFFD' && compareUtf8('\u{1F600}', '\uFFFD') > 0)
  })

  it('gives the rollup lists, row for row, on random traffic with late page views, engaged sessions, the open hour and a prune', async () => {
    const { file, cleanup } = tempDbFile('coltop')
    try {
      let s = createSqliteStore(file, { postingsIdleMs: 3_600_000 })
      await s.init()
      await feed(s, traffic(1, T, 14), 2)
      await s.close()
      // hours settled into stored chunks; the newest is open
      const chunked = (fileRows<[number]>(file, 'SELECT count(*) FROM chunk_hours')[0] as [number])[0]
      assert.ok(chunked > 10, `chunks ${chunked}`)
      assert.ok(await same(file, ranges(3, [T - HOUR, T + 16 * HOUR], 14)) > 500)

      // late page views into closed (chunked) hours, and more sessions on old page views
      s = createSqliteStore(file, { postingsIdleMs: 3_600_000 })
      await s.init()
      const late = traffic(4, T + 2 * HOUR, 6, 1).map((e) => ({ ...e, ts: e.ts - Math.floor(e.ts % 7) }))
      await feed(s, [...traffic(5, T + 14 * HOUR, 3), ...late], 6)
      await s.close()
      assert.ok(await same(file, ranges(7, [T - HOUR, T + 18 * HOUR], 14)) > 500)

      // a prune at an unaligned bound: ranges reaching before it keep the rollups' figures
      s = createSqliteStore(file, { postingsIdleMs: 3_600_000 })
      await s.init()
      await s.prune(T + 5 * HOUR + 17 * MIN + 5)
      await s.close()
      assert.ok(await same(file, [[T, T + 10 * HOUR], [T + 5 * HOUR, T + 12 * HOUR], ...ranges(8, [T + 4 * HOUR, T + 18 * HOUR], 8)]) > 200)
    } finally {
      cleanup()
    }
  })
})
