/**
 * One WebSocket carrying one outbox: sends frames (a few in flight at a time), and reads the
 * acknowledgements. Used for both directions: the tracker dialling the hub, and a dashboard
 * dialling the tracker's `port` server.
 */
import WebSocket from 'ws'
import type { Ack, ErrorReply } from '../protocol/messages'
import type { Outbox } from './outbox'
import type { Warner } from './warn'

/** Frames in flight before the link waits for an acknowledgement. */
export const WINDOW = 4

/**
 * Refusals that say "not now" (the hub's store could not commit, its write queue is full): the frame
 * was not stored and will not be acknowledged, so the link that hears one closes, and its owner
 * requeues the frames in flight and resends them after a backoff.
 */
const RETRY_LATER: ReadonlySet<string> = new Set(['LS_ERR_STORE_UNAVAILABLE', 'LS_ERR_OVERLOADED'])

export class Link {
  /**
   * `onReply`, when given, hears each ack (true) and each "not now" refusal (false), and the link
   * then closes itself on a refusal; without it (a dashboard's link) refusals are only warned about.
   */
  constructor(
    readonly ws: WebSocket,
    readonly outbox: Outbox,
    private readonly warn: Warner,
    private readonly peer: string,
    private readonly onReply?: (acked: boolean) => void,
  ) {
    ws.on('message', (data) => this.onMessage(data))
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN
  }

  /** Sends queued events while the window allows. */
  pump(): void {
    while (this.open && this.outbox.framesInFlight < WINDOW) {
      const frame = this.outbox.take()
      if (frame === null) return
      this.ws.send(frame.text)
    }
  }

  private onMessage(data: WebSocket.RawData): void {
    let msg: unknown
    try {
      msg = JSON.parse(String(data))
    } catch {
      return // not ours to judge: the peer may speak more than the protocol
    }
    if (isAck(msg)) {
      if (typeof msg.seq === 'number') this.outbox.ack(msg.seq)
      for (const r of Array.isArray(msg.rejected) ? msg.rejected : []) {
        this.warn.once('rejected', `${this.peer} rejected an event (${r.code}): ${r.message}`, String(r.code))
      }
      this.onReply?.(true)
      this.pump()
    } else if (isErrorReply(msg)) {
      this.warn.once('hub', `${this.peer} refused a frame (${msg.code}): ${msg.message}`, msg.code)
      if (this.onReply !== undefined && RETRY_LATER.has(msg.code)) {
        this.onReply(false)
        this.ws.close(1000)
      }
    }
  }
}

function isAck(m: unknown): m is Ack {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ack'
}

function isErrorReply(m: unknown): m is ErrorReply {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'error' &&
    typeof (m as { code?: unknown }).code === 'string'
}
