/**
 * Fidelity harness (issue 3): N scripted visitors on real WebSockets to a real hub's `/collect`
 * change state and page, open second tabs and close tabs on a known script; one dashboard on
 * `/live` applies snapshot + diffs (LiveView); every 100 ms its view is compared with the
 * ground truth the script computes on its own (a naive recount, not the hub's code).
 *
 *   node --import tsx bench/fidelity.ts [visitors=1000] [rounds=8]
 *
 * Reports: mismatches at samples taken >= 1 s after the last change (goal 0), tab close →
 * dashboard latency (goal < 1 s), and change → dashboard latency.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'
import { createHub } from '../src/hub/hub'
import { eventId } from '../src/protocol/ids'
import { STATES, type PresenceState } from '../src/protocol/limits'
import { LiveView } from '../src/hub/live/view'
import type { ServerMessage } from '../src/hub/live/protocol'
import { channels } from '../src/hub/bus/types'
import type { LiveCounts } from '../src/hub/presence/types'
import { recount, sameCounts } from '../test/helpers/crowd'

const N = Number(process.argv[2] ?? 1000)
const ROUNDS = Number(process.argv[3] ?? 8)
const SITE = 'bench.test'
const PAGES = 20
const ACTIVE_MS = 400 // changes of a round are spread over this
const QUIET_MS = 1600 // then nothing changes for this long
const SETTLED_MS = 1000 // samples this long after the last change must match

let seed = 42
function rnd(): number { // mulberry32: the script is the same on every run
  seed = (seed + 0x6d2b79f5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T

interface Tab { cid: string; visitor: number; ws: WebSocket; path: string; state: PresenceState; open: boolean }

const tabs = new Map<string, Tab>()
let lastChange = 0
let rejected = 0
const closeSent = new Map<string, number>()
const closeLatency: number[] = []
/** cid → the state change in flight and when it was sent (one per tab: a newer change replaces it). */
const changeSent = new Map<string, { state: PresenceState; t: number }>()
let measuring = true
const changeLatency: number[] = []

function ua(visitor: number): string {
  return `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.${visitor}.0 Safari/537.36`
}

function send(tab: Tab, ev: Record<string, unknown>): void {
  tab.ws.send(JSON.stringify({ id: eventId(), site: SITE, cid: tab.cid, ...ev }))
  lastChange = performance.now()
}

async function openTab(base: string, visitor: number): Promise<Tab> {
  // visitors come from 200 addresses (127.0.0.2 …), as from many homes: the hub's per-address caps
  // are not what this bench measures
  const ws = new WebSocket(`${base}/collect`, { headers: { 'user-agent': ua(visitor) }, localAddress: `127.0.0.${2 + (visitor % 200)}` })
  ws.on('message', (d) => {
    const m = JSON.parse(String(d)) as { type: string; rejected?: unknown[] }
    if (m.type !== 'ack' || (m.rejected?.length ?? 0) > 0) rejected++
  })
  await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  const tab: Tab = { cid: eventId().slice(0, 24), visitor, ws, path: `/p${Math.floor(rnd() * PAGES)}`, state: 'reading', open: true }
  tabs.set(tab.cid, tab)
  send(tab, { type: 'pageview', url: `https://${SITE}${tab.path}` })
  return tab
}

function setState(tab: Tab): void {
  const state = pick(STATES.filter((s) => s !== tab.state)) // a real change, so the hub publishes it
  tab.state = state
  changeSent.set(tab.cid, { state, t: performance.now() })
  send(tab, { type: 'presence', state })
}

function closeTab(tab: Tab, withLeave: boolean): void {
  tab.open = false
  tabs.delete(tab.cid)
  if (withLeave) send(tab, { type: 'leave' })
  if (measuring) closeSent.set(tab.cid, performance.now())
  lastChange = performance.now()
  tab.ws.close()
}

