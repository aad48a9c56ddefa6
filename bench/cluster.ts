/**
 * Cluster presence on Redis (issue 14.6), on a private redis-server this bench starts (so Redis'
 * command counts are ours alone; it needs `redis-server` on the PATH and the build in dist/):
 *
 *  1. Redis operations per presence change: 3 Redis presence nodes in this process make joins,
 *     state changes, page changes and leaves; `INFO commandstats` before and after gives the round
 *     trips (EVALSHA) and the commands Redis ran (inside the script too) per change. Unchanged
 *     heartbeats are sent too: they must cost nothing. And the background cost per node (lease
 *     renewals, reaper) per second.
 *  2. A join on node C seen by a dashboard on node A, p50/p99: real hub processes
 *     (`livestats serve --redis`), a probe tab on C opening a new page every 50 ms (timestamped at
 *     send), a dashboard on A noting the first frame that names it. Side by side in the same run:
 *     the same probe on A seen on A (cluster, one node's path), and on a single hub without Redis.
 *  3. How long a SIGKILLed node's visitors stay counted on another node (default lease 5 s).
 *
 *   node --import tsx bench/cluster.ts [--changes=20000] [--probes=200] [--kills=3]
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Redis } from 'ioredis'
import WebSocket from 'ws'
import { RedisLink } from '../src/hub/redis/link'
import { RedisBus } from '../src/hub/bus/redis'
import { RedisPresence } from '../src/hub/presence/redis'
import type { Accepted, ClientInfo } from '../src/hub/ingest/types'

const arg = (name: string, dflt: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const CHANGES = Number(arg('changes', '20000'))
const PROBES = Number(arg('probes', '200'))
const KILLS = Number(arg('kills', '3'))
const SITE = 'bench.test'
const quiet = { info() {}, warn() {}, error() {} }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
}

async function redisServer(): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort()
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d) => {
      out += String(d)
      if (out.includes('Ready to accept connections')) resolve()
    })
    proc.on('exit', (c) => reject(new Error(`redis-server exited (${c}): ${out}`)))
  })
  return { url: `redis://127.0.0.1:${port}`, proc }
}

async function commandstats(r: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of (await r.info('commandstats')).split('\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (m) out.set(m[1] as string, Number(m[2]))
  }
  return out
}
function delta(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>()
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) d.set(k, v - (a.get(k) ?? 0))
  return d
}
const sum = (m: Map<string, number>, skip: string[] = []): number => [...m].filter(([k]) => !skip.includes(k)).reduce((n, [, v]) => n + v, 0)

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}

// ---------------------------------------------------------------- 1. operations per change

const client = (connection: string): ClientInfo => ({
  connection, transport: 'ws', ipMasked: '127.0.0.0', ipRaw: '127.0.0.1', ipGroup: `10.${connection}`, userAgent: 'bench', browser: null, os: null,
  device: null, bot: false, country: null, region: null, city: null, language: null, authenticated: false,
})
let evId = 0
const ev = (event: Record<string, unknown>, visitor: string): Accepted =>
  ({ event: { id: `e${++evId}`, site: SITE, ...event } as unknown as Accepted['event'], ts: Date.now(), visitor, row: null })

async function opsPerChange(url: string): Promise<Record<string, unknown>> {
  const prefix = 'bench:'
  const nodes = await Promise.all([0, 1, 2].map(async () => {
    const link = new RedisLink({ url, prefix, logger: quiet })
    const bus = new RedisBus(link)
    const p = new RedisPresence({ link, bus, sweepMs: 0, logger: quiet, rate: { burst: 1e9, perSecond: 1e9 }, caps: { maxTabsPerIp: 1e9, ipRateBurst: 1e9, ipRatePerSecond: 1e9 } })
    await p.ready()
    return { link, bus, p }
  }))
  const r = new Redis(url)
  const open: { cid: string; visitor: string; node: number; conn: string }[] = []
  let changes = 0
  let seed = 1
  const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n
  const states = ['reading', 'writing', 'idle', 'hidden']
  const before = await commandstats(r)
  const t0 = performance.now()
  let tabs = 0
  while (changes < CHANGES) {
    const roll = rnd(10)
    if (open.length < 50 || roll < 3) {
      const node = rnd(3)
      const t = { cid: `c${++tabs}`, visitor: `v${rnd(2000)}`, node, conn: `k${tabs}` }
      if (nodes[node]?.p.accept(ev({ type: 'pageview', cid: t.cid, url: `https://${SITE}/p${rnd(20)}` }, t.visitor), client(t.conn)) === null) open.push(t)
    } else if (roll < 5) {
      const t = open.splice(rnd(open.length), 1)[0]
      if (t !== undefined) nodes[t.node]?.p.connectionClosed(t.conn)
    } else {
      const t = open[rnd(open.length)]
      if (t === undefined) continue
      const url2 = roll < 7 ? `https://${SITE}/p${rnd(20)}` : undefined
      nodes[t.node]?.p.accept(ev({ type: 'presence', cid: t.cid, state: states[rnd(4)], ...(url2 ? { url: url2 } : {}) }, t.visitor), client(t.conn))
    }
    changes++
    if (changes % 500 === 0) await Promise.all(nodes.map((n) => n.p.settled()))
  }
  await Promise.all(nodes.map((n) => n.p.settled()))
  const ms = performance.now() - t0
  const after = await commandstats(r)
  // the published changes actually made (a state change to the same state publishes nothing)
  const seq = Number(await r.get(`${prefix}{${SITE}}:seq`))
  const d = delta(before, after)
  // background: lease renewals and reaper rounds, per node per second
  const b0 = await commandstats(r)
  await sleep(5000)
  const bd = delta(b0, await commandstats(r))
  // unchanged heartbeats
  const h0 = await commandstats(r)
  const still = open.slice(0, 200)
  for (let i = 0; i < 5; i++) for (const t of still) nodes[t.node]?.p.accept(ev({ type: 'presence', cid: t.cid, state: 'reading' }, t.visitor), client(t.conn))
  // the first pass may change a state; the next four change nothing
  await Promise.all(nodes.map((n) => n.p.settled()))
  const h1 = await commandstats(r)
  for (let i = 0; i < 5; i++) for (const t of still) nodes[t.node]?.p.accept(ev({ type: 'presence', cid: t.cid, state: 'reading' }, t.visitor), client(t.conn))
  await Promise.all(nodes.map((n) => n.p.settled()))
  const hd = delta(h1, await commandstats(r))
  for (const n of nodes) {
    await n.p.close()
    await n.link.close()
  }
  void h0
  r.disconnect()
  const skip = ['info']
  return {
    changesSent: changes, publishedChanges: seq, ms: Math.round(ms),
    roundTripsPerChange: +((d.get('evalsha') ?? 0) / changes).toFixed(3),
    redisCommandsPerPublishedChange: +(sum(d, skip.concat(['evalsha', 'ping'])) / seq).toFixed(2),
    commandsByName: Object.fromEntries([...d].filter(([k]) => !skip.includes(k)).map(([k, v]) => [k, +(v / seq).toFixed(3)])),
    backgroundCommandsPerNodePerSecond: +(sum(bd, skip) / 3 / 5).toFixed(2),
    backgroundByName: Object.fromEntries([...bd].filter(([k]) => !skip.includes(k)).map(([k, v]) => [k, +(v / 15).toFixed(2)])),
    redisCommandsFor1000UnchangedHeartbeats: sum(hd, skip),
  }
}

// ---------------------------------------------------------------- 2. join latency between hubs

interface Hub { proc: ChildProcess; url: string; stop(): Promise<void> }

function startHub(extra: string[]): Promise<Hub> {
  const bin = join(__dirname, '..', 'bin', 'livestats.js')
  const proc = spawn(process.execPath, [bin, 'serve', '--port', '0', '--db', ':memory:', '--geoip', 'off', ...extra], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stderr?.on('data', (d) => (out += String(d)))
  return new Promise((resolve, reject) => {
    proc.stdout?.on('data', (d) => {
      out += String(d)
      const m = /Local:\s+(http:\/\/[^/\s]+)\//.exec(out) ?? /Dashboard:\s+(http:\/\/[^/\s]+)\//.exec(out)
      if (m?.[1] && out.includes('Snippet:')) {
        resolve({
          proc, url: m[1],
          stop: () => new Promise((r) => {
            if (proc.exitCode !== null || proc.signalCode !== null) return r()
            proc.once('exit', () => r())
            proc.kill('SIGTERM')
          }),
        })
      }
    })
    proc.on('exit', (c) => reject(new Error(`hub exited (${c}):\n${out}`)))
  })
}

const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

function openWs(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers: { 'user-agent': UA } })
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** Probe joins sent to `on`, seen by a dashboard on `seen`: ms from send to the first frame naming each. */
async function joinLatency(on: string, seen: string, tag: string): Promise<{ p50: number; p99: number; max: number; n: number }> {
  const dash = await openWs(`${seen.replace('http', 'ws')}/live?site=${SITE}`)
  await new Promise<void>((r) => dash.once('message', () => r()))
  await sleep(300) // the subscription's own resync snapshot
  const sent = new Map<string, number>()
  const lat: number[] = []
  dash.on('message', (data: Buffer) => {
    const now = performance.now()
    const text = data.toString()
    for (const [probe, t] of sent) {
      if (text.includes(`/${probe}"`)) {
        lat.push(now - t)
        sent.delete(probe)
      }
    }
  })
  const tab = await openWs(`${on.replace('http', 'ws')}/collect`)
  tab.on('message', () => {})
  for (let i = 0; i < PROBES; i++) {
    const probe = `${tag}-${i}`
    sent.set(probe, performance.now())
    // a new tab each time: a join
    tab.send(JSON.stringify({ id: `${tag}x${i.toString(36).padStart(8, '0')}`, type: 'pageview', site: SITE, cid: `${tag}cid${String(i).padStart(6, '0')}`, url: `https://${SITE}/${probe}` }))
    await sleep(50)
  }
  await sleep(1000)
  tab.close()
  dash.close()
  return { p50: +pct(lat, 50).toFixed(1), p99: +pct(lat, 99).toFixed(1), max: +Math.max(...lat).toFixed(1), n: lat.length }
}

