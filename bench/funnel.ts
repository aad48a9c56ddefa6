/**
 * Funnel benchmark (issue 13.3) on the SQLite store: fills a file with 10 million events over 30
 * days (visits of several page views that wander a shop: / → /pricing → /signup → a Signup event
 * for some, blog and product pages for most; about 6 % custom events; 400k visitors), then times
 * `Store.funnel` for a few funnels RUNS times each. Prints one JSON line on stdout; progress goes
 * to stderr.
 *
 *   node --import tsx bench/funnel.ts            (EVENTS=1000000 for a quicker run)
 *   MEASURE_ONLY=1 node --import tsx bench/funnel.ts   (times the cached file as it is, even a fill cut short)
 *   FUNNEL_DB=/tmp/copy.db node --import tsx bench/funnel.ts   (another file, e.g. a private copy a migration may change)
 *
 * Each case also reports its median CPU time (the machine may be shared) and where its median
 * run's time went (ms): `read` (step rows into memory:
 * postings, custom events), `walk` (FunnelWalk start/advance without the visitor counts) and
 * `visitors` (the distinct visitor count of each step).
 *
 * The filled file is cached under /tmp, keyed by VERSION and the event count: change VERSION
 * whenever the data or the schema changes, and re-runs skip the fill.
 */
import { existsSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GoalSpec } from '../src/hub/goals/spec'
import { FunnelWalk } from '../src/hub/goals/funnel'
import { createSqliteStore, type SqliteStore } from '../src/hub/store/sqlite'
import { SqliteFunnels } from '../src/hub/store/sqlite-funnel'
import type { Range, StoredEvent } from '../src/hub/store/types'
import { prng } from '../test/helpers/prng'

const VERSION = 'f1'
const EVENTS = Number(process.env.EVENTS ?? 10_000_000)
const RUNS = Number(process.env.RUNS ?? 20)
const SITE = 'shop.example'
const DAY = 86_400_000
const HOUR = 3_600_000
const END = Date.UTC(2025, 1, 1)
const START = END - 30 * DAY
const FILE = process.env.FUNNEL_DB ?? join(tmpdir(), `livestats-bench-funnel-${VERSION}-${EVENTS}.db`)
const FILLED_KEY = 'bench:filled'
const VISITORS = 400_000


const SECTIONS = ['blog', 'products', 'docs', 'help']
const PAGES = ['/', '/pricing', '/signup', '/features', '/about', '/checkout',
  ...Array.from({ length: 4000 }, (_, i) => `/${SECTIONS[i % 4]}/item-${i}`)]
const COUNTRIES = ['US', 'DE', 'GB', 'FR', 'NL', 'IN', 'CA', 'BR', 'JP', 'ES']
const REFERRERS = ['google.com', 'bing.com', 'news.ycombinator.com', 'reddit.com', ...Array.from({ length: 200 }, (_, i) => `ref${i}.example`)]

/** Skewed pick: the first values get most picks. */
function skewed<T>(list: readonly T[], r: number): T {
  return list[Math.floor(list.length * r * r * r)] as T
}

let seq = 0
function event(visitor: number, ts: number, path: string, over: Partial<StoredEvent>, agent: { country: string; browser: string }): StoredEvent {
  seq++
  return {
    id: ts.toString(16).padStart(12, '0') + seq.toString(16).padStart(20, '0'), ts, type: 'pageview', site: SITE,
    visitor: `v${visitor}`, cid: null, host: SITE, path, title: null, referrer: null, refHost: null, utmSource: null,
    utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null, browser: agent.browser, os: 'Linux', device: 'desktop',
    bot: false, country: agent.country, region: null, city: null, screen: null, language: null, name: null, data: null,
    instance: null, ...over,
  }
}

/** One visit's events: a walk from an entry page; the shop's path is more likely than a random page. */
function visit(rand: () => number, start: number, out: StoredEvent[]): void {
  const v = Math.floor(rand() * VISITORS)
  const agent = { country: skewed(COUNTRIES, rand()), browser: rand() < 0.6 ? 'Chrome' : 'Firefox' }
  const ref = rand() < 0.5 ? skewed(REFERRERS, rand()) : null
  let ts = start
  let path = rand() < 0.3 ? '/' : skewed(PAGES, rand())
  out.push(event(v, ts, path, { refHost: ref, referrer: ref === null ? null : `https://${ref}/` }, agent))
  while (rand() < 0.62) {
    ts += 5_000 + Math.floor(rand() * 180_000)
    const r = rand()
    if (path === '/' && r < 0.35) path = '/pricing'
    else if (path === '/pricing' && r < 0.3) path = '/signup'
    else if (path === '/signup' && r < 0.5) {
      out.push(event(v, ts, path, { type: 'event', name: 'Signup', data: JSON.stringify({ plan: rand() < 0.3 ? 'pro' : 'free' }) }, agent))
      ts += 1_000
      path = '/checkout'
    } else path = skewed(PAGES, rand())
    out.push(event(v, ts, path, {}, agent))
    if (rand() < 0.04) out.push(event(v, ts + 500, path, { type: 'event', name: rand() < 0.5 ? 'Play' : 'Share', data: '{}' }, agent))
  }
}

