/**
 * Messages of the live channel (`/live`), hub → dashboard and dashboard → hub. Documented in
 * `docs/live.md`. Every count is absolute (the value after the change), so a dashboard applies a
 * diff by assignment: `counts = diff.counts`, `pages[p.path] = p` (dropping pages whose total is 0).
 */
import type { ErrorCode } from '../../protocol/errors'
import type { FeedPageview, PresenceChange } from '../bus/messages'
import type { LiveCounts, PageCounts, PresenceSnapshot, ProcessView } from '../presence/types'

/** Sent on connect when no site was named: the sites with someone on them. */
export interface HelloMessage {
  type: 'hello'
  v: 1
  sites: string[]
}

/** A presence snapshot with the site's processes and latest pageviews. */
export interface SnapshotMessage extends PresenceSnapshot {
  type: 'snapshot'
  processes: ProcessView[]
  /** Latest pageviews, newest first (when the hub has a store to read them from). */
  recent: FeedPageview[]
}

/** One join, leave or change, for the feed and for animations; counts are in the diff itself. */
export type ChangeView = Pick<PresenceChange, 'op' | 'at' | 'key' | 'visitor' | 'path' | 'state' | 'from' | 'reason'>

/** Everything that changed since the previous message, at most one per 25 ms. Absent fields did not change. */
export interface DiffMessage {
  type: 'diff'
  site: string
  /** Sequence number of the last presence change included; 0 when it holds none. */
  seq: number
  at: number
  counts?: LiveCounts
  connections?: number
  pages?: PageCounts[]
  events?: ChangeView[]
  /** Changes left out of `events` because the window held more than the limit (counts stay exact). */
  dropped?: number
  feed?: FeedPageview[]
  processes?: ProcessView[]
  processesGone?: string[]
}

/** A site got its first live visitor: dashboards add it to their site list (sent to every dashboard). */
export interface SiteMessage {
  type: 'site'
  site: string
  at: number
}

export interface ErrorMessage {
  type: 'error'
  code: ErrorCode
  message: string
}

export type ServerMessage = HelloMessage | SnapshotMessage | DiffMessage | SiteMessage | ErrorMessage

/** Dashboard → hub: switch to a site (a snapshot follows). */
export interface SubscribeMessage {
  type: 'subscribe'
  site: string
}

/** Parses a dashboard's frame; null when it is not a message this channel knows. */
export function parseClientMessage(text: string, maxSiteLength: number): SubscribeMessage | null {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (o.type !== 'subscribe' || typeof o.site !== 'string') return null
  if (o.site.length === 0 || o.site.length > maxSiteLength) return null
  return { type: 'subscribe', site: o.site }
}

export function changeView(m: PresenceChange): ChangeView {
  const v: ChangeView = { op: m.op, at: m.at, key: m.key, visitor: m.visitor, path: m.path, state: m.state }
  if (m.from !== undefined) v.from = m.from
  if (m.reason !== undefined) v.reason = m.reason
  return v
}
