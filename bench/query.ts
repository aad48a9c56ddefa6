/**
 * Query benchmark for the SQLite store: fills a file with 10 million pageviews (30 days, a few
 * thousand pages, a few hundred referrers, about 200k visitors), then times the dashboard's
 * "overview" (24 h minute series + top 10 pages + top 10 referrers of one site) 50 times, and
 * append throughput for batches of 50 and 1000 on a fresh file. Prints one JSON line on stdout;
 * progress goes to stderr.
 *
 *   node --import tsx bench/query.ts            (EVENTS=1000000 for a quicker run)
 *
 * The filled file is cached under /tmp, keyed by VERSION and the event count: change VERSION
 * whenever the data or the schema changes, and re-runs skip the fill.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteStore, type SqliteStore } from '../src/hub/store/sqlite'
import type { StoredEvent } from '../src/hub/store/types'

const VERSION = 'q1'
const EVENTS = Number(process.env.EVENTS ?? 10_000_000)
const FILL_BATCH = 10_000
const RUNS = 50
const SITE = 'shop.example'
const DAY = 86_400_000
/** Fixed end, so a cached file gives the same "last 24 h" whenever the bench runs. */
const END = Date.UTC(2025, 1, 1)
const START = END - 30 * DAY
const FILE = join(tmpdir(), `livestats-bench-query-${VERSION}-${EVENTS}.db`)
const FILLED_KEY = 'bench:filled'

/** mulberry32: a seeded PRNG, so every fill writes the same data. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const PAGES = Array.from({ length: 3000 }, (_, i) => `/products/item-${i}`)
const REFERRERS = Array.from({ length: 300 }, (_, i) => `ref${i}.example`)
const BROWSERS = ['Chrome', 'Safari', 'Firefox', 'Edge', 'Samsung Internet']
const OSES = ['Windows', 'macOS', 'iOS', 'Android', 'Linux']
const DEVICES = ['desktop', 'mobile', 'tablet']
const VISITORS = 200_000

/** Skewed pick: popular pages and referrers get most hits, like real traffic. */
function skewed<T>(list: readonly T[], r: number): T {
  return list[Math.floor(list.length * r * r * r)] as T
}

function makeEvent(rand: () => number, n: number, ts: number, site: string): StoredEvent {
  const direct = rand() < 0.5
  const refHost = direct ? null : skewed(REFERRERS, rand())
  const utm = rand() < 0.1
  return {
    id: ts.toString(16).padStart(12, '0') + n.toString(16).padStart(20, '0'),
    ts, type: 'pageview', site,
    visitor: `v${Math.floor(VISITORS * rand())}`, cid: `c${n}`, host: site, path: skewed(PAGES, rand()),
    title: null, referrer: refHost === null ? null : `https://${refHost}/`, refHost,
    utmSource: utm ? 'newsletter' : null, utmMedium: utm ? 'email' : null, utmCampaign: utm ? 'winter' : null, utmTerm: utm ? 'Winter Boots' : null, keyword: utm ? 'winter boots' : null,
    browser: skewed(BROWSERS, rand()), os: skewed(OSES, rand()), device: skewed(DEVICES, rand()),
    bot: rand() < 0.03, country: 'NL', region: null, city: null, screen: 1920, language: 'en',
    name: null, data: null, instance: null,
  }
}

async function fill(store: SqliteStore): Promise<number> {
  const rand = prng(42)
  const step = (END - START) / EVENTS
  const t0 = performance.now()
  for (let i = 0; i < EVENTS; i += FILL_BATCH) {
    const batch: StoredEvent[] = []
    for (let j = i; j < Math.min(i + FILL_BATCH, EVENTS); j++) batch.push(makeEvent(rand, j, Math.floor(START + j * step), SITE))
    await store.append(batch)
    if ((i / FILL_BATCH) % 100 === 0) process.stderr.write(`fill ${i} / ${EVENTS}\n`)
  }
  return EVENTS / ((performance.now() - t0) / 1000)
}

function stats(ms: number[]): { median_ms: number; p95_ms: number } {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) * 100) / 100
  return { median_ms: at(0.5), p95_ms: at(0.95) }
}

/** Append rate on a fresh file; events are made before the clock starts. */
async function appendRate(batchSize: number, total: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-bench-append-'))
  const store = createSqliteStore(join(dir, 'append.db'))
  try {
    await store.init()
    const rand = prng(batchSize)
    const now = END + DAY
    const batches: StoredEvent[][] = []
    for (let i = 0; i < total; i += batchSize) {
      batches.push(Array.from({ length: batchSize }, (_, j) => makeEvent(rand, i + j, now + (i + j) * 10, SITE)))
    }
    const t0 = performance.now()
    for (const b of batches) await store.append(b)
    return total / ((performance.now() - t0) / 1000)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  let fillRate: number | null = null
  let store = createSqliteStore(FILE)
  await store.init()
  if ((await store.getMeta(FILLED_KEY)) !== VERSION) {
    await store.close()
    for (const f of [FILE, `${FILE}-wal`, `${FILE}-shm`]) if (existsSync(f)) rmSync(f)
    store = createSqliteStore(FILE)
    await store.init()
    fillRate = await fill(store)
    await store.setMeta(FILLED_KEY, VERSION)
  } else {
    process.stderr.write(`using cached ${FILE}\n`)
  }
  await store.close()

  // A fresh open, as after a restart: init replays the last day into the open visitor sets.
  store = createSqliteStore(FILE)
  const i0 = performance.now()
  await store.init()
  const initMs = performance.now() - i0

  const range = { site: SITE, from: END - DAY, to: END }
  const overview = async (): Promise<void> => {
    await store.series(range, 'minute')
    await store.top(range, 'page', 10)
    await store.top(range, 'referrer', 10)
  }
  for (let i = 0; i < 3; i++) await overview()
  const times: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    await overview()
    times.push(performance.now() - t0)
  }
  // A day-aligned range reads one rollup row; a sliding 24 h counts distinct visitors over raw rows.
  let t0 = performance.now()
  const totals = await store.totals(range)
  const totalsMs = performance.now() - t0
  t0 = performance.now()
  await store.totals({ site: SITE, from: END - DAY - 1_800_000, to: END - 1_800_000 })
  const slidingMs = performance.now() - t0
  const events = await store.countEvents()
  await store.close()

  process.stderr.write('append throughput on a fresh file...\n')
  const append50 = await appendRate(50, 100_000)
  const append1000 = await appendRate(1000, 500_000)

  const round = (n: number) => Math.round(n)
  process.stdout.write(`${JSON.stringify({
    bench: 'store.query', store: 'sqlite', events, runs: RUNS,
    overview: stats(times),
    totals_24h: totals, totals_day_aligned_ms: Math.round(totalsMs * 100) / 100,
    totals_24h_sliding_ms: Math.round(slidingMs),
    init_ms: round(initMs),
    fill_events_per_s: fillRate === null ? 'cached' : round(fillRate),
    append_events_per_s: { batch50: round(append50), batch1000: round(append1000) },
  })}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
