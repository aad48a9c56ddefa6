/**
 * The one way the dashboard makes DOM: elements with attributes and text children. Tracked values
 * (URLs, titles, referrers, job names) only ever become Text nodes or attribute values, never
 * markup: there is no innerHTML anywhere in the UI.
 */
export type Child = Node | string | number | null | undefined | false
export type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs | null = null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (attrs !== null) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue
      if (typeof v === 'function') el.addEventListener(k.slice(2), v)
      else if (k === 'class') el.className = String(v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)))
  }
}

/** Sets an element's text only when it changed (cheap repaints under a stream of diffs). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text
}

export function clear(el: Element): void {
  while (el.firstChild !== null) el.removeChild(el.firstChild)
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  clear(el)
  append(el, children)
}

const SVG = 'http://www.w3.org/2000/svg'
export function svg(tag: string, attrs: Record<string, string | number> = {}): SVGElement {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  return el
}

/**
 * Marks each `.scroll` box under `root` whose table is wider than the box: class `more-right` while
 * content is hidden to the right (CSS draws an edge shadow), and a "scroll" note under it, so a cut
 * column never looks like the end of the table. Called after renders, on resize and on scroll.
 */
export function markOverflow(root: ParentNode = document): void {
  for (const el of Array.from(root.querySelectorAll<HTMLElement>('.scroll'))) {
    const wide = el.scrollWidth - el.clientWidth > 1
    const more = wide && el.scrollWidth - el.clientWidth - el.scrollLeft > 1
    el.classList.toggle('more-right', more)
    el.classList.toggle('more-left', wide && el.scrollLeft > 1)
    const note = el.nextElementSibling
    const has = note instanceof HTMLElement && note.classList.contains('scroll-note')
    if (wide && !has) el.after(h('p', { class: 'scroll-note' }, 'Scroll sideways for more columns →'))
    else if (!wide && has) note.remove()
  }
}
