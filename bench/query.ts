/**
 * Query benchmark for the SQLite store over 10 million stored events (issue 12.6). The data is
 * bench/lib/history-data.ts: 30 days of visits of several page views, thousands of pages and
 * referrers, UTM tags, keywords, 60 countries, custom events, bots and engaged time. It times, in
 * one run, side by side, on a sliding 24 h range (what the dashboard's History opens with):
 *  - overview: what /api/overview reads (series by hour, top 10 pages and referrers, bots), unfiltered;
 *  - visits: visit totals (visits, bounce rate, duration) and the entry and exit page lists, unfiltered;
 *  - history: what one History view asks the store for since issue 12.6, `Store.view` (series,
 *    totals, visit totals, bots, the 15 page-view and visit lists and the custom events, one call)
 *    and the live history, unfiltered and with page=/pricing, and "core" (`view` with the page and
 *    referrer lists alone: series + totals + visit totals + bots + top pages + top referrers); side
 *    by side in the same runs, under `calls`, the same figures asked for one call each as before
 *    (15 top lists and `eventTop(…, 'event')`, as History's lists and conversions panel asked), and
 *    their two slowest calls;
 *  - core with each single filter (every filter dimension; `!` and `~` on page and referrer), one
 *    call against the separate calls (--full: the whole History view for each filter too);
 *  - with --long, the History view over 7 and 30 days, unfiltered;
 *  - funnels (issue 13.3): / → /pricing → /signup → the signup event over 24 h, 7 and 30 days, and
 *    /blog/** → /signup over 30 days (label `funnel`);
 *  - append throughput (batches of 50 and 1000) on a fresh file.
 * Prints one JSON line on stdout; progress goes to stderr.
 *
 *   node --import tsx bench/query.ts [--runs=N] [--only=LABEL,...] [--full] [--long] [--no-append] [--sql-view] [--rollup-tops] [--mmap-mib=N]   (EVENTS=1000000 for a quicker run)
 *
 * The filled file is cached under /tmp, keyed by DATA_VERSION and the event count; a file left by
 * an older schema is upgraded by init(), as a hub's would be.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSqliteStore, type SqliteStore } from '../src/hub/store/sqlite'
import type { Filter, FilterDimension } from '../src/hub/store/filters'
import type { Dimension, Range } from '../src/hub/store/types'
import type { GoalSpec } from '../src/hub/goals/spec'
import { DATA_VERSION, generate } from './lib/history-data'

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const EVENTS = Number(process.env.EVENTS ?? 10_000_000)
const RUNS = Number(arg('runs') ?? 5)
const ONLY = arg('only')?.split(',') ?? null
const SITE = 'shop.example'
const DAY = 86_400_000
/** Fixed end, so a cached file gives the same ranges whenever the bench runs. */
const END = Date.UTC(2025, 1, 1)
const START = END - 30 * DAY
/** "Now" for the ranges: 17 minutes before the data ends, so no range is hour- or day-aligned. */
const NOW = END - 17 * 60_000
/** BENCH_FILE=path times another copy of the cached file (e.g. one a migration may upgrade). */
const FILE = process.env.BENCH_FILE ?? join(tmpdir(), `livestats-bench-query-${DATA_VERSION}-${EVENTS}.db`)
const FILLED_KEY = 'bench:filled'

/** The History view's lists, as src/dashboard/ui/views/history.ts asks /api/history for them (custom events come apart). */
const VIEW_DIMS: readonly Dimension[] = ['page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword',
  'browser', 'os', 'device', 'country', 'region', 'city', 'entry_page', 'exit_page']

