/** Limits of the live channel; on by default, overridable per hub. */
export interface LiveLimits {
  /** Shortest gap between two diffs to one dashboard, ms. @default 25 */
  coalesceMs: number
  /** A dashboard with more than this queued is slow: its diffs are dropped until it drains. @default 1 MiB */
  maxBufferedBytes: number
  /** A slow dashboard gets its fresh snapshot once its queue is below this. @default 16 KiB */
  lowWaterBytes: number
  /**
   * Joins, leaves and changes listed in one diff; past it they are counted in `dropped`. The counts
   * and pages in the diff stay exact; the list only feeds animations, and on a busy site listing
   * every change made each diff 100 KB per dashboard (bench/live-latency.ts). @default 50
   */
  maxEventsPerDiff: number
  /** Pageviews in one diff's feed (newest kept): 20 per 25 ms is 800/s, more than a person can read. @default 20 */
  maxFeedPerDiff: number
  /** Dashboards connected at once. @default 1000 */
  maxClients: number
  /** Largest frame a dashboard may send. @default 4096 */
  maxPayloadBytes: number
  /** Longest site name in a subscription. @default 200 */
  maxSiteLength: number
  /** Ping period; a dashboard that missed a pong by the next ping is dropped, ms. @default 30000 */
  pingMs: number
}

export const DEFAULT_LIVE_LIMITS: Readonly<LiveLimits> = Object.freeze({
  coalesceMs: 25,
  maxBufferedBytes: 1024 * 1024,
  lowWaterBytes: 16 * 1024,
  maxEventsPerDiff: 50,
  maxFeedPerDiff: 20,
  maxClients: 1000,
  maxPayloadBytes: 4096,
  maxSiteLength: 200,
  pingMs: 30_000,
})
