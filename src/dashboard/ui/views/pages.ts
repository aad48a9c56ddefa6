/** The pages being viewed now, each with its counts per state; rows are keyed and reused. */
import { h, setText } from '../dom'
import { int } from '../format'
import type { LiveClient } from '../live'
import type { PageCounts } from '../types'

const SHOWN = 50

interface Row { tr: HTMLTableRowElement; cells: HTMLTableCellElement[] }

export function livePages(live: LiveClient): HTMLElement {
  const body = h('tbody')
  const more = h('p', { class: 'muted' })
  const empty = h('p', { class: 'empty' }, 'Nobody is on the site right now.')
  const el = h('section', { class: 'panel pages', 'aria-labelledby': 'pages-h' },
    h('h2', { id: 'pages-h' }, 'Pages now'),
    h('div', { class: 'scroll' },
      h('table', null,
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, 'Page'), h('th', { scope: 'col', class: 'n' }, 'Total'),
          h('th', { scope: 'col', class: 'n' }, 'Reading'), h('th', { scope: 'col', class: 'n' }, 'Writing'),
          h('th', { scope: 'col', class: 'n', title: 'Idle, hidden tabs included' }, 'Idle'))),
        body)),
    empty, more)
  const rows = new Map<string, Row>()

  live.onRender((s) => {
    const sorted: PageCounts[] = [...s.pages.values()].sort((a, b) => b.total - a.total || (a.path < b.path ? -1 : 1))
    const top = sorted.slice(0, SHOWN)
    const keep = new Set(top.map((p) => p.path))
    for (const [path, r] of rows) if (!keep.has(path)) { r.tr.remove(); rows.delete(path) }
    let prev: Element | null = null
    for (const p of top) {
      let r = rows.get(p.path)
      if (r === undefined) {
        const cells = [h('td', { class: 'path' }, p.path), h('td', { class: 'n' }), h('td', { class: 'n reading' }), h('td', { class: 'n writing' }), h('td', { class: 'n idle' })]
        r = { tr: h('tr', null, ...cells), cells }
        rows.set(p.path, r)
      }
      const c = r.cells
      setText(c[1] as Element, int(p.total))
      setText(c[2] as Element, int(p.reading))
      setText(c[3] as Element, int(p.writing))
      setText(c[4] as Element, int(p.idle))
      c[4]?.setAttribute('title', `${int(p.hidden)} of them hidden`)
      // move only rows that are out of place
      const want: ChildNode | null = prev === null ? body.firstChild : prev.nextSibling
      if (want !== r.tr) body.insertBefore(r.tr, want)
      prev = r.tr
    }
    empty.hidden = sorted.length > 0
    setText(more, sorted.length > SHOWN ? `and ${int(sorted.length - SHOWN)} more pages` : '')
  })
  return el
}
