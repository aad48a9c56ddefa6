/**
 * History: visitors and page views over a range, the live-state history (Total / Reading / Writing /
 * Idle means per bucket), top pages, referrers, UTM sources, keywords, browsers, OSes, devices, custom
 * events, countries (and regions and cities with a city database); a range picker; CSV export of exactly what is shown.
 */
import { get } from '../api'
import { Chart } from '../chart'
import { attributionLink, countryLabel } from '../country'
import { download, toCsv, type Cell } from '../csv'
import { h, replace, setText } from '../dom'
import { dateTime, duration, int } from '../format'
import type { Attribution, LiveSample, SeriesPoint, TopRow, Totals } from '../types'

const RANGES = [['1h', 'Last hour'], ['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']] as const
const DIMS = [
  ['page', 'Top pages'], ['referrer', 'Referrers'], ['utm_source', 'UTM sources'], ['keyword', 'Keywords'],
  ['browser', 'Browsers'], ['os', 'Operating systems'], ['device', 'Devices'], ['event', 'Custom events'],
  ['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities'], ['entry_page', 'Entry pages'], ['exit_page', 'Exit pages'],
] as const
/** Lists only a city-level IP database fills (--geoip): hidden while they have nothing to show. */
const ONLY_WITH_DATA: ReadonlySet<string> = new Set(['region', 'city'])
/** Lists of visits, not page views (docs/api.md, Visits). */
const VISIT_DIMS: ReadonlySet<string> = new Set(['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword'])

const pct = (n: number | null): string => (n === null ? '–' : `${Math.round(n * 100)}%`)
const KPIS: readonly { key: keyof Totals; label: string; fmt: (t: Totals) => string }[] = [
  { key: 'visitors', label: 'Visitors', fmt: (t) => int(t.visitors) },
  { key: 'visits', label: 'Visits', fmt: (t) => int(t.visits) },
  { key: 'pageviews', label: 'Page views', fmt: (t) => int(t.pageviews) },
  { key: 'viewsPerVisit', label: 'Views per visit', fmt: (t) => (t.viewsPerVisit === null ? '–' : t.viewsPerVisit.toFixed(1)) },
  { key: 'bounceRate', label: 'Bounce rate', fmt: (t) => pct(t.bounceRate) },
  { key: 'visitDurationMs', label: 'Visit duration', fmt: (t) => (t.visitDurationMs === null ? '–' : duration(t.visitDurationMs)) },
]

interface Loaded {
  site: string
  from: number
  to: number
  bucket: string
  series: SeriesPoint[]
  samples: LiveSample[]
  totals: Totals
  tops: Record<string, TopRow[]>
  /** The IP database's licence notice, shown under the countries. */
  attribution: Attribution | null
}

