/**
 * Which hosts are one site, so that navigation between them is not a referrer. Two hosts are the
 * same when they are equal ignoring case, port, a trailing dot, a leading `www.` and IDN spelling
 * (`bücher.test` = `xn--bcher-kva.test`). A referrer is internal when its host is the page's host
 * or the site's name, or when the operator listed them together (`siteHosts`, `--site-hosts`).
 */
import { domainToASCII } from 'node:url'

/** The comparable form of a host name or site name: `WWW.Example.Test:8080.` → `example.test`. */
export function hostKey(host: string): string {
  let h = host
  if (!/^[a-z0-9.-]*$/.test(h)) {
    h = h.trim().toLowerCase()
    // a port (not inside an IPv6 literal)
    const colon = h.lastIndexOf(':')
    if (colon !== -1 && h.indexOf(']') < colon && /^:\d*$/.test(h.slice(colon))) h = h.slice(0, colon)
    if (!h.startsWith('[')) h = domainToASCII(h) || h
  }
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h.startsWith('www.') ? h.slice(4) : h
}

/**
 * `hostKey` of a host name a URL parser already wrote (lower case, punycode, no port): only the
 * trailing dot and `www.` are left to drop, without the regular expression (ingest's hot path).
 */
export function bareHost(host: string): string {
  const h = host.charCodeAt(host.length - 1) === 46 /* . */ ? host.slice(0, -1) : host
  return h.startsWith('www.') ? h.slice(4) : h
}

/** Site names and the hosts listed with them, decided once from the configuration. */
export class SiteHosts {
  /** host key → group number; hosts in one group are one site. */
  private readonly groups = new Map<string, number>()
  /** site name → its key, for names seen in events (bounded: names are client-chosen). */
  private readonly siteKeys = new Map<string, string>()

  constructor(config: Readonly<Record<string, readonly string[]>> = {}) {
    let g = 0
    for (const [site, hosts] of Object.entries(config)) {
      const group = this.groups.get(hostKey(site)) ?? ++g
      this.groups.set(hostKey(site), group)
      for (const h of hosts) this.groups.set(hostKey(h), group)
    }
  }

  private siteKey(site: string): string {
    let k = this.siteKeys.get(site)
    if (k === undefined) {
      if (this.siteKeys.size >= 10_000) this.siteKeys.clear()
      this.siteKeys.set(site, (k = hostKey(site)))
    }
    return k
  }

  /**
   * Whether a referrer host (key) belongs to the site the page is on.
   * @param refKey `hostKey` of the referrer's host
   * @param pageKey `hostKey` of the page's host, or null when the page URL had none
   */
  internal(refKey: string, pageKey: string | null, site: string): boolean {
    if (refKey === pageKey) return true
    const siteKey = this.siteKey(site)
    if (refKey === siteKey) return true
    if (this.groups.size === 0) return false
    const g = this.groups.get(refKey)
    return g !== undefined && (g === this.groups.get(siteKey) || (pageKey !== null && g === this.groups.get(pageKey)))
  }
}
