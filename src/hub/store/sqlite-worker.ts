/**
 * The SQLite `Store` on a worker thread: the worker owns the better-sqlite3 connection and runs
 * the very same `SqliteStore` code, so inserts, index updates, rollups and WAL commits leave the
 * event loop that parses frames and answers sockets (the hub's second core). Every method is one
 * message each way; a promise settles when the worker answers, so `append` still resolves only
 * once its transaction is committed.
 *
 * The worker loads this module's own file (`__filename`): the bundle in `dist/` (which holds this
 * module too), or the TypeScript source under tsx (a worker does not inherit tsx's `--import` hooks
 * on Node 20, so it registers tsx's require hook first). The check at the bottom starts the worker
 * side only on a thread spawned with the flag, so loading the bundle elsewhere has no side effect.
 */
import { createRequire } from 'node:module'
import Database from 'better-sqlite3'
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import { ERRORS, LivestatsError, type ErrorCode } from '../../protocol/errors'
import type { FunnelStepCount } from '../goals/funnel'
import type { GoalSpec } from '../goals/spec'
import { packRows, unpackRows } from './row-codec'
import { createSqliteStore, type SqliteStoreOptions } from './sqlite'
import type {
  AppendResult, Bucket, Dimension, EventDimension, EventRow, FeedRow, GoalFigures, HistoryView, LiveSample, ProcessMinute, Range, SeriesPoint,
  SessionRecord, Store, StoredEvent, TopRow, ViewOptions, VisitTotals,
} from './types'

const FLAG = 'livestatsSqliteWorker'
const CHECKPOINT_FLAG = 'livestatsSqliteCheckpointer'
/** How often the checkpointer copies committed WAL pages into the database file, ms. */
const CHECKPOINT_MS = 250
/**
 * With the checkpointer running, the writer checkpoints by itself only past this many WAL pages:
 * a safety net for when the checkpointer falls behind, not the usual path.
 */
const WRITER_CHECKPOINT_PAGES = 16000

/** `appendPacked`: a batch packed by row-codec, answered as `Packed` (the usual batch). */
type Method = Exclude<keyof Store, 'kind'> | 'appendPacked'

/** AppendResult without one boolean per row: resends are rare, so only their indexes travel. */
interface Packed {
  stored: number
  dups: number[]
}

interface Call {
  id: number
  m: Method
  a: unknown[]
}

interface Reply {
  id: number
  v?: unknown
  /** Set when the call threw: a LivestatsError keeps its code across the thread boundary. */
  e?: { code: string | null; message: string }
}

interface Waiter {
  resolve: (v: unknown) => void
  reject: (err: unknown) => void
}

interface Boot {
  [FLAG]: true
  path: string
  opts: SqliteStoreOptions
}

function revive(e: { code: string | null; message: string }): Error {
  if (e.code !== null && Object.hasOwn(ERRORS, e.code)) return new LivestatsError(e.code as ErrorCode, e.message)
  return new Error(e.message)
}

export class SqliteWorkerStore implements Store {
  readonly kind = 'sqlite'
  private worker: Worker | null = null
  private readonly waiting = new Map<number, Waiter>()
  private next = 0
  private initialised = false
  private closed = false
  private checkpointer: Worker | null = null

  constructor(readonly path: string, private readonly opts: SqliteStoreOptions = {}) {}

  private spawn(): Worker {
    const boot: Boot = { [FLAG]: true, path: this.path, opts: { walCheckpointPages: WRITER_CHECKPOINT_PAGES, ...this.opts } }
    const w = startThread(boot)
    w.on('message', (r: Reply) => {
      const waiter = this.waiting.get(r.id)
      if (waiter === undefined) return
      this.waiting.delete(r.id)
      if (this.waiting.size === 0) w.unref()
      if (r.e === undefined) waiter.resolve(r.v)
      else waiter.reject(revive(r.e))
    })
    const gone = (err: Error): void => {
      if (this.worker !== w) return
      this.worker = null
      // nothing in flight was acknowledged: its sources resend; the next call starts a new worker
      for (const waiter of this.waiting.values()) waiter.reject(err)
      this.waiting.clear()
    }
    w.on('error', gone)
    w.on('exit', (code) => gone(new Error(`SQLite worker exited (${code})`)))
    if (this.initialised) w.postMessage({ id: -1, m: 'init', a: [] } satisfies Call)
    return w
  }

