/**
 * History: visitors, visits and page views over a range with engaged time, the live-state history
 * (Total / Reading / Writing / Idle means per bucket), top lists of every dimension; a range picker;
 * filters (click a row to add one, chips to remove them) and a comparison with an earlier period,
 * all held in the page URL (history-state.ts); CSV export of the figures and charts shown and of
 * every list whole (up to the API's 1,000 rows each, not only the 10 on screen).
 */
import { get } from '../api'
import { Chart } from '../chart'
import { attributionLink, countryLabel } from '../country'
import { download, toCsv, type Cell } from '../csv'
import { h, replace, setText } from '../dom'
import { compactDuration, int, utcDateTime } from '../format'
import type { Attribution, EventRow, LiveSample, SeriesPoint, TopRow, Totals } from '../types'
import { funnelsPanel } from './funnels'
import { apiQuery, filterText, readState, shownValue, withFilter, writeState, type Compare, type HistoryState, type UiFilter } from './history-state'
import { conversionsPanels } from './conversions'

const RANGES = [['1h', 'Last hour'], ['24h', '24 hours'], ['7d', '7 days'], ['30d', '30 days']] as const
const DIMS = [
  ['page', 'Top pages'], ['referrer', 'Referrers'], ['utm_source', 'UTM sources'], ['utm_medium', 'UTM media'],
  ['utm_campaign', 'UTM campaigns'], ['utm_term', 'UTM terms'], ['keyword', 'Keywords'],
  ['browser', 'Browsers'], ['os', 'Operating systems'], ['device', 'Devices'],
  ['country', 'Countries'], ['region', 'Regions'], ['city', 'Cities'], ['entry_page', 'Entry pages'], ['exit_page', 'Exit pages'],
] as const
/** What a list's first column holds, as Plausible heads it ("Page", "Source"), not a bare "Value". */
const COLUMN: Readonly<Record<string, string>> = {
  page: 'Page', referrer: 'Referrer', utm_source: 'Source', utm_medium: 'Medium', utm_campaign: 'Campaign', utm_term: 'Term',
  keyword: 'Keyword', browser: 'Browser', os: 'System', device: 'Device', country: 'Country', region: 'Region', city: 'City',
  entry_page: 'Entry page', exit_page: 'Exit page',
}
/** Lists hidden while they have nothing to show: only a city-level IP database fills regions and cities (--geoip), few sites use every UTM field. */
const ONLY_WITH_DATA: ReadonlySet<string> = new Set(['region', 'city', 'utm_medium', 'utm_campaign', 'utm_term'])
/** Lists of visits, not page views (docs/api.md, Visits). */
const VISIT_DIMS: ReadonlySet<string> = new Set(['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword'])

const pct = (n: number | null): string => (n === null ? '–' : `${Math.round(n * 100)}%`)
/** `about`: what the figure counts (docs/api.md), shown on hover. */
const KPIS: readonly { key: keyof Totals; label: string; about: string; fmt: (t: Totals) => string }[] = [
  { key: 'visitors', label: 'Visitors', about: 'Unique visitors with a page view in the range', fmt: (t) => int(t.visitors) },
  { key: 'visits', label: 'Visits', about: 'Visits that started in the range: one visitor\'s page views with no gap over 30 minutes', fmt: (t) => int(t.visits) },
  { key: 'pageviews', label: 'Page views', about: 'Page views in the range', fmt: (t) => int(t.pageviews) },
  { key: 'viewsPerVisit', label: 'Views per visit', about: 'Page views of the visits, divided by the visits', fmt: (t) => (t.viewsPerVisit === null ? '–' : t.viewsPerVisit.toFixed(1)) },
  { key: 'bounceRate', label: 'Bounce rate', about: 'Visits with a single page view, of all visits', fmt: (t) => pct(t.bounceRate) },
  { key: 'visitDurationMs', label: 'Visit duration', about: 'Mean time from a visit\'s first page view to its last (a bounce lasts 0)', fmt: (t) => (t.visitDurationMs === null ? '–' : compactDuration(t.visitDurationMs)) },
  { key: 'engagedMs', label: 'Engaged per visit', about: 'Mean time the tabs of a measured visit spent reading or writing, over all its tabs and pages, the last one included: it can exceed the visit duration', fmt: (t) => (t.engagedMs === null ? '–' : compactDuration(t.engagedMs)) },
  { key: 'writingShare', label: 'Spent writing', about: 'Share of the engaged time spent writing (typing in forms)', fmt: (t) => pct(t.writingShare) },
]
/**
 * Left out under a `page` filter, as Plausible leaves it out: page views then count the filtered
 * page only while visits count every page of the visits that saw it, so their ratio would read
 * as more page views than the tile beside it shows.
 */
