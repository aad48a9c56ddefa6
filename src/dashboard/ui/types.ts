/** Shapes the hub sends (docs/live.md, src/hub/api/query.ts, src/hub/api/process.ts). */
/** total = reading + writing + idle; `hidden` is the part of idle with every tab in the background. */
export interface Counts { total: number; reading: number; writing: number; idle: number; hidden: number }
export interface PageCounts extends Counts { path: string }
export interface RunningJob { name: string; started: number; ageMs: number }
export interface ProcessView {
  key: string; app: string; instance: string; pid: number; host: string
  connectedSince: number; lastSeen: number
  metrics: { cpu: number; rss: number; heapUsed: number; heapTotal: number; lag: number; uptime: number }
  running: RunningJob[]; runningCount: number
  /** Live rates (docs/live.md): 60 s sliding window, per job name over the last hour. */
  rates?: ProcessRates
}
export interface ProcessRates {
  at: number; windowMs: number
  sentPerSec: number; receivedPerSec: number; readPerSec: number; writtenPerSec: number
  finished: number; failed: number; p50: number; p95: number; p99: number
  jobs: JobStats[]
  /** HTTP responses in the window (`t.http`), with per-route figures over the last hour. */
  http?: HttpFigures & { routes: RouteStats[] }
}
/** HTTP figures over a span: status counts are 2xx, 3xx, 4xx, 5xx; times in ms. */
export interface HttpFigures {
  requests: number; requestsPerSec: number; status: number[]; p50: number; p95: number; p99: number; max: number
}
export interface RouteStats extends HttpFigures {
  method: string; route: string
  /** Live rates only: this route's responses in the last 60 s. */
  recent?: number
}
export interface FeedPageview {
  type: 'pageview'; site: string; id: string; at: number; path: string | null; host: string | null
  title: string | null; referrer: string | null; country: string | null; browser: string | null
  os: string | null; device: string | null; ip: string | null
  /** Names of the goals this row reached (issue 13), when any. */
  goals?: string[]
  /** Set on a custom event that reached a goal: its name (the feed lists those too). */
  event?: string
}
export interface Snapshot {
  type: 'snapshot'; site: string; seq: number; at: number; counts: Counts; pages: PageCounts[]
  connections: number; processes: ProcessView[]; recent: FeedPageview[]
  /** A cluster node that cannot reach Redis: the counts are its own visitors only. */
  partial?: true
}
export interface Diff {
  type: 'diff'; site: string; seq: number; at: number; counts?: Counts; connections?: number
  pages?: PageCounts[]; feed?: FeedPageview[]; processes?: ProcessView[]; processesGone?: string[]
  events?: unknown[]; dropped?: number
}
export type ServerMessage =
  | { type: 'hello'; v: number; sites: string[] }
  | { type: 'site'; site: string; at: number }
  | Snapshot | Diff
  | { type: 'error'; code: string; message: string }

export interface SeriesPoint { t: number; pageviews: number; visitors: number }
export interface TopRow {
  value: string
  pageviews: number
  visits?: number
  bounces?: number
  durationMs?: number
  /** Pages with presence data: measured views, their mean engaged time, the writing share of it. */
  engagedViews?: number
  engagedMs?: number
  writingShare?: number | null
  /** Pages with scroll depth (livestats-extras.js): page views that reported one, their mean deepest point, percent. */
  scrollViews?: number
  scrollDepth?: number
  /** With compare: the earlier period's count and the change in percent. */
  previous?: number
  change?: number | null
}
/** `/api/top?dim=event|prop|prop:KEY`: custom events with that name, key or value, and their unique visitors. */
export interface EventRow { value: string; events: number; visitors: number; previous?: number; change?: number | null }
/** A goal (`/api/goals`) with its figures (`/api/conversions`). */
export interface Goal {
  id: string; site: string; name: string; kind: 'page' | 'event'; page?: string; event?: string
  props?: Record<string, string>; created: number
}
/** A goal's figures over one period: unique converting visitors, conversions, rate (0–1, null over no visitors). */
export interface GoalPeriod { visitors: number; conversions: number; rate: number | null }
export interface GoalFigures extends Goal, GoalPeriod {
  /** With compare: the earlier period's figures and the change of each, in percent (null from 0). */
  compare?: GoalPeriod & { change: Record<keyof GoalPeriod, number | null> }
}
/** `/api/totals`: rates and means are null over no visits. */
export interface Totals {
  pageviews: number
  visitors: number
  bots?: number
  visits: number
  bounces: number
  bounceRate: number | null
  viewsPerVisit: number | null
  visitDurationMs: number | null
  engagedVisits: number
  engagedMs: number | null
  writingShare: number | null
  /** With compare: the earlier period's figures and the change of each, in percent. */
  compare?: Totals & { from: number; to: number; change: Record<string, number | null> }
}
/** The notice an IP database's licence asks for (`/api/top?dim=country`, `/api/geo`). */
export interface Attribution { text: string; url: string }
export interface LiveSample {
  site: string; minute: number; totalMax: number; totalMean: number; readingMax: number; readingMean: number
  writingMax: number; writingMean: number; idleMax: number; idleMean: number
}
export interface ProcessPoint {
  t: number; sentPerSec: number; receivedPerSec: number; readPerSec: number; writtenPerSec: number
  jobs: number; failed: number; p50: number; p95: number; p99: number
  cpu: number | null; rss: number | null; heapUsed: number | null; lag: number | null
  http: HttpFigures | null
}
export interface JobStats {
  name: string; count: number; failed: number; perMinute: number; p50: number; p95: number; p99: number
  max: number; lastError: string | null
  /** Live rates only: this name's jobs in the last 60 s (they add up to `ProcessRates.finished` / `failed`). */
  recent?: { finished: number; failed: number }
}
export interface ProcessSeries {
  key: string; app: string; instance: string; host: string | null; lastSeen: number; points: ProcessPoint[]; jobs: JobStats[]
  routes: RouteStats[]
}
