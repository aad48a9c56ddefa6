/**
 * Publishes pageviews to the live feed (seed 001's list of hits). It is an `IngestListener` that
 * publishes once the store committed the row, and only a new one: the feed lists the page views
 * the store holds, never one whose commit failed, and a resend (a duplicate) is not listed twice.
 * The commit costs a few milliseconds of delay, which a list of hits does not notice.
 */
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
