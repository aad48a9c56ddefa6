/**
 * The bounded buffer of one destination: serialized events waiting to be sent, and frames sent
 * and not yet acknowledged. Past `cap` events the oldest are dropped and counted. Events keep
 * their ids across resends, so a frame resent after a reconnect is stored once.
 */
import { PROTOCOL_VERSION } from '../protocol/limits'

/** Most events in one frame, and most characters (a UTF-16 unit is at most 3 UTF-8 bytes: < 4 MiB). */
export const FRAME_EVENTS = 500
export const FRAME_CHARS = 1_000_000

export interface Frame {
  seq: number
  text: string
}

export class Outbox {
  private q: string[] = []
  private head = 0
  private readonly inflight = new Map<number, string[]>()
  private inflightEvents = 0
  private seq = 0

  constructor(
    private readonly cap: number,
    private readonly onDrop: (n: number) => void,
  ) {}

  /** Events held: queued and in flight. */
  get size(): number {
    return this.q.length - this.head + this.inflightEvents
  }

  get framesInFlight(): number {
    return this.inflight.size
  }

  push(json: string): void {
    this.q.push(json)
    if (this.size > this.cap) this.dropOldest()
  }

  /** Appends the events of another outbox (queued and in flight, oldest first) and empties it. */
  absorb(other: Outbox): void {
    for (const e of other.takeAll()) this.push(e)
  }

  /** The next frame of queued events, now counted as in flight; null when nothing is queued. */
  take(): Frame | null {
    const avail = this.q.length - this.head
    if (avail === 0) return null
    const events: string[] = []
    let chars = 0
    while (this.head < this.q.length && events.length < FRAME_EVENTS) {
      const e = this.q[this.head] as string
      if (events.length > 0 && chars + e.length > FRAME_CHARS) break
      events.push(e)
      chars += e.length + 1
      this.head++
    }
    this.compact()
    const seq = ++this.seq
    this.inflight.set(seq, events)
    this.inflightEvents += events.length
    return { seq, text: `{"v":${PROTOCOL_VERSION},"seq":${seq},"events":[${events.join(',')}]}` }
  }

  /** Forgets an acknowledged frame. Returns how many events it held (0 for an unknown seq). */
  ack(seq: number): number {
    const events = this.inflight.get(seq)
    if (events === undefined) return 0
    this.inflight.delete(seq)
    this.inflightEvents -= events.length
    return events.length
  }

  /** After a disconnect: frames in flight go back to the front of the queue, oldest first. */
  requeue(): void {
    if (this.inflight.size === 0) return
    const back: string[] = []
    for (const events of this.inflight.values()) for (const e of events) back.push(e)
    this.inflight.clear()
    this.inflightEvents = 0
    this.q = back.concat(this.q.slice(this.head))
    this.head = 0
  }

  /** Removes and returns every event held, oldest first. */
  takeAll(): string[] {
    this.requeue()
    const all = this.q.slice(this.head)
    this.q = []
    this.head = 0
    return all
  }

  private dropOldest(): void {
    const first = this.inflight.entries().next()
    if (!first.done) {
      // the oldest events are in flight (queued ones are newer): drop from the oldest frame
      const [seq, events] = first.value
      events.shift()
      this.inflightEvents--
      if (events.length === 0) this.inflight.delete(seq)
    } else {
      this.q[this.head++] = ''
      this.compact()
    }
    this.onDrop(1)
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.q.length) {
      this.q = this.q.slice(this.head)
      this.head = 0
    }
  }
}
