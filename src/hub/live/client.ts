/**
 * One dashboard connection. It is `syncing` while its snapshot is built, `live` while it takes
 * diffs, and `stale` once it fell behind: a slow dashboard never makes anyone wait. Its diffs are
 * dropped (not queued) until its socket drains, then it gets a fresh snapshot, which says
 * everything the dropped diffs said.
 */
import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import type { LiveLimits } from './limits'

/** Frames that arrive while a snapshot is built; past this many, it is rebuilt instead. */
const MAX_BACKLOG = 64
/** A Buffer goes out as a text frame, like the JSON string it holds. */
const TEXT = Object.freeze({ binary: false })

export class LiveClient {
  site: string | null = null
  /** Sequence number of the last snapshot: diffs at or before it are older. */
  seq = 0
  state: 'idle' | 'syncing' | 'live' | 'stale' = 'idle'
  /** Bumped on each (re)subscription, so a snapshot built for an older one is thrown away. */
  generation = 0
  alive = true
  private backlog: { frame: Buffer | string; seq: number }[] = []
  private overflowed = false
  private drainTimer: NodeJS.Timeout | null = null

  constructor(
    readonly ws: WebSocket,
    readonly req: IncomingMessage,
    private readonly limits: LiveLimits,
    /** Asks the channel for a fresh snapshot. */
    private readonly resync: (client: LiveClient) => void,
    /** Sees its one site alone (a share link): diffs reach it without processes. */
    readonly scoped = false,
  ) {}

  /**
   * A diff frame for this client's site, serialised and UTF-8 encoded once for every client of the
   * site: a string would be encoded again in each socket's write, 100 dashboards × 100 KB per diff.
   */
  deliver(frame: Buffer | string, seq: number): void {
    if (this.state === 'live') {
      if (seq !== 0 && seq <= this.seq) return
      if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) this.fallBehind()
      else this.ws.send(frame, TEXT)
    } else if (this.state === 'syncing') {
      if (this.backlog.length < MAX_BACKLOG) this.backlog.push({ frame, seq })
      else this.overflowed = true
    }
  }

  beginSync(): number {
    this.state = 'syncing'
    this.backlog = []
    this.overflowed = false
    return ++this.generation
  }

  /** Sends the snapshot, then the frames that came while it was built and are newer than it. */
  endSync(snapshot: string, seq: number): void {
    if (this.overflowed) {
      this.resync(this)
      return
    }
    this.seq = seq
    this.state = 'live'
    this.ws.send(snapshot)
    const backlog = this.backlog
    this.backlog = []
    for (const b of backlog) this.deliver(b.frame, b.seq)
  }

  /** Takes a fresh snapshot (the bus lost a change, or presence changed scope). */
  refresh(): void {
    if (this.state === 'idle') return
    this.stop()
    this.resync(this)
  }

  private fallBehind(): void {
    this.state = 'stale'
    this.backlog = []
    // ws has no 'drain' event on the WebSocket itself: poll the one figure that matters
    this.drainTimer = setInterval(() => {
      if (this.ws.readyState !== this.ws.OPEN) return this.stop()
      if (this.ws.bufferedAmount > this.limits.lowWaterBytes) return
      this.stop()
      this.resync(this)
    }, Math.max(5, this.limits.coalesceMs))
    this.drainTimer.unref()
  }

  stop(): void {
    if (this.drainTimer !== null) clearInterval(this.drainTimer)
    this.drainTimer = null
  }
}
