/**
 * The hand-over of a batch to the SQLite worker thread (src/hub/store/row-codec.ts), alone: CPU per
 * row to pack a batch and post it (the event loop's part) and to unpack it (the worker's part), for
 * batches of bench/ingest.ts's WebSocket stream (one client: 50 rows a frame, one visitor and agent,
 * 300 pages, one referrer). With --base=DIR the codec of another checkout runs in the same rounds.
 *
 *   node --import tsx bench/row-codec.ts [rows=1000] [--rounds=6] [--base=DIR]
 *
 * Prints one JSON line: per side, µs per row of each round and their median.
 */
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { Worker } from 'node:worker_threads'
import type { StoredEvent } from '../src/hub/store/types'

type Codec = { packRows(rows: readonly StoredEvent[]): string | null; unpackRows(text: string): StoredEvent[] }

const args = process.argv.slice(2)
const arg = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
const ROWS = Number(args.find((a) => !a.startsWith('--')) ?? 1000)
const ROUNDS = Number(arg('rounds') ?? 6)
const BASE = arg('base') ?? null
const REPEAT = 300
const START = Date.UTC(2026, 10, 30, 9)

/** The rows the hub makes of ROWS / 50 frames of one connection (its client's fields are shared strings). */
function batch(): StoredEvent[] {
  const client = { visitor: '0q4mVGy9pXKyImM1x2Wyyq', browser: 'Chrome', os: 'Linux', device: 'desktop' }
  return Array.from({ length: ROWS }, (_, i) => ({
    id: `b1000x${i.toString(36).padStart(10, '0')}`, ts: START + Math.floor(i / 50), type: 'pageview', site: 'bench.test',
    visitor: client.visitor, cid: null, host: 'bench.test', path: `/p/${i % 300}`, title: null, referrer: 'https://ref.test/',
    refHost: 'ref.test', utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null,
    browser: client.browser, os: client.os, device: client.device, bot: false, country: null, region: null, city: null,
    screen: null, language: null, name: null, data: null, instance: null,
  }))
}

function cpuUsPerRow(fn: () => void): number {
  for (let i = 0; i < 20; i++) fn()
  const c0 = process.cpuUsage()
  for (let i = 0; i < REPEAT; i++) fn()
  const c = process.cpuUsage(c0)
  return +((c.user + c.system) / (REPEAT * ROWS)).toFixed(3)
}

async function main(): Promise<void> {
  const rows = batch()
  const sides: [string, Codec][] = [['this', (await import(join(__dirname, '../src/hub/store/row-codec.ts'))) as Codec]]
  if (BASE !== null) sides.push(['base', (await import(resolve(BASE, 'src/hub/store/row-codec.ts'))) as Codec])
  // a worker that drops what it gets: postMessage's copy and the rope's flattening are the sender's
  const sink = new Worker('require("node:worker_threads").parentPort.on("message", () => {})', { eval: true })
  const pack = new Map<string, number[]>(sides.map(([k]) => [k, []]))
  const unpack = new Map<string, number[]>(sides.map(([k]) => [k, []]))
  const load0 = loadavg()
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, codec] of round % 2 === 0 ? sides : [...sides].reverse()) {
      pack.get(name)?.push(cpuUsPerRow(() => sink.postMessage(codec.packRows(rows))))
      const text = codec.packRows(rows) as string
      unpack.get(name)?.push(cpuUsPerRow(() => codec.unpackRows(text)))
    }
  }
  await sink.terminate()
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? 0
  const out: Record<string, unknown> = { bench: 'row-codec', rows: ROWS, loadavg: load0.map((l) => +l.toFixed(1)) }
  for (const [name, codec] of sides) {
    out[name] = {
      packAndPostUsPerRow: pack.get(name), packMedian: median(pack.get(name) ?? []),
      unpackUsPerRow: unpack.get(name), unpackMedian: median(unpack.get(name) ?? []),
      charsPerRow: +((codec.packRows(rows) as string).length / ROWS).toFixed(1),
    }
  }
  console.log(JSON.stringify(out))
}
void main()
