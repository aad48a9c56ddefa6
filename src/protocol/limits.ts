/** Limits that bound every message. They are on by default; the hub may lower or raise them. */
export interface Limits {
  /** Largest HTTP body or WebSocket frame, in bytes. @default 4 MiB */
  maxPayloadBytes: number
  /** Most events in one batch. @default 10000 */
  maxBatchEvents: number
  /** Longest URL or referrer. @default 2048 */
  maxUrlLength: number
  /** Longest page title, error text or custom event name. @default 512 */
  maxTextLength: number
  /** Longest short string: site, app, ids, languages, job names. @default 200 */
  maxShortLength: number
  /** Most custom properties on one event. @default 25 */
  maxProps: number
  /** Most running jobs listed in one `process` event. @default 100 */
  maxRunningJobs: number
  /**
   * Most distinct job names per process. The tracker counts later names as `(other)` (its
   * `maxJobNames`), and the hub folds what it receives the same way, whatever the tracker did.
   * @default 100
   */
  maxJobNames: number
  /**
   * Most named HTTP routes (method + route pairs) per process; `(unmatched)` and `(other)` of each method come on top. The tracker
   * counts later routes as `(other)` (its `maxHttpRoutes`), and the hub folds what it receives the same way.
   * @default 50
   */
  maxHttpRoutes: number
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxPayloadBytes: 4 * 1024 * 1024,
  maxBatchEvents: 10_000,
  maxUrlLength: 2048,
  maxTextLength: 512,
  maxShortLength: 200,
  maxProps: 25,
  maxRunningJobs: 100,
  maxJobNames: 100,
  maxHttpRoutes: 50,
})

/** The name jobs are counted under once a process has `maxJobNames` names. */
export const OTHER_JOB_NAME = '(other)'

/** The route of HTTP requests no framework named a route for (a plain handler, a 404): never the raw URL. */
export const UNMATCHED_ROUTE = '(unmatched)'

/** HTTP methods counted by name; any other method is counted as `OTHER`. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const

/** Status classes of HTTP responses, in the order of `HttpRoute.status`. */
export const STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx'] as const

/** The version every batch names in `v`. A hub refuses a batch of another major version. */
export const PROTOCOL_VERSION = 1

/**
 * Upper bounds (ms) of the job-duration histogram buckets the tracker fills and the hub merges.
 * Roughly x2 apart from 1 ms to about 17 minutes; the last bucket is open-ended.
 */
export const JOB_BUCKETS_MS: readonly number[] = Object.freeze([
  1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 1_000_000,
])

/** Presence states, most active first: a visitor's state is that of its most active tab. */
export const STATES = ['writing', 'reading', 'idle', 'hidden'] as const
export type PresenceState = (typeof STATES)[number]

/** Heartbeat interval the snippet uses unless told otherwise (seconds, as in the original Livestats). */
export const DEFAULT_HEARTBEAT_SECONDS = 15
