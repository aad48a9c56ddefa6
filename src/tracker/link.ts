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

export class Link {
  constructor(
    readonly ws: WebSocket,
    readonly outbox: Outbox,
    private readonly warn: Warner,
    private readonly peer: string,
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
      this.pump()
    } else if (isErrorReply(msg)) {
      this.warn.once('hub', `${this.peer} refused a frame (${msg.code}): ${msg.message}`, msg.code)
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
