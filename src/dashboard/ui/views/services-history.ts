/**
 * The Services view's history (issue 15.2): for one application (its instances added up, so a week
 * reads across restarts, which make new instances), charts of CPU, memory, event-loop lag,
 * bytes, DB rows, jobs and HTTP over the last hour, day or week, from `GET /api/processes/history`
 * (the hub's stored minutes in steps of 1, 5 or 60 minutes). Fetched when the view opens and when the
 * range or the process changes; the live panels above carry what happens now.
 */
import { get } from '../api'
import { Chart, type SeriesDef } from '../chart'
import { h, setText } from '../dom'
import { bytes, int, ms, num } from '../format'
import type { HttpFigures } from '../types'

export interface HistoryPoint {
  t: number; cpu: number | null; rss: number | null; heapUsed: number | null; lag: number | null
  sentPerSec: number; receivedPerSec: number; readPerSec: number; writtenPerSec: number
  jobs: number; failed: number; jobP95: number; http: HttpFigures | null
}
export interface ProcessHistory { key: string; app: string; instance: string; points: HistoryPoint[] }
interface HistoryReply { range: string; from: number; to: number; step: number; processes: ProcessHistory[] }

const RANGES = [['1h', 'Last hour'], ['24h', '24 hours'], ['7d', '7 days']] as const
type Range = (typeof RANGES)[number][0]

type Pick = (p: HistoryPoint) => number | null
interface Def { title: string; series: (SeriesDef & { pick: Pick })[]; axis?: (v: number) => string }

const perSec = (f: (v: number) => string) => (v: number) => `${f(v)}/s`
/** An axis label: the formatted value without decimals past the first digit group ("64 MB"). */
const short = (f: (v: number) => string) => (v: number) => f(v).replace(/(\d+)\.\d+/, '$1')
const DEFS: Def[] = [
  { title: 'CPU, % of one core (mean)', series: [{ label: 'CPU', color: '--c-total', fill: true, value: (v) => `${num(v)} %`, pick: (p) => p.cpu }] },
  { title: 'Memory (peak)', series: [
    { label: 'RSS', color: '--c-total', fill: true, value: bytes, pick: (p) => p.rss },
    { label: 'Heap used', color: '--c-reading', value: bytes, pick: (p) => p.heapUsed }], axis: short(bytes) },
  { title: 'Event-loop lag, ms (max)', series: [{ label: 'Lag', color: '--c-writing', fill: true, value: ms, pick: (p) => p.lag }] },
  { title: 'Bytes per second', series: [
    { label: 'Sent', color: '--c-total', fill: true, value: perSec(bytes), pick: (p) => p.sentPerSec },
    { label: 'Received', color: '--c-reading', value: perSec(bytes), pick: (p) => p.receivedPerSec }], axis: short(bytes) },
  { title: 'DB rows per second', series: [
    { label: 'Read', color: '--c-total', fill: true, value: perSec(num), pick: (p) => p.readPerSec },
    { label: 'Written', color: '--c-writing', value: perSec(num), pick: (p) => p.writtenPerSec }] },
  { title: 'Jobs finished per step', series: [
    { label: 'Finished', color: '--c-total', fill: true, value: int, pick: (p) => p.jobs },
    { label: 'Failed', color: '--bad', value: int, pick: (p) => p.failed }] },
  { title: 'HTTP requests per second', series: [
    { label: 'Requests', color: '--c-total', fill: true, value: perSec(num), pick: (p) => p.http?.requestsPerSec ?? 0 },
    { label: '4xx', color: '--warn', value: perSec(num), pick: (p) => perSecOf(p, 2) },
    { label: '5xx', color: '--bad', value: perSec(num), pick: (p) => perSecOf(p, 3) }] },
  { title: 'HTTP response time, ms', series: [
    { label: 'p50', color: '--c-reading', value: ms, pick: (p) => p.http?.p50 ?? null },
    { label: 'p95', color: '--c-total', value: ms, pick: (p) => p.http?.p95 ?? null },
    { label: 'p99', color: '--c-writing', value: ms, pick: (p) => p.http?.p99 ?? null }] },
]

function perSecOf(p: HistoryPoint, cls: number): number {
  const f = p.http
  if (f === null || f.requests === 0) return 0
  return (f.requestsPerSec * (f.status[cls] ?? 0)) / f.requests
}

export interface ServicesHistory {
  el: HTMLElement
  /** Fetches the range shown (the view opened, or a process appeared). */
  load(): Promise<void>
  restyle(): void
}

export function servicesHistory(): ServicesHistory {
  let range: Range = '1h'
  let selected: string | null = null
  let last: HistoryReply | null = null
  const charts = DEFS.map((d) => ({ d, c: new Chart(d.title, d.series, 160, d.axis) }))
  const pick = h('select', { 'aria-label': 'Application' }) as HTMLSelectElement
  const msg = h('p', { class: 'muted', role: 'status' })
  const buttons = RANGES.map(([r, label]) => {
    const b = h('button', { type: 'button', class: 'btn', 'aria-pressed': String(r === range), 'data-range': r }, label)
    b.addEventListener('click', () => { range = r; void load() })
    return { r, b }
  })
  pick.addEventListener('change', () => { selected = pick.value; draw() })
  const el = h('section', { class: 'panel svc-history', 'aria-label': 'Services history', hidden: true },
    h('h2', null, 'History'),
    h('div', { class: 'toolbar' }, pick, h('div', { class: 'seg', role: 'group', 'aria-label': 'Range' }, ...buttons.map((b) => b.b))),
    msg,
    h('div', { class: 'svc-charts' }, ...charts.map(({ d, c }) => h('div', { class: 'svc-chart' }, h('h3', null, d.title), c.el))))

  async function load(): Promise<void> {
    for (const b of buttons) b.b.setAttribute('aria-pressed', String(b.r === range))
    try {
      last = await get<HistoryReply>('/api/processes/history', { range, by: 'app' })
      setText(msg, '')
      draw()
    } catch (err) {
      setText(msg, `Could not load the history: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  function draw(): void {
    const r = last
    if (r === null) return
    el.hidden = r.processes.length === 0
    if (r.processes.length === 0) return
    if (selected === null || !r.processes.some((p) => p.key === selected)) selected = r.processes[0]?.key ?? null
    pick.replaceChildren(...r.processes.map((p) => {
      const o = h('option', { value: p.key }, p.app) as HTMLOptionElement
      o.selected = p.key === selected
      return o
    }))
    const p = r.processes.find((x) => x.key === selected)
    const byT = new Map((p?.points ?? []).map((x) => [x.t, x]))
    // every step of the range: a step with no minute stored is a gap in the lines, not a zero
    const ts: number[] = []
    for (let t = r.from; t < r.to; t += r.step) ts.push(t)
    el.dataset.range = r.range
    el.dataset.key = selected ?? ''
    for (const { d, c } of charts) {
      const cols = d.series.map((s) => ts.map((t) => { const x = byT.get(t); return x === undefined ? null : s.pick(x) }))
      // the chart's time axis is the step's middle, so a 1 h step sits across its hour
      c.set([ts.map((t) => t + r.step / 2), ...cols], r.from, r.to)
    }
  }

  return { el, load, restyle() { for (const { c } of charts) c.restyle() } }
}
