/**
 * The Funnels panel of History (issue 13.3): pick one of the site's saved funnels or define a new
 * one (2 to 8 steps, each a page or pattern, or a custom event with optional property matches),
 * and see per step its visitors as a bar, the conversion from the step before and the drop-off,
 * for the range and filters History shows. Step labels are tracked text: set as text only.
 * Read-only (a share link): the saved funnels and their figures, without New funnel, Delete or the form.
 */
import { get, send } from '../api'
import { h, replace, setText } from '../dom'
import { int } from '../format'

export interface FunnelGoal {
  kind: 'page' | 'event'
  page?: string
  event?: string
  props?: Record<string, string>
}
interface FunnelDef {
  id: string
  name: string
  steps: FunnelGoal[]
}
export interface FunnelStep {
  label: string
  visitors: number
  visits: number
  conversion: number | null
  conversionFromStart: number | null
  dropoff: number
}

const MAX_STEPS = 8
const pct = (n: number | null): string => (n === null ? '–' : `${(n * 100).toFixed(n < 0.1 && n > 0 ? 1 : 0)}%`)

export interface FunnelsPanel {
  el: HTMLElement
  /** Loads the site's funnels and the chosen one's figures for History's query (site, range, filters). */
  load(site: string, query: [string, string][]): Promise<void>
  /** The funnel on screen and its steps as shown (the CSV export writes them); null when none is. */
  shown(): { name: string; steps: FunnelStep[] } | null
}

/** "plan=pro, n=2" → { plan: 'pro', n: '2' }; empty → undefined. */
function parseProps(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {}
  for (const part of text.split(',')) {
    const t = part.trim()
    if (t === '') continue
    const eq = t.indexOf('=')
    if (eq <= 0) throw new Error(`property match "${t}" must look like key=value`)
    out[t.slice(0, eq).trim()] = t.slice(eq + 1).trim()
  }
  return Object.keys(out).length === 0 ? undefined : out
}

