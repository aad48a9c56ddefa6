/**
 * Publishes pageviews to the live feed (seed 001's list of hits). It is an `IngestListener`
 * placed after presence, so a pageview presence refused (rate limited) is not fed. It publishes
 * as the event is accepted, before the store commits it: the feed is a live view, and a resend
 * that turns out to be a duplicate carries the same `id`, which a dashboard can dedupe on.
 */
import type { ErrorCode } from '../../protocol/errors'
import type { FeedRow } from '../store/types'
import { feedPageview, type FeedPageview } from '../bus/messages'
import { channels, type Bus } from '../bus/types'
import type { Accepted, ClientInfo, IngestListener } from '../ingest/types'

export function feedListener(bus: Bus): IngestListener {
  return {
    accept(item: Accepted, client: ClientInfo): ErrorCode | null {
      const row = item.row
      if (row !== null && row.type === 'pageview' && !client.bot) bus.publish(channels.site(row.site), feedPageview(row))
      return null
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
