/**
 * What travels on the bus. Presence publishes `PresenceChange`, `ProcessUpdate` and `ProcessGone`;
 * the hub publishes a `FeedPageview` for every newly stored pageview (use `feedPageview(row)`).
 * Values are absolute (counts after the change), not increments, so a subscriber that misses a
 * message is repaired by the next one, and applying one twice is harmless.
 */
import type { PresenceState } from '../../protocol/limits'
import type { StoredEvent } from '../store/types'
import type { LiveCounts, PageCounts, ProcessView } from '../presence/types'

export type ChangeOp = 'join' | 'leave' | 'update'
/** Why a tab ended: `leave` event, WebSocket `close`, HTTP heartbeats `expired`, hub `shutdown`. */
export type EndReason = 'leave' | 'close' | 'expired' | 'shutdown'

/** A tab joined, left, or changed state or page. Heartbeats that change nothing are not published. */
export interface PresenceChange {
  type: 'presence'
  site: string
  /** Per-site change counter (strictly increasing). */
  seq: number
  at: number
  op: ChangeOp
  /** The tab's `cid`: hub-internal (the bus stays inside the hub or its cluster); never sent to a dashboard. */
  cid: string
  /** Opaque per-tab id (a counter) that the live channel sends instead of `cid`, which grants nothing. */
  key: string
  visitor: string
  path: string
  state: PresenceState
  /** For `update`: the page and state before. */
  from?: { path: string; state: PresenceState }
  reason?: EndReason
  /** Site counts after the change. */
  counts: LiveCounts
  /** Counts after the change of the pages it touched (one or two); `total: 0` means the page emptied. */
  pages: PageCounts[]
  /** Open connections on the site after the change. */
  connections: number
}

/** A pageview for the live feed (seed 001): what the dashboard lists, never the raw IP. */
export interface FeedPageview {
  type: 'pageview'
  site: string
  id: string
  at: number
  path: string | null
  host: string | null
  title: string | null
  referrer: string | null
  country: string | null
  browser: string | null
  os: string | null
  device: string | null
  /**
   * The client's IP from memory (never stored): masked (IPv4 last octet, IPv6 last 80 bits zeroed),
   * or the full one when the operator set `feedFullIp`; null on a stored row this hub did not see live.
   */
  ip: string | null
  /**
   * Names of the site's goals this row reached (issue 13), when any: the live feed says "Goal: …".
   * Absent on rows that reached none.
   */
  goals?: string[]
  /**
   * Set on a custom event that reached a goal (its name): the feed lists those too, beside page
   * views (whose rows never carry it). `path` is then the page it was sent from.
   */
  event?: string
}

export interface ProcessUpdate {
  type: 'process'
  seq: number
  at: number
  process: ProcessView
}

export interface ProcessGone {
  type: 'process-gone'
  seq: number
  at: number
  key: string
  reason: EndReason
}

/** A site with no live tab before got one: published on `channels.sites`. */
export interface SiteSeen {
  type: 'site-seen'
  at: number
  site: string
}

/**
 * Dashboards of this channel must take a fresh snapshot: a change was lost in transit (a gap in the
 * site's `seq`), the bus reconnected, or presence switched between cluster and node-only counts.
 * A network bus delivers it to this node's subscribers only; it is never sent between nodes.
 */
export interface Resync {
  type: 'resync'
  at: number
  /** Why, for logs and tests: `gap`, `subscribed`, `reconnected` or `mode`. */
  reason: 'gap' | 'subscribed' | 'reconnected' | 'mode'
}

export type BusMessage = PresenceChange | FeedPageview | ProcessUpdate | ProcessGone | SiteSeen | Resync

/**
 * The feed message the hub publishes on `channels.site(row.site)` for an accepted pageview. The
 * row carries no IP: the feed listener sets `ip` from the connection.
 */
export function feedPageview(row: StoredEvent): FeedPageview {
  return {
    type: 'pageview', site: row.site, id: row.id, at: row.ts, path: row.path, host: row.host,
    title: row.title, referrer: row.referrer, country: row.country, browser: row.browser,
    os: row.os, device: row.device, ip: null,
  }
}