const is = (dim: FilterDimension, value: string): Filter[] => [{ dim, op: 'is', value }]
/** One filter of every kind, on values that occur often enough to matter. */
const FILTERS: readonly [string, Filter[]][] = [
  ['page=/pricing', is('page', '/pricing')],
  ['page=!/', [{ dim: 'page', op: 'not', value: '/' }]],
  ['page=~blog', [{ dim: 'page', op: 'contains', value: 'blog' }]],
  ['entry_page=/', is('entry_page', '/')],
  ['exit_page=/pricing', is('exit_page', '/pricing')],
  ['referrer=google.com', is('referrer', 'google.com')],
  ['referrer=!google.com', [{ dim: 'referrer', op: 'not', value: 'google.com' }]],
  ['referrer=~.example', [{ dim: 'referrer', op: 'contains', value: '.example' }]],
  ['utm_source=newsletter', is('utm_source', 'newsletter')],
  ['utm_medium=email', is('utm_medium', 'email')],
  ['utm_campaign=winter', is('utm_campaign', 'winter')],
  ['utm_term=winter boots', is('utm_term', 'winter boots')],
  ['keyword=winter boots', is('keyword', 'winter boots')],
  ['country=DE', is('country', 'DE')],
  ['browser=Firefox', is('browser', 'Firefox')],
  ['os=Android', is('os', 'Android')],
  ['device=mobile', is('device', 'mobile')],
  ['event=signup', is('event', 'signup')],
]

async function fill(store: SqliteStore): Promise<number> {
  const t0 = performance.now()
  let n = 0
  let next = 0
  for (const b of generate({ site: SITE, start: START, end: END, events: EVENTS })) {
    await store.append(b.events)
    if (b.sessions.length > 0) await store.appendSessions(b.sessions)
    n += b.events.length
    if (n >= next) {
      process.stderr.write(`fill ${n} / ${EVENTS} (${Math.round(n / ((performance.now() - t0) / 1000))}/s)\n`)
      next = n + 500_000
    }
  }
  return n / ((performance.now() - t0) / 1000)
}

function stats(ms: number[]): { median_ms: number; p95_ms: number } {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number) * 10) / 10
  return { median_ms: at(0.5), p95_ms: at(0.95) }
}

const median = (ms: number[]): number => stats(ms).median_ms

/**
 * Times each named call of one view, `runs` times (after one warm-up); per call and per run, wall
 * time and this process's CPU time (user + system) in ms. On a shared machine the wall time grows
 * with the load average (other processes' turn on the cores); the CPU time much less so.
 */
async function timeView(calls: readonly [string, () => Promise<unknown>][], runs: number): Promise<Map<string, number[]>[]> {
  for (const [, f] of calls) await f()
  const out: Map<string, number[]>[] = []
  for (let i = 0; i < runs; i++) {
    const m = new Map<string, number[]>()
    for (const [name, f] of calls) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await f()
      const wall = performance.now() - t0
      const c = process.cpuUsage(c0)
      m.set(name, [wall, (c.user + c.system) / 1000])
    }
    out.push(m)
  }
  return out
}

/** Median over runs of the sum of the calls `names` (all when null): wall, p95 wall, and CPU. */
function sumOf(runs: Map<string, number[]>[], names: readonly string[] | null): { median_ms: number; p95_ms: number; cpu_ms: number } {
  const pick = (i: number): number[] => runs.map((m) => [...m].filter(([k]) => names === null || names.includes(k)).reduce((a, [, v]) => a + (v[i] ?? 0), 0))
  return { ...stats(pick(0)), cpu_ms: stats(pick(1)).median_ms }
}

function slowest(runs: Map<string, number[]>[]): string {
  const names = [...(runs[0]?.keys() ?? [])]
  const per = names.map((n) => [n, median(runs.map((m) => m.get(n)?.[0] ?? 0))] as const).sort((a, b) => b[1] - a[1])
  return per.slice(0, 2).map(([n, ms]) => `${n} ${ms}`).join(', ')
}

const CORE = ['series', 'totals', 'visitTotals', 'bots', 'top:page', 'top:referrer']
/** The calls of the one-call view (`view`, with the live history) and of its core. */
const ONE = ['view', 'view:live']
const ONE_CORE = ['view:core']

