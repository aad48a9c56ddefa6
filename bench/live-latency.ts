/**
 * Live latency (issue 3): event in → dashboard update out, measured at the dashboards.
 *
 *  - a real hub in a child process (bench/lib/servers.ts `hub`);
 *  - a load child process: TABS visitor tabs on `/collect` WebSockets (Chrome user agent, one
 *    visitor each) sending RATE events/s in total, 60 % presence state changes and 40 % pageviews
 *    (page changes), each tab at RATE/TABS per second, under the 5/s per-tab limit;
 *  - this process: 100 dashboards on `/live?site=…`, and PROBE_TABS probe tabs that move to page
 *    `/probe-<n>` on a fixed schedule (one every 50 ms), timestamped at send; each dashboard notes
 *    when a frame naming `/probe-<n>"` first arrives (a byte search in the raw frame, so the
 *    dashboards' own JSON parsing is not in the figure);
 *  - side by side, a bare `ws` server (`bare-relay`) gets the same probe events and relays each
 *    one as is to its own 100 clients: the floor of a fan-out on this machine under this load.
 *
 *   node --import tsx bench/live-latency.ts [--rate=10000] [--tabs=4000] [--seconds=20]
 *     [--dashboards=100] [--load-site=same|other] [--prof=DIR]
 *
 * `--load-site=other` sends the load to other sites than the one the dashboards watch, so their
 * site only changes with the probes: that isolates the 25 ms coalescing from the rest of the path.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { startServer, type BenchServer } from './lib/spawn'

const arg = (name: string, dflt: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const SITE = 'live.test'
const UA = (v: number): string =>
  `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.${v}.0 Safari/537.36`
const STATES3 = ['writing', 'reading', 'idle'] as const

// ---------------------------------------------------------------- load generator (child process)

interface LoadStats { sent: number; acked: number; rejected: number; open: number; at: number; firstRejection: string }

async function loadMain(): Promise<void> {
  const port = Number(arg('port', '0'))
  const tabsN = Number(arg('tabs', '4000'))
  const rate = Number(arg('rate', '10000'))
  const other = arg('load-site', 'same') === 'other'
  const send = (m: unknown): void => void process.send?.(m)
  const stats: LoadStats = { sent: 0, acked: 0, rejected: 0, open: 0, at: 0, firstRejection: '' }
  interface LTab { ws: WebSocket; cid: string; site: string; n: number; k: number; p: number }
  const tabs: LTab[] = []
  const open = (i: number): Promise<void> => new Promise((resolve, reject) => {
    // load tabs come from 200 addresses (127.0.0.2 …): the hub's per-address caps are not what this measures
    const ws = new WebSocket(`ws://127.0.0.1:${port}/collect`, { headers: { 'user-agent': UA(i) }, perMessageDeflate: false, localAddress: `127.0.0.${2 + (i % 200)}` })
    const t: LTab = { ws, cid: `L${process.pid}t${String(i).padStart(6, "0")}`, site: other ? `load${i % 10}.test` : SITE, n: 0, k: i % 3, p: i % 50 }
    ws.on('message', (d: Buffer) => {
      stats.acked++
      if (d.indexOf('"rejected":[]') >= 0) return
      stats.rejected++
      if (stats.firstRejection === '') stats.firstRejection = String(d).slice(0, 300)
    })
    ws.once('error', reject)
    ws.once('open', () => {
      tabs.push(t)
      stats.open++
      ws.send(`{"id":"${t.cid}x0","type":"pageview","site":"${t.site}","cid":"${t.cid}","url":"https://${t.site}/p${t.p}"}`)
      resolve()
    })
  })
  for (let i = 0; i < tabsN; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, tabsN - i) }, (_, k) => open(i + k)))
  }
  send({ type: 'ready', open: tabs.length })
  await new Promise<void>((r) => process.once('message', () => r()))
  // Sends what is due by now (rate × elapsed), round robin over the tabs: each tab at rate/tabs per second.
  const t0 = performance.now()
  let next = 0
  let due = 0
  const timer = setInterval(() => {
    due = Math.floor(((performance.now() - t0) / 1000) * rate)
    for (; stats.sent < due; stats.sent++) {
      const t = tabs[next] as LTab
      next = (next + 1) % tabs.length
      const id = `${t.cid}x${++t.n}`
      if (t.n % 5 < 3) {
        t.k = (t.k + 1) % 3 // a real change every time, so the hub publishes it
        t.ws.send(`{"id":"${id}","type":"presence","site":"${t.site}","cid":"${t.cid}","state":"${STATES3[t.k]}"}`)
      } else {
        t.p = (t.p + 7) % 50
        t.ws.send(`{"id":"${id}","type":"pageview","site":"${t.site}","cid":"${t.cid}","url":"https://${t.site}/p${t.p}","referrer":"https://ref.test/"}`)
      }
    }
  }, 2)
  const report = setInterval(() => send({ type: 'stats', ...stats, at: Date.now() }), 250)
  process.once('message', () => {
    clearInterval(timer)
    clearInterval(report)
    send({ type: 'stats', ...stats, at: Date.now() })
    for (const t of tabs) t.ws.terminate()
    setTimeout(() => process.exit(0), 100)
  })
}

// ---------------------------------------------------------------- measurement (this process)

function procCpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100
}

function machineIdle(): { idle: number; total: number } {
  const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  return { idle: (f[3] ?? 0) + (f[4] ?? 0), total: f.reduce((a, b) => a + b, 0) }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return +(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number).toFixed(2)
}
const summary = (xs: number[]): Record<string, number> =>
  ({ n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: +Math.max(...xs).toFixed(2) })

const MARK = Buffer.from('/probe-')

/** A dashboard that notes the first frame naming each probe. */
function dashboard(url: string, sentAt: Map<number, number>, out: number[], perProbe: Map<number, number>): Promise<WebSocket> {
  const seen = new Set<number>()
  const ws = new WebSocket(url, { perMessageDeflate: false })
  let frames = 0
  let bytes = 0
  ws.on('message', (d: Buffer) => {
    const now = performance.now()
    frames++
    bytes += d.length
    for (let i = d.indexOf(MARK); i >= 0; i = d.indexOf(MARK, i + MARK.length)) {
      let n = 0
      let j = i + MARK.length
      for (; j < d.length && (d[j] as number) >= 48 && (d[j] as number) <= 57; j++) n = n * 10 + (d[j] as number) - 48
      if (j === i + MARK.length || d[j] !== 34 /* " */ || seen.has(n)) continue
      seen.add(n)
      const t0 = sentAt.get(n)
      if (t0 === undefined) continue
      out.push(now - t0)
      perProbe.set(n, Math.max(perProbe.get(n) ?? 0, now - t0))
    }
  })
  Object.assign(ws, { stats: () => ({ frames, bytes }) })
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject) })
}

