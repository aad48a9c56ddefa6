/**
 * The batched writer: transports enqueue rows and get a promise that settles once those rows
 * are committed. Rows that arrive while a commit runs are gathered into the next one, so under
 * load one transaction carries many frames, and when quiet a frame is committed on the next tick.
 * Ingest never waits on a single insert; a source is acknowledged only after its rows are durable.
 */
import type { AppendResult, Store, StoredEvent } from '../store/types'

interface Pending {
  rows: StoredEvent[]
  resolve: (fresh: boolean[]) => void
  reject: (err: unknown) => void
}

export interface WriterStats {
  commits: number
  rowsCommitted: number
  lastCommitMs: number
}

export class BatchWriter {
  private queue: Pending[] = []
  private queuedRows = 0
  private running = false
  private scheduled = false
  private idleWaiters: (() => void)[] = []
  readonly stats: WriterStats = { commits: 0, rowsCommitted: 0, lastCommitMs: 0 }

  constructor(
    private readonly store: Store,
    private readonly maxRowsPerCommit = 20_000,
  ) {}

  get pending(): number {
    return this.queuedRows
  }

  /** Queues rows; resolves with, per row, whether it was new (false: the store already had it). */
  write(rows: StoredEvent[]): Promise<boolean[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject })
      this.queuedRows += rows.length
      this.schedule()
    })
  }

  /** Resolves once everything queued so far is committed (shutdown, tests). */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private schedule(): void {
    if (this.running || this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.flush()
    })
  }

  private async flush(): Promise<void> {
    if (this.running) return
    this.running = true
    while (this.queue.length > 0) {
      const take: Pending[] = []
      let n = 0
      while (this.queue.length > 0 && (n === 0 || n + (this.queue[0]?.rows.length ?? 0) <= this.maxRowsPerCommit)) {
        const p = this.queue.shift() as Pending
        take.push(p)
        n += p.rows.length
      }
      this.queuedRows -= n
      const rows: StoredEvent[] = take.length === 1 ? (take[0] as Pending).rows : take.flatMap((p) => p.rows)
      const t0 = performance.now()
      let result: AppendResult
      try {
        result = await this.store.append(rows)
      } catch (err) {
        for (const p of take) p.reject(err)
        continue
      }
      this.stats.commits++
      this.stats.rowsCommitted += rows.length
      this.stats.lastCommitMs = performance.now() - t0
      let at = 0
      for (const p of take) {
        p.resolve(result.fresh.slice(at, at + p.rows.length))
        at += p.rows.length
      }
    }
    this.running = false
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }
}
