/**
 * The tracker's hot path against prom-client doing the equivalent work, side by side in one run.
 *   node --import tsx bench/tracker.ts
 * Rounds alternate between the two sides; each figure is the median of the rounds, in ns per call.
 */
import { Counter, Histogram, Registry } from 'prom-client'
import { JOB_BUCKETS_MS } from '../src/protocol/limits'
import { tracker } from '../src/tracker/index'

const N = Number(process.env.BENCH_N ?? 1_000_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9)

const t = tracker({ name: 'bench', hub: 'ws://127.0.0.1:9', handleSignals: false }, { warn() {} })
const registry = new Registry()
const counter = new Counter({ name: 'bytes_sent', help: 'bytes sent', registers: [registry] })
const buckets = JOB_BUCKETS_MS.map((ms) => ms / 1000)
const hist = new Histogram({ name: 'job_seconds', help: 'jobs', buckets, registers: [registry] })
const histByName = new Histogram({ name: 'job_by_name_seconds', help: 'jobs', labelNames: ['name'], buckets, registers: [registry] })

const s = 'a'.repeat(1024)

type Case = { name: string; run: (n: number) => void }
const pairs: [Case, Case][] = [
  [
    { name: 'tracker bytes.sent(1 KiB string)', run: (n) => { for (let i = 0; i < n; i++) t.bytes.sent(s) } },
    { name: 'prom-client counter.inc(Buffer.byteLength(s))', run: (n) => { for (let i = 0; i < n; i++) counter.inc(Buffer.byteLength(s)) } },
  ],
  [
    { name: "tracker job.start('render').stop()", run: (n) => { for (let i = 0; i < n; i++) t.job.start('render').stop() } },
    { name: 'prom-client histogram.startTimer()()', run: (n) => { for (let i = 0; i < n; i++) hist.startTimer()() } },
  ],
  [
    { name: "tracker job.start('render').stop()", run: (n) => { for (let i = 0; i < n; i++) t.job.start('render').stop() } },
    { name: "prom-client histogram.startTimer({ name: 'render' })()", run: (n) => { for (let i = 0; i < n; i++) histByName.startTimer({ name: 'render' })() } },
  ],
]

function nsPerOp(c: Case): number {
  const t0 = process.hrtime.bigint()
  c.run(N)
  return Number(process.hrtime.bigint() - t0) / N
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${N.toLocaleString('en')} calls x ${ROUNDS} rounds, median ns/op`)
  for (const [a, b] of pairs) {
    a.run(N / 10) // warm up both before timing either
    b.run(N / 10)
    const ra: number[] = []
    const rb: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      ra.push(nsPerOp(a))
      rb.push(nsPerOp(b))
      await new Promise((res) => setImmediate(res)) // let the flush timer run, as in a real process
    }
    const ma = median(ra)
    const mb = median(rb)
    console.log(`  ${a.name.padEnd(56)} ${ma.toFixed(1).padStart(8)} ns/op`)
    console.log(`  ${b.name.padEnd(56)} ${mb.toFixed(1).padStart(8)} ns/op`)
    console.log(`  ${'ratio tracker / prom-client'.padEnd(56)} ${(ma / mb).toFixed(2).padStart(8)}x\n`)
  }
  await t.close({ timeout: 0 })
}

void main()
