/**
 * Tracker memory while the hub is down (issue 5): the tracked process keeps calling at 10,000
 * calls/s and the tracker flushes into its bounded buffer with nobody to take it. Time is
 * compressed: flushes every 10 ms instead of every second, so 60 s of wall time is 6,000 flushes,
 * i.e. 100 minutes of outage at the default interval, past the moment the buffer fills.
 * Heap and RSS are read after a forced GC every 5 s; flat after the buffer fills is the goal.
 * Usage: node --expose-gc --import tsx bench/tracker-outage.ts [seconds=60]
 */
import { tracker } from '../src/tracker'

const SECONDS = Number(process.argv[2] ?? 60)
const CALLS_PER_SEC = 10_000
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

const quiet = { info() {}, warn() {}, error() {} }
// port 1 on loopback refuses at once: the hub is down for the whole run
const t = tracker({ name: 'outage', hub: 'ws://127.0.0.1:1', interval: 10, handleSignals: false }, quiet)
const payload = 'x'.repeat(512)
const rows = [1, 2, 3]
const names = Array.from({ length: 20 }, (_, i) => `job-${i}`)

let calls = 0
const started = Date.now()
const pump = setInterval(() => {
  // 10 ms slices of 100 calls: bytes, rows and jobs, as a busy service makes them
  for (let i = 0; i < CALLS_PER_SEC / 100; i += 4) {
    t.bytes.sent(payload)
    t.bytes.received(payload)
    t.database.read(rows)
    t.job.start(names[(calls >> 2) % names.length] as string).stop()
    calls += 4
  }
}, 10)

const samples: { s: number; heapMB: number; rssMB: number; buffered: number; dropped: number }[] = []
const sampler = setInterval(() => {
  gc()
  const m = process.memoryUsage()
  const st = t.stats()
  samples.push({
    s: Math.round((Date.now() - started) / 1000), heapMB: +(m.heapUsed / 1048576).toFixed(1),
    rssMB: +(m.rss / 1048576).toFixed(1), buffered: st.buffered, dropped: st.dropped,
  })
}, 5000)

setTimeout(async () => {
  clearInterval(pump)
  clearInterval(sampler)
  const full = samples.find((x) => x.dropped > 0)
  const last = samples[samples.length - 1]
  console.log(JSON.stringify({
    date: new Date().toISOString(),
    wallSeconds: SECONDS,
    flushes: Math.round((SECONDS * 1000) / 10),
    equivalentMinutesAtDefaultInterval: Math.round((SECONDS * 100) / 60),
    callsPerSec: Math.round(calls / SECONDS),
    bufferFullAtSecond: full?.s ?? null,
    heapAtFullMB: full?.heapMB ?? null,
    heapAtEndMB: last?.heapMB,
    rssAtFullMB: full?.rssMB ?? null,
    rssAtEndMB: last?.rssMB,
    samples,
  }, null, 1))
  await t.close({ timeout: 100 })
}, SECONDS * 1000)
