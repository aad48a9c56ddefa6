/**
 * Livestats dashboard: the live board, live pages and feed, history and services, with a site
 * switcher, light and dark themes and the token prompt. Plain TypeScript (no framework): the
 * live view is a few keyed tables updated once per animation frame, which needs no virtual DOM.
 */
import './style.css'
import { get, onUnauthorized, useShareToken } from './api'
import { h, markOverflow, replace, setText } from './dom'
import { LiveClient } from './live'
import { attributionLink } from './country'
import { applyTheme, savedTheme, type Theme } from './theme'
import { promptToken } from './token'
import { board } from './views/board'
import { liveFeed } from './views/feed'
import { history } from './views/history'
import { livePages } from './views/pages'
import { onboarding } from './views/onboarding'
import { services } from './views/services'
import { alertsView } from './views/alerts'
import type { Attribution } from './types'

/** Subscribed while no web site has reported, so process updates still arrive. */
const NO_SITE = '-'
const ALL_VIEWS = [['live', 'Live'], ['history', 'History'], ['services', 'Services'], ['alerts', 'Alerts']] as const
type View = (typeof ALL_VIEWS)[number][0]

/**
 * A share link (`/?site=NAME&share=TOKEN`) opens one site read-only: Live and History, no site
 * list, no services, no alerts; its token is used for this page and never stored.
 */
const shareLink = new URL(location.href).searchParams.get('share')
const sharedSite = shareLink === null ? null : new URL(location.href).searchParams.get('site')
if (shareLink !== null) useShareToken(shareLink)
const VIEWS = shareLink === null ? ALL_VIEWS : ALL_VIEWS.filter(([v]) => v === 'live' || v === 'history')

const live = new LiveClient()
onUnauthorized(shareLink === null ? promptToken : () => {
  replace(document.body, h('main', { class: 'revoked' }, h('h1', null, 'This share link does not work'),
    h('p', null, 'It was revoked, or it was copied incompletely. Ask whoever shared it for a new one.')))
  return new Promise<void>(() => { /* nothing to retry */ })
})
live.onRefused = async () => {
  // the upgrade was refused: ask over HTTP, which says 401 and brings up the prompt
  try { await get('/api/sites') } catch { /* offline: retry later */ }
}

let theme: Theme = savedTheme()
applyTheme(theme)

// a share link is read-only: History draws no goal or funnel controls (their writes would be refused)
const hist = history(shareLink !== null)
const svc = services(live)
const alerts = alertsView()
const panels: Record<View, HTMLElement> = {
  live: h('div', { class: 'view-live' }, shareLink === null ? onboarding(live, NO_SITE) : null, board(live), h('div', { class: 'live-grid' }, livePages(live), liveFeed(live))),
  history: hist.el,
  services: svc.el,
  alerts: alerts.el,
}

const tabs = VIEWS.map(([v, label]) => h('a', { href: `#${v}`, role: 'tab', id: `tab-${v}`, 'aria-controls': `view-${v}`, class: 'tab' }, label))
const tablist = h('nav', { class: 'tabs', role: 'tablist', 'aria-label': 'Views' }, ...tabs)
tablist.addEventListener('keydown', (e) => {
  const i = tabs.findIndex((t) => t === document.activeElement)
  if (i < 0) return
  const next = e.key === 'ArrowRight' ? (i + 1) % tabs.length : e.key === 'ArrowLeft' ? (i + tabs.length - 1) % tabs.length : -1
  if (next < 0) return
  e.preventDefault()
  tabs[next]?.focus()
  tabs[next]?.click()
})
const siteSelect = h('select', { id: 'site', 'aria-label': 'Site' })
const themeBtn = h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Theme' })
const siteLabel = sharedSite !== null
  ? h('span', { class: 'site-pick shared', id: 'shared-site' }, sharedSite, h('span', { class: 'sub' }, 'shared, read-only'))
  : h('label', { class: 'site-pick', for: 'site' }, h('span', { class: 'vh' }, 'Site'), siteSelect)

function themeText(): void {
  setText(themeBtn, theme === 'auto' ? 'Theme: auto' : theme === 'dark' ? 'Theme: dark' : 'Theme: light')
}
themeBtn.addEventListener('click', () => {
  theme = theme === 'auto' ? 'dark' : theme === 'dark' ? 'light' : 'auto'
  applyTheme(theme)
  themeText()
  hist.restyle()
  svc.restyle()
})
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => { if (theme === 'auto') { applyTheme('auto'); hist.restyle(); svc.restyle() } })
themeText()

