/**
 * Flood (issue 10.6): what open ingest can make a hub hold. A real hub child on a fresh SQLite file
 * takes `presence` events (the kind that opens live tabs) over `POST /api/collect`, each with a new
 * site, `cid` and url and `interval: 3600`, as an attacker would send them:
 *
 * - `issue`: the issue's flood, 100 POSTs of 1,000 events from one address (127.0.0.1);
 * - `deep`:  ADDRS addresses (127.0.1.2 …) × ROUNDS POSTs on 10 of the `issue` sites, a new tab and
 *            page every event;
 * - `wide`:  the same from the same addresses, a new site every event.
 *
 * After each phase: events accepted and refused (by code), live sites and tabs, the hub's RSS,
 * the size of a `/metrics` scrape and of the `/live` hello; then RSS while the hub holds the state
 * for HOLD seconds (past a minute boundary, when every site writes its live sample).
 *
 *   node --import tsx bench/flood.ts [--addrs=250] [--rounds=4] [--batch=1000] [--hold=65] [--base=DIR] [--base-phases=issue]
 *
 * --base=DIR runs the same phases (only `issue` unless --base-phases says more: an uncapped hub
 * can take gigabytes) against another checkout's hub afterwards, for a before/after in one run.
 */
import http from 'node:http'
import { resolve } from 'node:path'
import WebSocket from 'ws'
import { startServer, type BenchServer } from './lib/spawn'

const arg = (name: string, dflt: string): string =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt
const ADDRS = Number(arg('addrs', '250'))
const ROUNDS = Number(arg('rounds', '4'))
const BATCH = Number(arg('batch', '1000'))
const HOLD = Number(arg('hold', '65'))
const BASE = arg('base', '')
const BASE_PHASES = arg('base-phases', 'issue').split(',')
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
const MiB = (b: number): number => +(b / 1048576).toFixed(1)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

interface Tally { sent: number; accepted: number; refused: Record<string, number>; failedRequests: number }

let seq = 0
function event(site: string, n: number): string {
  const cid = `flood${process.pid}x${n}`
  return `{"id":"${cid}e","type":"presence","site":"${site}","cid":"${cid}","state":"reading","url":"https://${site}/page/${n}","interval":3600}`
}

function post(port: number, body: string, agent: http.Agent, localAddress: string): Promise<{ status: number; text: string }> {
  return new Promise((done) => {
    const req = http.request({
      host: '127.0.0.1', port, path: '/api/collect', method: 'POST', agent, localAddress,
      headers: { 'content-type': 'text/plain', 'user-agent': UA, 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (text += d))
      res.on('end', () => done({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', () => done({ status: 0, text: '' }))
    req.end(body)
  })
}

/** Sends `posts` batches from `addr`, one after another; `siteOf(n)` names each event's site. */
async function sendFrom(port: number, addr: string, posts: number, siteOf: (n: number) => string, t: Tally): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  for (let p = 0; p < posts; p++) {
    const events: string[] = []
    for (let i = 0; i < BATCH; i++) {
      const n = ++seq
      events.push(event(siteOf(n), n))
    }
    t.sent += BATCH
    const r = await post(port, `{"v":1,"events":[${events.join(',')}]}`, agent, addr)
    if (r.status !== 202 && r.status !== 400) {
      t.failedRequests++
      continue
    }
    const ack = JSON.parse(r.text) as { rejected: { code: string }[] }
    t.accepted += BATCH - ack.rejected.length
    for (const x of ack.rejected) t.refused[x.code] = (t.refused[x.code] ?? 0) + 1
  }
  agent.destroy()
}

function get(port: number, path: string): Promise<string> {
  return new Promise((done, fail) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let b = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (b += d))
      res.on('end', () => done(b))
    }).on('error', fail)
  })
}

