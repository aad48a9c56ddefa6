/**
 * PostgreSQL read queries (what the History view and the feed ask a PostgresStore for), timed on
 * the same History data as bench/query.ts at a smaller size, so a change to postgres.ts or
 * postgres-filtered.ts can be compared with an older tree side by side: run this file in each
 * tree (copy it into the other one), alternating. Each tree fills its own schema once (keyed by
 * the schema name), then times each call RUNS times after a warm-up; prints one JSON line:
 * per call the median wall and this process's CPU ms (the server's own CPU is not in it).
 *
 *   node --import tsx bench/pg-query.ts [--events=300000] [--runs=15] [--schema=bench_pgq_NAME] [--url=postgres://…]
 */
import pg from 'pg'
import { createPostgresStore } from '../src/hub/store/postgres'
import type { Range } from '../src/hub/store/types'
import { generate } from './lib/history-data'

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const EVENTS = Number(arg('events') ?? 300_000)
const RUNS = Number(arg('runs') ?? 15)
const URL_ = arg('url') ?? 'postgres://postgres@127.0.0.1:5432/test'
const SCHEMA = arg('schema') ?? 'bench_pgq'
const SITE = 'shop.example'
const DAY = 86_400_000
const END = Date.UTC(2025, 1, 1)
const NOW = END - 17 * 60_000

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: URL_ })
  await admin.connect()
  const filled = (await admin.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [SCHEMA, 'bench_filled'])).rowCount === 1
  const store = createPostgresStore(URL_, { schema: SCHEMA })
  await store.init()
  if (!filled) {
    const t0 = performance.now()
    for (const b of generate({ site: SITE, start: END - 3 * DAY, end: END, events: EVENTS })) {
      await store.append(b.events)
      if (b.sessions.length > 0) await store.appendSessions(b.sessions)
    }
    await admin.query(`CREATE TABLE "${SCHEMA}".bench_filled (n int)`)
    process.stderr.write(`filled ${EVENTS} in ${Math.round(performance.now() - t0)} ms\n`)
  }
  await admin.end()
  const r: Range = { site: SITE, from: NOW - DAY, to: NOW }
  const de: Range = { ...r, filters: [{ dim: 'country', op: 'is', value: 'DE' }] }
  const calls: [string, () => Promise<unknown>][] = [
    ['top:referrer', () => store.top(r, 'referrer', 10)], ['top:page', () => store.top(r, 'page', 10)],
    ['top:entry_page', () => store.top(r, 'entry_page', 10)], ['totals', () => store.totals(r)],
    ['visitTotals', () => store.visitTotals(r)], ['bots', () => store.bots(r)], ['feed', () => store.feed(SITE, 50)],
    ['top:referrer country=DE', () => store.top(de, 'referrer', 10)], ['series country=DE', () => store.series(de, 'hour')],
  ]
  const out: Record<string, { median_ms: number; cpu_ms: number }> = {}
  for (const [name, f] of calls) {
    await f()
    const wall: number[] = []
    const cpu: number[] = []
    for (let i = 0; i < RUNS; i++) {
      const c0 = process.cpuUsage()
      const t0 = performance.now()
      await f()
      wall.push(performance.now() - t0)
      const c = process.cpuUsage(c0)
      cpu.push((c.user + c.system) / 1000)
    }
    const med = (x: number[]): number => Math.round(([...x].sort((a, b) => a - b)[Math.floor(x.length / 2)] as number) * 100) / 100
    out[name] = { median_ms: med(wall), cpu_ms: med(cpu) }
  }
  await store.close()
  process.stdout.write(`${JSON.stringify({ bench: 'pg.query', date: new Date().toISOString(), events: EVENTS, runs: RUNS, schema: SCHEMA, calls: out })}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exit(1)
})
