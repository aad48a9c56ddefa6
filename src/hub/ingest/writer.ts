/**
 * The batched writer: transports enqueue rows and get a promise that settles once those rows
 * are committed. Rows that arrive while a commit runs are gathered into the next one, so under
 * load one transaction carries many frames, and when quiet a frame is committed on the next tick.
 * Ingest never waits on a single insert; a source is acknowledged only after its rows are durable.
 */
import type { AppendResult, Store, StoredEvent } from '../store/types'

/** Called once a queued batch settles: `fresh` per row on commit, null with the error otherwise. */
export type WriteDone = (err: unknown, fresh: boolean[] | null) => void

interface Pending {
  rows: StoredEvent[]
  done: WriteDone
}

export interface WriterStats {
  commits: number
  rowsCommitted: number
  lastCommitMs: number
}

export class BatchWriter {
  private queue: Pending[] = []
  private queuedRows = 0
  private inFlight = 0
  private scheduled = false
  private idleWaiters: (() => void)[] = []
  readonly stats: WriterStats = { commits: 0, rowsCommitted: 0, lastCommitMs: 0 }

  /**
   * @param maxRowsPerCommit rows gathered into one transaction at most. @default 20000
   * @param maxInFlight commits handed to the store before the first settles: with a store on another
   *   thread, the next batch waits there instead of behind a round trip, so the writer never idles. @default 2
   */
  constructor(
    private readonly store: Store,
    private readonly maxRowsPerCommit = 20_000,
    private readonly maxInFlight = 2,
  ) {}

  get pending(): number {
    return this.queuedRows
  }

  /** Queues rows; resolves with, per row, whether it was new (false: the store already had it). */
  write(rows: StoredEvent[]): Promise<boolean[]> {
    return new Promise((resolve, reject) => this.enqueue(rows, (err, fresh) => (fresh === null ? reject(err) : resolve(fresh))))
  }

  /** `write` with a callback: no promise per frame on the HTTP hot path. `done` must not throw. */
  enqueue(rows: StoredEvent[], done: WriteDone): void {
    this.queue.push({ rows, done })
    this.queuedRows += rows.length
    this.schedule()
  }

  /** Resolves once everything queued so far is committed (shutdown, tests). */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  // setImmediate: frames read in the same event-loop turn share one commit
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const take: Pending[] = []
      let n = 0
      while (this.queue.length > 0 && (n === 0 || n + (this.queue[0]?.rows.length ?? 0) <= this.maxRowsPerCommit)) {
        const p = this.queue.shift() as Pending
        take.push(p)
        n += p.rows.length
      }
      this.queuedRows -= n
      const rows: StoredEvent[] = take.length === 1 ? (take[0] as Pending).rows : take.flatMap((p) => p.rows)
      this.inFlight++
      void this.commit(take, rows)
    }
  }

  private async commit(take: Pending[], rows: StoredEvent[]): Promise<void> {
    const t0 = performance.now()
    try {
      const result: AppendResult = await this.store.append(rows)
      this.stats.commits++
      this.stats.rowsCommitted += rows.length
      this.stats.lastCommitMs = performance.now() - t0
      let at = 0
      for (const p of take) {
        settle(p, null, take.length === 1 ? result.fresh : result.fresh.slice(at, at + p.rows.length))
        at += p.rows.length
      }
    } catch (err) {
      for (const p of take) settle(p, err, null)
    }
    this.inFlight--
    if (this.queue.length > 0) this.schedule()
    else if (this.inFlight === 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const w of waiters) w()
    }
  }
}

// one throwing callback must not leave the rest of the batch unanswered; the error still surfaces
function settle(p: Pending, err: unknown, fresh: boolean[] | null): void {
  try {
    p.done(err, fresh)
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown
    })
  }
}
