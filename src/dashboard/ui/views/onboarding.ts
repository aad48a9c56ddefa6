/**
 * The install panel, for a new install (no site yet) or a site that has sent nothing: the snippet
 * to paste with a copy button, why a page on localhost sends nothing (the snippet needs
 * `data-allow-localhost` there), and "waiting for the first event", which turns live the moment
 * the hub pushes the first event (a `site` message, or the site's first diff). Nothing is polled.
 */
import { get } from '../api'
import { h, replace, setText } from '../dom'
import { clock } from '../format'
import type { LiveClient, LiveState } from '../live'

interface Setup { publicUrl: string | null; reachable: string | null }

const LOOPBACK = /^(localhost|127\.|\[::1\]$)/

/** Copies `text`; where the Clipboard API is missing (plain http on a LAN address) selects it for Ctrl+C. */
async function copy(text: string, source: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    const r = document.createRange()
    r.selectNodeContents(source)
    const sel = getSelection()
    sel?.removeAllRanges()
    sel?.addRange(r)
    try { return document.execCommand('copy') } catch { return false }
  }
}

function snippetBox(label: string, cls: string): { el: HTMLElement; set(text: string): void } {
  const code = h('code', { class: cls })
  const btn = h('button', { type: 'button', class: 'btn copy', 'aria-label': label }, 'Copy')
  btn.addEventListener('click', () => {
    void copy(code.textContent ?? '', code).then((ok) => {
      setText(btn, ok ? 'Copied' : 'Press Ctrl+C')
      setTimeout(() => setText(btn, 'Copy'), 2000)
    })
  })
  return { el: h('div', { class: 'snippet' }, h('pre', null, code), btn), set: (t) => setText(code, t) }
}

/** `noSite` is the site name the dashboard watches while no site exists yet. */
export function onboarding(live: LiveClient, noSite: string): HTMLElement {
  const title = h('h2', { id: 'onboard-h' })
  const main = snippetBox('Copy the snippet', 'snippet-main')
  const local = snippetBox('Copy the snippet for pages on localhost', 'snippet-local')
  const status = h('p', { class: 'onboard-status', role: 'status' })
  const hide = h('button', { type: 'button', class: 'btn', hidden: true }, 'Hide')
  const tracker = h('code', { class: 'snippet-node' })
  const el = h('section', { class: 'panel onboarding', 'aria-labelledby': 'onboard-h', hidden: true },
    title,
    h('p', null, 'Paste this line into the ', h('code', null, '<head>'), ' of every page of your site:'),
    main.el,
    h('p', { class: 'note' }, h('strong', null, 'Testing on a page served from localhost, 127.0.0.1 or [::1]? '),
      'The snippet sends nothing from such pages (so your own development does not count as visits) unless its tag has ',
      h('code', null, 'data-allow-localhost'), ':'),
    local.el,
    h('p', { class: 'muted' }, 'A Node service reports with ', tracker, ' (docs/tracker.md).'),
    h('div', { class: 'onboard-foot' }, status, hide))

  let base = location.origin
  let asked = false
  let shownFor: string | null = null
  let liveAt: number | null = null
  let hidden = false

  async function loadSetup(): Promise<void> {
    try {
      const s = await get<Setup>('/api/setup')
      // the name people use; else, on a dashboard opened on this machine, an address others reach
      base = s.publicUrl ?? (LOOPBACK.test(location.hostname) && s.reachable !== null ? s.reachable : location.origin)
    } catch { /* location.origin it is */ }
    fill()
  }

  function fill(): void {
    main.set(`<script defer src="${base}/livestats.js"></script>`)
    local.set(`<script defer data-allow-localhost src="${base}/livestats.js"></script>`)
    setText(tracker, `tracker({ name: 'my-service', hub: '${base}' })`)
  }
  fill()

  live.onRender((s: LiveState) => {
    const site = s.site
    const none = site === null || site === noSite
    if (!asked) { asked = true; void loadSetup() }
    if (site !== shownFor) {
      if (shownFor === noSite && liveAt === null && !none) {
        shownFor = site // the first event came while we waited: its site is the one that turns live
      } else {
        shownFor = null // another site picked: start over
        liveAt = null
        hidden = false
      }
    }
    const waiting = s.hasData === false || (none && s.status === 'live')
    if (shownFor === null && waiting) shownFor = site
    if (shownFor !== null && liveAt === null && s.hasData === true && !none) liveAt = Date.now()
    const show = shownFor !== null && !hidden
    el.hidden = !show
    if (!show) return
    el.dataset.state = liveAt === null ? 'waiting' : 'live'
    setText(title, none ? 'Start sending page views' : `No data from ${site as string} yet`)
    if (liveAt === null) {
      replace(status, h('span', { class: 'pulse', 'aria-hidden': 'true' }), 'Waiting for the first event… this turns live by itself when it arrives.')
    } else {
      replace(status, h('span', { class: 'ok', 'aria-hidden': 'true' }, '✓ '), `First event from ${site as string} at ${clock(liveAt)}: live now.`)
      title.textContent = `${site as string} is sending`
    }
    hide.hidden = liveAt === null
  })
  hide.addEventListener('click', () => { hidden = true; el.hidden = true })
  return el
}
