/**
 * The Alerts view (issue 15.4, 15.5): alert rules (list, new, enable or disable, delete), their
 * recent webhook deliveries with each one's state, and sharing: the live badge of the site on screen
 * and its share links. Everything the hub sends back is set as text; rules and deliveries are read
 * every few seconds while the view is open (they are not on the live channel).
 */
import { get, send } from '../api'
import { h, markOverflow, replace, setText } from '../dom'
import { clock, dateTime } from '../format'

interface Rule {
  id: string
  name: string
  kind: string
  site?: string
  page?: string
  app?: string
  job?: string
  op?: string
  threshold?: number
  windowMin?: number
  minCount?: number
  for: number
  webhook: string
  format: string
  enabled: boolean
  firing: boolean
}

interface Delivery {
  id: string
  rule: string
  name: string
  status: 'firing' | 'resolved'
  state: string
  attempts: number
  lastStatus: number | null
  error: string | null
  summary: string
  target: string
  format: string
  created: number
  finished: number | null
}

interface Share { id: string; site: string; label: string | null; created: number }

const KINDS: [string, string][] = [
  ['visitors', 'Live visitors'], ['spike', 'Traffic spike (vs a week before)'], ['stuck', 'Stuck job'],
  ['down', 'Service down'], ['failed', 'Failed jobs (%)'], ['lag', 'Event-loop lag (ms)'],
]
const POLL_MS = 5000

/** What a rule watches and when it fires, in words. */
export function describe(r: Rule): [string, string] {
  const where = r.site !== undefined ? `${r.site}${r.page ?? ''}` : `${r.app ?? ''}${r.job !== undefined ? ` · ${r.job}` : ''}`
  switch (r.kind) {
    case 'visitors': return [where, `visitors ${r.op === 'below' ? '<' : '>'} ${r.threshold ?? 0}`]
    case 'spike': return [where, `page views ≥ ${r.threshold ?? 0}× a week before (${r.windowMin ?? 60} min, ≥ ${r.minCount ?? 0})`]
    case 'stuck': return [where, `a job runs > ${r.threshold ?? 0} s`]
    case 'down': return [where, 'no process linked']
    case 'failed': return [where, `> ${r.threshold ?? 0} % failed (≥ ${r.minCount ?? 0} jobs/min)`]
    case 'lag': return [where, `lag > ${r.threshold ?? 0} ms`]
    default: return [where, r.kind]
  }
}

function field(label: string, input: HTMLElement): HTMLElement {
  return h('label', { class: 'field' }, h('span', null, label), input)
}

export interface AlertsView {
  el: HTMLElement
  show(visible: boolean, site: string | null): void
}

