/**
 * Seed 002's board: Total / Reading / Writing / Idle, big, with a sparkline of the last hour each,
 * and seed 001's connection count. Right from the snapshot; follows every diff.
 */
import { get } from '../api'
import { h, setText } from '../dom'
import { int } from '../format'
import type { LiveClient, LiveState } from '../live'
import { Sparkline } from '../spark'
import type { Counts, LiveSample } from '../types'

const HOUR = 3_600_000
const STEP = 5_000
type State = Exclude<keyof Counts, 'hidden'>
const STATES: { key: State; label: string; mean: keyof LiveSample }[] = [
  { key: 'total', label: 'Total', mean: 'totalMean' },
  { key: 'reading', label: 'Reading', mean: 'readingMean' },
  { key: 'writing', label: 'Writing', mean: 'writingMean' },
  { key: 'idle', label: 'Idle', mean: 'idleMean' },
]

export function board(live: LiveClient): HTMLElement {
  const history: Record<State, [number, number][]> = { total: [], reading: [], writing: [], idle: [] }
  const tiles = STATES.map((s) => {
    const value = h('span', { class: 'tile-value', 'data-state': s.key }, '0')
    const spark = new Sparkline(s.key, `${s.label} over the last hour`)
    // Idle includes the hidden tabs (so the four add up); the tile says how many of them are hidden
    const sub = s.key === 'idle' ? h('span', { class: 'tile-sub', 'data-state': 'hidden' }) : null
    const el = h('div', { class: `tile tile-${s.key}`, role: 'group', 'aria-label': s.label },
      value, h('span', { class: 'tile-label' }, s.label, sub), spark.el)
    return { ...s, el, value, spark, sub }
  })
  const connections = h('span', { class: 'connections-value' }, '0')
  const status = h('span', { class: 'status', role: 'status' }, 'connecting…')
  const el = h('section', { class: 'board', 'aria-label': 'Live visitors' },
    h('div', { class: 'tiles' }, ...tiles.map((t) => t.el)),
    h('p', { class: 'board-foot' },
      h('span', null, connections, ' connections (open tabs)'), status))

  let site: string | null = null
  let current: Counts = live.state.counts

  function push(c: Counts, at: number): void {
    current = c
    for (const s of STATES) {
      const list = history[s.key]
      const last = list[list.length - 1]
      // one point per 5 s is enough for an hour's sparkline; the newest point tracks the present
      if (last !== undefined && at - (list[list.length - 2]?.[0] ?? 0) < STEP) list[list.length - 1] = [at, c[s.key]]
      else list.push([at, c[s.key]])
      if (last !== undefined && last[0] > at) list.sort((a, b) => a[0] - b[0])
      while (list.length > 0 && (list[0] as [number, number])[0] < at - HOUR) list.shift()
    }
  }

  async function loadHistory(forSite: string): Promise<void> {
    try {
      const r = await get<{ samples: LiveSample[] }>('/api/live-history', { site: forSite, range: '1h', bucket: 'minute' })
      if (site !== forSite) return
      for (const s of STATES) {
        const live = history[s.key].filter((p) => p[0] > Date.now() - 60_000)
        history[s.key] = [...r.samples.map((x): [number, number] => [x.minute + 30_000, Number(x[s.mean])]), ...live]
      }
      live.schedule()
    } catch { /* the board works without history */ }
  }

  // stamped with this page's clock, like the 5 s ticks: a change stamped earlier by the hub would sort
  // behind a tick that came first and leave the old value as the line's latest point
  live.onCounts((c) => push(c, Date.now()))
  // the sparkline keeps moving while nothing changes
  setInterval(() => { push(current, Date.now()); live.schedule() }, STEP)

  live.onRender((s: LiveState) => {
    if (s.site !== site) {
      site = s.site
      for (const k of STATES) history[k.key] = []
      if (site !== null) void loadHistory(site)
    }
    const now = Date.now()
    for (const t of tiles) {
      setText(t.value, int(s.counts[t.key]))
      if (t.sub !== null) setText(t.sub, ` · ${int(s.counts.hidden)} hidden`)
      t.spark.draw(history[t.key], now - HOUR, now)
    }
    setText(connections, int(s.connections))
    // a cluster node cut off from Redis counts its own visitors only: the figures are a part
    const partial = s.status === 'live' && s.partial
    setText(status, partial ? 'live, this hub node only (cluster unreachable)'
      : s.status === 'live' ? 'live' : s.status === 'connecting' ? 'connecting…' : 'offline, reconnecting…')
    status.className = `status status-${partial ? 'partial' : s.status}`
    status.title = partial ? 'This hub cannot reach Redis: the counts are the visitors connected to this node, not the whole cluster' : ''
  })
  return el
}