/** Ground truth, recounted naively from the script's own tabs (test/helpers/crowd.ts). */
function truth(): { counts: LiveCounts; pages: Map<string, LiveCounts> } {
  return recount(tabs.values())
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-fidelity-'))
  const quiet = { info() {}, warn() {}, error() {}, debug() {} }
  const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), logger: quiet })
  const { url } = await hub.listen()
  const base = url.replace(/^http/, 'ws')

  // Dashboards see an opaque key per tab, never its cid; this bench runs in the hub's process, so it
  // learns which key is which tab from the hub's internal bus (published before the diff goes out).
  const cidOf = new Map<string, string>()
  hub.live.bus.subscribe(channels.site(SITE), (m) => { if (m.type === 'presence' && m.op === 'join') cidOf.set(m.key, m.cid) })
  const view = new LiveView()
  const dash = new WebSocket(`${base}/live?site=${SITE}`)
  let diffs = 0
  dash.on('message', (d) => {
    const m = JSON.parse(String(d)) as ServerMessage
    const now = performance.now()
    view.apply(m)
    if (m.type !== 'diff') return
    diffs++
    for (const e of m.events ?? []) {
      const cid = cidOf.get(e.key) ?? ''
      if (e.op === 'leave') {
        cidOf.delete(e.key)
        const t0 = closeSent.get(cid)
        if (t0 !== undefined) { closeLatency.push(now - t0); closeSent.delete(cid) }
      } else if (e.op === 'update') {
        const c = changeSent.get(cid)
        if (c !== undefined && c.state === e.state) { changeLatency.push(now - c.t); changeSent.delete(cid) }
      }
    }
  })
  await new Promise<void>((r) => dash.once('open', () => r()))

  const t0 = performance.now()
  for (let i = 0; i < N; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, N - i) }, (_, k) => openTab(base, i + k)))
  }
  let nextVisitor = N
  console.log(`opened ${N} tabs in ${(performance.now() - t0).toFixed(0)} ms`)

  let samples = 0
  let settled = 0
  let mismatches = 0
  let transient = 0
  const sampler = setInterval(() => {
    samples++
    const tr = truth()
    let ok = sameCounts(view.counts, tr.counts) && view.pages.size === tr.pages.size
    if (ok) for (const [p, c] of tr.pages) if (!sameCounts(view.pages.get(p), c)) { ok = false; break }
    if (performance.now() - lastChange >= SETTLED_MS) {
      settled++
      if (!ok) {
        mismatches++
        console.log('MISMATCH', JSON.stringify({ view: view.counts, truth: tr.counts }))
      }
    } else if (!ok) transient++
  }, 100)

  for (let round = 0; round < ROUNDS; round++) {
    const open = [...tabs.values()]
    const actions = Math.floor(open.length * 0.3)
    await Promise.all(Array.from({ length: actions }, () => new Promise<void>((resolve) => {
      const tab = pick(open)
      const r = rnd()
      const at = rnd() * ACTIVE_MS
      setTimeout(() => {
        if (!tab.open) return resolve()
        if (r < 0.6) setState(tab)
        else if (r < 0.75) { changeSent.delete(tab.cid); tab.path = `/p${Math.floor(rnd() * PAGES)}`; send(tab, { type: 'pageview', url: `https://${SITE}${tab.path}` }) }
        else if (r < 0.85) closeTab(tab, rnd() < 0.5)
        else if (r < 0.93) { void openTab(base, tab.visitor).then(() => resolve()); return } // a second tab, same visitor
        else { void openTab(base, nextVisitor++).then(() => resolve()); return } // a new visitor
        resolve()
      }, at)
    })))
    await new Promise((r) => setTimeout(r, QUIET_MS))
    const tr = truth().counts
    console.log(`round ${round + 1}: ${tabs.size} tabs, truth ${JSON.stringify(tr)}, dashboard ${JSON.stringify(view.counts)}`)
  }
  clearInterval(sampler)

  // close everything at once (a throughput figure: client and hub share this process)
  measuring = false
  const tabsAtEnd = tabs.size
  const closeAll = performance.now()
  for (const t of [...tabs.values()]) closeTab(t, false)
  while (view.counts.total > 0 && performance.now() - closeAll < 5000) await new Promise((r) => setTimeout(r, 5))
  const allGone = performance.now() - closeAll

  console.log(JSON.stringify({
    visitors: N, rounds: ROUNDS, samples, settledSamples: settled, settledMismatches: mismatches, transientMismatches: transient,
    diffs, rejectedAcks: rejected,
    closeToDashboardMs: { n: closeLatency.length, p50: +pct(closeLatency, 50).toFixed(1), p99: +pct(closeLatency, 99).toFixed(1), max: +Math.max(...closeLatency).toFixed(1) },
    changeToDashboardMs: { n: changeLatency.length, p50: +pct(changeLatency, 50).toFixed(1), p99: +pct(changeLatency, 99).toFixed(1), max: +Math.max(...changeLatency).toFixed(1) },
    closeAllTabs: tabsAtEnd, closeAllToZeroMs: +allGone.toFixed(1),
  }, null, 1))
  dash.close()
  await hub.close()
  rmSync(dir, { recursive: true, force: true })
  if (mismatches > 0) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exit(1)
})
