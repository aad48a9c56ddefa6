/**
 * Public API of the Livestats browser snippet (`dist/livestats.js`, served by the hub at `/livestats.js`;
 * `dist/livestats-extras.js`, at `/livestats-extras.js`, is the same with the extras' attributes added).
 *
 * One-tag form (starts by itself because of `defer` or `data-site`):
 * ```html
 * <script defer src="https://hub.example.com/livestats.js" data-site="example.com"></script>
 * ```
 * Original Livestats form (seed 002), kept working as written:
 * ```html
 * <script src="https://hub.example.com/livestats.js"></script>
 * <script>var spy = new Livestats('https://hub.example.com', 15); spy.start();</script>
 * ```
 * Settings are `data-*` attributes on the script tag; see {@link LivestatsDataAttributes}.
 */

/** Custom event properties: small and flat. */
export type LivestatsProps = Record<string, string | number | boolean>

/**
 * The script tag's `data-*` attributes, as `HTMLScriptElement.dataset` names them
 * (`data-allow-localhost` → `allowLocalhost`). Flags are on when the attribute is present.
 */
export interface LivestatsDataAttributes {
  /** Site name the hub files events under. @default location.hostname */
  site?: string
  /** Heartbeat interval in seconds (the constructor's second argument wins). @default "15" */
  interval?: string
  /** Present: also track pages on localhost, 127.x, IPv6 literals and file:. @default absent (off) */
  allowLocalhost?: string
  /** Present: send nothing when the browser sends Do Not Track. @default absent (off) */
  respectDnt?: string
  /**
   * A regular expression; pages whose path (plus hash route: `/app/#/admin`) matches send nothing
   * (but `leave`). Write it as the dashboard shows the page: non-Latin text and spaces readable.
   * @example "^/(admin|account)/"
   */
  exclude?: string
  /**
   * Test knob: milliseconds a key in an editable element keeps the visitor `writing`; a visible
   * page with activity in the last 6x that is `reading`. @default "10000" (10 s writing, 60 s reading)
   */
  writingMs?: string
  /** `livestats-extras.js` only. Present: a click on a link to another host sends `Outbound Link: Click` `{url}`. @default absent (off) */
  outbound?: string
  /**
   * `livestats-extras.js` only. Present: a click on a link to a file sends `File Download` `{url}`.
   * Empty: the default extensions; else the site's own, separated by commas or spaces.
   * @example "pdf, zip epub"
   */
  downloads?: string
  /** `livestats-extras.js` only. Present: this page is a "not found" page; sends `404` `{path}` after its page view. @default absent (off) */
  '404'?: string
  /** `livestats-extras.js` only. Present: presence and `leave` carry the page view's deepest scroll point, percent. @default absent (off) */
  scroll?: string
}

export declare class Livestats {
  /**
   * @param url the hub, absolute: its origin (`https://hub.example.com`) or its collect URL
   *   (`wss://hub.example.com/collect`, `https://hub.example.com/collect`).
   *   @default the origin the script was loaded from
   * @param interval heartbeat interval in seconds. @default 15
   * @example new Livestats('https://hub.example.com', 30).start()
   */
  constructor(url?: string, interval?: number)
  /** Sends the page view and starts presence. The page's first start wins; later ones do nothing. Never throws. */
  start(): this
  /** Sends a custom event. Does nothing before a start. Never throws. @example spy.track('signup', { plan: 'pro' }) */
  track(name: string, props?: LivestatsProps): void
}

declare global {
  interface Window {
    Livestats: typeof Livestats
    /** Tracks through the page's tracker (the one-tag form starts it by itself). */
    livestats: { track(name: string, props?: LivestatsProps): void }
  }
}