async function fill(store: SqliteStore): Promise<number> {
  const rand = prng(13)
  const t0 = performance.now()
  // about 2.7 events per visit (2.63 page views, a few custom events): visits per hour so that the month holds ~EVENTS
  const perHour = EVENTS / 2.7 / (30 * 24)
  let written = 0
  let carry: StoredEvent[] = []
  for (let h = START; h < END; h += HOUR) {
    const events = carry
    const n = Math.round(perHour * (0.6 + 0.8 * rand()))
    for (let i = 0; i < n; i++) visit(rand, h + Math.floor(rand() * HOUR), events)
    events.sort((a, b) => a.ts - b.ts)
    const cut = events.findIndex((e) => e.ts >= h + HOUR)
    const now = cut < 0 ? events : events.slice(0, cut)
    carry = cut < 0 ? [] : events.slice(cut)
    for (let i = 0; i < now.length; i += 5_000) {
      const b = now.slice(i, i + 5_000)
      await store.append(b)
      written += b.length
    }
    if ((h - START) % (24 * HOUR) === 0) process.stderr.write(`fill day ${(h - START) / DAY}: ${written} events\n`)
  }
  return written / ((performance.now() - t0) / 1000)
}

/** Time spent per phase in the current run, ms (the prototypes are wrapped once). */
const phase = { read: 0, walk: 0, visitors: 0 }
function timed(proto: object, name: string, into: keyof typeof phase, minus?: keyof typeof phase): void {
  const o = proto as Record<string, (...a: unknown[]) => unknown>
  const f = o[name] as (...a: unknown[]) => unknown
  o[name] = function (this: unknown, ...a: unknown[]) {
    const before = minus === undefined ? 0 : phase[minus]
    const t = performance.now()
    const r = f.apply(this, a)
    phase[into] += performance.now() - t - (minus === undefined ? 0 : phase[minus] - before)
    return r
  }
}
timed(SqliteFunnels.prototype, 'rowsOf', 'read')
timed(FunnelWalk.prototype, 'close', 'visitors')
timed(FunnelWalk.prototype, 'start', 'walk', 'visitors')
timed(FunnelWalk.prototype, 'advance', 'walk', 'visitors')

function stats(ms: number[]): { median_ms: number; p95_ms: number } {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number) => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] as number) * 10) / 10
  return { median_ms: at(0.5), p95_ms: at(0.95) }
}

const page = (p: string): GoalSpec => ({ kind: 'page', page: p })
const CASES: { name: string; range: Range; steps: GoalSpec[] }[] = [
  { name: '30 d: / → /pricing → /signup → Signup{plan:pro}', range: { site: SITE, from: START, to: END },
    steps: [page('/'), page('/pricing'), page('/signup'), { kind: 'event', event: 'Signup', props: { plan: 'pro' } }] },
  { name: '30 d: /blog/** → /signup → Signup', range: { site: SITE, from: START, to: END },
    steps: [page('/blog/**'), page('/signup'), { kind: 'event', event: 'Signup' }] },
  { name: '30 d, country=DE: / → /pricing → /signup', range: { site: SITE, from: START, to: END, filters: [{ dim: 'country', op: 'is', value: 'DE' }] },
    steps: [page('/'), page('/pricing'), page('/signup')] },
  { name: '7 d: / → /pricing → /signup → /checkout', range: { site: SITE, from: END - 7 * DAY, to: END },
    steps: [page('/'), page('/pricing'), page('/signup'), page('/checkout')] },
]

async function main(): Promise<void> {
  let store = createSqliteStore(FILE)
  await store.init()
  let fillRate: number | null = null
  if (process.env.MEASURE_ONLY !== '1' && (await store.getMeta(FILLED_KEY)) === null) {
    await store.close()
    for (const f of [FILE, `${FILE}-wal`, `${FILE}-shm`]) if (existsSync(f)) rmSync(f)
    store = createSqliteStore(FILE)
    await store.init()
    process.stderr.write(`filling ${FILE} with ${EVENTS} events...\n`)
    fillRate = await fill(store)
    await store.setMeta(FILLED_KEY, String(Date.now()))
  }
  const events = await store.countEvents(SITE)
  const last = (await store.sites()).find((x) => x.site === SITE)?.last ?? null
  const results: Record<string, unknown>[] = []
  for (const c of CASES) {
    const ms: number[] = []
    const cpu: number[] = []
    const phases: (typeof phase)[] = []
    let counts: unknown = null
    for (let i = 0; i < RUNS; i++) {
      Object.assign(phase, { read: 0, walk: 0, visitors: 0 })
      const t = performance.now()
      const c0 = process.cpuUsage()
      counts = await store.funnel(c.range, c.steps)
      const used = process.cpuUsage(c0)
      ms.push(performance.now() - t)
      cpu.push((used.user + used.system) / 1000)
      phases.push({ read: Math.round(phase.read), walk: Math.round(phase.walk), visitors: Math.round(phase.visitors) })
    }
    const median = phases[ms.indexOf([...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)] as number)]
    const cpuMs = stats(cpu).median_ms
    results.push({ case: c.name, ...stats(ms), cpu_ms: cpuMs, phases_ms: median, counts })
    process.stderr.write(`${c.name}: ${JSON.stringify({ ...stats(ms), cpu_ms: cpuMs })} ${JSON.stringify(median)}\n`)
  }
  await store.close()
  const bytes = statSync(FILE).size
  console.log(JSON.stringify({ events, last_event: last === null ? null : new Date(last).toISOString(), file_mib: Math.round(bytes / 2 ** 20), fill_events_per_s: fillRate === null ? null : Math.round(fillRate), runs: RUNS, results }))
}

void main()
