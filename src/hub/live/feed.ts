/**
 * Publishes pageviews to the live feed (seed 001's list of hits, with the visitor's IP). It is an
 * `IngestListener` that publishes once the store committed the row, and only a new one: the feed
 * lists the page views the store holds, never one whose commit failed, and a resend (a duplicate) is
 * not listed twice. The commit costs a few milliseconds of delay, which a list of hits does not notice.
 *
 * The IP in the feed comes from the connection and lives in memory only: the store keeps no IP, not
 * even a masked one (next to the visitor hash it narrowed an address down to 256 guesses). The
 * last `RECENT_IPS` fed pageviews are remembered, so a snapshot's `recent` rows (read from the
 * store) show the IPs this hub saw; older rows, and rows from before a restart, have none.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { ErrorCode } from '../../protocol/errors'
import type { FeedRow } from '../store/types'
import type { GoalProbe } from '../goals/registry'
import { feedPageview, type FeedPageview } from '../bus/messages'
import { channels, type Bus } from '../bus/types'
import type { Accepted, ClientInfo, IngestListener } from '../ingest/types'

/** Fed pageviews whose IP a snapshot can still show (a ring: no allocation per pageview). */
export const RECENT_IPS = 1000

export interface FeedOptions {
  /** Show the full IP in the live feed (the operator's `feedFullIp`) instead of the masked one. @default false */
  fullIp?: boolean
  /**
   * Names of the goals a freshly stored page view or custom event reaches (GoalRegistry.reached):
   * page views carry them, and a custom event that reaches one is fed too. @default none
   */
  reached?: (row: GoalProbe) => readonly string[]
}

export interface LiveFeed extends IngestListener {
  /** Stored feed rows as the live channel lists them (snapshot's `recent`), IPs from memory. */
  fromRows(rows: readonly FeedRow[]): FeedPageview[]
}

export function feedListener(bus: Bus, opts: FeedOptions = {}): LiveFeed {
  const fullIp = opts.fullIp === true
  const reached = opts.reached ?? ((): readonly string[] => [])
  const ring = new Array<FeedPageview | undefined>(RECENT_IPS)
  let next = 0
  return {
    accept(): ErrorCode | null {
      return null
    },
    committed(item: Accepted, client: ClientInfo): void {
      const row = item.row
      if (row === null || client.bot || (row.type !== 'pageview' && row.type !== 'event')) return
      const goals = reached(row)
      // custom events are fed only when they reach a goal: the feed lists page views
      if (row.type === 'event' && goals.length === 0) return
      const m = feedPageview(row)
      if (goals.length > 0) m.goals = [...goals]
      if (row.type === 'event' && row.name !== null) m.event = row.name
      m.ip = fullIp ? client.ipRaw : client.ipMasked
      ring[next] = m
      next = (next + 1) % RECENT_IPS
      bus.publish(channels.site(row.site), m)
    },
    connectionClosed(): void {},
    fromRows(rows: readonly FeedRow[]): FeedPageview[] {
      const ips = new Map<string, string | null>()
      if (rows.length > 0) {
        for (const m of ring) if (m !== undefined) ips.set(`${m.site}\0${m.id}`, m.ip)
      }
      return rows.map((r) => {
        const m = feedFromRow(r, ips.get(`${r.site}\0${r.id}`) ?? null)
        const goals = reached({ type: 'pageview', site: r.site, path: r.path, name: null, data: null })
        if (goals.length > 0) m.goals = [...goals]
        return m
      })
    },
  }
}

/** A stored feed row as the live channel lists it; `ip` from memory when this hub saw it live. */
export function feedFromRow(r: FeedRow, ip: string | null = null): FeedPageview {
  return {
    type: 'pageview', site: r.site, id: r.id, at: r.ts, path: r.path, host: r.host, title: r.title,
    referrer: r.referrer, country: r.country, browser: r.browser, os: r.os, device: r.device, ip,
  }
}

/**
 * The id a reader (dashboard, `/api/feed`) sees for a pageview: a keyed hash of its event id under a
 * secret made at start. An event id is client-made (the snippet's used to be its tab's `cid` plus a
 * counter), so showing it would hand readers a tab's `cid` and ids to squat on. The same event keeps
 * the same feed id within one hub process, so a dashboard still dedupes a resend and matches the
 * snapshot's `recent` with later diffs.
 * @example
 * const feedId = feedIds()
 * feedId('0190b1c2-…') // 'mY3k…' (16 characters)
 */
export function feedIds(secret: Buffer = randomBytes(32)): (id: string) => string {
  return (id) => createHmac('sha256', secret).update(id).digest('base64url').slice(0, 16)
}

/**
 * A feed pageview as readers see it: the same, with its id made opaque. The site goes into the
 * hash too: event ids are unique per site only (see StoredEvent.id), and the all-sites feed must
 * not show two sites' events under one id.
 */
export function opaqueFeed<T extends { id: string; site: string }>(m: T, feedId: (id: string) => string): T {
  return { ...m, id: feedId(`${m.site}\0${m.id}`) }
}
