/**
 * Seed 000's dashboard: one panel per tracked application and process. Everything that moves comes
 * from the live channel, pushed, never polled: connected or not and since when, CPU, memory,
 * event-loop lag, jobs running now with their age, and the rates (`ProcessView.rates`: bytes/s and
 * DB rows/s over the last 60 s, jobs finished and failed in the last 60 s, and per job name the same
 * 60 s counts, which add up to them, with durations over the last hour). `/api/processes` is fetched
 * once when the view opens, for the hour of per-minute history behind the sparklines (and for
 * processes gone before the page opened); after that each live rate becomes the sparkline's current minute.
 *
 * A process that disconnected says so, with its rates at zero (it sends nothing now); after
 * `FOLD_MS` its panel folds into a one-line list. One that comes back on the same host (a restart: a
 * new pid, so a new instance name) continues the panel of the one it replaces.
 */
import { get } from '../api'
import { h, markOverflow, replace, setText } from '../dom'
import { bytes, clock, duration, int, ms, num, shortMs } from '../format'
import type { LiveClient, LiveState } from '../live'
import { Sparkline } from '../spark'
import { servicesHistory } from './services-history'
import type { HttpFigures, JobStats, ProcessPoint, ProcessSeries, ProcessView, RouteStats } from '../types'

/** A running job is stuck past this age, or past 3 × its name's p99 when that is longer. */
export const STUCK_MS = 30_000
/** A disconnected process keeps its panel this long, then folds into the "disconnected" list. */
export const FOLD_MS = 5 * 60_000
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
    http: r.http === undefined ? null : { ...r.http },
  }
  const last = s.points[s.points.length - 1]
  if (last !== undefined && last.t > t) return
  if (last !== undefined && last.t === t) s.points[s.points.length - 1] = point
  else s.points.push(point)
  while ((s.points[0]?.t ?? Infinity) < t - HOUR) s.points.shift()
  s.lastSeen = Math.max(s.lastSeen, v.lastSeen)
  s.host = v.host
}

/**
 * The machine a process runs on: from its samples, or, for one known only from stored minutes, from
 * the tracker's default instance name `host:pid`.
 */
function hostOf(view: ProcessView | null, s: ProcessSeries | undefined): string | null {
  const host = view?.host ?? s?.host ?? null
  if (host !== null) return host
  const m = /^(.+):\d+$/.exec(s?.instance ?? '')
  return m?.[1] ?? null
}

function stat(label: string, value: string, cls = ''): HTMLElement {
  return h('div', { class: `stat ${cls}` }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label))
}

/** One panel's subject: a process now or earlier, and the one it continues after a restart. */
interface Entry {
  key: string
  view: ProcessView | null
  series: ProcessSeries | undefined
  /** When it disconnected; null while connected. */
  goneAt: number | null
  app: string
  host: string | null
  /** The process this one replaced on the same host (its history goes before this one's). */
  before: Entry | null
}

export interface ServicesView {
  el: HTMLElement
  show(visible: boolean): void
  /** Redraws the history charts in the current theme's colours. */
  restyle(): void
}

