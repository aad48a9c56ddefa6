/**
 * The `Presence` seam: who is on which page right now, in which state, and which Node
 * processes are connected. `memory.ts` implements it for one node; `redis.ts` will follow.
 *
 * Why writes are synchronous and reads are async:
 * - `accept` (from `IngestListener`) must answer at once with a refusal code or null, and every
 *   decision it makes (is this connection known? is it over its rate?) needs only state the
 *   receiving node owns: the WebSockets it holds and the tabs it has seen. A network backend keeps
 *   that local view too and writes to Redis behind it, so ingest never waits on the network.
 *   This is also why a `presence` carrying `url` may open a connection: in a cluster an HTTP
 *   heartbeat can land on a node that never saw the pageview.
 * - Reads (`countStates`, `pages`, `snapshot`, ...) answer with cluster-wide figures, which a
 *   network backend has to fetch: they return promises. The memory backend resolves at once.
 * - Changes are not pulled: the backend publishes them on the `Bus` (see `bus/messages.ts`), with a
 *   per-site sequence number, so a live channel on any node can order diffs after a snapshot.
 */
import type { HttpFigures, RouteStats } from '../process/http'
import type { PresenceState } from '../../protocol/limits'
import type { IngestListener } from '../ingest/types'
import type { LiveSample, SessionRecord } from '../store/types'

/**
 * Visitors on a site or page: `total`, and how many of them are in each state.
 * A visitor counts once, in the state of their most active tab (writing > reading > idle > hidden).
 * A hidden visitor (every tab in the background) is idle, as the original client reported it, so
 * `total = reading + writing + idle` as on seed 002's board; `hidden` says how many of the idle
 * ones are hidden.
 */
export interface LiveCounts {
  total: number
  reading: number
  writing: number
  /** Idle visitors, the hidden ones included. */
  idle: number
  /** Of `idle`, the visitors whose every tab is hidden. */
  hidden: number
}

export interface PageCounts extends LiveCounts {
  /** Page path (no host, no query). */
  path: string
}

/** One live connection: a tab (the snippet's `cid`, never shown: it would let a reader speak for the tab). */
export interface ConnectionView {
  /** Opaque per-tab id, as in live diffs. */
  key: string
  visitor: string
  path: string
  state: PresenceState
  /** When the tab entered its current state, ms. */
  since: number
  /** When the connection opened, ms. */
  started: number
  /** Last message from the tab, ms. */
  lastSeen: number
  transport: 'ws' | 'http'
}

export interface RunningJobView {
  name: string
  started: number
  /** Age when the view was made, ms. */
  ageMs: number
}

/** A connected Node process (tracker), keyed by `app` + `instance`. */
export interface ProcessView {
  key: string
  app: string
  instance: string
  pid: number
  host: string
  connectedSince: number
  lastSeen: number
  metrics: { cpu: number; rss: number; heapUsed: number; heapTotal: number; lag: number; uptime: number }
  /** Running jobs, oldest first, as the tracker listed them (capped by `maxRunningJobs`). */
  running: RunningJobView[]
  /** All running jobs, including those past the cap. */
  runningCount: number
  /**
   * Rates from the hub's process-series fold (`process/series.ts`), as of this process's latest sample.
   * Absent when the hub does not fold process events (a bare presence, as in unit tests).
   */
  rates?: ProcessRates
}

/**
 * A process's rates over a sliding window of the last 60 seconds (60 one-second steps), recomputed
 * at most once a second when the process's `process` sample arrives (every tracker flush).
 */
export interface ProcessRates {
  /** When they were computed (hub clock), ms. */
  at: number
  /** The span the per-second rates are averaged over: 60 000, or less while the hub has heard of the process for under a minute (at least 1 000), ms. */
  windowMs: number
  sentPerSec: number
  receivedPerSec: number
  readPerSec: number
  writtenPerSec: number
  /** Jobs finished (ok or failed) in the last 60 s, and of them failed: jobs per minute. */
  finished: number
  failed: number
  /** Durations of the jobs finished in the last 60 s, ms (0 when none). */
  p50: number
  p95: number
  p99: number
  /** Per job name over the last hour, most finished first, at most 50: as `jobs` in `GET /api/processes`. */
  jobs: JobStats[]
  /**
   * HTTP responses (`t.http`) in the same window: requests per second, status classes and
   * response-time quantiles (ms), with per method + route figures over the last hour (at most 50,
   * most requests first; `recent` is each route's count in the window). Absent when none were reported.
   */
  http?: HttpFigures & { routes: RouteStats[] }
}

/** One job name's figures over the last hour (at most 60 minutes of the range asked for). */
export interface JobStats {
  name: string
  count: number
  failed: number
  perMinute: number
  p50: number
  p95: number
  p99: number
  max: number
  lastError: string | null
  /**
   * Live rates only: of this name, jobs finished in the same last 60 s as `ProcessRates.finished`,
   * and of them failed. Summed over the names they give `finished` and `failed`.
   */
  recent?: { finished: number; failed: number }
}

/** Everything a dashboard needs to draw a site at once; `seq` orders it against later diffs. */
export interface PresenceSnapshot {
  site: string
  /** The site's change counter when the snapshot was taken: diffs with `seq <= this` are older. */
  seq: number
  at: number
  counts: LiveCounts
  pages: PageCounts[]
  /** Open connections (tabs) on the site, as seed 001's "connections". */
  connections: number
  /** Present (true) when a cluster node answers with its own tabs only: Redis is unreachable. */
  partial?: true
}

/** Whose tabs reads count: every node's (`cluster`) or this node's only (`node`). */
export type PresenceScope = 'cluster' | 'node'

/** History the presence engine hands to the hub, which writes it with `appendLiveSamples`/`appendSessions`. */
export interface HistoryBatch {
  samples: LiveSample[]
  sessions: SessionRecord[]
}
export type HistorySink = (batch: HistoryBatch) => void

export interface Presence extends IngestListener {
  /** `cluster` while reads count every node's tabs; `node` on a single hub, or on a cluster node cut off from Redis. */
  readonly scope: PresenceScope
  /** True when this node belongs to a cluster but answers from its own tabs only (Redis unreachable). */
  readonly partial: boolean
  /** Seed 002's `State::countStates()`. Unknown site: all zero. */
  countStates(site: string): Promise<LiveCounts>
  /** Per-page counts, most visitors first. */
  pages(site: string): Promise<PageCounts[]>
  /** Sites with at least one live connection. */
  sites(): Promise<string[]>
  connections(site: string): Promise<ConnectionView[]>
  processes(): Promise<ProcessView[]>
  snapshot(site: string): Promise<PresenceSnapshot>
  /** Hands pending history to the sink (sessions of tabs ended so far). */
  flush(): void
  /** Stops timers, ends every open tab (their sessions go to the sink) and flushes. */
  close(): Promise<void>
}
