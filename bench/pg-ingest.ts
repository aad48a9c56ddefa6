/**
 * Store ingest, PostgreSQL against SQLite, side by side in one run (issue 14.1). Each side appends
 * the same kind of Livestats-shaped batches straight to a store (no hub, no network in front): 90 %
 * page views of a pool of visitors a few seconds apart (so visits join), 10 % custom events, 2 % of
 * each batch a resend of the batch before (duplicates, as sources resend), hub time now.
 *  - sqlite:  SqliteStore on a temp file (the engine the hub's worker thread runs), one writer.
 *  - pg x1:   one PostgresStore (a pool of 4), two appends in flight, as the hub's BatchWriter does.
 *  - pg x3:   three PostgresStore instances on one schema (pools of their own) in this process,
 *             two appends in flight each, their batches sharing visitors: the cluster's write path.
 * Sides alternate within each round; the best round of each is reported with commit p50/p99.
 * Usage: node --import tsx bench/pg-ingest.ts [seconds=5] [--rounds=2] [--batch=200] [--url=postgres://…]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPostgresStore } from '../src/hub/store/postgres'
import { createSqliteStore } from '../src/hub/store/sqlite'
import type { Store, StoredEvent } from '../src/hub/store/types'

const args = process.argv.slice(2)
const SECONDS = Number(args.find((a) => !a.startsWith('--')) ?? 5)
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2)
const BATCH = Number(args.find((a) => a.startsWith('--batch='))?.slice(8) ?? 200)
const URL_ = args.find((a) => a.startsWith('--url='))?.slice(6) ?? 'postgres://postgres@127.0.0.1:5432/test'
const VISITORS = 5000

let n = 0
let clock = Date.now()
function event(): StoredEvent {
  n++
  clock += 7
  const v = (n * 7919) % VISITORS
  const custom = n % 10 === 0
  return {
    id: `b${n.toString(36).padStart(10, '0')}`, ts: clock, type: custom ? 'event' : 'pageview', site: 'bench.example',
    visitor: `visitor${v}`, cid: `c${v}`, host: 'bench.example', path: `/p/${n % 300}`, title: `Page ${n % 300}`,
    referrer: n % 5 === 0 ? 'https://search.example/?q=x' : null, refHost: n % 5 === 0 ? 'search.example' : null,
    utmSource: n % 11 === 0 ? 'news' : null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null,
    browser: v % 2 === 0 ? 'Chrome' : 'Firefox', os: 'Linux', device: 'desktop', bot: false, country: v % 3 === 0 ? 'DE' : 'NL',
    region: null, city: null, screen: 1920, language: 'en', name: custom ? 'signup' : null, data: custom ? '{"plan":"a"}' : null, instance: null,
  }
}

let previous: StoredEvent[] = []
function batch(): StoredEvent[] {
  const resend = Math.floor(BATCH * 0.02)
  const out = previous.slice(0, resend)
  while (out.length < BATCH) out.push(event())
  previous = out.slice(resend)
  return out
}

interface Figures { rows: number; rate: number; p50: number; p99: number }

async function drive(stores: Store[], seconds: number): Promise<Figures> {
  const lat: number[] = []
  let rows = 0
  const end = performance.now() + seconds * 1000
  const t0 = performance.now()
  await Promise.all(stores.flatMap((s) => [0, 1].map(async () => {
    while (performance.now() < end) {
      const b = batch()
      const t = performance.now()
      await s.append(b)
      lat.push(performance.now() - t)
      rows += b.length
    }
  })))
  const secs = (performance.now() - t0) / 1000
  lat.sort((a, b) => a - b)
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? 0
  return { rows, rate: rows / secs, p50: q(0.5), p99: q(0.99) }
}

async function side(name: string): Promise<Figures> {
  if (name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'ls-bench-'))
    const s = createSqliteStore(join(dir, 'b.db'))
    try {
      await s.init()
      return await drive([s], SECONDS)
    } finally {
      await s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  const schema = `ls_bench_${randomBytes(4).toString('hex')}`
  const writers = name === 'pg x3' ? 3 : 1
  const stores = Array.from({ length: writers }, () => createPostgresStore(URL_, { schema, poolMax: 4 }))
  try {
    await Promise.all(stores.map((s) => s.init()))
    return await drive(stores, SECONDS)
  } finally {
    await Promise.all(stores.map((s) => s.close()))
    const c = new pg.Client({ connectionString: URL_ })
    await c.connect()
    await c.query(`DROP SCHEMA ${schema} CASCADE`)
    await c.end()
  }
}

async function main(): Promise<void> {
  const sides = ['sqlite', 'pg x1', 'pg x3']
  const best = new Map<string, Figures>()
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of sides) {
      const f = await side(name)
      console.log(JSON.stringify({ round: r + 1, side: name, rows: f.rows, rowsPerSec: Math.round(f.rate), commitP50Ms: +f.p50.toFixed(1), commitP99Ms: +f.p99.toFixed(1) }))
      const b = best.get(name)
      if (b === undefined || f.rate > b.rate) best.set(name, f)
    }
  }
  const base = best.get('sqlite')?.rate ?? 1
  console.log(`\nbest of ${ROUNDS} rounds, ${SECONDS} s each, batches of ${BATCH}:`)
  console.log('side      rows/s   vs sqlite  commit p50 ms  p99 ms')
  for (const name of sides) {
    const f = best.get(name) as Figures
    console.log(`${name.padEnd(8)} ${String(Math.round(f.rate)).padStart(7)}   ${(f.rate / base).toFixed(2).padStart(8)}x  ${f.p50.toFixed(1).padStart(13)}  ${f.p99.toFixed(1).padStart(6)}`)
  }
}

void main()
