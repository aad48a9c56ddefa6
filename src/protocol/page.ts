/**
 * What a page is and how its path is written: one rule for the hub (stored path, top pages, live
 * pages, the feed, entry and exit pages, CSV) and for the browser snippet (when to count a page
 * view, what `data-exclude` sees).
 *
 * - A page is the URL's path plus its hash route: a fragment written `#/…` or `#!/…` is a page of
 *   its own (`/app/#/about`), up to the route's own `?` or a second `#`. Any other fragment is an
 *   in-page anchor (`#section-2`): not part of the page. `#/` alone is the root route, the page itself.
 * - The path is shown readable: percent-escapes of text are decoded (`/%D8%B3…` → `/س…`), so a path
 *   sent encoded and the same path sent raw are one page. Escapes that change what a URL means stay
 *   encoded (`%2F` `/`, `%3F` `?`, `%23` `#`, `%25` `%`, `%5C` `\`, and control characters); a run of
 *   escapes that is not valid UTF-8 stays as sent.
 *
 * The snippet imports nothing at run time, so it writes `ANCHOR` out as a literal, and matches
 * `data-exclude` by encoding the pattern's text the way the browser encodes the URL (`EXCLUDE_TEXT`)
 * rather than decoding the URL; test/pages.test.ts checks that its copies are these and that the
 * snippet and the hub name every page a browser reports alike.
 */

/** The route of a fragment: `#/…` or `#!/…` with at least one character after the slash. */
export const ROUTE = /^#!?\/[^?#]+/

/**
 * An in-page anchor: a `#` that does not start a route, and all after it. The snippet removes it
 * from `location.href` to decide a new page view (an anchor change is none, a route change is one),
 * and from `pathname + hash` for `data-exclude`.
 */
export const ANCHOR = /#(?!!?\/.).*/

/** Text the snippet percent-encodes (with `encodeURI`) in a `data-exclude` pattern: what browsers encode in a URL. */
export const EXCLUDE_TEXT = /[^!-~]+/g

/**
 * A run of escapes other than the kept ones (`%2F %3F %23 %25 %5C`, controls `%00`–`%1F`, `%7F`).
 * The kept ones are all ASCII, so they never split a multi-byte UTF-8 sequence.
 */
export const ESCAPE_RUN = /(%(?!2[35f]|3f|5c|[01]|7f)[\da-f]{2})+/gi

/** Escapes a query value keeps: controls only (in a value `&`, `=` and `%` mean nothing more). */
const VALUE_RUN = /(%(?![01]|7f)[\da-f]{2})+/gi
/** Kept escapes, written upper-case so `%2f` and `%2F` name one page. */
const KEPT = /%(?:2[35f]|3f|5c|[01][\da-f]|7f)/g

/** The route part of a fragment (`#/about`), or '' for an anchor, an empty or a root route. */
export function routeOf(hash: string): string {
  const m = ROUTE.exec(hash)
  return m === null ? '' : m[0]
}

/** UTF-8 sequence length announced by a lead byte; 0 for a byte that cannot start one. */
function seqLength(b: number): number {
  return b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
}

/** A run that is not valid UTF-8 as a whole: decode the valid sequences in it, keep the rest as sent. */
function decodeParts(run: string): string {
  let out = ''
  let i = 0
  while (i < run.length) {
    const n = seqLength(parseInt(run.slice(i + 1, i + 3), 16))
    if (n > 0 && i + 3 * n <= run.length) {
      try {
        out += decodeURIComponent(run.slice(i, i + 3 * n))
        i += 3 * n
        continue
      } catch {
        /* not a valid sequence (overlong, surrogate, bad continuation): keep its first byte */
      }
    }
    out += run.slice(i, i + 3)
    i += 3
  }
  return out
}

function decodeRun(run: string): string {
  try {
    return decodeURIComponent(run)
  } catch {
    return decodeParts(run)
  }
}

/**
 * A path (or path plus route) made readable by the rule above. Idempotent: a readable path stays
 * as it is. Costs nothing for a path without `%`.
 * @example readablePath('/%D8%B3%D9%84%D8%A7%D9%85') // '/سلام'
 * @example readablePath('/a%2fb%20c') // '/a%2Fb c'
 */
export function readablePath(path: string): string {
  if (path.indexOf('%') === -1) return path
  return path.replace(ESCAPE_RUN, decodeRun).replace(KEPT, (e) => e.toUpperCase())
}

/**
 * A query value (as it appears between `=` and `&`) made readable: `+` is a space, every valid
 * escape is decoded except controls; invalid escapes stay as sent (URLSearchParams would turn
 * them into U+FFFD).
 */
export function readableValue(raw: string): string {
  const s = raw.indexOf('+') === -1 ? raw : raw.replace(/\+/g, ' ')
  if (s.indexOf('%') === -1) return s
  return s.replace(VALUE_RUN, decodeRun).replace(KEPT, (e) => e.toUpperCase())
}

/**
 * The page of a URL's parts: `pathname` (as a URL parser gives it) and `hash` (with its `#`, or '').
 * @example pagePath('/app/', '#/about?x=1') // '/app/#/about'
 * @example pagePath('/docs/', '#install') // '/docs/'
 */
export function pagePath(pathname: string, hash: string): string {
  const p = hash.length > 2 ? pathname + routeOf(hash) : pathname
  return readablePath(p || '/')
}
