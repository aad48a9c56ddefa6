/**
 * Seed 000's dashboard: one panel per tracked application and process. Everything that moves comes
 * from the live channel, pushed, never polled: connected or not and since when, CPU, memory,
 * event-loop lag, jobs running now with their age, and the rates (`ProcessView.rates`: bytes/s and
 * DB rows/s over the last 60 s, jobs finished and failed in the last 60 s, and per job name over the
 * last hour: finished per minute, failures, p50 / p95 / p99). `/api/processes` is fetched once when
 * the view opens, for the hour of per-minute history behind the sparklines (and for processes gone
 * before the page opened); after that each live rate becomes the sparkline's current minute.
 */
import { get } from '../api'
import { h, replace, setText } from '../dom'
import { bytes, clock, duration, ms, num } from '../format'
import type { LiveClient, LiveState } from '../live'
import { Sparkline } from '../spark'
import type { JobStats, ProcessPoint, ProcessSeries, ProcessView } from '../types'

/** A running job is stuck past this age, or past 3 × its name's p99 when that is longer. */
export const STUCK_MS = 30_000
const HOUR = 3_600_000
const MINUTE = 60_000

/** The live rates as the sparkline's point for their minute (the 60 s window ending in it). */
function follow(s: ProcessSeries, v: ProcessView): void {
  const r = v.rates
  if (r === undefined) return
  const t = r.at - (r.at % MINUTE)
  const m = v.metrics
  const point: ProcessPoint = {
    t, sentPerSec: r.sentPerSec, receivedPerSec: r.receivedPerSec, readPerSec: r.readPerSec, writtenPerSec: r.writtenPerSec,
    jobs: r.finished, failed: r.failed, p50: r.p50, p95: r.p95, p99: r.p99, cpu: m.cpu, rss: m.rss, heapUsed: m.heapUsed, lag: m.lag,
  }
  const last = s.points[s.points.length - 1]
  if (last !== undefined && last.t > t) return
  if (last !== undefined && last.t === t) s.points[s.points.length - 1] = point
  else s.points.push(point)
  while ((s.points[0]?.t ?? Infinity) < t - HOUR) s.points.shift()
  s.lastSeen = Math.max(s.lastSeen, v.lastSeen)
}

function stat(label: string, value: string, cls = ''): HTMLElement {
  return h('div', { class: `stat ${cls}` }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label))
}

export interface ServicesView {
  el: HTMLElement
  show(visible: boolean): void
}