function hello(port: number): Promise<number> {
  return new Promise((done) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/live`)
    ws.once('message', (d: Buffer) => {
      done(d.length)
      ws.close()
    })
    ws.once('error', () => done(-1))
  })
}

async function snapshot(hub: BenchServer): Promise<Record<string, number>> {
  const metrics = await get(hub.port, '/metrics')
  const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN)
  // an older hub has no livestats_live_sites / _tabs: count its site series instead
  const siteSeries = (metrics.match(/^livestats_live_connections\{/gm) ?? []).length
  const tabs = Number.isNaN(gauge('livestats_live_tabs'))
    ? [...metrics.matchAll(/^livestats_live_connections\{[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0)
    : gauge('livestats_live_tabs')
  return {
    rssMiB: MiB(hub.rss()), metricsBytes: Buffer.byteLength(metrics), helloBytes: await hello(hub.port),
    liveSites: Number.isNaN(gauge('livestats_live_sites')) ? siteSeries : gauge('livestats_live_sites'), liveTabs: tabs,
  }
}

async function phase(hub: BenchServer, name: string): Promise<Record<string, unknown>> {
  const t: Tally = { sent: 0, accepted: 0, refused: {}, failedRequests: 0 }
  const t0 = Date.now()
  if (name === 'issue') {
    await sendFrom(hub.port, '127.0.0.1', 100, (n) => `s${n}.flood.test`, t)
  } else {
    const addrs = Array.from({ length: ADDRS }, (_, i) => `127.0.${1 + Math.floor(i / 250)}.${2 + (i % 250)}`)
    const siteOf = name === 'wide' ? (n: number): string => `w${n}.flood.test` : (n: number): string => `s${1 + (n % 10)}.flood.test`
    // 16 addresses at a time, each sending its POSTs in turn
    for (let i = 0; i < addrs.length; i += 16) {
      await Promise.all(addrs.slice(i, i + 16).map((a) => sendFrom(hub.port, a, ROUNDS, siteOf, t)))
    }
  }
  const secs = (Date.now() - t0) / 1000
  const after = await snapshot(hub)
  console.error(`${name}: ${t.sent} sent, ${t.accepted} accepted in ${secs.toFixed(1)} s; RSS ${after.rssMiB} MiB, /metrics ${after.metricsBytes} B, hello ${after.helloBytes} B`)
  return { phase: name, seconds: +secs.toFixed(1), ...t, ...after }
}

async function run(label: string, servers: string | undefined, phases: string[]): Promise<Record<string, unknown>> {
  const hub = await startServer('hub', [], servers)
  await sleep(2000)
  const idle = await snapshot(hub)
  console.error(`${label}: idle RSS ${idle.rssMiB} MiB`)
  const results: Record<string, unknown>[] = []
  for (const p of phases) results.push(await phase(hub, p))
  const held: { atSec: number; rssMiB: number }[] = []
  const h0 = Date.now()
  for (const at of [10, 30, HOLD].filter((s) => s <= HOLD)) {
    await sleep(Math.max(0, h0 + at * 1000 - Date.now()))
    held.push({ atSec: at, rssMiB: MiB(hub.rss()) })
  }
  const end = await snapshot(hub)
  await hub.stop()
  return { hub: label, idle, phases: results, held, end }
}

async function main(): Promise<void> {
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    command: `node --import tsx bench/flood.ts ${process.argv.slice(2).join(' ')}`.trim(),
    config: { addrs: ADDRS, rounds: ROUNDS, batch: BATCH, holdSec: HOLD, eventsPerIssueFlood: 100 * BATCH, eventsPerWideOrDeep: ADDRS * ROUNDS * BATCH },
    runs: [await run('hub', undefined, ['issue', 'deep', 'wide'])],
  }
  if (BASE !== '') (out.runs as unknown[]).push(await run(`base ${BASE}`, resolve(BASE, 'bench/lib/servers.ts'), BASE_PHASES))
  console.log(JSON.stringify(out, null, 1))
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
