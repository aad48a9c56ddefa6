/**
 * Seed 001's list of hits, done properly: a table of page views as they arrive, newest first,
 * pausable, and capped so a busy site never grows the page's memory.
 */
import { flag } from '../country'
import { h, setText } from '../dom'
import { clock, int } from '../format'
import type { LiveClient } from '../live'
import type { FeedPageview } from '../types'

export const FEED_CAP = 100

function row(p: FeedPageview): HTMLTableRowElement {
  const page = h('td', { class: 'path' }, p.path ?? '')
  if (p.event !== undefined) page.append(h('span', { class: 'sub' }, `Event: ${p.event}`))
  else if (p.title) page.append(h('span', { class: 'sub' }, p.title))
  // a goal reached right now (issue 13)
  if (p.goals !== undefined && p.goals.length > 0) page.append(h('span', { class: 'goal' }, `Goal: ${p.goals.join(', ')}`))
  const agent = [p.browser, p.os, p.device].filter((x) => x).join(' · ')
  return h('tr', { 'data-id': p.id },
    h('td', { class: 'time' }, h('time', { datetime: new Date(p.at).toISOString() }, clock(p.at))),
    page,
    h('td', { class: 'ref' }, p.referrer ?? ''),
    h('td', null, p.country ? `${flag(p.country)} ${p.country} · ${agent}`.trimStart() : agent),
    h('td', { class: 'ip' }, p.ip ?? ''))
}

export function liveFeed(live: LiveClient): HTMLElement {
  const body = h('tbody')
  const count = h('span', { class: 'muted' })
  const pause = h('button', { type: 'button', class: 'btn', 'aria-pressed': 'false' }, 'Pause')
  const empty = h('p', { class: 'empty' }, 'Waiting for page views…')
  const el = h('section', { class: 'panel feed', 'aria-labelledby': 'feed-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'feed-h' }, 'Live feed'), count, pause),
    h('div', { class: 'scroll' },
      h('table', null,
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Page'), h('th', { scope: 'col' }, 'Referrer'),
          h('th', { scope: 'col' }, 'Browser'), h('th', { scope: 'col' }, 'IP'))),
        body)),
    empty)

  let paused = false
  let incoming: FeedPageview[] = []
  let held = 0
  const ids = new Set<string>()
  let frame = 0

  function flush(): void {
    frame = 0
    if (paused || incoming.length === 0) return
    const rows = incoming.slice(-FEED_CAP)
    incoming = []
    const frag = document.createDocumentFragment()
    for (let i = rows.length - 1; i >= 0; i--) frag.append(row(rows[i] as FeedPageview))
    body.insertBefore(frag, body.firstChild)
    while (body.childElementCount > FEED_CAP) {
      const last = body.lastElementChild as HTMLElement
      ids.delete(last.dataset.id ?? '')
      last.remove()
    }
    held = 0
    empty.hidden = body.childElementCount > 0
    render()
  }

  function render(): void {
    setText(count, paused ? (held > 0 ? `paused, ${int(held)} new` : 'paused') : `${int(body.childElementCount)} latest`)
    setText(pause, paused ? 'Resume' : 'Pause')
    pause.setAttribute('aria-pressed', String(paused))
  }

  pause.addEventListener('click', () => {
    paused = !paused
    render()
    if (!paused) flush()
  })

  live.onFeed((rows, fresh) => {
    if (!fresh) {
      // a snapshot: the site's latest, replacing what was shown
      body.textContent = ''
      ids.clear()
      incoming = []
    }
    for (const r of rows) {
      if (ids.has(r.id)) continue
      ids.add(r.id)
      incoming.push(r)
      if (paused) held++
    }
    if (incoming.length > FEED_CAP * 2) {
      for (const r of incoming.splice(0, incoming.length - FEED_CAP)) ids.delete(r.id)
    }
    if (paused) render()
    else if (frame === 0) frame = window.setTimeout(() => requestAnimationFrame(flush), 100)
  })
  render()
  return el
}