export function services(live: LiveClient): ServicesView {
  const list = h('div', { class: 'procs' })
  const empty = h('p', { class: 'empty' }, 'No tracked process yet. Call tracker({ name, hub }) in a Node service, or dashboard({ urls }) to dial one.')
  const msg = h('p', { class: 'muted', role: 'status' })
  const el = h('section', { class: 'services', 'aria-label': 'Services' }, msg, empty, list)
  let series = new Map<string, ProcessSeries>()
  let visible = false
  let tick = 0
  const sparks = new Map<string, { io: Sparkline; db: Sparkline }>()

  /** The history behind the sparklines: once per opening; live rates keep it current. */
  async function load(): Promise<void> {
    try {
      const r = await get<{ processes: ProcessSeries[] }>('/api/processes', { range: '1h' })
      series = new Map(r.processes.map((p) => [p.key, p]))
      for (const [k, v] of live.state.processes) {
        const s = series.get(k)
        if (s !== undefined) follow(s, v)
      }
      setText(msg, '')
      render(live.state)
    } catch (err) {
      setText(msg, `Could not load process series: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  function card(key: string, view: ProcessView | null, goneAt: number | null, s: ProcessSeries | undefined, state: LiveState): HTMLElement {
    const now = Date.now()
    const app = view?.app ?? s?.app ?? key
    const instance = view?.instance ?? s?.instance ?? ''
    const connected = view !== null && goneAt === null
    const since = connected ? (view as ProcessView).connectedSince : goneAt ?? s?.lastSeen ?? now
    // a connected process has live rates; one that is gone shows what the history said last
    const r = connected ? view?.rates : undefined
    const lp = r === undefined ? s?.points[s.points.length - 1] : undefined
    const last = r ?? (lp !== undefined && lp.t + 2 * MINUTE > now ? { ...lp, finished: lp.jobs } : undefined)
    const jobList = view?.rates?.jobs ?? s?.jobs ?? []
    const jobs = new Map<string, JobStats>(jobList.map((j) => [j.name, j]))
    const head = h('header', { class: 'proc-head' },
      h('h3', null, h('span', { class: 'app' }, app), ' ', h('span', { class: 'instance' }, instance)),
      h('span', { class: `conn ${connected ? 'on' : 'off'}` },
        connected ? 'connected' : 'disconnected', ` since ${clock(since)} (${duration(now - since)})`))
    const m = view?.metrics
    const stats = h('div', { class: 'stats' },
      stat('CPU', m ? `${num(m.cpu)} %` : '–'),
      stat('Memory (RSS)', m ? bytes(m.rss) : '–'),
      stat('Heap', m ? `${bytes(m.heapUsed)} / ${bytes(m.heapTotal)}` : '–'),
      stat('Event-loop lag', m ? ms(m.lag) : '–', m !== undefined && m.lag > 100 ? 'warn' : ''),
      stat('Sent', last ? `${bytes(last.sentPerSec)}/s` : '–'),
      stat('Received', last ? `${bytes(last.receivedPerSec)}/s` : '–'),
      stat('DB rows read', last ? `${num(last.readPerSec)}/s` : '–'),
      stat('DB rows written', last ? `${num(last.writtenPerSec)}/s` : '–'),
      stat('Jobs, last 60 s', last ? `${num(last.finished)}` : '–'),
      stat('Failed, last 60 s', last ? `${num(last.failed)}` : '–', last !== undefined && last.failed > 0 ? 'bad' : ''))
    let sp = sparks.get(key)
    if (sp === undefined) sparks.set(key, (sp = { io: new Sparkline('total', 'Bytes per second, last hour'), db: new Sparkline('reading', 'DB rows per second, last hour') }))
    const pts = s?.points ?? []
    sp.io.draw(pts.map((p) => [p.t + 30_000, p.sentPerSec + p.receivedPerSec]), now - HOUR, now)
    sp.db.draw(pts.map((p) => [p.t + 30_000, p.readPerSec + p.writtenPerSec]), now - HOUR, now)
    const sparkRow = pts.length < 2 ? null : h('div', { class: 'spark-row' },
      h('div', null, h('span', { class: 'stat-label' }, 'Bytes/s, last hour'), sp.io.el),
      h('div', null, h('span', { class: 'stat-label' }, 'DB rows/s, last hour'), sp.db.el))

    const running = view !== null && connected ? view.running : []
    const runningBox = h('div', { class: 'running' },
      h('h4', null, `Running now: ${view !== null && connected ? view.runningCount : 0}`))
    if (running.length > 0) {
      const elapsed = now - state.processesAt
      const ul = h('ul', { class: 'jobs-running' })
      for (const j of running) {
        const age = j.ageMs + elapsed
        const p99 = jobs.get(j.name)?.p99 ?? 0
        const stuck = age > Math.max(STUCK_MS, 3 * p99)
        ul.append(h('li', { class: stuck ? 'stuck' : '' },
          h('span', { class: 'job-name' }, j.name),
          h('span', { class: 'job-age' }, duration(age)),
          stuck ? h('span', { class: 'badge' }, 'stuck') : null))
      }
      if (view !== null && view.runningCount > running.length) ul.append(h('li', { class: 'muted' }, `and ${view.runningCount - running.length} more`))
      runningBox.append(ul)
    }
    const jobTable = h('table', { class: 'jobs' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Job (last hour)'), h('th', { scope: 'col', class: 'n' }, 'Finished/min'),
        h('th', { scope: 'col', class: 'n' }, 'Failed'), h('th', { scope: 'col', class: 'n' }, 'p50'),
        h('th', { scope: 'col', class: 'n' }, 'p95'), h('th', { scope: 'col', class: 'n' }, 'p99'))),
      h('tbody', null, ...jobList.map((j) => h('tr', { class: j.failed > 0 ? 'has-failed' : '' },
        h('td', { class: 'job-name' }, h('span', null, j.name), j.lastError ? h('span', { class: 'sub' }, j.lastError) : null),
        h('td', { class: 'n' }, num(j.perMinute)), h('td', { class: 'n' }, num(j.failed)),
        h('td', { class: 'n' }, ms(j.p50)), h('td', { class: 'n' }, ms(j.p95)), h('td', { class: 'n' }, ms(j.p99))))))
    return h('article', { class: `panel proc ${connected ? '' : 'gone'}`, 'data-key': key, 'aria-label': `${app} ${instance}` },
      head, stats, sparkRow, runningBox, jobList.length > 0 ? h('div', { class: 'scroll' }, jobTable) : null)
  }

  let lastRender = 0
  let pending = 0
  function render(state: LiveState): void {
    if (!visible) return
    // live diffs can come 40 times a second; the panel needs at most 4 repaints
    const wait = 250 - (Date.now() - lastRender)
    if (wait > 0) {
      if (pending === 0) pending = window.setTimeout(() => { pending = 0; render(live.state) }, wait)
      return
    }
    lastRender = Date.now()
    const keys = new Set<string>([...state.processes.keys(), ...state.gone.keys(), ...series.keys()])
    const sorted = [...keys].sort()
    replace(list, ...sorted.map((k) => {
      const v = state.processes.get(k) ?? state.gone.get(k)?.view ?? null
      const goneAt = state.processes.has(k) ? null : state.gone.get(k)?.at ?? null
      return card(k, v, state.processes.has(k) ? null : goneAt ?? series.get(k)?.lastSeen ?? Date.now(), series.get(k), state)
    }))
    empty.hidden = sorted.length > 0
  }

  live.onRender((state) => {
    for (const [k, v] of state.processes) {
      if (v.rates === undefined) continue
      let s = series.get(k)
      if (s === undefined) series.set(k, (s = { key: k, app: v.app, instance: v.instance, lastSeen: v.lastSeen, points: [], jobs: [] }))
      follow(s, v)
    }
    render(state)
  })
  return {
    el,
    show(v) {
      visible = v
      clearInterval(tick)
      if (!v) return
      void load()
      // not a poll: redraws running jobs' ages and "since" between pushes, from what is already here
      tick = window.setInterval(() => render(live.state), 1_000)
    },
  }
}