function isoDate(t: number): string {
  const d = new Date(t)
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`
}

/**
 * A bar as long as `share` (0–1) of its cell: the top value's bar fills the cell, the others in
 * proportion. The width goes through the CSSOM, which the dashboard's CSP allows (a style attribute it would not).
 */
function bar(share: number): HTMLElement {
  const fill = h('span', { class: 'bar-fill' })
  fill.style.width = `${(Math.max(0, Math.min(1, share)) * 100).toFixed(2)}%`
  return h('span', { class: 'bar', 'aria-hidden': 'true' }, fill)
}

export interface HistoryView {
  el: HTMLElement
  show(site: string | null): void
  restyle(): void
}

export function history(): HistoryView {
  let range: string = '24h'
  let custom: { from: number; to: number } | null = null
  let site: string | null = null
  let data: Loaded | null = null
  let seq = 0

  const buttons = RANGES.map(([r, label]) => {
    const b = h('button', { type: 'button', class: 'btn', 'aria-pressed': String(r === range) }, label)
    b.addEventListener('click', () => { range = r; custom = null; void load() })
    return { r, b }
  })
  const fromIn = h('input', { type: 'date', 'aria-label': 'From date', id: 'hist-from' })
  const toIn = h('input', { type: 'date', 'aria-label': 'To date', id: 'hist-to' })
  const apply = h('button', { type: 'submit', class: 'btn' }, 'Apply')
  const picker = h('form', { class: 'picker' }, h('label', { for: 'hist-from' }, 'From'), fromIn, h('label', { for: 'hist-to' }, 'to'), toIn, apply)
  picker.addEventListener('submit', (e) => {
    e.preventDefault()
    const f = fromIn.value ? new Date(`${fromIn.value}T00:00`).getTime() : NaN
    const t = toIn.value ? new Date(`${toIn.value}T00:00`).getTime() + 86_400_000 : Date.now()
    if (!Number.isFinite(f) || !(t > f)) { setText(msg, 'Pick a start date before the end date.'); return }
    custom = { from: f, to: t }
    void load()
  })
  const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Export CSV')
  exportBtn.addEventListener('click', () => exportCsv())
  const msg = h('p', { class: 'muted', role: 'status' })
  // why a tester's own visits (headless browser, curl, a script) are not in the counts
  const botsNote = h('p', { class: 'muted', id: 'hist-bots', hidden: '' })

  const kpis = KPIS.map((k) => ({ ...k, value: h('span', { class: 'kpi-value', 'data-kpi': k.key }, '–') }))
  const traffic = new Chart('Visitors and page views', [
    { label: 'Visitors', color: '--c-total', fill: true, value: int },
    { label: 'Page views', color: '--c-writing', value: int },
  ])
  const states = new Chart('Live visitors by state (mean)', [
    { label: 'Total', color: '--c-total', fill: true },
    { label: 'Reading', color: '--c-reading' },
    { label: 'Writing', color: '--c-writing' },
    { label: 'Idle', color: '--c-idle' },
  ])
  const topBoxes = DIMS.map(([dim, title]) => {
    const body = h('tbody')
    const note = h('p', { class: 'muted note' })
    const box = h('section', { class: 'panel top-list', 'aria-label': title },
      h('h3', null, title),
      h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Value'),
        h('th', { scope: 'col', class: 'n' }, VISIT_DIMS.has(dim) ? 'Visits' : 'Views'))), body),
      dim === 'country' && note)
    return { dim, title, body, box, note }
  })

  const el = h('section', { class: 'history', 'aria-label': 'History' },
    h('div', { class: 'toolbar' }, h('div', { class: 'seg', role: 'group', 'aria-label': 'Range' }, ...buttons.map((b) => b.b)), picker, exportBtn),
    msg,
    botsNote,
    h('div', { class: 'kpis' }, ...kpis.map((k) => h('div', { class: 'kpi' }, k.value, h('span', { class: 'kpi-label' }, k.label)))),
    h('section', { class: 'panel' }, h('h2', null, 'Visitors and page views'), traffic.el),
    h('section', { class: 'panel' }, h('h2', null, 'Live visitors by state'), states.el),
    h('div', { class: 'tops' }, ...topBoxes.map((t) => t.box)))

  async function load(): Promise<void> {
    if (site === null) { setText(msg, 'No site has reported yet.'); return }
    const my = ++seq
    for (const b of buttons) b.b.setAttribute('aria-pressed', String(custom === null && b.r === range))
    const q: Record<string, string | number> = custom === null ? { site, range } : { site, from: custom.from, to: custom.to }
    setText(msg, 'Loading…')
    try {
      const [s, live, totals, ...tops] = await Promise.all([
        get<{ from: number; to: number; bucket: string; points: SeriesPoint[] }>('/api/series', q),
        get<{ samples: LiveSample[] }>('/api/live-history', q),
        get<Totals>('/api/totals', q),
        ...DIMS.map(([dim]) => get<{ rows: TopRow[]; attribution?: Attribution | null }>('/api/top', { ...q, dim, limit: 10 })),
      ])
      if (my !== seq) return
      data = {
        site, from: s.from, to: s.to, bucket: s.bucket, series: s.points, samples: live.samples, totals,
        tops: Object.fromEntries(DIMS.map(([dim], i) => [dim, tops[i]?.rows ?? []])),
        attribution: tops[DIMS.findIndex(([dim]) => dim === 'country')]?.attribution ?? null,
      }
      if (custom === null) { fromIn.value = isoDate(s.from); toIn.value = isoDate(s.to) }
      render(data)
      setText(msg, `${dateTime(s.from)} – ${dateTime(s.to)}, by ${s.bucket}`)
    } catch (err) {
      if (my === seq) setText(msg, `Could not load history: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  function render(d: Loaded): void {
    for (const k of kpis) setText(k.value, k.fmt(d.totals))
    const bots = d.totals.bots ?? 0
    botsNote.hidden = bots === 0
    setText(botsNote, bots > 0 ? `${int(bots)} ${bots === 1 ? 'hit' : 'hits'} kept out as bots (crawlers, headless browsers, scripts: agents no person's browser sends), not counted above.` : '')
    // both charts span the range asked for, whatever points came back
    traffic.set([d.series.map((p) => p.t), d.series.map((p) => p.visitors), d.series.map((p) => p.pageviews)], d.from, d.to)
    // bucket the per-minute samples were averaged into is the API's; draw them as given
    const ls = d.samples
    states.set([ls.map((x) => x.minute), ls.map((x) => x.totalMean), ls.map((x) => x.readingMean), ls.map((x) => x.writingMean), ls.map((x) => x.idleMean)], d.from, d.to)
    for (const t of topBoxes) {
      const rows = d.tops[t.dim] ?? []
      const count = (r: TopRow): number => (VISIT_DIMS.has(t.dim) ? r.visits ?? 0 : r.pageviews)
      const max = Math.max(1, ...rows.map(count))
      if (rows.length === 0) replace(t.body, h('tr', null, h('td', { class: 'muted', colspan: 2 }, 'No data in this range')))
      else replace(t.body, ...rows.map((r) => h('tr', null,
        h('td', { class: 'path' }, ...(t.dim === 'country' ? countryLabel(r.value) : [r.value === '' ? '(none)' : r.value]), bar(count(r) / max)),
        h('td', { class: 'n' }, int(count(r))))))
      if (t.dim === 'country') replace(t.note, attributionLink(d.attribution))
      t.box.hidden = rows.length === 0 && ONLY_WITH_DATA.has(t.dim)
    }
  }

  function exportCsv(): void {
    if (data === null) return
    const d = data
    const iso = (t: number): string => new Date(t).toISOString()
    const sections: { title: string; header: string[]; rows: Cell[][] }[] = [
      { title: `Livestats ${d.site} ${iso(d.from)} to ${iso(d.to)}`,
        header: ['visitors', 'pageviews', 'visits', 'bounces', 'bounce_rate', 'views_per_visit', 'visit_duration_ms'],
        rows: [[d.totals.visitors, d.totals.pageviews, d.totals.visits, d.totals.bounces, d.totals.bounceRate, d.totals.viewsPerVisit, d.totals.visitDurationMs]] },
      { title: `Visitors and page views by ${d.bucket}`, header: ['time', 'visitors', 'pageviews'], rows: d.series.map((p) => [iso(p.t), p.visitors, p.pageviews]) },
      { title: 'Live visitors by state (mean per minute bucket)', header: ['time', 'total', 'reading', 'writing', 'idle'],
        rows: d.samples.map((x) => [iso(x.minute), x.totalMean, x.readingMean, x.writingMean, x.idleMean]) },
      ...DIMS.map(([dim, title]) => VISIT_DIMS.has(dim)
        ? { title, header: [dim, 'visits', 'bounces', 'pageviews', 'duration_ms'], rows: (d.tops[dim] ?? []).map((r): Cell[] => [r.value, r.visits ?? 0, r.bounces ?? 0, r.pageviews, r.durationMs ?? 0]) }
        : { title, header: [dim, 'pageviews'], rows: (d.tops[dim] ?? []).map((r): Cell[] => [r.value, r.pageviews]) }),
    ]
    download(`livestats-${d.site}-${isoDate(d.from)}-${isoDate(d.to)}.csv`, toCsv(sections))
  }

  let timer = 0
  return {
    el,
    show(s) {
      site = s
      void load()
      clearInterval(timer)
      timer = window.setInterval(() => { if (custom === null && !el.hidden) void load() }, 60_000)
    },
    restyle() { traffic.restyle(); states.restyle() },
  }
}
