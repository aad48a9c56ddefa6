/**
 * History's conversion panels (issue 13): Goals (each goal's converting visitors, conversion rate
 * and conversions over the range and filters, each with its change against the compared period,
 * with a form to add one and a button to remove one; neither on a read-only share link),
 * Custom events (events and unique visitors per name) and Properties (a key picked from the keys
 * seen, its values with events and visitors). Clicking an event or a property value adds its filter.
 * Every tracked value is rendered as text.
 */
import { get, send } from '../api'
import { h, replace, setText } from '../dom'
import { int } from '../format'
import type { EventRow, GoalFigures, GoalPeriod } from '../types'
import type { UiFilter } from './history-state'

export interface ConversionsPanels {
  el: HTMLElement
  /** Loads every panel for `site` and the History query (range, filters; `compare` for the goals and lists). */
  /** `named`: the custom events by name, when the caller has them coming already (History's /api/history answer). */
  load(site: string, query: [string, string][], compare: [string, string][], named?: Promise<EventRow[]>): Promise<void>
  /** What is shown, for the CSV export. */
  shown(): { goals: GoalFigures[]; events: EventRow[]; key: string | null; values: EventRow[] }
}

const pct = (n: number | null): string => (n === null ? '–' : `${(n * 100).toFixed(n >= 0.1 || n === 0 ? 0 : 1)}%`)

/** "+12%", "−3%", "±0%", or "" without a comparison. */
function changeText(c: number | null | undefined): string {
  if (c === null || c === undefined) return ''
  const r = Math.round(c)
  return r > 0 ? `+${r}%` : r < 0 ? `−${-r}%` : '±0%'
}

/** "plan=pro, seats=2" → { plan: 'pro', seats: '2' }; null when a part has no `=` or no key. */
export function parseProps(text: string): Record<string, string> | null {
  const out: Record<string, string> = {}
  for (const part of text.split(',')) {
    const p = part.trim()
    if (p === '') continue
    const i = p.indexOf('=')
    if (i <= 0) return null
    out[p.slice(0, i).trim()] = p.slice(i + 1).trim()
  }
  return out
}

/** What a goal matches, as a line under its name: "Page /blog/**", "Event Signup with plan = pro". */
function goalRule(g: GoalFigures): string {
  if (g.kind === 'page') return `Page ${g.page ?? ''}`
  const props = Object.entries(g.props ?? {}).map(([k, v]) => `${k} = ${v}`).join(', ')
  return `Event ${g.event ?? ''}${props === '' ? '' : ` with ${props}`}`
}

/** A goal figure's change as History's totals show theirs: "+50%", green up, red down; the earlier figure in its title. */
function goalDelta(g: GoalFigures, k: keyof GoalPeriod, fmt: (n: number | null) => string): HTMLElement | null {
  if (g.compare === undefined) return null
  const c = g.compare.change[k]
  const dir = c === null || Math.round(c) === 0 ? '' : c > 0 ? ' up' : ' down'
  return h('span', { class: `row-delta goal-delta${dir}`, 'data-change': k, title: `In the compared period: ${fmt(g.compare[k])}` }, ` ${changeText(c)}`)
}

/**
 * `readOnly` (a share link): the goals are listed without the form to add one or the buttons to
 * remove them, and an empty list says so plainly, since the viewer cannot add a goal.
 */