function historyCalls(store: SqliteStore, r: Range): [string, () => Promise<unknown>][] {
  return [
    ['series', () => store.series(r, r.to - r.from <= 3 * DAY ? 'hour' : 'day')],
    ['liveHistory', () => store.liveHistory(r, 'hour')],
    ['totals', () => store.totals(r)],
    ['visitTotals', () => store.visitTotals(r)],
    ['bots', () => store.bots(r)],
    ...VIEW_DIMS.map((d) => [`top:${d}`, () => store.top(r, d, 10)] as [string, () => Promise<unknown>]),
    // the custom events by name, as the History's conversions panel asked /api/top?dim=event
    ['eventTop:event', () => store.eventTop(r, 'event', 10)],
  ]
}

/** What /api/history asks the store for (`view` and the live history), and the core figures as one call. */
function viewCalls(store: SqliteStore, r: Range, full: boolean): [string, () => Promise<unknown>][] {
  const bucket = r.to - r.from <= 3 * DAY ? 'hour' : 'day'
  return [
    ...(full ? [['view', () => store.view(r, { bucket, dims: VIEW_DIMS, limit: 10, events: true })], ['view:live', () => store.liveHistory(r, 'hour')]] as [string, () => Promise<unknown>][] : []),
    ['view:core', () => store.view(r, { bucket, dims: ['page', 'referrer'], limit: 10 })],
  ]
}

