/**
 * The events people expect without writing code, built only into `dist/livestats-extras.js`:
 * `snippet.ts` calls these under `if (EXTRAS)`, which the core build (`dist/livestats.js`, 1,000 B
 * budget) drops whole, so the core is byte for byte what it was. Each is off until the script
 * tag asks for it (docs/snippet.md, "Extras"):
 * - `data-outbound`: a click on a link to another host sends `Outbound Link: Click` {url};
 * - `data-downloads` (a list, or the default one): a click on a link to a file with one of those
 *   extensions sends `File Download` {url};
 * - `data-404`: the page says it is a "not found" page; its page view is followed by `404` {path};
 * - `data-scroll`: presence and `leave` carry `scroll`, the deepest point of the page seen so far
 *   in this page view, percent.
 * Clicks are only watched: nothing here calls `preventDefault`, waits or redirects, so a link
 * opens as the browser would open it (same tab, new tab, middle or modifier click, download).
 */

/** File extensions counted as downloads when `data-downloads` names none (lower case, no dot). */
export const DEFAULT_DOWNLOADS =
  'pdf,xlsx,xls,docx,doc,pptx,ppt,odt,ods,odp,txt,rtf,csv,epub,zip,gz,tgz,bz2,xz,7z,rar,tar,dmg,pkg,exe,msi,iso,apk,deb,rpm,mp3,wav,flac,mp4,mov,avi,mkv,webm'

/** A custom event that must outlive the page: `send` it by `sendBeacon`. */
type Beacon = (name: string, props: Record<string, string>) => unknown

/**
 * The extensions a `data-downloads` value names: words separated by commas or spaces, with or
 * without a dot, any case (`"pdf, .ZIP epub"`); the default list when the value is empty.
 * A regular expression on a URL path; never matches when no extension is left.
 */
export function downloadsPattern(value: string): RegExp {
  const exts = (value.trim() || DEFAULT_DOWNLOADS).split(/[\s,]+/).map((e) => e.replace(/^\./, '').replace(/[^\w-]/g, '')).filter(Boolean)
  return RegExp(exts.length ? `\\.(${exts.join('|')})$` : '$^', 'i')
}

/**
 * Watches link clicks (primary click, with or without modifier keys, Enter on a focused link, and
 * the middle button's `auxclick`) and sends `File Download` or `Outbound Link: Click` for the
 * links the settings ask for. A link that is both (a file on another host) is a download.
 * Listening on `document` in the bubble phase, after the page's own handlers: it only reads.
 */
export function watchLinks(data: DOMStringMap, beacon: Beacon): void {
  const outbound = data.outbound != null
  const downloads = data.downloads != null && downloadsPattern(data.downloads)
  if (!outbound && !downloads) return
  const onClick = (e: MouseEvent) => {
    try {
      // auxclick also fires for the right button, which opens a menu, not the link
      if (e.type == 'auxclick' && e.button != 1) return
      const a = (e.target as Element | null)?.closest?.('a[href],area[href]') as HTMLAnchorElement | null
      // an SVG link's href is an object: not a page link we can read
      if (!a || typeof a.href != 'string') return
      const u = new URL(a.href)
      if (!/^https?:$/.test(u.protocol)) return // mailto:, tel:, javascript:
      u.hash = ''
      if (downloads && downloads.test(u.pathname)) {
        // a file is its path: its query often holds a signed token, which is nobody's business here
        beacon('File Download', { url: u.origin + u.pathname })
      } else if (outbound && u.host != location.host) {
        beacon('Outbound Link: Click', { url: u.href })
      }
    } catch {
      /* a broken tracker must not break the page */
    }
  }
  document.addEventListener('click', onClick)
  document.addEventListener('auxclick', onClick)
}

/**
 * How deep into the page the visitor has seen: the bottom of the viewport as a percent of the
 * page's height, 0–100 (a page that fits the window is 100).
 */
export function scrollDepth(): number {
  const h = Math.max(document.documentElement.scrollHeight, document.body?.scrollHeight || 0)
  return h > 0 ? Math.min(100, Math.max(0, Math.round(((scrollY + innerHeight) / h) * 100))) : 100
}

/** The path a `404` event names: readable (`/café`), as the hub shows pages; as sent when it does not decode. */
export function notFoundPath(): string {
  try {
    return decodeURI(location.pathname)
  } catch {
    return location.pathname
  }
}