// ---------------------------------------------------------------- 3. killed node

async function liveTotal(url: string): Promise<number> {
  const r = await fetch(`${url}/api/live?site=${SITE}`)
  return ((await r.json()) as { total: number }).total
}

async function killedNode(redis: string, a: Hub): Promise<number[]> {
  const out: number[] = []
  for (let k = 0; k < KILLS; k++) {
    const victim = await startHub(['--redis', redis, '--redis-prefix', 'bench2:'])
    const tabs: WebSocket[] = []
    const base = await liveTotal(a.url)
    for (let i = 0; i < 50; i++) {
      const ws = await openWs(`${victim.url.replace('http', 'ws')}/collect`)
      ws.on('error', () => {})
      ws.send(JSON.stringify({ id: `k${k}x${i.toString(36).padStart(8, '0')}`, type: 'pageview', site: SITE, cid: `kill${k}cid${String(i).padStart(6, '0')}`, url: `https://${SITE}/k` }))
      tabs.push(ws)
    }
    for (;;) {
      if ((await liveTotal(a.url)) > base) break
      await sleep(20)
    }
    await sleep(300)
    const t0 = performance.now()
    victim.proc.kill('SIGKILL')
    for (;;) {
      if ((await liveTotal(a.url)) === base) break
      await sleep(20)
    }
    out.push(Math.round(performance.now() - t0))
    await victim.stop()
  }
  return out
}