export function services(live: LiveClient): ServicesView {
  const list = h('div', { class: 'procs' })
  const foldedList = h('ul', { class: 'gone-list' })
  const foldedSummary = h('summary')
  const folded = h('details', { class: 'panel folded', hidden: true }, foldedSummary, foldedList)
  const empty = h('p', { class: 'empty' }, 'No tracked process yet. Call tracker({ name, hub }) in a Node service, or dashboard({ urls }) to dial one.')
  const msg = h('p', { class: 'muted', role: 'status' })
  const history = servicesHistory()
  const el = h('section', { class: 'services', 'aria-label': 'Services' }, msg, empty, list, folded, history.el)
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

  /** Connected processes, and the gone ones each paired with the process that replaced it, if any. */
  function entries(state: LiveState): Entry[] {
    const keys = new Set<string>([...state.processes.keys(), ...state.gone.keys(), ...series.keys()])
    const all: Entry[] = []
    for (const key of keys) {
      const connected = state.processes.get(key)
      const view = connected ?? state.gone.get(key)?.view ?? null
      const s = series.get(key)
      const goneAt = connected !== undefined ? null : state.gone.get(key)?.at ?? s?.lastSeen ?? Date.now()
      all.push({ key, view, series: s, goneAt, app: view?.app ?? s?.app ?? key, host: hostOf(view, s), before: null })
    }
    // a gone process is continued by a process of the same app on the same host that connected
    // after it went (newest gone first, each replacement taken once)
    const gone = all.filter((e) => e.goneAt !== null).sort((a, b) => (b.goneAt as number) - (a.goneAt as number))
    const taken = new Set<Entry>()
    const continued = new Set<Entry>()
    for (const g of gone) {
      if (g.host === null) continue
      const next = all.find((c) => c !== g && !taken.has(c) && c.app === g.app && c.host === g.host && c.before === null &&
        startOf(c) >= (g.goneAt as number) - 5_000 && (c.goneAt === null || (c.goneAt as number) > (g.goneAt as number)))
      if (next === undefined) continue
      next.before = g
      taken.add(next)
      continued.add(g)
    }
    return all.filter((e) => !continued.has(e))
  }

  function startOf(e: Entry): number {
    return e.view?.connectedSince ?? e.series?.points[0]?.t ?? e.series?.lastSeen ?? 0
  }

  /** Points of an entry and of the ones it continues, oldest first. */
  function pointsOf(e: Entry): ProcessPoint[] {
    const own = e.series?.points ?? []
    if (e.before === null) return own
    const first = own[0]?.t ?? Infinity
    return [...pointsOf(e.before).filter((p) => p.t < first), ...own]
  }

  function card(e: Entry, state: LiveState): HTMLElement {
    const now = Date.now()
    const { key, view, series: s } = e
    const instance = view?.instance ?? s?.instance ?? ''
    const connected = e.goneAt === null
    const since = connected ? (view as ProcessView).connectedSince : (e.goneAt as number)
    // rates are what the process sends now: a gone process sends nothing, so its rates are zero
    const r = connected ? view?.rates : undefined
    const jobList: JobStats[] = (connected ? view?.rates?.jobs : undefined) ?? s?.jobs ?? []
    const jobs = new Map<string, JobStats>(jobList.map((j) => [j.name, j]))
    const head = h('header', { class: 'proc-head' },
      h('h3', null, h('span', { class: 'app' }, e.app), ' ', h('span', { class: 'instance' }, instance)),
      h('span', { class: `conn ${connected ? 'on' : 'off'}` },
        connected ? 'connected' : 'disconnected', ` since ${clock(since)} (${duration(now - since)})`))
    const restarted = e.before === null ? null : h('p', { class: 'restarted muted' },
      `Continues ${e.before.view?.instance ?? e.before.series?.instance ?? e.before.key}, disconnected at ${clock(e.before.goneAt ?? now)}`)
    const m = connected ? view?.metrics : undefined
    const zero = !connected
    const stats = h('div', { class: 'stats' },
      stat('CPU', m ? `${num(m.cpu)} %` : '–'),
      stat('Memory (RSS)', m ? bytes(m.rss) : '–'),
      stat('Heap', m ? `${bytes(m.heapUsed)} / ${bytes(m.heapTotal)}` : '–'),
      stat('Event-loop lag', m ? ms(m.lag) : '–', m !== undefined && m.lag > 100 ? 'warn' : ''),
      stat('Sent', r ? `${bytes(r.sentPerSec)}/s` : zero ? '0 B/s' : '–'),
      stat('Received', r ? `${bytes(r.receivedPerSec)}/s` : zero ? '0 B/s' : '–'),
      stat('DB rows read', r ? `${num(r.readPerSec)}/s` : zero ? '0/s' : '–'),
      stat('DB rows written', r ? `${num(r.writtenPerSec)}/s` : zero ? '0/s' : '–'),
      stat('Jobs, last 60 s', r ? int(r.finished) : zero ? '0' : '–'),
      stat('Failed, last 60 s', r ? int(r.failed) : zero ? '0' : '–', r !== undefined && r.failed > 0 ? 'bad' : ''))
    const httpBox = httpPanel(connected ? r?.http : undefined, connected ? undefined : s?.routes, connected)
    let sp = sparks.get(key)
    if (sp === undefined) {
      sparks.set(key, (sp = {
        io: new Sparkline('total', 'Bytes per second, sent and received, last hour', (v) => `${bytes(v)}/s`),
        db: new Sparkline('reading', 'DB rows per second, read and written, last hour', (v) => `${num(v)}/s`),
      }))
    }
    const pts = pointsOf(e)
    // a gone process adds a zero at the end: that is what it sends now
    const io: [number, number][] = pts.map((p) => [p.t + 30_000, p.sentPerSec + p.receivedPerSec])
    const db: [number, number][] = pts.map((p) => [p.t + 30_000, p.readPerSec + p.writtenPerSec])
    if (!connected && pts.length > 0) { io.push([now, 0]); db.push([now, 0]) }
    sp.io.draw(io, now - HOUR, now)
    sp.db.draw(db, now - HOUR, now)
    const sparkRow = pts.length < 2 ? null : h('div', { class: 'spark-row' },
      h('div', null, h('span', { class: 'stat-label' }, 'Bytes/s sent + received'), sp.io.el),
      h('div', null, h('span', { class: 'stat-label' }, 'DB rows/s read + written'), sp.db.el))

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
    // counts over the same 60 s as "Jobs, last 60 s" (they add up to it); durations over the hour
    const jobTable = h('table', { class: 'jobs' },
      h('caption', null, 'Finished and failed in the last 60 s; durations over the last hour'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col', class: 'n', title: 'Finished in the last 60 s' }, '60 s'),
        h('th', { scope: 'col', class: 'n', title: 'Failed in the last 60 s' }, 'Failed'), h('th', { scope: 'col', class: 'n' }, 'p50'),
        h('th', { scope: 'col', class: 'n' }, 'p95'), h('th', { scope: 'col', class: 'n' }, 'p99'))),
      h('tbody', null, ...jobList.map((j) => {
        const recent = connected ? j.recent ?? { finished: 0, failed: 0 } : { finished: 0, failed: 0 }
        return h('tr', { class: recent.failed > 0 ? 'has-failed' : '', 'data-job': j.name },
          h('td', { class: 'job-name' }, h('span', null, j.name),
            h('span', { class: 'sub' }, `${int(j.count)} in the last hour${j.failed > 0 ? `, ${int(j.failed)} failed` : ''}`),
            j.lastError ? h('span', { class: 'sub err' }, j.lastError) : null),
          h('td', { class: 'n' }, int(recent.finished)), h('td', { class: 'n' }, int(recent.failed)),
          h('td', { class: 'n' }, shortMs(j.p50)), h('td', { class: 'n' }, shortMs(j.p95)), h('td', { class: 'n' }, shortMs(j.p99)))
      })))
    return h('article', { class: `panel proc ${connected ? '' : 'gone'}`, 'data-key': key, 'aria-label': `${e.app} ${instance}` },
      head, restarted, stats, httpBox, sparkRow, runningBox, jobList.length > 0 ? h('div', { class: 'scroll' }, jobTable) : null)
  }

  /**
   * HTTP of a process (`t.http`): requests/s, status classes and response times over the last 60 s,
   * and per route over the last hour. Null when the process never reported HTTP.
   */
  function httpPanel(live: (HttpFigures & { routes: RouteStats[] }) | undefined, stored: RouteStats[] | undefined, connected: boolean): HTMLElement | null {
    const routes = live?.routes ?? stored ?? []
    if (live === undefined && routes.length === 0) return null
    const f = live
    const cls = ['2xx', '3xx', '4xx', '5xx']
    const stats = h('div', { class: 'stats http-stats' },
      stat('Requests/s, last 60 s', f ? num(f.requestsPerSec) : connected ? '–' : '0'),
      ...cls.map((c, i) => stat(c, f ? int(f.status[i] ?? 0) : '0', i === 3 && f !== undefined && (f.status[3] ?? 0) > 0 ? 'bad' : i === 2 && f !== undefined && (f.status[2] ?? 0) > 0 ? 'warn' : '')),
      stat('p50', f ? shortMs(f.p50) : '–'), stat('p95', f ? shortMs(f.p95) : '–'), stat('p99', f ? shortMs(f.p99) : '–'))
    const table = h('table', { class: 'routes' },
      h('caption', null, 'HTTP per route: requests in the last 60 s; status classes and response times over the last hour'),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Route'), h('th', { scope: 'col', class: 'n', title: 'Requests in the last 60 s' }, '60 s'),
        h('th', { scope: 'col', class: 'n', title: 'Requests in the last hour' }, 'Hour'),
        ...cls.map((c) => h('th', { scope: 'col', class: 'n' }, c)),
        h('th', { scope: 'col', class: 'n' }, 'p50'), h('th', { scope: 'col', class: 'n' }, 'p95'), h('th', { scope: 'col', class: 'n' }, 'p99'))),
      h('tbody', null, ...routes.map((rt) => h('tr', { class: (rt.status[3] ?? 0) > 0 ? 'has-failed' : '', 'data-route': `${rt.method} ${rt.route}` },
        h('td', { class: 'job-name' }, h('span', { class: 'method' }, rt.method), ' ', h('span', null, rt.route)),
        h('td', { class: 'n' }, int(connected ? rt.recent ?? 0 : 0)), h('td', { class: 'n' }, int(rt.requests)),
        ...cls.map((_c, i) => h('td', { class: 'n' }, int(rt.status[i] ?? 0))),
        h('td', { class: 'n' }, shortMs(rt.p50)), h('td', { class: 'n' }, shortMs(rt.p95)), h('td', { class: 'n' }, shortMs(rt.p99))))))
    return h('div', { class: 'http' }, h('h4', null, 'HTTP'), stats, routes.length > 0 ? h('div', { class: 'scroll' }, table) : null)
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
    const now = Date.now()
    const all = entries(state).sort((a, b) => (a.key < b.key ? -1 : 1))
    const shown = all.filter((e) => e.goneAt === null || now - e.goneAt < FOLD_MS)
    const old = all.filter((e) => !shown.includes(e)).sort((a, b) => (b.goneAt as number) - (a.goneAt as number))
    // panels are rebuilt on each repaint: keep where a person scrolled each job table to
    const scrolled = new Map<string, number>()
    for (const box of Array.from(list.querySelectorAll<HTMLElement>('.proc .scroll'))) {
      const k = box.closest<HTMLElement>('.proc')?.dataset.key
      if (k !== undefined && box.scrollLeft > 0) scrolled.set(k, box.scrollLeft)
    }
    replace(list, ...shown.map((e) => card(e, state)))
    for (const [k, left] of scrolled) {
      const box = list.querySelector<HTMLElement>(`.proc[data-key="${CSS.escape(k)}"] .scroll`)
      if (box !== null) box.scrollLeft = left
    }
    replace(foldedList, ...old.map((e) => h('li', { 'data-key': e.key },
      h('span', { class: 'app' }, e.app), ' ', h('span', { class: 'instance' }, e.view?.instance ?? e.series?.instance ?? ''),
      h('span', { class: 'muted' }, ` disconnected since ${clock(e.goneAt as number)} (${duration(now - (e.goneAt as number))} ago)`))))
    setText(foldedSummary, `${int(old.length)} disconnected ${old.length === 1 ? 'process' : 'processes'}, gone over ${FOLD_MS / MINUTE} min`)
    folded.hidden = old.length === 0
    empty.hidden = all.length > 0
    markOverflow(list)
  }

  live.onRender((state) => {
    for (const [k, v] of state.processes) {
      if (v.rates === undefined) continue
      let s = series.get(k)
      if (s === undefined) series.set(k, (s = { key: k, app: v.app, instance: v.instance, host: v.host, lastSeen: v.lastSeen, points: [], jobs: [], routes: [] }))
      follow(s, v)
    }
    render(state)
  })
  return {
    el,
    restyle: () => history.restyle(),
    show(v) {
      visible = v
      clearInterval(tick)
      if (!v) return
      void load()
      void history.load()
      // not a poll: redraws running jobs' ages and "since" between pushes, from what is already here
      tick = window.setInterval(() => render(live.state), 1_000)
    },
  }
}
