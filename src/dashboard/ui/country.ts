/**
 * Country codes for people: the name from the browser's own Intl data and the flag from the two
 * regional-indicator letters, so the dashboard carries no country list. All of it is text.
 */
import { h, type Child } from './dom'
import type { Attribution } from './types'

let names: Intl.DisplayNames | null | undefined

/** `DE` → `Germany` (English, like the rest of the UI); the code itself when the browser has no name. */
export function countryName(code: string): string {
  if (names === undefined) {
    try { names = new Intl.DisplayNames(['en'], { type: 'region' }) } catch { names = null }
  }
  try {
    return names?.of(code) ?? code
  } catch {
    return code
  }
}

/** `DE` → 🇩🇪 (regional indicators D and E); '' for anything that is not two letters. */
export function flag(code: string): string {
  if (!/^[A-Z]{2}$/.test(code)) return ''
  return String.fromCodePoint(0x1f1e6 + code.charCodeAt(0) - 65, 0x1f1e6 + code.charCodeAt(1) - 65)
}

/** Flag, name and code, as a cell's children. */
export function countryLabel(code: string): Child[] {
  const f = flag(code)
  return [f && h('span', { class: 'flag', 'aria-hidden': 'true' }, f), f && ' ', countryName(code), ' ', h('span', { class: 'muted cc' }, code)]
}

/** The notice the IP database's licence asks for, as a link; null when there is none to give. */
export function attributionLink(a: Attribution | null | undefined): HTMLElement | null {
  // the hub names the URL; only a web link becomes an href
  if (a == null || !/^https:\/\//.test(a.url)) return null
  return h('a', { href: a.url, rel: 'noopener', target: '_blank' }, a.text)
}