async function main(): Promise<void> {
  const started = new Date().toISOString()
  const redis = await redisServer()
  try {
    const ops = await opsPerChange(redis.url)
    console.error(JSON.stringify(ops))
    const a = await startHub(['--redis', redis.url, '--redis-prefix', 'bench2:'])
    const c = await startHub(['--redis', redis.url, '--redis-prefix', 'bench2:'])
    const single = await startHub([])
    const rows: Record<string, unknown> = {}
    // alternating, so a slow spell of the machine does not land on one case only
    for (const round of [1, 2]) {
      rows[`join on C seen on A (round ${round})`] = await joinLatency(c.url, a.url, `ca${round}`)
      rows[`join on A seen on A (round ${round})`] = await joinLatency(a.url, a.url, `aa${round}`)
      rows[`single hub, no Redis (round ${round})`] = await joinLatency(single.url, single.url, `ss${round}`)
    }
    console.error(JSON.stringify(rows))
    const kills = await killedNode(redis.url, a)
    for (const h of [a, c, single]) await h.stop()
    console.log(JSON.stringify({ bench: 'cluster', started, changes: CHANGES, probes: PROBES, opsPerChange: ops, joinLatencyMs: rows, killedNodeCountedMs: kills }, null, 1))
  } finally {
    redis.proc.kill('SIGTERM')
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
