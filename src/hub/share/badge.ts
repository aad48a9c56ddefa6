/**
 * The public live badge (issue 15.5): `GET /badge/<site>.svg`, an SVG with the site's live visitor
 * count, for a README or a web page. Off for every site until the operator enables it (meta
 * `badge:<site>`); then it answers without a token and without the Host check, from a cache of a
 * few seconds, so a popular page embedding it costs the hub one count per site per few seconds.
 */
import { LivestatsError } from '../../protocol/errors'
import type { Store } from '../store/types'

export const BADGE_PREFIX = 'badge:'
/** How long one rendering is served, in the hub and in browsers and CDNs, s. */
export const BADGE_MAX_AGE_S = 5

/** Text for SVG (XML): the five special characters as entities, control characters dropped (XML 1.0 refuses them). */
export function xmlEscape(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufffe\uffff]/g, '')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')
}

/** Rough width of text in the badge's 11 px sans-serif, px (the badge need not be exact). */
function width(s: string): number {
  let w = 0
  for (const ch of s) w += /[ilj.,:;'|!1]/.test(ch) ? 3.5 : /[mwMW@]/.test(ch) ? 10 : /[A-Z0-9]/.test(ch) ? 7.5 : 6.5
  return Math.ceil(w)
}

/** The badge for `site` with `n` live visitors: label (the site, cut at 40 characters) on the left, count on the right. */
export function badgeSvg(site: string, n: number): string {
  const label = [...site].length > 40 ? `${[...site].slice(0, 39).join('')}…` : site
  const value = `${n} live`
  const lw = width(label) + 12
  const vw = width(value) + 12
  const w = lw + vw
  const l = xmlEscape(label)
  const title = xmlEscape(`${site}: ${n} live visitor${n === 1 ? '' : 's'}`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="20" role="img" aria-label="${title}">` +
    `<title>${title}</title>` +
    `<rect width="${lw}" height="20" fill="#555"/><rect x="${lw}" width="${vw}" height="20" fill="${n > 0 ? '#2e9e44' : '#9f9f9f'}"/>` +
    `<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">` +
    `<text x="${lw / 2}" y="14">${l}</text><text x="${lw + vw / 2}" y="14">${value}</text></g></svg>`
}

export class Badges {
  private readonly on = new Set<string>()
  private readonly cache = new Map<string, { svg: string; until: number }>()
  /** Sites turned on or off here while a `load` was reading: its older view of them is not applied. */
  private readonly touched = new Set<string>()

  constructor(private readonly store: Pick<Store, 'setMeta' | 'listMeta' | 'deleteMeta'>, private readonly count: (site: string) => Promise<number>) {}

  /** Reads which badges are on, replacing what was held (at start, and now and then for a cluster's other hubs). */
  async load(): Promise<void> {
    this.touched.clear()
    const on = new Set((await this.store.listMeta(BADGE_PREFIX)).map(({ key }) => key.slice(BADGE_PREFIX.length)))
    for (const s of this.touched) {
      if (this.on.has(s)) on.add(s)
      else on.delete(s)
    }
    this.on.clear()
    for (const s of on) this.on.add(s)
    for (const s of this.cache.keys()) if (!this.on.has(s)) this.cache.delete(s)
  }

  list(): string[] {
    return [...this.on].sort()
  }

  enabled(site: string): boolean {
    return this.on.has(site)
  }

  async enable(site: string): Promise<void> {
    if (site === '' || site.length > 253 || /[\u0000-\u001f\u007f]/.test(site)) throw new LivestatsError('LS_ERR_INVALID_SHARE', 'site must be a site name of at most 253 characters')
    await this.store.setMeta(BADGE_PREFIX + site, '1')
    this.on.add(site)
    this.touched.add(site)
  }

  async disable(site: string): Promise<void> {
    this.on.delete(site)
    this.cache.delete(site)
    this.touched.add(site)
    await this.store.deleteMeta(BADGE_PREFIX + site)
  }

  /** The SVG for an enabled site, from the cache while it is fresh. @throws LS_ERR_BADGE_OFF */
  async svg(site: string, now = Date.now()): Promise<string> {
    if (!this.on.has(site)) throw new LivestatsError('LS_ERR_BADGE_OFF')
    const hit = this.cache.get(site)
    if (hit !== undefined && hit.until > now) return hit.svg
    const svg = badgeSvg(site, await this.count(site))
    // only enabled sites are cached, so the map is as large as the operator's list at most
    if (this.on.has(site)) this.cache.set(site, { svg, until: now + BADGE_MAX_AGE_S * 1000 })
    return svg
  }
}