const NOT_UNDER_PAGE_FILTER: ReadonlySet<string> = new Set(['viewsPerVisit'])
/** Figures where a rise is bad news (drawn red when up). */
const WORSE_UP: ReadonlySet<string> = new Set(['bounceRate'])
const COMPARES: readonly [Compare | null, string][] = [[null, 'No comparison'], ['previous', 'Previous period'], ['year', 'Year before']]

/** "+12%", "−3%", "±0%", or "" when there is nothing to compare with. */
function changeText(c: number | null | undefined): string {
  if (c === null || c === undefined) return ''
  const r = Math.round(c)
  return r > 0 ? `+${r}%` : r < 0 ? `−${-r}%` : '±0%'
}

interface Loaded {
  site: string
  from: number
  to: number
  bucket: string
  series: SeriesPoint[]
  samples: LiveSample[]
  totals: Totals
  /** With compare: the earlier period's chart, bucket for bucket. */
  previous: { from: number; to: number; points: SeriesPoint[] } | null
  tops: Record<string, TopRow[]>
  /** The IP database's licence notice, shown under the countries. */
  attribution: Attribution | null
  /** The API query these came from (range, filters, compare): the CSV export asks it for whole lists. */
  query: [string, string][]
}

/** What /api/history answers (docs/api.md). */
interface HistoryAnswer {
  from: number
  to: number
  bucket: string
  series: SeriesPoint[]
  previous?: { from: number; to: number; series: SeriesPoint[] }
  totals: Totals
  tops: Record<string, TopRow[]>
  /** Custom events by name (the conversions panel's list). */
  events: EventRow[]
  samples: LiveSample[]
  attribution: Attribution | null
}

/** One CSV section: a title line, a header line, rows. */
type Section = { title: string; header: string[]; rows: Cell[][] }

/** Rows per list in the CSV export: the API's most. */
const CSV_ROWS = '1000'

/**
 * The UTC date of `t`, as a date input holds it ("2026-11-25"). Picked dates are UTC days, as the
 * hub's day buckets and named ranges are: a day picked in New York or Kolkata is the same day, the
 * chart's day buckets are the picked days, and a reload shows the dates picked.
 */
function isoDate(t: number): string {
  return new Date(t).toISOString().slice(0, 10)
}

/** The start of the UTC day a date input holds, ms; NaN when it holds none. */
function utcDay(v: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(v) ? Date.parse(`${v}T00:00:00Z`) : NaN
}

const DAY = 86_400_000