export function alertsView(): AlertsView {
  const rulesBody = h('tbody')
  const rulesEmpty = h('p', { class: 'empty' }, 'No rules yet: add one below.')
  const delBody = h('tbody')
  const delEmpty = h('p', { class: 'empty' }, 'No deliveries yet: a rule sends one when it fires and when it resolves.')
  const err = h('p', { class: 'bad', role: 'alert' })

  // the new-rule form: the inputs that apply to the chosen kind are shown
  const kind = h('select', { name: 'kind', id: 'alert-kind' }, ...KINDS.map(([v, l]) => h('option', { value: v }, l)))
  const name = h('input', { name: 'name', placeholder: 'optional', maxlength: 100 })
  const site = h('input', { name: 'site', placeholder: 'example.com', maxlength: 253 })
  const page = h('input', { name: 'page', placeholder: '/pricing (optional)', maxlength: 1000 })
  const app = h('input', { name: 'app', placeholder: 'my-service', maxlength: 100 })
  const job = h('input', { name: 'job', placeholder: 'any job (optional)', maxlength: 200 })
  const op = h('select', { name: 'op' }, h('option', { value: 'above' }, 'above'), h('option', { value: 'below' }, 'below'))
  const threshold = h('input', { name: 'threshold', type: 'number', step: 'any', min: 0, value: '10' })
  const forSec = h('input', { name: 'for', type: 'number', step: 'any', min: 0, value: '60' })
  const webhook = h('input', { name: 'webhook', type: 'url', placeholder: 'https://hooks.slack.com/services/…', required: true, maxlength: 2000 })
  const format = h('select', { name: 'format' }, h('option', { value: 'json' }, 'JSON'), h('option', { value: 'slack' }, 'Slack ({text, blocks})'))
  const fields = {
    site: field('Site', site), page: field('Page', page), app: field('App', app), job: field('Job', job),
    op: field('When', op), threshold: field('Threshold', threshold),
  }
  function fit(): void {
    const k = kind.value
    const bySite = k === 'visitors' || k === 'spike'
    fields.site.hidden = !bySite
    fields.page.hidden = k !== 'visitors'
    fields.app.hidden = bySite
    fields.job.hidden = k !== 'stuck'
    fields.op.hidden = k !== 'visitors'
    fields.threshold.hidden = k === 'down'
  }
  kind.addEventListener('change', fit)
  fit()
  const form = h('form', { class: 'alert-form', 'aria-label': 'New alert rule' },
    field('Kind', kind), field('Name', name), fields.site, fields.page, fields.app, fields.job, fields.op, fields.threshold,
    field('For (s)', forSec), field('Webhook', webhook), field('Body', format),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn primary' }, 'Add rule')))
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const k = kind.value
    const bySite = k === 'visitors' || k === 'spike'
    const rule: Record<string, unknown> = { kind: k, webhook: webhook.value.trim(), format: format.value, for: Number(forSec.value) }
    if (name.value.trim() !== '') rule.name = name.value.trim()
    if (bySite) rule.site = site.value.trim()
    else rule.app = app.value.trim()
    if (k === 'visitors' && page.value.trim() !== '') rule.page = page.value.trim()
    if (k === 'stuck' && job.value.trim() !== '') rule.job = job.value.trim()
    if (k === 'visitors') rule.op = op.value
    if (k !== 'down') rule.threshold = Number(threshold.value)
    send('POST', '/api/alerts', {}, rule).then(() => {
      setText(err, '')
      name.value = ''
      void refresh()
    }, (x: unknown) => setText(err, x instanceof Error ? x.message : String(x)))
  })

  function ruleRow(r: Rule): HTMLElement {
    const [where, when] = describe(r)
    const toggle = h('button', { type: 'button', class: 'btn' }, r.enabled ? 'Disable' : 'Enable')
    toggle.addEventListener('click', () => void send('PUT', '/api/alerts', { id: r.id }, { enabled: !r.enabled }).then(refresh, (x: unknown) => setText(err, String(x))))
    const del = h('button', { type: 'button', class: 'btn' }, 'Delete')
    del.addEventListener('click', () => void send('DELETE', '/api/alerts', { id: r.id }).then(refresh, (x: unknown) => setText(err, String(x))))
    const state = !r.enabled ? 'off' : r.firing ? 'firing' : 'ok'
    let target = r.webhook
    try { target = new URL(r.webhook).origin } catch { /* shown as it is */ }
    return h('tr', { 'data-rule': r.id },
      h('td', null, r.name, h('span', { class: 'sub' }, r.kind)),
      h('td', null, where), h('td', null, when), h('td', { class: 'n' }, `${r.for} s`),
      h('td', null, target, h('span', { class: 'sub' }, r.format)),
      h('td', null, h('span', { class: `alert-state state-${state}` }, state)),
      h('td', { class: 'row-actions' }, toggle, del))
  }

  function deliveryRow(d: Delivery): HTMLElement {
    const last = d.lastStatus !== null ? `HTTP ${d.lastStatus}` : d.error ?? '—'
    return h('tr', { 'data-delivery': d.id },
      h('td', null, clock(d.created)),
      h('td', null, d.name, h('span', { class: 'sub' }, d.summary)),
      h('td', null, h('span', { class: `alert-state state-${d.status}` }, d.status)),
      h('td', null, h('span', { class: `delivery-state state-${d.state}` }, d.state)),
      h('td', { class: 'n' }, String(d.attempts)),
      h('td', null, last),
      h('td', null, d.target))
  }

  // sharing: the badge and share links of the site on screen
  let current: string | null = null
  const shareHead = h('h2', null, 'Sharing')
  const badgeBox = h('div', { class: 'badge-box' })
  const sharesBody = h('tbody')
  const newLink = h('input', { readonly: true, class: 'share-link', 'aria-label': 'New share link' })
  newLink.hidden = true
  const shareErr = h('p', { class: 'bad', role: 'alert' })

  async function refreshSharing(): Promise<void> {
    const s = current
    if (s === null) {
      setText(shareHead, 'Sharing')
      replace(badgeBox, h('p', { class: 'empty' }, 'Pick a site to share it.'))
      replace(sharesBody)
      return
    }
    setText(shareHead, `Sharing ${s}`)
    const [badges, shares] = await Promise.all([get<{ sites: string[] }>('/api/badges'), get<{ shares: Share[] }>('/api/shares', { site: s })])
    const on = badges.sites.includes(s)
    const btn = h('button', { type: 'button', class: 'btn' }, on ? 'Turn the public badge off' : 'Turn on a public live badge')
    btn.addEventListener('click', () => void send(on ? 'DELETE' : 'PUT', '/api/badges', { site: s }).then(refreshSharing, (x: unknown) => setText(shareErr, String(x))))
    const src = `${location.origin}/badge/${encodeURIComponent(s)}.svg`
    replace(badgeBox,
      h('p', null, on ? 'Anyone can load this badge (no token): it shows the live visitor count, refreshed every 5 s.' : 'Off: the badge URL answers 404 until you turn it on.'),
      on ? h('p', null, h('img', { src: `/badge/${encodeURIComponent(s)}.svg?t=${Date.now()}`, alt: `${s} live visitors`, class: 'badge-img' })) : null,
      on ? h('pre', { class: 'embed' }, h('code', null, `<img src="${src}" alt="live visitors">`)) : null,
      btn)
    replace(sharesBody, ...shares.shares.map((x) => {
      const revoke = h('button', { type: 'button', class: 'btn' }, 'Revoke')
      revoke.addEventListener('click', () => void send('DELETE', '/api/shares', { id: x.id }).then(refreshSharing, (e: unknown) => setText(shareErr, String(e))))
      return h('tr', null, h('td', null, x.label ?? '—'), h('td', null, dateTime(x.created)), h('td', { class: 'row-actions' }, revoke))
    }))
  }
  const make = h('button', { type: 'button', class: 'btn primary' }, 'Create a read-only share link')
  make.addEventListener('click', () => {
    const s = current
    if (s === null) return
    send<{ token: string }>('POST', '/api/shares', {}, { site: s, label: `made ${dateTime(Date.now())}` }).then((r) => {
      if (r === null) return
      const u = new URL('/', location.href)
      u.searchParams.set('site', s)
      u.searchParams.set('share', r.token)
      newLink.value = `${u.href}#live`
      newLink.hidden = false
      newLink.select()
      setText(shareErr, '')
      void refreshSharing()
    }, (x: unknown) => setText(shareErr, String(x)))
  })

  const el = h('div', { class: 'view-alerts' },
    h('section', { class: 'panel', 'aria-labelledby': 'rules-h' }, h('h2', { id: 'rules-h' }, 'Alert rules'),
      h('div', { class: 'scroll' }, h('table', { class: 'rules' },
        h('thead', null, h('tr', null, ...['Rule', 'Watches', 'Fires when', 'For', 'Webhook', 'State', ''].map((c) => h('th', null, c)))), rulesBody)),
      rulesEmpty, h('h3', null, 'New rule'), form, err),
    h('section', { class: 'panel', 'aria-labelledby': 'deliveries-h' }, h('h2', { id: 'deliveries-h' }, 'Recent deliveries'),
      h('div', { class: 'scroll' }, h('table', { class: 'deliveries' },
        h('thead', null, h('tr', null, ...['Time', 'Rule', 'Alert', 'Delivery', 'Tries', 'Last answer', 'To'].map((c) => h('th', null, c)))), delBody)),
      delEmpty),
    h('section', { class: 'panel', 'aria-labelledby': 'share-h' }, Object.assign(shareHead, { id: 'share-h' }),
      h('h3', null, 'Live badge'), badgeBox,
      h('h3', null, 'Share links'),
      h('p', { class: 'muted' }, 'A share link opens this site\'s Live and History views, read-only, without the hub token. Revoke it to end it.'),
      h('table', { class: 'shares' }, h('thead', null, h('tr', null, h('th', null, 'Label'), h('th', null, 'Made'), h('th', null, ''))), sharesBody),
      h('div', { class: 'actions' }, make), newLink, shareErr))

  let timer: ReturnType<typeof setInterval> | null = null
  async function refresh(): Promise<void> {
    try {
      const [rules, dels] = await Promise.all([get<{ rules: Rule[] }>('/api/alerts'), get<{ deliveries: Delivery[] }>('/api/alerts/deliveries', { limit: 50 })])
      replace(rulesBody, ...rules.rules.map(ruleRow))
      rulesEmpty.hidden = rules.rules.length > 0
      replace(delBody, ...dels.deliveries.map(deliveryRow))
      delEmpty.hidden = dels.deliveries.length > 0
      markOverflow(el)
    } catch (x) {
      setText(err, x instanceof Error ? x.message : String(x))
    }
  }

  return {
    el,
    show(visible, s) {
      if (timer !== null) clearInterval(timer)
      timer = null
      if (!visible) return
      if (s !== current) {
        current = s
        newLink.hidden = true
        if (s !== null && site.value === '') site.value = s
      }
      void refresh()
      refreshSharing().catch((x: unknown) => setText(shareErr, String(x)))
      timer = setInterval(() => void refresh(), POLL_MS)
    },
  }
}
