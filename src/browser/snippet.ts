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
let send: (type: string, fields?: object) => unknown = now

/** Entry points never throw into the page. */
const safe = <A extends unknown[]>(f: (...a: A) => unknown) => (...a: A) => {
  try {
    f(...a)
  } catch {
    /* a broken tracker must not break the page */
  }
}

let start = safe((url?: string, interval?: number) => {
  if (
    (data.allowLocalhost == null && /^(localhost|127\.|\[::1\]|$)/.test(l.hostname)) ||
    // doNotTrack is "1", "0", "unspecified" or null: only "1" is above 0.
    (data.respectDnt != null && (navigator.doNotTrack as unknown as number) > 0)
  ) return
  start = now // started: later calls do nothing
  // The hub's origin, from its absolute URL or collect URL (ws or http), or from this script's URL.
  const hub = new URL(url || tag!.src).origin
  const httpUrl = hub.replace(/^ws/, 'http') + '/api/collect'
  const site = data.site || l.hostname
  const every = interval || +data.interval! || 15
  // Test knob: writing lasts `data-writing-ms` (10 s), reading six times that (60 s).
  const writingMs = +data.writingMs! || 1e4
  const readingMs = 6 * writingMs
  // `$^` matches no path (every path has at least "/").
  const exclude = RegExp(data.exclude || '$^')
  // Tab id: 13 time digits and about 16 random ones; event ids add a counter to it.
  const cid = now() + (Math.random() + '').slice(2)
  let n = 0
  // A closed socket stays here: `readyState` 3 sends over HTTP, `close()` on it does nothing.
  let ws: WebSocket | undefined
  let backoff = 1e3
  let state: string | undefined
  let sentAt: number | undefined
  let keyAt: number | undefined
  let actAt = now()

  const connect = () => {
    try {
      const s = (ws = new WebSocket(hub.replace(/^http/, 'ws') + '/collect'))
      s.onopen = () => {
        backoff = 1e3
        // The hub closed this tab with the old socket: say where we are at once.
        state = ''
        tick()
      }
      s.onclose = () => {
        // Exponential backoff with full jitter, up to about a minute.
        setTimeout(connect, Math.random() * (backoff < 6e4 ? (backoff *= 2) : backoff))
      }
    } catch {
      /* no WebSocket (CSP, old browser): HTTP carries everything */
    }
  }
  // On the socket when it is open, else one HTTP request (text/plain: no CORS preflight). Only
  // `leave` uses keepalive, so the page's keepalive data in flight is one tiny body, far under 60 KiB.
  send = (type, fields) => {
    if (type == 'leave' || !exclude.test(l.pathname)) {
      // One event per frame: protocol v1 takes a bare event object as well as a batch.
      const body = JSON.stringify({ id: cid + ++n, type, site, cid, ...fields })
      ws?.readyState == 1
        ? ws.send(body)
        : fetch(httpUrl, { method: 'POST', body, keepalive: type == 'leave' }).catch(safe)
    }
  }
  // Every second and on every activity: a page view when the URL changed (this sees pushState,
  // replaceState and popstate without patching history, and never counts one URL twice), then
  // presence when the state changed or a heartbeat is due. An unset time compares as NaN: false.
  const tick = () => {
    const t = now()
    const u = l.href
    if (u != page)
      send('pageview', { url: (page = u), referrer: d.referrer, title: d.title, screen: screen.width, language: navigator.language })
    const s = d.hidden ? 'hidden' : t - keyAt! < writingMs ? 'writing' : t - actAt < readingMs ? 'reading' : 'idle'
    // A heartbeat is due at `every` seconds, less 99 ms so that a tick a little early still sends it.
    if (s != state || t - sentAt! > every * 1e3 - 99) {
      state = s
      sentAt = t
      send('presence', { state: s, url: page, interval: every })
    }
  }

  for (const k of ['pointermove', 'scroll', 'keydown'])
    addEventListener(k, (e) => {
      actAt = now()
      // Only keyboard events have `key`; inputs and textareas have `select()`.
      if ((e as KeyboardEvent).key && ((e.target as HTMLElement).isContentEditable || (e.target as HTMLInputElement).select)) keyAt = actAt
      tick()
    }, true)
  addEventListener('pagehide', () => {
    send('leave')
    ws?.close()
    // Back from the back/forward cache, the next tick counts a page view, which reopens the tab.
    page = ''
  })
  setInterval(tick, 1e3)
  connect()
})

const track = safe((name: string, props?: LivestatsProps) => send('event', { name, url: page, props }))

/** Seed 002's API: `new Livestats(url, interval).start()`. */
;(window as unknown as { Livestats: unknown }).Livestats = function (this: Tracker, url?: string, interval?: number) {
  this.start = () => (start(url, interval), this)
  this.track = track
}
;(window as unknown as { livestats: unknown }).livestats = { track }
// One-tag form: `defer` or `data-site` starts it. A plain tag is seed 002's form, started by the page.
if (tag?.defer || data.site) start()

export {}