/** "Nov 25, 12:00 AM – Nov 27, 12:00 AM UTC": History's times are all UTC, and say so. */
function span(from: number, to: number): string {
  return `${utcDateTime(from)} – ${utcDateTime(to)} UTC`
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

/** `readOnly` (a share link): the goal and funnel panels show no controls that write. */
export function history(readOnly = false): HistoryView {
  let st: HistoryState = readState(location.search)
  let site: string | null = null
  let data: Loaded | null = null
  let seq = 0

  /** A new state from a click: into the URL as a new history entry (back undoes it), then loaded. */
  function go(next: HistoryState): void {
    st = next
    const u = new URL(location.href)
    writeState(u, st)
    if (u.href !== location.href) window.history.pushState(null, '', u)
    void load()
  }
  // back and forward: the URL is the state
  addEventListener('popstate', () => {
    st = readState(location.search)
    if (!el.hidden && site !== null) void load()
  })

  const buttons = RANGES.map(([r, label]) => {
    const b = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false' }, label)
    b.addEventListener('click', () => go({ ...st, range: r, custom: null }))
    return { r, b }
  })
  const fromIn = h('input', { type: 'date', 'aria-label': 'From date', id: 'hist-from' })
  const toIn = h('input', { type: 'date', 'aria-label': 'To date', id: 'hist-to' })
  const apply = h('button', { type: 'submit', class: 'btn' }, 'Apply')
  const picker = h('form', { class: 'picker' }, h('label', { for: 'hist-from' }, 'From'), fromIn, h('label', { for: 'hist-to' }, 'to'), toIn,
    h('span', { class: 'muted', title: 'Picked dates are UTC days, as the hub counts days' }, 'UTC'), apply)
  picker.addEventListener('submit', (e) => {
    e.preventDefault()
    // whole UTC days, the last one included
    const f = utcDay(fromIn.value)
    const t = toIn.value ? utcDay(toIn.value) + DAY : Date.now()
    if (!Number.isFinite(f) || !(t > f)) { setText(msg, 'Pick a start date before the end date.'); return }
    go({ ...st, custom: { from: f, to: t } })
  })
  const compareButtons = COMPARES.map(([c, label]) => {
    const b = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false' }, label)
    b.addEventListener('click', () => go({ ...st, compare: c }))
    return { c, b }
  })
  const exportBtn = h('button', { type: 'button', class: 'btn' }, 'Export CSV')
  exportBtn.addEventListener('click', () => void exportCsv())
  const msg = h('p', { class: 'muted', role: 'status' })
  // why a tester's own visits (headless browser, curl, a script) are not in the counts
  const botsNote = h('p', { class: 'muted', id: 'hist-bots', hidden: '' })
  const chips = h('div', { class: 'chips', role: 'group', 'aria-label': 'Filters' })

  const kpis = KPIS.map((k) => {
    const value = h('span', { class: 'kpi-value', 'data-kpi': k.key }, '–')
    const delta = h('span', { class: 'kpi-delta', 'data-kpi-change': k.key })
    const tile = h('div', { class: 'kpi', title: k.about }, value, h('span', { class: 'kpi-label' }, k.label, ' ', delta))
    return { ...k, value, delta, tile }
  })
  const pageNote = h('p', { class: 'muted note', id: 'hist-page-note', hidden: '' },
    'With a page filter, page views count that page only; visits, bounce rate and the times are those of the visits that saw it, all their pages included.')
  const traffic = new Chart('Visitors and page views (times in UTC)', [
    { label: 'Visitors', color: '--c-total', fill: true, value: int },
    { label: 'Page views', color: '--c-writing', value: int },
    { label: 'Page views, compared period', color: '--muted', dash: [6, 4], value: int, optional: true },
  ], 220, undefined, true)
  const states = new Chart('Live visitors by state (mean, times in UTC)', [
    { label: 'Total', color: '--c-total', fill: true },
    { label: 'Reading', color: '--c-reading' },
    { label: 'Writing', color: '--c-writing' },
    { label: 'Idle', color: '--c-idle' },
  ], 220, undefined, true)
  const statesNote = h('p', { class: 'muted note', hidden: '' }, 'Live states are site-wide: filters do not apply to this chart.')
  const topBoxes = DIMS.map(([dim, title]) => {
    const body = h('tbody')
    const note = h('p', { class: 'muted note' })
    const engaged = dim === 'page' ? h('th', { scope: 'col', class: 'engaged', title: 'Mean engaged time (reading + writing) per measured page view, and the share spent writing' }, 'Engaged') : null
    // "depth", not "scroll": `.scroll` marks the boxes that scroll sideways (markOverflow)
    const scroll = dim === 'page' ? h('th', { scope: 'col', class: 'depth', title: 'Mean scroll depth: how far down the page each page view that reported one got (livestats-extras.js, data-scroll)' }, 'Scroll') : null
    const head = h('tr', null, h('th', { scope: 'col' }, COLUMN[dim] ?? 'Value'), engaged, scroll, h('th', { scope: 'col', class: 'n' }, VISIT_DIMS.has(dim) ? 'Visits' : 'Views'))
    const box = h('section', { class: 'panel top-list', 'aria-label': title, 'data-dim': dim },
      h('h3', null, title), h('table', null, h('thead', null, head), body), dim === 'country' && note)
    return { dim, title, body, box, note, scroll }
  })

  // goals, custom events and their properties (issue 13)
  const conv = conversionsPanels((f) => go(withFilter(st, f)), readOnly)
  // funnels (issue 13.3)
  const funnels = funnelsPanel(readOnly)

  const el = h('section', { class: 'history', 'aria-label': 'History' },
    h('div', { class: 'toolbar' }, h('div', { class: 'seg', role: 'group', 'aria-label': 'Range' }, ...buttons.map((b) => b.b)), picker, exportBtn),
    h('div', { class: 'toolbar' }, h('div', { class: 'seg', role: 'group', 'aria-label': 'Compare with' }, ...compareButtons.map((b) => b.b)), chips),
    msg,
    botsNote,
    h('div', { class: 'kpis' }, ...kpis.map((k) => k.tile)),
    pageNote,
    h('section', { class: 'panel' }, h('h2', null, 'Visitors and page views ', utcTag()), traffic.el),
    h('section', { class: 'panel' }, h('h2', null, 'Live visitors by state ', utcTag()), statesNote, states.el),
    conv.el,
    funnels.el,
    h('div', { class: 'tops' }, ...topBoxes.map((t) => t.box)))

  /** The controls as the state says: pressed range and comparison, the filter chips. */
  function controls(): void {
    for (const b of buttons) b.b.setAttribute('aria-pressed', String(st.custom === null && b.r === st.range))
    for (const b of compareButtons) b.b.setAttribute('aria-pressed', String(st.compare === b.c))
    replace(chips, ...st.filters.map((f, i) => {
      const text = filterText(f)
      const x = h('button', { type: 'button', class: 'chip', 'aria-label': `Remove filter: ${text}`, title: 'Remove this filter' }, text, h('span', { 'aria-hidden': 'true' }, ' ×'))
      x.addEventListener('click', () => go({ ...st, filters: st.filters.filter((_, j) => j !== i) }))
      return x
    }))
    statesNote.hidden = st.filters.length === 0
  }

  async function load(): Promise<void> {
    controls()
    if (site === null) { setText(msg, 'No site has reported yet.'); return }
    const my = ++seq
    const q = apiQuery(site, st)
    const c: [string, string][] = st.compare === null ? [] : [['compare', st.compare]]
    setText(msg, 'Loading…')
    void funnels.load(site, q)
    try {
      // the figures, charts and lists in one round trip (one store call per period: /api/history)
      const answer = get<HistoryAnswer>('/api/history', [...q, ...c, ['dims', DIMS.map(([dim]) => dim).join(',')], ['limit', '10']])
      const [, s] = await Promise.all([conv.load(site, q, c, answer.then((a) => a.events)), answer])
      if (my !== seq) return
      data = {
        site, from: s.from, to: s.to, bucket: s.bucket, series: s.series,
        previous: s.previous === undefined ? null : { from: s.previous.from, to: s.previous.to, points: s.previous.series },
        samples: s.samples, totals: s.totals, tops: Object.fromEntries(DIMS.map(([dim]) => [dim, s.tops[dim] ?? []])),
        attribution: s.attribution, query: [...q, ...c],
      }
      // the UTC days the range covers, the last one included: a picked range shows its picked dates
      fromIn.value = isoDate(s.from)
      toIn.value = isoDate(s.to - 1)
      render(data)
      const earlier = data.previous === null ? '' : `, compared with ${span(data.previous.from, data.previous.to)}`
      setText(msg, `${span(s.from, s.to)}, by ${s.bucket}${earlier}`)
    } catch (err) {
      if (my === seq) setText(msg, `Could not load history: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  /** The value cell of a top-list row: a button that adds the row's filter. */
  function filterButton(dim: string, value: string): HTMLElement {
    const f: UiFilter = { dim, op: 'is', value }
    const label = dim === 'country' ? countryLabel(value) : [shownValue(dim, value)]
    const b = h('button', { type: 'button', class: 'row-filter', title: `Filter: ${filterText(f)}`, 'aria-label': `Filter: ${filterText(f)}` }, ...label)
    b.addEventListener('click', () => go(withFilter(st, f)))
    return b
  }

  function render(d: Loaded): void {
    const ch = d.totals.compare?.change
    const byPage = pageFiltered()
    pageNote.hidden = !byPage
    for (const k of kpis) {
      k.tile.hidden = byPage && NOT_UNDER_PAGE_FILTER.has(k.key)
      setText(k.value, k.fmt(d.totals))
      // a figure longer than a duration ("1,234,567") in a smaller type, so it stays on one line in its tile
      k.value.classList.toggle('long', (k.value.textContent ?? '').length > 7)
      const c = ch?.[k.key]
      setText(k.delta, changeText(c))
      k.delta.className = `kpi-delta${c === null || c === undefined || Math.round(c) === 0 ? '' : (c > 0) !== WORSE_UP.has(k.key) ? ' up' : ' down'}`
      k.delta.title = d.totals.compare === undefined ? '' : `${k.label} in the compared period: ${k.fmt(d.totals.compare)}`
    }
    const bots = d.totals.bots ?? 0
    botsNote.hidden = bots === 0
    setText(botsNote, bots > 0 ? `${int(bots)} ${bots === 1 ? 'hit' : 'hits'} kept out as bots (crawlers, headless browsers, scripts: agents no person's browser sends), not counted above.` : '')
    // both charts span the range asked for, whatever points came back; the compared period's
    // buckets are drawn under this period's, bucket for bucket
    const prev = d.previous?.points ?? []
    traffic.set([d.series.map((p) => p.t), d.series.map((p) => p.visitors), d.series.map((p) => p.pageviews),
      d.series.map((_, i) => (d.previous === null ? null : prev[i]?.pageviews ?? null))], d.from, d.to)
    // bucket the per-minute samples were averaged into is the API's; draw them as given
    const ls = d.samples
    states.set([ls.map((x) => x.minute), ls.map((x) => x.totalMean), ls.map((x) => x.readingMean), ls.map((x) => x.writingMean), ls.map((x) => x.idleMean)], d.from, d.to)
    for (const t of topBoxes) {
      const rows = d.tops[t.dim] ?? []
      const count = (r: TopRow): number => (VISIT_DIMS.has(t.dim) ? r.visits ?? 0 : r.pageviews)
      const max = Math.max(1, ...rows.map(count))
      // the Scroll column only where a page view reported a depth (livestats-extras.js, data-scroll)
      const depths = t.dim === 'page' && rows.some((r) => r.scrollDepth !== undefined)
      if (t.scroll !== null) t.scroll.hidden = !depths
      const cols = t.dim === 'page' ? (depths ? 4 : 3) : 2
      if (rows.length === 0) replace(t.body, h('tr', null, h('td', { class: 'muted', colspan: cols }, 'No data in this range')))
      else replace(t.body, ...rows.map((r) => h('tr', null,
        h('td', { class: 'path' }, filterButton(t.dim, r.value), bar(count(r) / max)),
        t.dim === 'page' && h('td', { class: 'engaged' }, ...engagedText(r)),
        depths && h('td', { class: 'depth' }, r.scrollDepth === undefined ? '–' : `${Math.round(r.scrollDepth)}%`),
        h('td', { class: 'n' }, int(count(r)), r.change !== undefined && h('span', { class: 'row-delta' }, ` ${changeText(r.change)}`)))))
      if (t.dim === 'country') replace(t.note, attributionLink(d.attribution))
      t.box.hidden = rows.length === 0 && ONLY_WITH_DATA.has(t.dim)
    }
  }

  /** A `page` filter is on (is, is not, contains): some visit figures then read differently. */
  function pageFiltered(): boolean {
    return st.filters.some((f) => f.dim === 'page')
  }

  /** The figures and charts as shown, and every list whole: fetched again with the same query and the API's row limit. */
  async function exportCsv(): Promise<void> {
    if (data === null) return
    const d = data
    let lists: TopRow[][]
    let convs: Section[]
    exportBtn.disabled = true
    try {
      ;[convs, ...lists] = await Promise.all([conversionSections(d.query),
        ...DIMS.map(async ([dim]) => (await get<{ rows: TopRow[] }>('/api/top', [...d.query, ['dim', dim], ['limit', CSV_ROWS]])).rows)])
    } catch (err) {
      setText(msg, `Could not export: ${err instanceof Error ? err.message : String(err)}`)
      return
    } finally {
      exportBtn.disabled = false
    }
    const iso = (t: number): string => new Date(t).toISOString()
    const tf = d.totals
    // as on screen: no views per visit under a page filter
    const perVisit = (v: number | null): number | null => (pageFiltered() ? null : v)
    const figures = (x: Totals): Cell[] => [x.visitors, x.pageviews, x.visits, x.bounces, x.bounceRate, perVisit(x.viewsPerVisit), x.visitDurationMs, x.engagedVisits, x.engagedMs, x.writingShare]
    const filters = st.filters.map(filterText).join('; ')
    const sections: { title: string; header: string[]; rows: Cell[][] }[] = [
      { title: `Livestats ${d.site} ${iso(d.from)} to ${iso(d.to)}${filters === '' ? '' : `, filters: ${filters}`}`,
        header: ['period', 'from', 'to', 'visitors', 'pageviews', 'visits', 'bounces', 'bounce_rate', 'views_per_visit', 'visit_duration_ms', 'engaged_visits', 'engaged_ms_per_visit', 'writing_share'],
        rows: [['this', iso(d.from), iso(d.to), ...figures(tf)],
          ...(tf.compare === undefined ? [] : [['compared', iso(tf.compare.from), iso(tf.compare.to), ...figures(tf.compare)],
            ['change_percent', '', '', ...(['visitors', 'pageviews', 'visits', 'bounces', 'bounceRate', 'viewsPerVisit', 'visitDurationMs', 'engagedVisits', 'engagedMs', 'writingShare'] as const)
              .map((k) => (k === 'viewsPerVisit' ? perVisit(tf.compare?.change[k] ?? null) : tf.compare?.change[k] ?? null))]])] },
      { title: `Visitors and page views by ${d.bucket}`, header: ['time', 'visitors', 'pageviews', ...(d.previous === null ? [] : ['compared_time', 'compared_pageviews'])],
        rows: d.series.map((p, i) => [iso(p.t), p.visitors, p.pageviews, ...(d.previous === null ? [] : [d.previous.points[i] === undefined ? null : iso(d.previous.points[i]?.t ?? 0), d.previous.points[i]?.pageviews ?? null])]) },
      { title: 'Live visitors by state (mean per minute bucket)', header: ['time', 'total', 'reading', 'writing', 'idle'],
        rows: d.samples.map((x) => [iso(x.minute), x.totalMean, x.readingMean, x.writingMean, x.idleMean]) },
      ...convs,
      ...funnelSection(),
      ...DIMS.map(([dim, title], i) => {
        const rows = lists[i] ?? []
        const cmp = (r: TopRow): Cell[] => (st.compare === null ? [] : [r.previous ?? 0, r.change ?? null])
        const cmpHead = st.compare === null ? [] : ['compared', 'change_percent']
        if (VISIT_DIMS.has(dim)) {
          return { title, header: [dim, 'visits', 'bounces', 'pageviews', 'duration_ms', ...cmpHead],
            rows: rows.map((r): Cell[] => [dim === 'referrer' ? shownValue(dim, r.value) : r.value, r.visits ?? 0, r.bounces ?? 0, r.pageviews, r.durationMs ?? 0, ...cmp(r)]) }
        }
        if (dim === 'page') {
          return { title, header: [dim, 'pageviews', 'engaged_views', 'engaged_ms_per_view', 'writing_share', 'scroll_views', 'scroll_depth_percent', ...cmpHead],
            rows: rows.map((r): Cell[] => [r.value, r.pageviews, r.engagedViews ?? 0, r.engagedMs ?? null, r.writingShare ?? null,
              r.scrollViews ?? 0, r.scrollDepth ?? null, ...cmp(r)]) }
        }
        return { title, header: [dim, 'pageviews', ...cmpHead], rows: rows.map((r): Cell[] => [r.value, r.pageviews, ...cmp(r)]) }
      }),
    ]
    // the range's UTC days, the last one included (the picked dates of a picked range)
    download(`livestats-${d.site}-${isoDate(d.from)}-${isoDate(d.to - 1)}.csv`, toCsv(sections))
  }

  /** The funnel on screen, its steps as shown (rates 0-1, as the API gives them); none when no funnel is shown. */
  function funnelSection(): Section[] {
    const f = funnels.shown()
    if (f === null) return []
    return [{ title: `Funnel ${f.name}`, header: ['step', 'label', 'visitors', 'visits', 'conversion', 'conversion_from_step_1', 'dropoff'],
      rows: f.steps.map((s, i): Cell[] => [i + 1, s.label, s.visitors, s.visits, i === 0 ? null : s.conversion, i === 0 ? null : s.conversionFromStart, i === 0 ? null : s.dropoff]) }]
  }

  /** Goals as shown, and the custom events and the property shown, whole (the API's row limit). */
  async function conversionSections(query: [string, string][]): Promise<Section[]> {
    const c = conv.shown()
    const list = async (dim: string): Promise<EventRow[]> => (await get<{ rows: EventRow[] }>('/api/top', [...query, ['dim', dim], ['limit', CSV_ROWS]])).rows
    const [events, values] = await Promise.all([list('event'), c.key === null ? [] : list(`prop:${c.key}`)])
    const cmpHead = st.compare === null ? [] : ['compared', 'change_percent']
    const cmp = (r: EventRow): Cell[] => (st.compare === null ? [] : [r.previous ?? 0, r.change ?? null])
    return [
      { title: 'Goals', header: ['goal', 'kind', 'page_or_event', 'props', 'visitors', 'rate', 'conversions',
        ...(st.compare === null ? [] : ['compared_visitors', 'compared_rate', 'compared_conversions', 'visitors_change_percent', 'rate_change_percent', 'conversions_change_percent'])],
      rows: c.goals.map((g): Cell[] => [g.name, g.kind, g.page ?? g.event ?? '', Object.entries(g.props ?? {}).map(([k, v]) => `${k}=${v}`).join('; '), g.visitors, g.rate, g.conversions,
        ...(st.compare === null ? [] : [g.compare?.visitors ?? null, g.compare?.rate ?? null, g.compare?.conversions ?? null,
          g.compare?.change.visitors ?? null, g.compare?.change.rate ?? null, g.compare?.change.conversions ?? null])]) },
      { title: 'Custom events', header: ['event', 'events', 'visitors', ...cmpHead], rows: events.map((r): Cell[] => [r.value, r.events, r.visitors, ...cmp(r)]) },
      ...(c.key === null ? [] : [{ title: `Property ${c.key}`, header: [c.key, 'events', 'visitors', ...cmpHead], rows: values.map((r): Cell[] => [r.value, r.events, r.visitors, ...cmp(r)]) }]),
    ]
  }

  let timer = 0
  return {
    el,
    show(s) {
      site = s
      st = readState(location.search)
      void load()
      clearInterval(timer)
      timer = window.setInterval(() => { if (st.custom === null && !el.hidden) void load() }, 60_000)
    },
    restyle() { traffic.restyle(); states.restyle() },
  }
}

/** A chart heading's note that its times are UTC ones. */
function utcTag(): HTMLElement {
  return h('span', { class: 'muted zone' }, '(UTC)')
}

/** "42 s · 12% writing" for a page with measured views, "–" otherwise; on a phone the writing share goes under the time. */
function engagedText(r: TopRow): (string | HTMLElement)[] {
  if (r.engagedViews === undefined || r.engagedMs === undefined) return ['–']
  if (r.writingShare === null || r.writingShare === undefined || r.writingShare === 0) return [compactDuration(r.engagedMs)]
  return [compactDuration(r.engagedMs), h('span', { class: 'writing-share' }, h('span', { class: 'dot' }, ' · '), `${Math.round(r.writingShare * 100)}% writing`)]
}