export function conversionsPanels(addFilter: (f: UiFilter) => void, readOnly = false): ConversionsPanels {
  let site: string | null = null
  let last: { query: [string, string][]; compare: [string, string][] } | null = null
  let goals: GoalFigures[] = []
  let events: EventRow[] = []
  let values: EventRow[] = []
  let key: string | null = null

  // Goals
  const goalBody = h('tbody')
  const goalMsg = h('p', { class: 'muted note', role: 'status' })
  // why a Signup goal can read 0 under a page filter while a funnel's Signup step does not
  const pageNote = h('p', { class: 'muted note', id: 'goals-page-note', hidden: '' },
    'With a page filter, goals count what happened on that page: its page views, and the custom events sent from it. Funnels count the whole visits that saw it.')
  const kind = h('select', { 'aria-label': 'Goal type', id: 'goal-kind' },
    h('option', { value: 'page' }, 'Page visit'), h('option', { value: 'event' }, 'Custom event'))
  const target = h('input', { type: 'text', id: 'goal-target', 'aria-label': 'Page path or pattern', placeholder: '/pricing or /blog/**', required: true, maxlength: 2048 })
  const props = h('input', { type: 'text', id: 'goal-props', 'aria-label': 'Property matches', placeholder: 'plan=pro (optional)', hidden: true })
  const name = h('input', { type: 'text', id: 'goal-name', 'aria-label': 'Goal name', placeholder: 'Name (optional)', maxlength: 200 })
  const add = h('button', { type: 'submit', class: 'btn primary' }, 'Add goal')
  const form = h('form', { class: 'goal-form', 'aria-label': 'Add a goal' }, kind, target, props, name, add)
  kind.addEventListener('change', () => {
    const ev = kind.value === 'event'
    props.hidden = !ev
    target.placeholder = ev ? 'Event name, e.g. Signup' : '/pricing or /blog/**'
    target.setAttribute('aria-label', ev ? 'Custom event name' : 'Page path or pattern')
  })
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    if (site === null) return
    const body: Record<string, unknown> = { site }
    if (kind.value === 'page') body.page = target.value.trim()
    else {
      body.event = target.value.trim()
      const p = parseProps(props.value)
      if (p === null) { setText(goalMsg, 'Write property matches as key=value, separated by commas.'); return }
      if (Object.keys(p).length > 0) body.props = p
    }
    if (name.value.trim() !== '') body.name = name.value.trim()
    add.disabled = true
    send('POST', '/api/goals', {}, body).then(() => {
      target.value = ''
      props.value = ''
      name.value = ''
      setText(goalMsg, '')
      return reload()
    }).catch((err: unknown) => setText(goalMsg, `Could not add the goal: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => { add.disabled = false })
  })
  const goalsEl = h('section', { class: 'panel goals', 'aria-labelledby': 'goals-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'goals-h' }, 'Goals')),
    h('table', null, h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Goal'), h('th', { scope: 'col', class: 'n' }, 'Visitors'),
      h('th', { scope: 'col', class: 'n', title: 'Converting visitors of all visitors in the range (same filters)' }, 'Rate'),
      // "Conv." on a phone, where the full word would take the goal names' room
      h('th', { scope: 'col', class: 'n', title: 'Page views of the page, or custom events', 'data-short': 'Conv.' }, 'Conversions'),
      !readOnly && h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Remove')))), goalBody),
    pageNote, !readOnly && form, goalMsg)

  // Custom events and properties
  const eventBody = h('tbody')
  const eventsEl = h('section', { class: 'panel top-list events', 'aria-label': 'Custom events', 'data-dim': 'event' },
    h('h3', null, 'Custom events'),
    h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Event'),
      h('th', { scope: 'col', class: 'n' }, 'Events'), h('th', { scope: 'col', class: 'n' }, 'Visitors'))), eventBody))
  const keySelect = h('select', { 'aria-label': 'Property', id: 'prop-key' })
  keySelect.addEventListener('change', () => {
    key = keySelect.value
    void loadValues()
  })
  const valueBody = h('tbody')
  const propsEl = h('section', { class: 'panel top-list props', 'aria-label': 'Event properties', 'data-dim': 'prop' },
    h('div', { class: 'panel-head' }, h('h3', null, 'Properties'), keySelect),
    h('table', null, h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Value'),
      h('th', { scope: 'col', class: 'n' }, 'Events'), h('th', { scope: 'col', class: 'n' }, 'Visitors'))), valueBody))

  const el = h('div', { class: 'conversions' }, goalsEl, h('div', { class: 'tops' }, eventsEl, propsEl))

  function filterButton(f: UiFilter, label: string): HTMLElement {
    const b = h('button', { type: 'button', class: 'row-filter', title: `Filter: ${label}`, 'aria-label': `Filter: ${label}` }, f.value === '' ? '(none)' : f.value)
    b.addEventListener('click', () => addFilter(f))
    return b
  }

  function eventRows(body: HTMLElement, rows: EventRow[], filterOf: (r: EventRow) => UiFilter, label: (r: EventRow) => string): void {
    if (rows.length === 0) {
      replace(body, h('tr', null, h('td', { class: 'muted', colspan: 3 }, 'No custom events in this range')))
      return
    }
    const max = Math.max(1, ...rows.map((r) => r.events))
    const fill = (share: number): HTMLElement => {
      const f = h('span', { class: 'bar-fill' })
      f.style.width = `${(Math.max(0, Math.min(1, share)) * 100).toFixed(2)}%`
      return h('span', { class: 'bar', 'aria-hidden': 'true' }, f)
    }
    replace(body, ...rows.map((r) => h('tr', null,
      h('td', { class: 'path' }, filterButton(filterOf(r), label(r)), fill(r.events / max)),
      h('td', { class: 'n' }, int(r.events), r.change !== undefined && h('span', { class: 'row-delta' }, ` ${changeText(r.change)}`)),
      h('td', { class: 'n' }, int(r.visitors)))))
  }

  function renderGoals(): void {
    if (goals.length === 0) {
      replace(goalBody, h('tr', null, h('td', { class: 'muted', colspan: readOnly ? 4 : 5 },
        readOnly ? 'No goals are set for this site.' : 'No goals yet: add a page (exact or with * and **) or a custom event below.')))
      return
    }
    const count = (n: number | null): string => (n === null ? '–' : int(n))
    replace(goalBody, ...goals.map((g) => {
      const figures = [
        h('td', { class: 'path' }, h('span', { class: 'goal-name' }, g.name), h('span', { class: 'sub' }, goalRule(g))),
        h('td', { class: 'n', 'data-figure': 'visitors' }, h('span', { class: 'v' }, int(g.visitors)), goalDelta(g, 'visitors', count)),
        h('td', { class: 'n', 'data-figure': 'rate' }, h('span', { class: 'v' }, pct(g.rate)), goalDelta(g, 'rate', pct)),
        h('td', { class: 'n', 'data-figure': 'conversions' }, h('span', { class: 'v' }, int(g.conversions)), goalDelta(g, 'conversions', count)),
      ]
      if (readOnly) return h('tr', { 'data-goal': g.id }, ...figures)
      const remove = h('button', { type: 'button', class: 'chip', 'aria-label': `Remove goal ${g.name}`, title: 'Remove this goal' }, '×')
      remove.addEventListener('click', () => {
        if (site === null) return
        remove.disabled = true
        send('DELETE', '/api/goals', { site, id: g.id }).then(() => reload())
          .catch((err: unknown) => setText(goalMsg, `Could not remove the goal: ${err instanceof Error ? err.message : String(err)}`))
      })
      return h('tr', { 'data-goal': g.id }, ...figures, h('td', { class: 'remove' }, remove))
    }))
  }

  async function loadValues(): Promise<void> {
    if (site === null || last === null) return
    if (key === null) {
      values = []
      replace(valueBody, h('tr', null, h('td', { class: 'muted', colspan: 3 }, 'No properties in this range')))
      return
    }
    const k = key
    const r = await get<{ rows: EventRow[] }>('/api/top', [...last.query, ...last.compare, ['dim', `prop:${k}`], ['limit', '10']])
    if (k !== key) return
    values = r.rows
    eventRows(valueBody, values, (x) => ({ dim: `prop:${k}`, op: 'is', value: x.value }), (x) => `${k} is ${x.value}`)
  }

  async function reload(): Promise<void> {
    if (site !== null && last !== null) await load(site, last.query, last.compare)
  }

  async function load(s: string, query: [string, string][], compare: [string, string][], named?: Promise<EventRow[]>): Promise<void> {
    site = s
    last = { query, compare }
    const [conv, ev, keys] = await Promise.all([
      get<{ goals: GoalFigures[] }>('/api/conversions', [...query, ...compare]),
      named ?? get<{ rows: EventRow[] }>('/api/top', [...query, ...compare, ['dim', 'event'], ['limit', '10']]).then((r) => r.rows),
      get<{ rows: EventRow[] }>('/api/top', [...query, ['dim', 'prop'], ['limit', '50']]),
    ])
    goals = conv.goals
    events = ev
    pageNote.hidden = !query.some(([k]) => k === 'page')
    renderGoals()
    eventRows(eventBody, events, (r) => ({ dim: 'event', op: 'is', value: r.value }), (r) => `Event is ${r.value}`)
    const names = keys.rows.map((r) => r.value)
    if (key === null || !names.includes(key)) key = names[0] ?? null
    replace(keySelect, ...names.map((n) => h('option', { value: n, selected: n === key }, n)))
    keySelect.hidden = names.length === 0
    await loadValues()
  }

  return { el, load, shown: () => ({ goals, events, key, values }) }
}