  private call<T>(m: Method, a: unknown[]): Promise<T> {
    if (this.closed) return Promise.reject(new Error('SqliteWorkerStore: closed'))
    const w = this.worker ?? (this.worker = this.spawn())
    const id = this.next++
    return new Promise<T>((resolve, reject) => {
      // a ref'd worker keeps the process alive exactly while a call awaits its answer
      if (this.waiting.size === 0) w.ref()
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      w.postMessage({ id, m, a } satisfies Call)
    })
  }

  async init(): Promise<void> {
    await this.call<void>('init', [])
    this.initialised = true
    if (this.checkpointer === null && this.path !== ':memory:') {
      // Checkpoints copy WAL pages into the database file and fsync it. Run by the writer they sit
      // inside a commit, and every ack waiting on that commit waits for them (HTTP p99 ~50 ms); on
      // their own connection and thread they run beside the commits (PASSIVE never blocks a writer).
      this.checkpointer = startThread({ [CHECKPOINT_FLAG]: true, path: this.path })
      this.checkpointer.on('error', () => { this.checkpointer = null })
      this.checkpointer.unref()
    }
  }

  async append(events: readonly StoredEvent[]): Promise<AppendResult> {
    const packed = packRows(events)
    if (packed === null) return this.call('append', [events])
    const r = await this.call<Packed>('appendPacked', [packed])
    const fresh = new Array<boolean>(events.length).fill(true)
    for (const i of r.dups) fresh[i] = false
    return { stored: r.stored, duplicates: r.dups.length, fresh }
  }

  series(range: Range, bucket: Bucket): Promise<SeriesPoint[]> {
    return this.call('series', [range, bucket])
  }

  view(range: Range, opts: ViewOptions): Promise<HistoryView> {
    return this.call('view', [range, opts])
  }

  top(range: Range, dim: Dimension, limit: number): Promise<TopRow[]> {
    return this.call('top', [range, dim, limit])
  }

  eventTop(range: Range, dim: EventDimension, limit: number): Promise<EventRow[]> {
    return this.call('eventTop', [range, dim, limit])
  }

  conversions(range: Range, goals: readonly GoalSpec[]): Promise<GoalFigures[]> {
    return this.call('conversions', [range, goals])
  }

  totals(range: Range): Promise<{ pageviews: number; visitors: number }> {
    return this.call('totals', [range])
  }

  bots(range: Range): Promise<number> {
    return this.call('bots', [range])
  }

  visitTotals(range: Range): Promise<VisitTotals> {
    return this.call('visitTotals', [range])
  }

  funnel(range: Range, steps: readonly GoalSpec[]): Promise<FunnelStepCount[]> {
    return this.call('funnel', [range, steps])
  }

  feed(site: string | null, limit: number, before?: number): Promise<FeedRow[]> {
    return this.call('feed', [site, limit, before])
  }

  sites(): Promise<{ site: string; first: number; last: number }[]> {
    return this.call('sites', [])
  }

  countEvents(site?: string): Promise<number> {
    return this.call('countEvents', [site])
  }

  prune(before: number): Promise<number> {
    return this.call('prune', [before])
  }

  appendLiveSamples(samples: readonly LiveSample[]): Promise<void> {
    return this.call('appendLiveSamples', [samples])
  }

  appendProcessMinutes(rows: readonly ProcessMinute[]): Promise<void> {
    return this.call('appendProcessMinutes', [rows])
  }

