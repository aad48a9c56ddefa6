/**
 * Frames other than events: the batch envelope a source sends, and what the hub answers.
 *
 * A source sends either one event object (it has `type`) or a batch:
 *   { "v": 1, "seq": 7, "events": [ ... ] }
 * The hub answers each frame, once every accepted event in it is committed, with an ack:
 *   { "type": "ack", "seq": 7, "stored": 48, "duplicates": 2, "rejected": [] }
 * `seq` echoes the batch's (or `id` the single event's) so the source can drop what was
 * acknowledged and resend the rest after a reconnect. Duplicates are events the store already
 * held (a resend): they count as delivered.
 */
import type { ErrorCode } from './errors'
import type { LivestatsEvent } from './schema'

export interface Batch {
  v: number
  /** Source-chosen sequence number, echoed in the ack. */
  seq?: number
  events: LivestatsEvent[]
}

export interface Rejection {
  /** Index of the event in the batch (0 for a single event). */
  i: number
  /** The event's id, when it had a readable one. */
  id?: string
  code: ErrorCode
  message: string
}

/** An accepted event whose over-long text fields the hub cut to their limits (docs/protocol.md). */
export interface CutReport {
  /** Index of the event in the batch (0 for a single event). */
  i: number
  id: string
  /** JSON pointers of the fields cut, e.g. `/title`, `/props/plan`, `/running/3/name`. */
  fields: string[]
}

export interface Ack {
  type: 'ack'
  seq?: number
  id?: string
  stored: number
  duplicates: number
  rejected: Rejection[]
  /** Accepted events stored with fields cut; absent when nothing was cut. */
  cut?: CutReport[]
}

/** Sent before the hub closes a WebSocket for a frame-level error, and as the body of an HTTP 4xx/5xx. */
export interface ErrorReply {
  type: 'error'
  code: ErrorCode
  message: string
  seq?: number
}