const main = h('main', { id: 'main' }, ...VIEWS.map(([v]) => {
  const p = panels[v]
  p.id = `view-${v}`
  p.setAttribute('role', 'tabpanel')
  p.setAttribute('aria-labelledby', `tab-${v}`)
  p.tabIndex = -1
  return p
}))
// every view may show countries (the feed, History): the IP database's notice goes on every page
const footer = h('footer', { class: 'foot muted' })
document.body.append(
  h('a', { class: 'skip', href: '#main' }, 'Skip to content'),
  h('header', { class: 'top' }, h('h1', null, 'Livestats'), tablist, h('div', { class: 'top-right' }, siteLabel, themeBtn)),
  main,
  footer)

function currentView(): View {
  const v = location.hash.slice(1)
  return VIEWS.some(([k]) => k === v) ? v as View : 'live'
}

function showView(): void {
  const v = currentView()
  for (const [k] of ALL_VIEWS) {
    panels[k].hidden = k !== v
    const t = document.getElementById(`tab-${k}`)
    t?.setAttribute('aria-selected', String(k === v))
    t?.setAttribute('tabindex', k === v ? '0' : '-1')
  }
  svc.show(v === 'services')
  alerts.show(v === 'alerts', site())
  if (v === 'history') hist.show(site())
  live.schedule()
}
addEventListener('hashchange', showView)
// tables that scroll sideways say so (see markOverflow)
addEventListener('resize', () => markOverflow())
document.addEventListener('scroll', (e) => { if (e.target instanceof HTMLElement && e.target.classList.contains('scroll')) markOverflow(e.target.parentElement ?? document) }, { capture: true, passive: true })

function site(): string | null {
  const s = live.state.site
  return s === null || s === NO_SITE ? null : s
}

function chooseSite(s: string): void {
  const u = new URL(location.href)
  u.searchParams.set('site', s)
  window.history.replaceState(null, '', u)
  try { localStorage.setItem('livestats.site', s) } catch { /* not kept */ }
  live.subscribe(s)
  document.title = `${s} · Livestats`
  if (currentView() === 'history') hist.show(s)
  if (currentView() === 'alerts') alerts.show(true, s)
}
siteSelect.addEventListener('change', () => chooseSite(siteSelect.value))

let known: string[] = []
async function loadSites(): Promise<string[]> {
  // a share link reads its one site; the list of sites is not for it
  if (sharedSite !== null) return [sharedSite]
  const [stored, procs] = await Promise.all([
    get<{ sites: { site: string; last: number }[] }>('/api/sites'),
    get<{ processes: { app: string }[] }>('/api/processes', { range: '24h' }).catch(() => ({ processes: [] })),
  ])
  // the store lists process apps as sites too: keep web sites only
  const apps = new Set([...procs.processes.map((p) => p.app), ...[...live.state.processes.values()].map((p) => p.app)])
  const names = new Set([...stored.sites.sort((a, b) => b.last - a.last).map((s) => s.site), ...live.state.sites])
  return [...names].filter((n) => !apps.has(n) && n !== NO_SITE)
}

function renderSites(all: string[]): void {
  const cur = live.state.site
  // the site on screen stays in the list, data or not
  const list = cur !== null && cur !== NO_SITE && !all.includes(cur) ? [cur, ...all] : all
  if (list.join('\n') === known.join('\n') && siteSelect.options.length > 0) return
  known = list
  replace(siteSelect, ...(list.length === 0 ? [h('option', { value: NO_SITE }, 'No site yet')] : list.map((s) => h('option', { value: s }, s))))
  if (cur !== null) siteSelect.value = cur
  siteSelect.disabled = list.length === 0
}

async function refreshSites(): Promise<void> {
  try {
    const list = await loadSites()
    renderSites(list)
    if ((live.state.site === null || live.state.site === NO_SITE) && list[0] !== undefined) chooseSite(list[0])
  } catch { /* keep the current list */ }
}

async function boot(): Promise<void> {
  let list: string[] = []
  try {
    list = await loadSites()
  } catch (err) {
    console.warn('livestats: could not list sites', err)
  }
  // a site named in the URL is shown even before it has data (it shows how to start sending);
  // one remembered from last time only while the hub still knows it
  const asked = new URL(location.href).searchParams.get('site')
  const kept = (() => { try { return localStorage.getItem('livestats.site') } catch { return null } })()
  const first = asked !== null ? asked : kept !== null && (list.includes(kept) || list.length === 0) ? kept : list[0] ?? NO_SITE
  if (first !== NO_SITE && !list.includes(first)) list = [first, ...list]
  renderSites(list)
  live.connect(first)
  siteSelect.value = first
  if (first !== NO_SITE) document.title = `${first} · Livestats`
  showView()
  get<{ attribution: Attribution | null }>('/api/geo').then((g) => replace(footer, attributionLink(g.attribution)), () => { /* no notice to show */ })
  // the hub pushes each site that gets its first live visitor; the list is never polled
  live.onSite = () => void refreshSites()
}
void boot()
