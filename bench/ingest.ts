/**
 * Ingest throughput, side by side in one run:
 *  - WebSocket: batches of 50 pageviews (~150 B each), validated, enriched, committed and acked by
 *    the hub, against a bare `ws` server that only parses and counts.
 *  - HTTP: one event per POST against the hub, and a bare node:http server answering 204
 *    (load from `wrk` when installed, else a Node keep-alive client).
 * Usage: node --import tsx bench/ingest.ts [seconds=5] [--rounds=2] [--only=ws|http] [--prof=DIR] [--base=DIR]
 *          [--xff=N] [--geoip=off|FILE]
 *   Best round of each side makes the ratio; server CPU per event (all threads, and the
 *   main thread alone) is printed too: less noisy than rates on a shared machine.
 *   --only runs one transport; --prof writes the hub child's .cpuprofile files into DIR
 *   (summarize with `node bench/lib/profile-top.mjs FILE`); --base=DIR adds a third side, the hub
 *   of another checkout (e.g. `git archive main | tar -x -C DIR`, with DIR/node_modules linked),
 *   in the same rounds: a before/after comparison on the same machine at the same time.
 *   --xff=N: the hub trusts loopback as a proxy and every HTTP request carries the next of N
 *   distinct public addresses in X-Forwarded-For (a proxy in front of many visitors: each request
 *   is a new client to describe and look up). --geoip is the hub's option (default: bundled DB).
 */
import { spawnSync } from 'node:child_process'
import { writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import http from 'node:http'
import WebSocket from 'ws'
import { startServer, type BenchServer } from './lib/spawn'
import { pageviewFrames } from './lib/frames'

const args = process.argv.slice(2)
const SECONDS = Number(args.find((a) => !a.startsWith('--')) ?? 5)
const ONLY = args.find((a) => a.startsWith('--only='))?.slice(7) ?? null
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2)
const PROF = args.find((a) => a.startsWith('--prof='))?.slice(7) ?? null
const BASE = args.find((a) => a.startsWith('--base='))?.slice(7) ?? null
const baseServers = BASE === null ? undefined : resolve(BASE, 'bench/lib/servers.ts')
/** The sides of each round: bare, this hub, and the base checkout's hub when asked for. */
const HUBS = BASE === null ? (['hub'] as const) : (['hub', 'base'] as const)
type Side = 'bare' | 'hub' | 'base'
const hubArgs = PROF === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${PROF}`]
const XFF = Number(args.find((a) => a.startsWith('--xff='))?.slice(6) ?? 0)
const GEOIP = args.find((a) => a.startsWith('--geoip='))?.slice(8) ?? null
// the hub child reads these as `livestats serve` would (bench/lib/servers.ts)
if (XFF > 0) process.env.LIVESTATS_TRUST_PROXY = 'loopback'
if (GEOIP !== null) process.env.LIVESTATS_GEOIP = GEOIP

/** The i-th of XFF spread-out IPv4 addresses (first octet 1-223: unicast). */
function xffAddress(i: number): string {
  const h = Math.imul((i % XFF) + 1, 2654435761) >>> 0
  return `${1 + ((h >>> 24) % 223)}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`
}
const CONNS = 8
const WINDOW = 8
const BATCH = 50
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

const frame = pageviewFrames('b', BATCH)

async function wsRun(server: BenchServer): Promise<{ rate: number; cpuUsPerEvent: number; mainUsPerEvent: number }> {
  let acked = 0
  let measuring = false
  const socks: WebSocket[] = []
  await Promise.all(Array.from({ length: CONNS }, () => new Promise<void>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/collect`, { headers: { 'user-agent': UA }, perMessageDeflate: false })
    socks.push(ws)
    ws.on('open', () => {
      for (let i = 0; i < WINDOW; i++) ws.send(frame())
      resolve()
    })
    ws.on('message', () => {
      if (measuring) acked += BATCH
      ws.send(frame())
    })
  })))
  await new Promise((r) => setTimeout(r, 1000)) // warm-up
  measuring = true
  const cpu0 = server.cpuMs()
  const main0 = server.mainCpuMs()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const rate = acked / ((performance.now() - t0) / 1000)
  const cpuUsPerEvent = ((server.cpuMs() - cpu0) * 1000) / Math.max(1, acked)
  const mainUsPerEvent = ((server.mainCpuMs() - main0) * 1000) / Math.max(1, acked)
  for (const s of socks) s.terminate()
  return { rate, cpuUsPerEvent, mainUsPerEvent }
}

function haveWrk(): boolean {
  return spawnSync('wrk', ['--version']).error === undefined
}

function wrkRun(port: number, seconds: number): { rps: number; p99: number } {
  const dir = mkdtempSync(join(tmpdir(), 'ls-wrk-'))
  const script = join(dir, 'post.lua')
  writeFileSync(script, `
counter = 0
request = function()
  counter = counter + 1
  local id = string.format("w%d%010d", math.random(1, 1000000000), counter)
  local body = '{"id":"' .. id .. '","type":"pageview","site":"bench.test","url":"https://bench.test/p/' .. (counter % 300) .. '"}'
  local headers = {["Content-Type"]="text/plain", ["User-Agent"]="${UA}"}
  if ${XFF} > 0 then
    local h = ((counter % ${XFF}) + 1) * 2654435761 % 4294967296
    headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d", 1 + math.floor(h / 16777216) % 223, math.floor(h / 65536) % 256, math.floor(h / 256) % 256, h % 256)
  end
  return wrk.format("POST", "/api/collect", headers, body)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %f %f\\n", summary.requests / (summary.duration / 1e6), latency:percentile(99) / 1000))
end
`)
  const r = spawnSync('wrk', ['-t1', '-c64', `-d${seconds}s`, '--latency', '-s', script, `http://127.0.0.1:${port}/api/collect`], { encoding: 'utf8' })
  const m = /RESULT ([\d.]+) ([\d.]+)/.exec(r.stdout)
  return { rps: m ? Number(m[1]) : 0, p99: m ? Number(m[2]) : 0 }
}

