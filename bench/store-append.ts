/**
 * The SQLite store's append alone, no hub around it: one day of bench/lib/history-data.ts traffic
 * appended in batches to a fresh file, as the ingest writer hands them over. Per event: this
 * process's CPU time (user + system), wall time and bytes written (`wchar` of /proc/self/io: WAL
 * frames and checkpoints, the same for the same data and schema, so it shows an index's cost
 * without the machine's noise). With --base=DIR, the store of another checkout (e.g. `git archive
 * main | tar -x -C DIR`, DIR/node_modules linked) appends the same events in the same run, the two
 * alternating in order round by round.
 *
 *   node --import tsx bench/store-append.ts [events=100000] [--rounds=8] [--batch=100] [--base=DIR] [--stream=history|ingest]
 *
 * --stream=ingest appends what bench/ingest.ts's WebSocket side stores instead: page views of one
 * visitor on one site (all its connections share an address and agent), 300 pages, one referrer,
 * about 30 a millisecond; use a batch like the hub's writer gathers under that load (--batch=800).
 *
 * Prints one JSON line on stdout (per side: CPU µs/event per round, their median, written B/event);
 * progress goes to stderr.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { generate } from './lib/history-data'
import type { StoredEvent } from '../src/hub/store/types'

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const EVENTS = Number(args.find((a) => !a.startsWith('--')) ?? 100_000)
const ROUNDS = Number(arg('rounds') ?? 8)
const BATCH = Number(arg('batch') ?? 100)
const BASE = arg('base') ?? null
const STREAM = arg('stream') ?? 'history'
const DAY = 86_400_000
const START = Date.UTC(2025, 1, 1)

type Open = (file: string) => { init(): Promise<void>; append(e: readonly unknown[]): Promise<unknown>; close(): Promise<void> }

/** Bytes this process has written so far (all files). */
function written(): number {
  return Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? 0)
}

async function sideOf(root: string): Promise<Open> {
  const mod = (await import(resolve(root, 'src/hub/store/sqlite.ts'))) as { createSqliteStore?: Open; default?: { createSqliteStore: Open } }
  const open = mod.createSqliteStore ?? mod.default?.createSqliteStore
  if (open === undefined) throw new Error(`no createSqliteStore in ${root}`)
  return open
}

async function run(open: Open, events: readonly unknown[]): Promise<{ cpuUs: number; wallUs: number; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-store-append-'))
  try {
    const s = open(join(dir, 'a.db'))
    await s.init()
    const w0 = written()
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    for (let i = 0; i < events.length; i += BATCH) await s.append(events.slice(i, i + BATCH))
    const c = process.cpuUsage(c0)
    const out = { cpuUs: (c.user + c.system) / events.length, wallUs: ((performance.now() - t0) * 1000) / events.length, bytes: (written() - w0) / events.length }
    await s.close()
    return out
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The rows the hub stores for bench/ingest.ts's WebSocket frames (bench/lib/frames.ts). */
function ingestStream(n: number): StoredEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `b1000x${i.toString(36).padStart(10, '0')}`, ts: START + Math.floor(i / 30), type: 'pageview', site: 'bench.test',
    visitor: 'Q2xhdWRlIGJlbmNoIHZp', cid: null, host: 'bench.test', path: `/p/${i % 300}`, title: null,
    referrer: 'https://ref.test/', refHost: 'ref.test', utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null,
    keyword: null, browser: 'Chrome', os: 'Linux', device: 'desktop', bot: false, country: null, region: null, city: null,
    screen: null, language: null, name: null, data: null, instance: null,
  }))
}

async function main(): Promise<void> {
  const events = STREAM === 'ingest' ? ingestStream(EVENTS)
    : [...generate({ site: 'shop.example', start: START, end: START + DAY, events: EVENTS })].flatMap((b) => b.events)
  const sides: [string, Open][] = [['this', await sideOf(join(__dirname, '..'))]]
  if (BASE !== null) sides.push(['base', await sideOf(BASE)])
  const cpu = new Map<string, number[]>(sides.map(([k]) => [k, []]))
  const bytes = new Map<string, number>()
  const load0 = loadavg()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, open] of round % 2 === 0 ? sides : [...sides].reverse()) {
      const r = await run(open, events)
      cpu.get(name)?.push(+r.cpuUs.toFixed(1))
      bytes.set(name, Math.round(r.bytes))
      process.stderr.write(`round ${round} ${name}: cpu ${r.cpuUs.toFixed(1)} µs/event, wall ${r.wallUs.toFixed(1)} µs/event, written ${Math.round(r.bytes)} B/event\n`)
    }
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0
  const out: Record<string, unknown> = { bench: 'store.append', stream: STREAM, events: events.length, batch: BATCH, loadavg: load0.map((l) => +l.toFixed(1)) }
  for (const [name] of sides) out[name] = { cpuUsPerEvent: cpu.get(name), medianCpuUs: median(cpu.get(name) ?? []), writtenBytesPerEvent: bytes.get(name) }
  out.loadavg_end = loadavg().map((l) => +l.toFixed(1))
  console.log(JSON.stringify(out))
}
void main()
