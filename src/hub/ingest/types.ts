/**
 * What ingest hands to the parts downstream of it (presence, live channel, store).
 * Data flows one way: a downstream part never calls back into ingest.
 */
import type { ErrorCode } from '../../protocol/errors'
import type { LivestatsEvent } from '../../protocol/schema'
import type { StoredEvent } from '../store/types'

/** Facts the hub derived about the client that sent a frame; never taken from the client's payload. */
export interface ClientInfo {
  /** Stable key of the transport connection: one per WebSocket, `null` for HTTP requests. */
  connection: string | null
  transport: 'ws' | 'http'
  /** Masked IP for display (the raw one is only used to derive `visitorFor`). */
  ipMasked: string
  /**
   * The unmasked IP. Memory only: it derives the visitor id, and is shown in the live feed when the
   * operator enables `feedFullIp`. It is never written to the store or to logs.
   */
  ipRaw: string
  /** What per-client caps count against: the IPv4 address, or the IPv6 address's /64 (`ipGroup`). Memory only. */
  ipGroup: string
  userAgent: string
  browser: string | null
  os: string | null
  device: string | null
  bot: boolean
  /** Where the IP database puts the client (see `geo.ts`); the raw IP itself is never stored. */
  country: string | null
  region: string | null
  city: string | null
  /**
   * The browser's first language from `Accept-Language` (`fr-FR`), what `navigator.language` says:
   * a page view that names no `language` gets this one (the snippet no longer sends it).
   */
  language: string | null
  /** True when the frame carried the hub token (process events may need it). */
  authenticated: boolean
}

/** An event that passed validation, with the derived fields ingest added. */
export interface Accepted {
  event: LivestatsEvent
  /** Hub receive time, ms. */
  ts: number
  /** HMAC visitor id for web events (daily salt, site, IP, user agent); null for process events. */
  visitor: string | null
  /** The row the store will write, or null for events kept in memory only (presence heartbeats). */
  row: StoredEvent | null
}

/**
 * A part that sees every accepted event as it arrives, before the store commits it.
 * `accept` may refuse an event (e.g. presence for an unknown connection): the refusal goes
 * into the source's ack and the event is not stored.
 */
export interface IngestListener {
  accept(item: Accepted, client: ClientInfo): ErrorCode | null
  /** The WebSocket `connection` closed (tab closed, network gone, hub shutting down). */
  connectionClosed(connection: string, client: ClientInfo): void
  /**
   * The store committed `item`'s row and it was new (not a resent duplicate): for parts that show
   * what happened (the live feed), so they never show an event the store does not hold, nor twice.
   */
  committed?(item: Accepted, client: ClientInfo): void
  /**
   * The tab's latest page view, sent by `client`, was refused or could not be stored: it must not be
   * shown live until a later page view of it is accepted (ingest refuses its heartbeats until then).
   * Only the tab's owner can drop it: a page view from anyone else ends nothing.
   */
  dropTab?(site: string, cid: string, client: ClientInfo): void
}
