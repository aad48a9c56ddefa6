/**
 * The `Bus` seam: fan-out of live changes between the parts of one hub and, later, between hub
 * nodes (Redis pub/sub). Presence publishes what changed, the hub publishes accepted pageviews,
 * and every live channel subscribes. Nothing on the bus is needed for correctness of the store:
 * losing a message degrades only the live view, which the next snapshot repairs.
 */
import type { BusMessage } from './messages'

/** Called for every message on a channel, in publish order for one publisher. Must not throw. */
export type BusHandler = (message: BusMessage) => void

export interface Bus {
  /**
   * Fire and forget: ingest never waits on a subscriber. The memory bus delivers synchronously;
   * a network bus queues and sends in the background, so the return type stays `void`.
   * Handlers must treat the message as read-only (the memory bus hands every subscriber the same object).
   */
  publish(channel: string, message: BusMessage): void
  /** Returns the function that unsubscribes this handler. */
  subscribe(channel: string, handler: BusHandler): () => void
  close(): Promise<void>
}

/** Channel names, decided here so that publishers and subscribers cannot drift apart. */
export const channels = {
  /** Presence changes and feed pageviews of one site. */
  site: (site: string): string => `site:${site}`,
  /** Node process samples and disconnects (not per site: processes belong to apps). */
  processes: 'processes',
  /** A site got its first live visitor on this hub (dashboards add it to their site list). */
  sites: 'sites',
} as const