async function nodeHttpRun(port: number): Promise<{ rps: number; p99: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  const lat: number[] = []
  let n = 0
  let stop = false
  const one = (): Promise<void> => new Promise((resolve) => {
    const t = performance.now()
    const body = `{"id":"n${process.pid}x${(++n).toString(36).padStart(10, '0')}","type":"pageview","site":"bench.test","url":"https://bench.test/p/${n % 300}"}`
    const headers: Record<string, string> = { 'content-type': 'text/plain', 'user-agent': UA }
    if (XFF > 0) headers['x-forwarded-for'] = xffAddress(n)
    const req = http.request({ port, host: '127.0.0.1', path: '/api/collect', method: 'POST', agent, headers }, (res) => {
      res.resume()
      res.on('end', () => { lat.push(performance.now() - t); resolve() })
    })
    req.end(body)
  })
  const t0 = performance.now()
  setTimeout(() => (stop = true), SECONDS * 1000)
  await Promise.all(Array.from({ length: 64 }, async () => { while (!stop) await one() }))
  const secs = (performance.now() - t0) / 1000
  lat.sort((a, b) => a - b)
  agent.destroy()
  return { rps: lat.length / secs, p99: lat[Math.floor(lat.length * 0.99)] ?? 0 }
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = { date: new Date().toISOString(), seconds: SECONDS, xff: XFF, geoip: GEOIP ?? 'default' }
  console.log(JSON.stringify(out))
  // WebSocket, alternating so drift on a shared machine hits both sides
  const perSide = (): Record<Side, number[]> => ({ bare: [], hub: [], base: [] })
  const ws = { rate: perSide(), cpuUs: perSide(), mainThreadUs: perSide() }
  for (let round = 0; round < ROUNDS && ONLY !== 'http'; round++) {
    for (const side of ['bare', ...HUBS] as const) {
      const s = side === 'bare' ? await startServer('bare-ws') : await startServer('hub', hubArgs, side === 'base' ? baseServers : undefined)
      const { rate, cpuUsPerEvent, mainUsPerEvent } = await wsRun(s)
      await s.stop()
      ws.rate[side].push(Math.round(rate))
      ws.cpuUs[side].push(+cpuUsPerEvent.toFixed(2))
      ws.mainThreadUs[side].push(+mainUsPerEvent.toFixed(2))
    }
  }
  if (ONLY !== 'http') {
    const bestBare = Math.max(...ws.rate.bare)
    const o: Record<string, unknown> = {
      bareEventsPerSec: ws.rate.bare, hubEventsPerSec: ws.rate.hub, ratio: +(Math.max(...ws.rate.hub) / bestBare).toFixed(3),
    }
    if (BASE !== null) {
      o.baseEventsPerSec = ws.rate.base
      o.baseRatio = +(Math.max(...ws.rate.base) / bestBare).toFixed(3)
    }
    out.ws = { ...o, serverCpuUsPerEvent: ws.cpuUs, mainThreadCpuUsPerEvent: ws.mainThreadUs }
    console.log(JSON.stringify({ ws: out.ws }))
  }
  if (ONLY === 'ws') return

  const useWrk = haveWrk()
  type HttpResult = { rps: number; p99: number; cpuUsPerReq: number; mainUsPerReq: number }
  const h: Record<Side, HttpResult[]> = { bare: [], hub: [], base: [] }
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of ['bare', ...HUBS] as const) {
      const s = side === 'bare' ? await startServer('bare-http') : await startServer('hub', hubArgs, side === 'base' ? baseServers : undefined)
      if (useWrk) wrkRun(s.port, 1) // warm-up, as the WebSocket run has
      const cpu0 = s.cpuMs()
      const main0 = s.mainCpuMs()
      const r = useWrk ? wrkRun(s.port, SECONDS) : await nodeHttpRun(s.port)
      const perReq = (ms: number): number => +((ms * 1000) / Math.max(1, r.rps * SECONDS)).toFixed(2)
      const cpuUsPerReq = perReq(s.cpuMs() - cpu0)
      const mainUsPerReq = perReq(s.mainCpuMs() - main0)
      await s.stop()
      h[side].push({ rps: Math.round(r.rps), p99: +r.p99.toFixed(1), cpuUsPerReq, mainUsPerReq })
    }
  }
  const b = Math.max(...h.bare.map((x) => x.rps))
  const hb = Math.max(...h.hub.map((x) => x.rps))
  out.http = { generator: useWrk ? 'wrk -t1 -c64' : 'node keep-alive x64', bare: h.bare, hub: h.hub, ratio: +(hb / b).toFixed(3) }
  if (BASE !== null) {
    Object.assign(out.http as object, { base: h.base, baseRatio: +(Math.max(...h.base.map((x) => x.rps)) / b).toFixed(3) })
  }
  console.log(JSON.stringify({ http: out.http }))
}
void main()
