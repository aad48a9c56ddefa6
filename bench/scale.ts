/**
 * Scale (issue 3): how many visitor WebSockets one hub process holds, and what each costs.
 *
 * One hub child (bench/lib/servers.ts `hub`) and one bare `ws` child (`bare-relay`: parses and
 * acks every frame, nothing else) each take N visitor tabs, in the same run. CLIENTS client
 * processes (each with its own open-file budget) open N/CLIENTS tabs to each server, spread over
 * the loopback source addresses 127.0.0.2 … 127.0.0.(1+ADDRS); each tab sends what the snippet
 * sends (a pageview, a presence with url and interval), then a heartbeat every 15 s, the tabs'
 * phases spread evenly over the 15 s. Reports, for each server: RSS per tab ((RSS - idle RSS) / N)
 * and CPU, % of one core, over a window of steady heartbeating; and checks `/api/live` counts N.
 *
 *   node --import tsx bench/scale.ts [--n=19000] [--clients=4] [--addrs=32] [--window=30] [--prof=DIR]
 *
 * 32 source addresses keep each under the hub's per-address caps (2,000 sockets and tabs by default).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { startServer, type BenchServer } from './lib/spawn'

const arg = (name: string, dflt: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const SITE = 'scale.test'
const HEARTBEAT_MS = 15_000

interface ClientStats { type: 'stats'; open: number; failed: number; sent: number; acked: number; rejected: number; firstError: string }

// ---------------------------------------------------------------- client process

async function clientMain(): Promise<void> {
  const ports = arg('ports', '').split(',').map(Number)
  const first = Number(arg('first', '0'))
  const count = Number(arg('count', '0'))
  const total = Number(arg('total', '0'))
  const addrs = Number(arg('addrs', '32'))
  const stats: ClientStats = { type: 'stats', open: 0, failed: 0, sent: 0, acked: 0, rejected: 0, firstError: '' }
  const report = (): void => void process.send?.({ ...stats })
  interface T { ws: WebSocket; cid: string; url: string; i: number }
  const tabs: T[] = []
  const open = (port: number, i: number): Promise<void> => new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/collect`, {
      localAddress: `127.0.0.${2 + (i % addrs)}`,
      headers: { 'user-agent': `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.${i}.0 Safari/537.36` },
      perMessageDeflate: false,
    })
    const t: T = { ws, cid: `s${port}t${String(i).padStart(7, '0')}`, url: `https://${SITE}/p${i % 200}`, i }
    ws.on('message', (d: Buffer) => {
      stats.acked++
      if (d.indexOf('"rejected":[]') >= 0) return
      stats.rejected++
      if (stats.firstError === '') stats.firstError = String(d).slice(0, 300)
    })
    ws.once('error', (err) => {
      stats.failed++
      if (stats.firstError === '') stats.firstError = String(err)
      resolve()
    })
    ws.once('open', () => {
      stats.open++
      tabs.push(t)
      // what the snippet sends when its socket opens: a pageview, then presence with url and interval
      ws.send(`{"id":"${t.cid}a","type":"pageview","site":"${SITE}","cid":"${t.cid}","url":"${t.url}"}`)
      ws.send(`{"id":"${t.cid}b","type":"presence","site":"${SITE}","cid":"${t.cid}","state":"reading","url":"${t.url}","interval":15}`)
      stats.sent += 2
      resolve()
    })
  })
  // Until every process has opened its tabs (minutes on a busy machine), each open tab still beats
  // every 15 s, as the snippet does from the start: a hub closes a socket that stays silent.
  const keepAlive = setInterval(() => {
    for (const t of tabs) {
      if (t.ws.readyState !== WebSocket.OPEN) continue
      t.ws.send(`{"id":"${t.cid}k${Date.now()}","type":"presence","site":"${SITE}","cid":"${t.cid}","state":"reading","url":"${t.url}","interval":15}`)
      stats.sent++
    }
  }, HEARTBEAT_MS)
  for (let i = first; i < first + count; i += 250) {
    const n = Math.min(250, first + count - i)
    await Promise.all(ports.flatMap((p) => Array.from({ length: n }, (_, k) => open(p, i + k))))
  }
  report()
  await new Promise<void>((r) => process.once('message', () => r()))
  clearInterval(keepAlive)
  // Heartbeats: tab i beats at (i / total) × 15 s into every 15 s cycle, so all processes together
  // spread the beats evenly. One timer walks the tabs in phase order.
  tabs.sort((a, b) => a.i - b.i)
  const t0 = Date.now() - (Date.now() % HEARTBEAT_MS)
  let cycle = 0
  let next = 0
  let seq = 0
  const timer = setInterval(() => {
    const now = Date.now()
    for (;;) {
      if (next === tabs.length) { next = 0; cycle++ }
      const t = tabs[next] as T
      const due = t0 + cycle * HEARTBEAT_MS + ((t.i % total) / total) * HEARTBEAT_MS
      if (due > now) break
      if (t.ws.readyState === WebSocket.OPEN) {
        t.ws.send(`{"id":"${t.cid}h${++seq}","type":"presence","site":"${SITE}","cid":"${t.cid}","state":"reading","url":"${t.url}","interval":15}`)
        stats.sent++
      }
      next++
    }
  }, 10)
  const rep = setInterval(report, 1000)
  process.once('message', () => {
    clearInterval(timer)
    clearInterval(rep)
    report()
    setTimeout(() => process.exit(0), 200)
  })
}

// ---------------------------------------------------------------- orchestration

function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}
function machine(): { idle: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return { idle: (f[3] ?? 0) + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) }
}
function getJson(port: number, path: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let b = ''
      res.on('data', (d) => (b += String(d)))
      res.on('end', () => { try { resolve(JSON.parse(b)) } catch (e) { reject(e) } })
    }).on('error', reject)
  })
}
function getText(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let b = ''
      res.on('data', (d) => (b += String(d)))
      res.on('end', () => resolve(b))
    }).on('error', reject)
  })
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const MiB = (b: number): number => +(b / 1048576).toFixed(1)

async function main(): Promise<void> {
  const N = Number(arg('n', '19000'))
  const CLIENTS = Number(arg('clients', '4'))
  const ADDRS = Number(arg('addrs', '32'))
  const WINDOW = Number(arg('window', '30'))
  const PROF = arg('prof', '')

  const hub: BenchServer = await startServer('hub', PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [])
  const bare: BenchServer = await startServer('bare-relay')
  await sleep(2000)
  const idle = { hub: hub.rss(), bare: bare.rss() }
  const c0 = { hub: hub.cpuMs(), bare: bare.cpuMs(), at: performance.now() }
  await sleep(5000)
  const idleCpu = {
    hub: (100 * (hub.cpuMs() - c0.hub)) / (performance.now() - c0.at),
    bare: (100 * (bare.cpuMs() - c0.bare)) / (performance.now() - c0.at),
  }
  console.error(`idle: hub ${MiB(idle.hub)} MiB, bare ${MiB(idle.bare)} MiB; opening ${N} tabs to each from ${CLIENTS} processes`)

  const per = Math.ceil(N / CLIENTS)
  const stats = new Map<number, ClientStats>()
  const kids: ChildProcess[] = []
  const ready: Promise<void>[] = []
  const tOpen = performance.now()
  for (let c = 0; c < CLIENTS; c++) {
    const first = c * per
    const count = Math.min(per, N - first)
    const kid = fork(__filename, ['--role=client', `--ports=${hub.port},${bare.port}`, `--first=${first}`, `--count=${count}`, `--total=${N}`, `--addrs=${ADDRS}`], {
      execArgv: ['--import', 'tsx'],
    })
    kids.push(kid)
    ready.push(new Promise((resolve) => kid.once('message', (m: ClientStats) => { stats.set(c, m); resolve() })))
    kid.on('message', (m: ClientStats) => stats.set(c, m))
  }
  await Promise.all(ready)
  const sum = (k: keyof Omit<ClientStats, 'type' | 'firstError'>): number => [...stats.values()].reduce((a, s) => a + s[k], 0)
  const opened = sum('open')
  console.error(`open: ${opened} sockets (${sum('failed')} failed) in ${((performance.now() - tOpen) / 1000).toFixed(1)} s`)
  for (const k of kids) k.send('beat')

  // one full cycle so that every tab has beaten at least once, then the measurement window
  await sleep(HEARTBEAT_MS + 1000)
  const live0 = await getJson(hub.port, `/api/live?site=${SITE}`)
  const m0 = machine()
  const w0 = { hub: hub.cpuMs(), bare: bare.cpuMs(), kids: kids.map((k) => procCpuMs(k.pid as number)), sent: sum('sent'), acked: sum('acked'), at: performance.now() }
  const rss = { hub: [] as number[], bare: [] as number[] }
  while (performance.now() - w0.at < WINDOW * 1000) {
    await sleep(1000)
    rss.hub.push(hub.rss())
    rss.bare.push(bare.rss())
  }
  const secs = (performance.now() - w0.at) / 1000
  const m1 = machine()
  const cpu = {
    hub: (100 * (hub.cpuMs() - w0.hub)) / (secs * 1000),
    bare: (100 * (bare.cpuMs() - w0.bare)) / (secs * 1000),
    clients: (100 * kids.reduce((a, k, i) => a + procCpuMs(k.pid as number) - (w0.kids[i] as number), 0)) / (secs * 1000),
  }
  const beatsPerSec = (sum('sent') - w0.sent) / secs
  const live1 = await getJson(hub.port, `/api/live?site=${SITE}`)
  const metrics = await getText(hub.port, '/metrics')
  const conns = /livestats_live_connections\{site="scale\.test"\} (\d+)/.exec(metrics)?.[1]
  const rssEnd = { hub: rss.hub[rss.hub.length - 1] as number, bare: rss.bare[rss.bare.length - 1] as number }
  const perTab = { hub: (rssEnd.hub - idle.hub) / N, bare: (rssEnd.bare - idle.bare) / N }
  const r1 = (x: number): number => +x.toFixed(1)
  const result = {
    date: new Date().toISOString(),
    config: { n: N, clients: CLIENTS, sourceAddresses: ADDRS, heartbeatMs: HEARTBEAT_MS, windowSec: r1(secs) },
    opened: { sockets: opened, failed: sum('failed'), rejectedAcks: sum('rejected'), firstError: [...stats.values()].map((s) => s.firstError).find((e) => e !== '') ?? null },
    apiLive: { atWindowStart: live0, atWindowEnd: live1, liveConnectionsGauge: conns === undefined ? null : Number(conns), equalsN: (live1 as { total: number }).total === N && (live0 as { total: number }).total === N },
    heartbeatsPerSecToEach: r1(beatsPerSec / 2),
    rss: {
      idleMiB: { hub: MiB(idle.hub), bare: MiB(idle.bare) },
      endMiB: { hub: MiB(rssEnd.hub), bare: MiB(rssEnd.bare) },
      maxInWindowMiB: { hub: MiB(Math.max(...rss.hub)), bare: MiB(Math.max(...rss.bare)) },
      perTabKiB: { hub: r1(perTab.hub / 1024), bare: r1(perTab.bare / 1024), ratio: +(perTab.hub / perTab.bare).toFixed(2) },
    },
    cpuPercentOfOneCore: {
      idle: { hub: r1(idleCpu.hub), bare: r1(idleCpu.bare) },
      steady: { hub: r1(cpu.hub), bare: r1(cpu.bare), ratio: +(cpu.hub / cpu.bare).toFixed(2), clientProcesses: r1(cpu.clients) },
      machineBusyOf2Cores: r1(200 * (1 - (m1.idle - m0.idle) / (m1.total - m0.total))),
    },
    per100kVisitors: {
      hubRssGiB: +((idle.hub + perTab.hub * 100_000) / 2 ** 30).toFixed(2),
      hubCpuPercentOfOneCore: r1(idleCpu.hub + ((cpu.hub - idleCpu.hub) * 100_000) / N),
      bareRssGiB: +((idle.bare + perTab.bare * 100_000) / 2 ** 30).toFixed(2),
      bareCpuPercentOfOneCore: r1(idleCpu.bare + ((cpu.bare - idleCpu.bare) * 100_000) / N),
    },
  }
  console.log(JSON.stringify(result, null, 1))
  for (const k of kids) k.send('stop')
  await sleep(500)
  await Promise.all([hub.stop(), bare.stop()])
}

if (arg('role', 'main') === 'client') void clientMain()
else main().catch((err: unknown) => { console.error(err); process.exit(1) })
