/**
 * Publishes pageviews to the live feed (seed 001's list of hits). It is an `IngestListener` that
 * publishes once the store committed the row, and only a new one: the feed lists the page views
 * the store holds, never one whose commit failed, and a resend (a duplicate) is not listed twice.
 * The commit costs a few milliseconds of delay, which a list of hits does not notice.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { ErrorCode } from '../../protocol/errors'
import type { FeedRow } from '../store/types'
import { feedPageview, type FeedPageview } from '../bus/messages'
import { channels, type Bus } from '../bus/types'
import type { Accepted, ClientInfo, IngestListener } from '../ingest/types'

export interface FeedOptions {
  /** Show the full IP in the live feed (the operator's `feedFullIp`); it is never stored. @default false */
  fullIp?: boolean
}

export function feedListener(bus: Bus, opts: FeedOptions = {}): IngestListener {
  const fullIp = opts.fullIp === true
  return {
    accept(): ErrorCode | null {
      return null
    },
    committed(item: Accepted, client: ClientInfo): void {
      const row = item.row
      if (row === null || row.type !== 'pageview' || client.bot) return
      const m = feedPageview(row)
      if (fullIp) m.ip = client.ipRaw
      bus.publish(channels.site(row.site), m)
    },
    connectionClosed(): void {},
  }
}

/** A stored feed row as the live channel lists it (snapshot's `recent`). */
export function feedFromRow(r: FeedRow): FeedPageview {
  return {
    type: 'pageview', site: r.site, id: r.id, at: r.ts, path: r.path, host: r.host, title: r.title,
    referrer: r.referrer, country: r.country, browser: r.browser, os: r.os, device: r.device, ip: r.ip,
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

/** A feed pageview as readers see it: the same, with its id made opaque. */
export function opaqueFeed<T extends { id: string }>(m: T, feedId: (id: string) => string): T {
  return { ...m, id: feedId(m.id) }
}