  processMinutes(from: number, to: number): Promise<ProcessMinute[]> {
    return this.call('processMinutes', [from, to])
  }

  liveHistory(range: Range, bucket: Bucket): Promise<LiveSample[]> {
    return this.call('liveHistory', [range, bucket])
  }

  appendSessions(sessions: readonly SessionRecord[]): Promise<void> {
    return this.call('appendSessions', [sessions])
  }

  getMeta(key: string): Promise<string | null> {
    return this.call('getMeta', [key])
  }

  setMeta(key: string, value: string): Promise<void> {
    return this.call('setMeta', [key, value])
  }

  deleteMeta(key: string): Promise<void> {
    return this.call('deleteMeta', [key])
  }

  listMeta(prefix: string): Promise<{ key: string; value: string }[]> {
    return this.call('listMeta', [prefix])
  }

  /** Closes the database on the worker (after every call sent before), then ends the thread. */
  async close(): Promise<void> {
    if (this.closed) return
    if (this.checkpointer !== null) {
      await this.checkpointer.terminate()
      this.checkpointer = null
    }
    const w = this.worker
    if (w !== null) {
      await this.call<void>('close', [])
      this.worker = null
      await w.terminate()
    }
    this.closed = true
  }
}

/** The worker side: one SqliteStore, calls answered in the order they complete. */
function serve(boot: Boot): void {
  const port = parentPort
  if (port === null) return
  const store = createSqliteStore(boot.path, boot.opts)
  const methods = store as unknown as Record<Method, (...a: unknown[]) => Promise<unknown>>
  methods.appendPacked = async (text: unknown): Promise<Packed> => {
    const r = await store.append(unpackRows(text as string))
    const dups: number[] = []
    if (r.duplicates > 0) r.fresh.forEach((f, i) => f || dups.push(i))
    return { stored: r.stored, dups }
  }
  port.on('message', (c: Call) => {
    methods[c.m].apply(store, c.a).then(
      (v) => port.postMessage({ id: c.id, v } satisfies Reply),
      (err: unknown) => {
        const e = err instanceof LivestatsError ? { code: err.code, message: err.message }
          : { code: null, message: err instanceof Error ? err.message : String(err) }
        port.postMessage({ id: c.id, e } satisfies Reply)
      },
    )
  })
}

/** The checkpointer side: its own connection, a PASSIVE checkpoint every CHECKPOINT_MS. */
function checkpoint(path: string): void {
  const db = new Database(path)
  db.pragma('busy_timeout = 5000')
  setInterval(() => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // busy or closing: the next tick tries again, and the writer's own checkpoint is the fallback
    }
  }, CHECKPOINT_MS)
}

/** Starts this module on a worker thread (the bundle in dist/, or the TypeScript source under tsx). */
function startThread(data: Boot | { [CHECKPOINT_FLAG]: true; path: string }): Worker {
  return __filename.endsWith('.ts')
    ? new Worker(`require(${JSON.stringify(createRequire(__filename).resolve('tsx/cjs'))});require(${JSON.stringify(__filename)})`,
      { eval: true, workerData: data })
    : new Worker(__filename, { workerData: data })
}

if (!isMainThread && (workerData as Partial<Boot> | null)?.[FLAG] === true) serve(workerData as Boot)
if (!isMainThread && (workerData as { [CHECKPOINT_FLAG]?: boolean } | null)?.[CHECKPOINT_FLAG] === true) {
  checkpoint((workerData as { path: string }).path)
}

/**
 * Opens (or creates) a SQLite store whose connection lives on a worker thread; call `init()` first.
 * @example
 * const store = createSqliteWorkerStore('./livestats.db')
 * await store.init()
 */
export function createSqliteWorkerStore(path: string, opts?: SqliteStoreOptions): SqliteWorkerStore {
  return new SqliteWorkerStore(path, opts)
}