/** `readOnly`: no controls that write (a share link's writes are refused), and a plain empty text. */
export function funnelsPanel(readOnly = false): FunnelsPanel {
  let site: string | null = null
  let query: [string, string][] = []
  let defs: FunnelDef[] = []
  let chosen: string | null = null
  let seq = 0
  let onScreen: { name: string; steps: FunnelStep[] } | null = null

  const pick = h('select', { 'aria-label': 'Funnel', id: 'funnel-pick' })
  pick.addEventListener('change', () => { chosen = pick.value || null; void figures() })
  const newBtn = h('button', { type: 'button', class: 'btn' }, 'New funnel')
  const delBtn = h('button', { type: 'button', class: 'btn' }, 'Delete')
  const status = h('p', { class: 'muted', role: 'status' })
  const body = h('tbody')
  const table = h('table', { class: 'funnel-table' },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col', class: 'n' }, 'Visitors'),
      h('th', { scope: 'col', class: 'n' }, 'Conversion'), h('th', { scope: 'col', class: 'n' }, 'Drop-off'))), body)

  // the form for a new funnel: a name and 2 to 8 step rows
  const nameIn = h('input', { type: 'text', 'aria-label': 'Funnel name', placeholder: 'Name (optional)', maxlength: 200 })
  const stepsBox = h('ol', { class: 'funnel-steps' })
  const addBtn = h('button', { type: 'button', class: 'btn' }, 'Add step')
  const formMsg = h('p', { class: 'muted', role: 'alert' })
  const form = h('form', { class: 'funnel-form', hidden: '', 'aria-label': 'New funnel' }, nameIn, stepsBox,
    h('div', { class: 'toolbar' }, addBtn, h('button', { type: 'submit', class: 'btn' }, 'Save funnel'),
      h('button', { type: 'button', class: 'btn', onclick: () => { form.hidden = true } }, 'Cancel')), formMsg)

  /** Names each step row's controls by its place (after adding or removing one). */
  function renumber(): void {
    Array.from(stepsBox.children).forEach((li, i) => {
      const n = i + 1
      li.querySelector('.step-kind')?.setAttribute('aria-label', `Step ${n} kind`)
      li.querySelector('.step-value')?.setAttribute('aria-label', `Step ${n} page or event`)
      li.querySelector('.step-props')?.setAttribute('aria-label', `Step ${n} properties`)
      li.querySelector('.step-remove')?.setAttribute('aria-label', `Remove step ${n}`)
    })
  }

  function addStep(kind: 'page' | 'event' = 'page', value = ''): void {
    const kindSel = h('select', { class: 'step-kind' },
      h('option', { value: 'page', selected: kind === 'page' }, 'Page'), h('option', { value: 'event', selected: kind === 'event' }, 'Event'))
    const valueIn = h('input', { type: 'text', class: 'step-value', value, placeholder: kind === 'page' ? '/pricing or /blog/**' : 'Signup' })
    const propsIn = h('input', { type: 'text', class: 'step-props', placeholder: 'plan=pro (optional)', hidden: kind === 'page' })
    kindSel.addEventListener('change', () => {
      propsIn.hidden = kindSel.value === 'page'
      valueIn.placeholder = kindSel.value === 'page' ? '/pricing or /blog/**' : 'Signup'
    })
    const rm = h('button', { type: 'button', class: 'btn step-remove' }, '×')
    const li = h('li', null, kindSel, valueIn, propsIn, rm)
    rm.addEventListener('click', () => {
      if (stepsBox.children.length <= 2) return
      li.remove()
      renumber()
    })
    stepsBox.append(li)
    renumber()
  }
  addBtn.addEventListener('click', () => { if (stepsBox.children.length < MAX_STEPS) addStep() })
  newBtn.addEventListener('click', () => {
    replace(stepsBox)
    addStep('page', '/')
    addStep('page', '')
    nameIn.value = ''
    setText(formMsg, '')
    form.hidden = false
  })
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    if (site === null) return
    try {
      const steps = Array.from(stepsBox.children).map((li) => {
        const kind = (li.querySelector('.step-kind') as HTMLSelectElement).value
        const value = (li.querySelector('.step-value') as HTMLInputElement).value.trim()
        if (kind === 'page') return { page: value }
        return { event: value, props: parseProps((li.querySelector('.step-props') as HTMLInputElement).value) }
      })
      const name = nameIn.value.trim()
      void send<{ funnel: FunnelDef }>('POST', '/api/funnels', {}, { site, steps, ...(name === '' ? {} : { name }) }).then((r) => {
        form.hidden = true
        chosen = r?.funnel.id ?? null
        void reload()
      }, (err: unknown) => setText(formMsg, `Not saved: ${err instanceof Error ? err.message : String(err)}`))
    } catch (err) {
      setText(formMsg, `Not saved: ${err instanceof Error ? err.message : String(err)}`)
    }
  })
  delBtn.addEventListener('click', () => {
    const def = defs.find((d) => d.id === chosen)
    if (site === null || def === undefined || !confirm(`Delete the funnel "${def.name}"?`)) return
    void send('DELETE', '/api/funnels', { site, id: def.id }).then(() => { chosen = null; void reload() },
      (err: unknown) => setText(status, `Not deleted: ${err instanceof Error ? err.message : String(err)}`))
  })

  const el = h('section', { class: 'panel funnels', 'aria-label': 'Funnels' },
    h('div', { class: 'panel-head' }, h('h2', null, 'Funnels'), pick, !readOnly && newBtn, !readOnly && delBtn), !readOnly && form, status, table)

  /** The saved funnels, then the chosen one's figures. */
  async function reload(): Promise<void> {
    if (site === null) return
    const r = await get<{ funnels: FunnelDef[] }>('/api/funnels', { site })
    defs = r.funnels
    if (chosen === null || !defs.some((d) => d.id === chosen)) chosen = defs[0]?.id ?? null
    replace(pick, ...defs.map((d) => h('option', { value: d.id, selected: d.id === chosen }, d.name)))
    pick.hidden = defs.length === 0
    delBtn.hidden = defs.length === 0
    await figures()
  }

  async function figures(): Promise<void> {
    const my = ++seq
    if (site === null || chosen === null) {
      onScreen = null
      replace(body)
      table.hidden = true
      setText(status, readOnly ? 'No funnels are set for this site.' : 'No funnels yet: New funnel defines one (2 to 8 pages or events, in order).')
      return
    }
    setText(status, 'Loading…')
    try {
      const r = await get<{ steps: FunnelStep[] }>('/api/funnel', [...query, ['id', chosen]])
      if (my !== seq) return
      render(r.steps)
      onScreen = { name: defs.find((d) => d.id === chosen)?.name ?? '', steps: r.steps }
      const filtered = query.some(([k]) => !['site', 'range', 'from', 'to'].includes(k))
      setText(status, `Visitors who reached each step in order within one visit, of the visits that started in this range${filtered ? ': the filters choose the visits, and every step of them counts' : ''}.`)
    } catch (err) {
      if (my === seq) setText(status, `Could not load the funnel: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  function render(steps: FunnelStep[]): void {
    table.hidden = false
    const first = Math.max(1, steps[0]?.visitors ?? 0)
    replace(body, ...steps.map((s, i) => {
      // no sliver for a step nobody reached (the fill's min-width shows the smallest share that is not 0)
      const fill = h('span', { class: s.visitors === 0 ? 'bar-fill none' : 'bar-fill' })
      fill.style.width = `${((s.visitors / first) * 100).toFixed(2)}%`
      return h('tr', { 'data-step': i + 1 },
        h('td', { class: 'path' }, h('span', { class: 'step-label' }, `${i + 1}. ${s.label}`), h('span', { class: 'bar', 'aria-hidden': 'true' }, fill)),
        h('td', { class: 'n', 'data-col': 'visitors' }, int(s.visitors)),
        h('td', { class: 'n', 'data-col': 'conversion', title: i === 0 ? '' : `${pct(s.conversionFromStart)} of step 1` }, i === 0 ? '–' : pct(s.conversion)),
        h('td', { class: 'n', 'data-col': 'dropoff' }, i === 0 ? '–' : int(s.dropoff)))
    }))
  }

  return {
    el,
    shown: () => onScreen,
    async load(s, q) {
      if (s !== site) chosen = null
      site = s
      query = q
      try {
        await reload()
      } catch (err) {
        setText(status, `Could not load funnels: ${err instanceof Error ? err.message : String(err)}`)
      }
    },
  }
}
