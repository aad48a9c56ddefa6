/**
 * The browser snippet, built to `dist/livestats.js`: a minified IIFE that must stay at or under
 * 1,000 bytes with `gzip -9` (scripts/build-snippet.mjs fails the build above that). Size is
 * goal number one, so this file is written for what minifies and compresses well; every trade
 * made for size is listed in docs/snippet.md. The public API is in `livestats.d.ts`.
 *
 * One tracker per page. The seed 002 form (`new Livestats(url, interval).start()`) and the
 * one-tag form (`<script defer src=".../livestats.js">`) start the same tracker; only the first
 * start counts. Settings come from the script tag's `data-*` attributes.
 *
 * It imports nothing: protocol v1 is written out here (one event object per frame, field names,
 * 15 s) and test/browser/snippet.test.ts checks what it sends against the hub's own validation.
 */
import type { LivestatsProps } from './livestats'
import { notFoundPath, scrollDepth, watchLinks } from './extras'

/**
 * Set by the build: false for `dist/livestats.js`, which drops every `EXTRAS` branch (so the core
 * stays as small as it was), true for `dist/livestats-extras.js`, which adds extras.ts.
 */
declare const EXTRAS: boolean

interface Tracker {
  start(): Tracker
  track: typeof track
}

const d = document
const l = location
const now = Date.now
const tag = d.currentScript as HTMLScriptElement | null
const data: DOMStringMap = tag?.dataset || {}
/** The URL last counted as a page view ("" until the first one, and again after `pagehide`). */
let page = ''
/** Sends one event; `Date.now` is a handy no-op until the tracker starts. */
let send: (type: string, fields?: object, body?: string) => unknown = now

/**
 * A random, time-ordered id: the time in ms (13 digits until 2286), then 64 random bits in decimal
 * (a one-element array prints without a separator): at most 33 characters.
 * Nobody can guess another tab's ids (issue 10.4), and ids sort by time like UUIDv7.
 */
const rid = () => now() + (crypto.getRandomValues(new BigUint64Array(1)) as unknown as string)

/**
 * The page a URL names: without an in-page anchor (a `#` that does not start a route `#/…` or
 * `#!/…`, and all after it). ANCHOR in src/protocol/page.ts, written out here.
 */
