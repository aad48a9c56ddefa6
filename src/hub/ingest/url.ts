/**
 * Splits a tracked URL (a page or a referrer) into what the hub keeps: host, readable page path
 * (with its hash route, src/protocol/page.ts) and raw query. Ingest (`enrich.ts`) and live presence
 * (`presence/path.ts`) both name pages through `pageOf`, so live pages and stored page views agree.
 */
import { pagePath, readablePath } from '../../protocol/page'

export interface UrlParts {
  /** Host as WHATWG URL writes it (lower case, punycode, a non-default port kept); null without one. */
  host: string | null
  /** The host name without port: what site comparisons use. */
  hostname: string | null
  /** The page: readable path plus hash route, no query. */
  path: string
  /** The raw query string without `?`; '' when there is none. */
  query: string
}

// Most URLs a tracker sends are `https://host/path?query#hash`: lower-case DNS host, no port, no
// userinfo, nothing WHATWG URL would re-encode or resolve. Those are split by hand; anything else
// (ports, IPs, IDNs, `..` segments, odd characters) goes through `new URL`, which costs about 1 µs
// an event. The hand-split result is the same as URL's for every URL the pattern admits (the
// fragment admits printable ASCII only, which URL keeps or escapes in a way the readable path undoes).
const SIMPLE = /^https?:\/\/((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*)(\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*)?(?:\?([^#]*))?(#[!-~]*)?$/
// query characters URL keeps as they are (anything else would be percent-encoded by it)
const PLAIN_QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/

function simple(url: string): RegExpExecArray | null {
  if (url.length > 2048) return null
  const m = SIMPLE.exec(url)
  if (m === null) return null
  const host = m[1] as string
  const path = m[2]
  const query = m[3]
  if (host.startsWith('xn--') || host.includes('.xn--')) return null
  // dot segments, plain or percent-encoded, are resolved by URL
  if (path !== undefined && (path.includes('/.') || (path.includes('%') && /%2e/i.test(path)))) return null
  if (query !== undefined && !PLAIN_QUERY.test(query)) return null
  return m
}

/** The parts of an absolute or relative URL; never throws. */
export function splitUrl(url: string): UrlParts {
  const m = simple(url)
  if (m !== null) {
    const host = m[1] as string
    const hash = m[4]
    let path = m[2] || '/'
    if (hash !== undefined && hash.length > 2) path = pagePath(path, hash)
    else if (path.indexOf('%') !== -1) path = readablePath(path)
    return { host, hostname: host, path, query: m[3] ?? '' }
  }
  try {
    const u = new URL(url)
    return { host: u.host || null, hostname: u.hostname || null, path: pagePath(u.pathname, u.hash), query: u.search.slice(1) }
  } catch {
    // a relative or odd URL: path and route as written
    const q = url.indexOf('?')
    const h = url.indexOf('#')
    const end = q === -1 ? h : h === -1 ? q : Math.min(q, h)
    const path = end === -1 ? url : url.slice(0, end)
    const query = q === -1 || (h !== -1 && h < q) ? '' : url.slice(q + 1, h === -1 ? undefined : h)
    return { host: null, hostname: null, path: pagePath(path, h === -1 ? '' : url.slice(h)), query }
  }
}

/** The page path of a URL, as stored and as live presence names it. */
export function pageOf(url: string): string {
  return splitUrl(url).path
}

/**
 * A referrer as shown: its path made readable like a page's (query and fragment as sent).
 * @example readableUrl('https://r.test/%C3%A9t%C3%A9?q=%C3%A9') // 'https://r.test/été?q=%C3%A9'
 */
export function readableUrl(url: string): string {
  if (url.indexOf('%') === -1) return url
  const scheme = url.indexOf('://')
  const start = scheme === -1 ? 0 : url.indexOf('/', scheme + 3)
  if (start === -1) return url
  let end = url.length
  for (let i = start; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 63 /* ? */ || c === 35 /* # */) { end = i; break }
  }
  return url.slice(0, start) + readablePath(url.slice(start, end)) + url.slice(end)
}
