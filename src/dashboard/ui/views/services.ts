/**
 * Seed 000's dashboard: one panel per tracked application and process. Live parts (connected or
 * not and since when, CPU, memory, event-loop lag, jobs running now with their age) come from the
 * live channel; rates and job statistics (bytes/s, DB rows/s, jobs finished and failed per minute,
 * p50 / p95 / p99) from `/api/processes`, refreshed every 5 s while the view is open.
 */
import { get } from '../api'
import { h, replace, setText } from '../dom'
import { bytes, clock, duration, ms, num } from '../format'
import type { LiveClient, LiveState } from '../live'
import { Sparkline } from '../spark'
import type { JobStats, ProcessSeries, ProcessView } from '../types'

/** A running job is stuck past this age, or past 3 × its name's p99 when that is longer. */
export const STUCK_MS = 30_000
const HOUR = 3_600_000

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
  let poll = 0
  let tick = 0
  const sparks = new Map<string, { io: Sparkline; db: Sparkline }>()

  async function refresh(): Promise<void> {
    try {
      const r = await get<{ processes: ProcessSeries[] }>('/api/processes', { range: '1h' })
      series = new Map(r.processes.map((p) => [p.key, p]))
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
    const last = s?.points[s.points.length - 1]
    const jobs = new Map<string, JobStats>((s?.jobs ?? []).map((j) => [j.name, j]))
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
      stat('Jobs this minute', last ? `${num(last.jobs)}` : '–'),
      stat('Failed this minute', last ? `${num(last.failed)}` : '–', last !== undefined && last.failed > 0 ? 'bad' : ''))
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
      h('tbody', null, ...(s?.jobs ?? []).map((j) => h('tr', { class: j.failed > 0 ? 'has-failed' : '' },
        h('td', { class: 'job-name' }, h('span', null, j.name), j.lastError ? h('span', { class: 'sub' }, j.lastError) : null),
        h('td', { class: 'n' }, num(j.perMinute)), h('td', { class: 'n' }, num(j.failed)),
        h('td', { class: 'n' }, ms(j.p50)), h('td', { class: 'n' }, ms(j.p95)), h('td', { class: 'n' }, ms(j.p99))))))
    return h('article', { class: `panel proc ${connected ? '' : 'gone'}`, 'data-key': key, 'aria-label': `${app} ${instance}` },
      head, stats, sparkRow, runningBox, (s?.jobs.length ?? 0) > 0 ? h('div', { class: 'scroll' }, jobTable) : null)
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

  // a job that just ended shows in the statistics at once, not at the next 5 s poll
  const lastRunning = new Map<string, number>()
  let soon = 0
  live.onRender((state) => {
    let ended = false
    for (const [k, p] of state.processes) {
      if (p.runningCount < (lastRunning.get(k) ?? 0)) ended = true
      lastRunning.set(k, p.runningCount)
    }
    if (ended && visible && soon === 0) soon = window.setTimeout(() => { soon = 0; void refresh() }, 300)
    render(state)
  })
  return {
    el,
    show(v) {
      visible = v
      clearInterval(poll)
      clearInterval(tick)
      if (!v) return
      void refresh()
      poll = window.setInterval(() => void refresh(), 5_000)
      tick = window.setInterval(() => render(live.state), 1_000)
    },
  }
}