const pageOf = (u: string) => u.replace(/#(?!!?\/.).*/, '')

/** Entry points never throw into the page. */
const safe = <A extends unknown[]>(f: (...a: A) => unknown) => (...a: A) => {
  try {
    f(...a)
  } catch {
    /* a broken tracker must not break the page */
  }
}

let start = safe((url?: string, interval?: number) => {
  start = now // started (or refused): later calls do nothing
  if (
    data.allowLocalhost == null && /^(localhost|127\.|\[|$)/.test(l.hostname)
      // Once, so that a person testing on localhost learns why the hub receives nothing.
      ? !(console.warn('Livestats: localhost needs data-allow-localhost') as unknown)
      // doNotTrack is "1", "0", "unspecified" or null: only "1" is above 0.
      : data.respectDnt != null && (navigator.doNotTrack as unknown as number) == 1
  ) return
  // The hub's collect URL over http(s), from its absolute URL or collect URL (ws or http), or from
  // this script's URL. The WebSocket and HTTP share the path: the hub takes a POST at /collect too.
  const hub = new URL(url || tag!.src).origin.replace(/^ws/, 'http') + '/collect'
  const site = data.site || l.hostname
  const every = interval || +data.interval! || 15
  // Test knob: writing lasts `data-writing-ms` (10 s), reading six times that (60 s). Left a
  // string: `<` and `*` make it a number.
  const writingMs = (data.writingMs as unknown as number) || 1e4
  // Matched against the page as the browser writes it: text outside printable ASCII (non-Latin
  // letters, spaces) is percent-encoded in the pattern as it is in the URL, so a pattern written
  // readable (`^/سلام`) matches the page the hub shows readable. `$^` matches no path.
  const exclude = RegExp(data.exclude?.replace(/[^!-~]+/g, encodeURI) || '$^')
  const cid = rid()
  // A closed socket stays here: `readyState` 3 sends over HTTP, `close()` on it does nothing.
  let ws: WebSocket | undefined
  let backoff = 1e3
  let state: string | undefined
  let sentAt: number | undefined
  let keyAt: number | undefined
  let actAt = now()

  // No WebSocket (CSP, old browser): `safe` swallows the throw and HTTP carries everything.
  const connect = safe(() => {
    ws = new WebSocket('ws' + hub.slice(4))
    // The hub closed this tab with the old socket: say where we are at once (tick ignores arguments).
    ws.onopen = () => tick((state = ''))
    // Exponential backoff with full jitter, up to about a minute (never reset: 3 bytes).
    ws.onclose = () => setTimeout(connect, Math.random() * (backoff < 6e4 ? (backoff *= 2) : backoff))
  })
  // On the socket when it is open, else one `sendBeacon` (text/plain: no CORS preflight; it outlives
  // the page, so `leave` on `pagehide` arrives). One event per frame: protocol v1 takes a bare event
  // object as well as a batch. `leave` is the one event without fields: it goes even from an
  // excluded page. `data-exclude` sees the page's path and hash route as the browser writes them.
  // livestats-extras.js sends custom events by beacon, so a click that leaves the page still
  // arrives, and adds the page view's scroll depth to presence and `leave`.
  send = (type, fields, body?: string) =>
    (fields && exclude.test(pageOf(l.pathname + l.hash))) ||
    ((body = JSON.stringify({
      id: rid(), type, site, cid, ...fields,
      ...(EXTRAS && scrollOn && (type == 'presence' || type == 'leave') && { scroll: deepest }),
    })),
    ws?.readyState == 1 && !(EXTRAS && type == 'event')
      ? ws.send(body)
      : navigator.sendBeacon(hub, body))
  // Every second and on every activity: a page view when the page changed (this sees pushState,
  // replaceState, popstate and hash routes without patching history, and never counts one URL
  // twice), then presence when the state changed or a heartbeat is due. An in-page anchor is no
  // new page: `pageOf` drops it. An unset time compares as NaN: false.
  const tick: (...ignored: unknown[]) => void = () => {
    const t = now()
    const u = pageOf(l.href)
    if (u != page) {
      // livestats-extras.js: the page left (a route change) gets its final depth before the next view
      if (EXTRAS && scrollOn && page && state) send('presence', { url: page, state, interval: every })
      if (EXTRAS) deepest = 0
      send('pageview', { url: (page = u), referrer: d.referrer, title: d.title })
      if (EXTRAS && notFound) {
        notFound = false
        send('event', { name: '404', url: page, props: { path: notFoundPath() } })
      }
    }
    // every scroll event ticks, so this follows the visitor down the page
    if (EXTRAS && scrollOn) deepest = Math.max(deepest, scrollDepth())
    const s = d.hidden ? 'hidden' : t - keyAt! < writingMs ? 'writing' : t - actAt < 6 * writingMs ? 'reading' : 'idle'
    // A heartbeat is due at `every` seconds, less 5 % so that a tick a little early still sends it.
    if (s != state || t - sentAt! > every * 950) {
      state = s
      sentAt = t
      send('presence', { url: page, state: s, interval: every })
    }
  }

  for (const k of ['pointermove', 'scroll', 'keydown'])
    addEventListener(k, (e) =>
      tick(
        (actAt = now()),
        // Only keyboard events have `key`; inputs and textareas have `select()`.
        (e as KeyboardEvent).key &&
          ((e.target as HTMLElement).isContentEditable || (e.target as HTMLInputElement).select) &&
          (keyAt = actAt),
      ), true)
  addEventListener('pagehide', () => {
    send('leave')
    ws?.close()
    // Back from the back/forward cache, the next tick counts a page view, which reopens the tab.
    page = ''
  })
  setInterval(tick, 1e3)
  connect()
  if (EXTRAS) watchLinks(data, track)
})

const track = safe((name: string, props?: LivestatsProps) => send('event', { name, url: page, props }))

// livestats-extras.js only (top level, so the core build drops them with the code that reads them):
/** Whether presence and `leave` carry the page view's scroll depth (`data-scroll`). */
const scrollOn = EXTRAS && data.scroll != null
/** The deepest point of the page view seen so far, percent. */
let deepest = 0
/** The page says it is a "not found" page (`data-404`): one `404` event, after its page view. */
let notFound = EXTRAS && data['404'] != null

/** Seed 002's API: `new Livestats(url, interval).start()`. */
;(self as unknown as { Livestats: unknown }).Livestats = function (this: Tracker, url?: string, interval?: number) {
  this.start = () => (start(url, interval), this)
  this.track = track
}
;(self as unknown as { livestats: unknown }).livestats = { track }
// One-tag form: `defer` or `data-site` starts it. A plain tag is seed 002's form, started by the page.
if (tag?.defer || data.site) start()

export {}