async function probeTab(port: number, i: number, site: string): Promise<{ ws: WebSocket; cid: string }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/collect`, { headers: { 'user-agent': UA(900_000 + i) }, perMessageDeflate: false })
  await new Promise<void>((r, j) => { ws.once('open', () => r()); ws.once('error', j) })
  const cid = `probe${i}x${process.pid}`
  ws.send(`{"id":"${cid}x0","type":"pageview","site":"${site}","cid":"${cid}","url":"https://${site}/start"}`)
  return { ws, cid }
}

async function main(): Promise<void> {
  const RATE = Number(arg('rate', '10000'))
  const TABS = Number(arg('tabs', '4000'))
  const SECONDS = Number(arg('seconds', '20'))
  const DASH = Number(arg('dashboards', '100'))
  const LOAD_SITE = arg('load-site', 'same')
  const PROF = arg('prof', '')
  const PROBE_MS = 50
  const PROBE_TABS = 10 // each probe tab moves every 500 ms: 2/s, under the 5/s limit

  const hub: BenchServer = await startServer('hub', PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`] : [])
  const bare: BenchServer = await startServer('bare-relay')
  const load: ChildProcess = fork(__filename, ['--role=load', `--port=${hub.port}`, `--tabs=${TABS}`, `--rate=${RATE}`, `--load-site=${LOAD_SITE}`], {
    execArgv: ['--import', 'tsx'],
  })
  let loadStats: LoadStats = { sent: 0, acked: 0, rejected: 0, open: 0, at: 0, firstRejection: '' }
  const ready = new Promise<void>((resolve) => load.on('message', (m: { type: string } & LoadStats) => {
    if (m.type === 'ready') resolve()
    else loadStats = m
  }))

  const hubSent = new Map<number, number>()
  const bareSent = new Map<number, number>()
  const hubLat: number[] = []
  const bareLat: number[] = []
  const hubLast = new Map<number, number>()
  const bareLast = new Map<number, number>()
  const hubDash: WebSocket[] = []
  const bareDash: WebSocket[] = []
  for (let i = 0; i < DASH; i++) {
    hubDash.push(await dashboard(`ws://127.0.0.1:${hub.port}/live?site=${SITE}`, hubSent, hubLat, hubLast))
    bareDash.push(await dashboard(`ws://127.0.0.1:${bare.port}/live`, bareSent, bareLat, bareLast))
  }
  const probes = await Promise.all(Array.from({ length: PROBE_TABS }, (_, i) => probeTab(hub.port, i, SITE)))
  const bareProbe = await probeTab(bare.port, 0, SITE)
  const tOpen = performance.now()
  await ready
  console.error(`load: ${loadStats.open || TABS} tabs open in ${((performance.now() - tOpen) / 1000).toFixed(1)} s; warming up 3 s`)
  load.send('go')
  await new Promise((r) => setTimeout(r, 3000))

  // measurement window
  const lag = monitorEventLoopDelay({ resolution: 1 })
  lag.enable()
  const cpu0 = { hub: hub.cpuMs(), bare: bare.cpuMs(), load: procCpuMs(load.pid as number), self: process.cpuUsage(), m: machineIdle() }
  const l0 = loadStats
  const tw0 = performance.now()
  const dashStats = (ws: WebSocket): { frames: number; bytes: number } => (ws as unknown as { stats(): { frames: number; bytes: number } }).stats()
  const f0 = dashStats(hubDash[0] as WebSocket)
  const rssHub: number[] = []
  let n = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const p = probes[n % PROBE_TABS] as { ws: WebSocket; cid: string }
      const state = STATES3[Math.floor(n / PROBE_TABS) % 3]
      const ev = (cid: string): string =>
        `{"id":"${cid}y${n}","type":"presence","site":"${SITE}","cid":"${cid}","state":"${state}","url":"https://${SITE}/probe-${n}"}`
      // alternate which server hears first, so neither gets a systematic head start
      const sends: [Map<number, number>, () => void][] = [
        [hubSent, () => p.ws.send(ev(p.cid))],
        [bareSent, () => bareProbe.ws.send(ev(bareProbe.cid))],
      ]
      if (n % 2 === 1) sends.reverse()
      for (const [m, go] of sends) { m.set(n, performance.now()); go() }
      if (n % 20 === 0) rssHub.push(hub.rss())
      if (++n * PROBE_MS >= SECONDS * 1000) { clearInterval(timer); resolve() }
    }, PROBE_MS)
  })
  await new Promise((r) => setTimeout(r, 1000)) // let the last probes arrive
  const secs = (performance.now() - tw0) / 1000
  const self = process.cpuUsage(cpu0.self)
  const m1 = machineIdle()
  const cpuPct = (ms: number): number => +((100 * ms) / (secs * 1000)).toFixed(1)
  const cpu = {
    hub: cpuPct(hub.cpuMs() - cpu0.hub),
    loadGenerator: cpuPct(procCpuMs(load.pid as number) - cpu0.load),
    dashboardsAndProbes: cpuPct((self.user + self.system) / 1000),
    bareRelay: cpuPct(bare.cpuMs() - cpu0.bare),
    machineBusyOf2Cores: +((200 * (1 - (m1.idle - cpu0.m.idle) / (m1.total - cpu0.m.total)))).toFixed(1),
    othersOnTheMachine: 0,
  }
  cpu.othersOnTheMachine = +(cpu.machineBusyOf2Cores - cpu.hub - cpu.loadGenerator - cpu.dashboardsAndProbes - cpu.bareRelay).toFixed(1)
  lag.disable()
  const l1 = loadStats // the load child's own counters and clock, sampled every 250 ms
  const loadSecs = (l1.at - l0.at) / 1000
  const rate = {
    sentPerSec: Math.round((l1.sent - l0.sent) / loadSecs), ackedPerSec: Math.round((l1.acked - l0.acked) / loadSecs),
    rejectedInWindow: l1.rejected - l0.rejected, firstRejection: l1.firstRejection,
  }
  load.send('stop')
  await new Promise((r) => setTimeout(r, 300))
  const f1 = dashStats(hubDash[0] as WebSocket)
  const framesPerDash = { frames: f1.frames - f0.frames, bytes: f1.bytes - f0.bytes }
  const expected = n * DASH
  const result = {
    date: new Date().toISOString(),
    config: { rate: RATE, tabs: TABS, dashboards: DASH, probes: n, probeEveryMs: PROBE_MS, loadSite: LOAD_SITE, seconds: +secs.toFixed(1) },
    load: rate,
    hub: { ...summary(hubLat), missing: expected - hubLat.length, lastDashboardPerProbe: summary([...hubLast.values()]) },
    bareWs: { ...summary(bareLat), missing: expected - bareLat.length, lastDashboardPerProbe: summary([...bareLast.values()]) },
    hubFramesPerDashboardPerSec: +(framesPerDash.frames / secs).toFixed(1),
    hubMeanFrameBytes: Math.round(framesPerDash.bytes / Math.max(1, framesPerDash.frames)),
    hubRssMiB: Math.round(Math.max(...rssHub) / 1048576),
    cpuPercentOfOneCore: cpu,
    dashboardProcessLoopDelayMs: { p50: +(lag.percentile(50) / 1e6).toFixed(2), p99: +(lag.percentile(99) / 1e6).toFixed(2), max: +(lag.max / 1e6).toFixed(2) },
  }
  console.log(JSON.stringify(result, null, 1))
  for (const ws of [...hubDash, ...bareDash, bareProbe.ws, ...probes.map((p) => p.ws)]) ws.terminate()
  await Promise.all([hub.stop(), bare.stop()])
  load.kill()
}

if (arg('role', 'main') === 'load') void loadMain()
else main().catch((err: unknown) => { console.error(err); process.exit(1) })