/** Append rate on a fresh file, with the same traffic; events are made before the clock starts. */
async function appendRate(batchSize: number, total: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-bench-append-'))
  const store = createSqliteStore(join(dir, 'append.db'))
  try {
    await store.init()
    const events = [...generate({ site: SITE, start: END, end: END + DAY, events: total })].flatMap((b) => b.events)
    const t0 = performance.now()
    for (let i = 0; i < events.length; i += batchSize) await store.append(events.slice(i, i + batchSize))
    return events.length / ((performance.now() - t0) / 1000)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  let fillRate: number | null = null
  let store = createSqliteStore(FILE)
  await store.init()
  if ((await store.getMeta(FILLED_KEY)) !== DATA_VERSION) {
    await store.close()
    for (const f of [FILE, `${FILE}-wal`, `${FILE}-shm`]) if (existsSync(f)) rmSync(f)
    store = createSqliteStore(FILE)
    await store.init()
    fillRate = await fill(store)
    await store.setMeta(FILLED_KEY, DATA_VERSION)
  } else {
    process.stderr.write(`using cached ${FILE}\n`)
  }
  await store.close()

  // A fresh open, as after a restart (--sql-view: filtered views through SQL aggregates, SqliteStoreOptions.columnReads false;
  // --rollup-tops: unfiltered top lists from the rollups, SqliteStoreOptions.columnTops false;
  // --mmap-mib=N: SqliteStoreOptions.mmapMiB, 0 for read() calls only; the store's default without it).
  const mmap = arg('mmap-mib')
  store = createSqliteStore(FILE, {
    columnReads: !args.includes('--sql-view'), columnTops: !args.includes('--rollup-tops'),
    ...(mmap === undefined ? {} : { mmapMiB: Number(mmap) }),
  })
  const i0 = performance.now()
  await store.init()
  const initMs = performance.now() - i0
  const events = await store.countEvents()

  const r24: Range = { site: SITE, from: NOW - DAY, to: NOW }
  const want = (label: string): boolean => ONLY === null || ONLY.includes(label)
  const result: Record<string, unknown> = { bench: 'store.query', store: 'sqlite', date: new Date().toISOString(), events, runs: RUNS, mmap_mib: store.mmapBytes() / 1048576, range: '24h sliding', loadavg: loadavg().map((x) => Math.round(x * 10) / 10) }

  if (want('overview')) {
    const runs = await timeView([
      ['series', () => store.series(r24, 'hour')], ['top:page', () => store.top(r24, 'page', 10)],
      ['top:referrer', () => store.top(r24, 'referrer', 10)], ['bots', () => store.bots(r24)],
    ], Math.max(RUNS, 50))
    result.overview = sumOf(runs, null)
    process.stderr.write(`overview ${JSON.stringify(result.overview)}\n`)
  }
  if (want('visits')) {
    const runs = await timeView([
      ['visitTotals', () => store.visitTotals(r24)], ['top:entry_page', () => store.top(r24, 'entry_page', 10)],
      ['top:exit_page', () => store.top(r24, 'exit_page', 10)],
    ], Math.max(RUNS, 50))
    result.visits = { ...sumOf(runs, null), slowest: slowest(runs) }
    process.stderr.write(`visits ${JSON.stringify(result.visits)}\n`)
  }
  const history: Record<string, unknown> = {}
  for (const [label, filters] of [['none', []] as [string, Filter[]], ...FILTERS]) {
    if (!want(label) && !(label === 'none' && want('history'))) continue
    const full = args.includes('--full') || label === 'none' || label === 'page=/pricing'
    const r = { ...r24, filters }
    // the one call and the separate ones alternate within each run, so both see the same load
    const calls = historyCalls(store, r).filter(([name]) => full || CORE.includes(name))
    const runs = await timeView([...viewCalls(store, r, full), ...calls], RUNS)
    const part = (names: readonly string[]) => { const x = sumOf(runs, names); return { ms: x.median_ms, cpu_ms: x.cpu_ms } }
    const separate = runs.map((m) => new Map([...m].filter(([k]) => !k.startsWith('view'))))
    history[label] = {
      ...(full ? { view: part(ONE) } : {}), core: part(ONE_CORE),
      calls: { ...(full ? { view: part(calls.map(([n]) => n)) } : {}), core: part(CORE), slowest: slowest(separate) },
    }
    process.stderr.write(`history ${label} ${JSON.stringify(history[label])}\n`)
  }
  result.history_24h_ms = history
  for (const days of [7, 30]) {
    if (!args.includes('--long') || !want(`${days}d`)) continue
    const r = { site: SITE, from: NOW - days * DAY, to: NOW }
    const calls = historyCalls(store, r)
    const runs = await timeView([...viewCalls(store, r, true), ...calls], Math.min(RUNS, 10))
    const separate = runs.map((m) => new Map([...m].filter(([k]) => !k.startsWith('view'))))
    result[`history_${days}d_ms`] = {
      view: sumOf(runs, ONE), core: sumOf(runs, ONE_CORE),
      calls: { view: sumOf(runs, calls.map(([n]) => n)), core: sumOf(runs, CORE), slowest: slowest(separate) },
    }
    process.stderr.write(`history ${days}d ${JSON.stringify(result[`history_${days}d_ms`])}\n`)
  }
  if (want('funnel')) {
    const page = (p: string): GoalSpec => ({ kind: 'page', page: p })
    const shop: GoalSpec[] = [page('/'), page('/pricing'), page('/signup'), { kind: 'event', event: 'signup' }]
    const cases: [string, Range, GoalSpec[]][] = [
      ['24h shop', r24, shop], ['7d shop', { site: SITE, from: NOW - 7 * DAY, to: NOW }, shop],
      ['30d shop', { site: SITE, from: START, to: END }, shop],
      ['30d blog', { site: SITE, from: START, to: END }, [page('/blog/**'), page('/signup')]],
    ]
    const funnels: Record<string, unknown> = {}
    for (const [label, range, steps] of cases) {
      const runs = await timeView([['funnel', () => store.funnel(range, steps)]], RUNS)
      funnels[label] = { ...sumOf(runs, null), counts: await store.funnel(range, steps) }
      process.stderr.write(`funnel ${label} ${JSON.stringify(funnels[label])}\n`)
    }
    result.funnels = funnels
  }
  const totals = { ...(await store.totals(r24)), ...(await store.visitTotals(r24)) }
  await store.close()

  result.totals_24h = totals
  result.init_ms = Math.round(initMs)
  result.fill_events_per_s = fillRate === null ? 'cached' : Math.round(fillRate)
  if (!args.includes('--no-append')) {
    process.stderr.write('append throughput on a fresh file...\n')
    result.append_events_per_s = { batch50: Math.round(await appendRate(50, 100_000)), batch1000: Math.round(await appendRate(1000, 300_000)) }
  }
  result.loadavg_end = loadavg().map((x) => Math.round(x * 10) / 10)
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
