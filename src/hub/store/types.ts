/**
 * The `Store` seam: durable events, sessions and rollups. One file per backend implements it
 * (`sqlite.ts`, later `postgres.ts`) and one contract suite (`test/store.contract.test.ts`) runs
 * against every implementation.
 *
 * The hub hands the store events that are already validated and enriched (`StoredEvent`); the
 * store never sees an IP, raw or masked, nor the salts of the visitor hashes (issue 10 item 5), and
 * never decides anything about the client.
 */
import type { HttpMinute } from '../process/http'
import type { Filter } from './filters'
import type { FunnelStepCount } from '../goals/funnel'
import type { GoalSpec } from '../goals/spec'

/** One row of the event table. Web-only and process-only columns are null on the other kind. */
export interface StoredEvent {
  /**
   * Client-made id. Unique within its scope only: its site (web events) or app (tracker events)
   * and its type, so web and tracker events never share a scope. An id used on one site or app
   * never makes another's event a duplicate; a resend (same site, type and id) is one.
   */
  id: string
  /** Hub time, ms since epoch (process samples: the client's `at`, clamped). */
  ts: number
  type: 'pageview' | 'event' | 'leave' | 'bytes' | 'db' | 'job' | 'process'
  /** Site for web events; application name for process events. */
  site: string
  visitor: string | null
  cid: string | null
  /** Page host and path (query string dropped; UTM parameters are kept in their own columns). */
  host: string | null
  path: string | null
  title: string | null
  referrer: string | null
  refHost: string | null
  utmSource: string | null
  utmMedium: string | null
  utmCampaign: string | null
  /** `utm_term` from the page URL, as sent (the keyword dimension also reads it, normalised). */
  utmTerm: string | null
  /** Search keyword: `utm_term`, or the words in a search engine's referrer (lower case). */
  keyword: string | null
  browser: string | null
  os: string | null
  device: string | null
  bot: boolean
  /** ISO 3166-1 alpha-2 code, looked up from the raw IP at ingest; null when unknown or lookups are off. */
  country: string | null
  /** Region (state, province) and city, as the IP database names them; null with a country-only database. */
  region: string | null
  city: string | null
  screen: number | null
  language: string | null
  /** Custom event name or job name. */
  name: string | null
  /** Custom event props, or the process-event payload, as JSON text. */
  data: string | null
  /** Process instance for process events. */
  instance: string | null
}

export interface AppendResult {
  /** Events newly written. */
  stored: number
  /** Events whose id the store already held in their scope (resends): not written again. */
  duplicates: number
  /** For each input event, true when it was newly stored (same order as the input). */
  fresh: boolean[]
}

export type Bucket = 'minute' | 'hour' | 'day'
export type Dimension =
  | 'page' | 'referrer' | 'utm_source' | 'utm_medium' | 'utm_campaign' | 'browser' | 'os' | 'device' | 'event'
  | 'keyword'
  | 'country'
  | 'region'
  | 'city'
  | VisitDimension
/** Dimensions of a visit rather than of a page view: their top lists count visits (see `visits.ts`). */
export type VisitDimension =
  | 'entry_page' | 'exit_page' | 'referrer' | 'utm_source' | 'utm_medium' | 'utm_campaign' | 'utm_term' | 'keyword'

export interface Range {
  site: string
  /** Filters, combined with AND (filters.ts says what each selects); none or empty: everything. */
  filters?: readonly Filter[]
  /** Inclusive start, ms since epoch. */
  from: number
  /** Exclusive end, ms since epoch. */
  to: number
}

export interface SeriesPoint {
  /** Bucket start, ms since epoch (UTC). */
  t: number
  pageviews: number
  visitors: number
}

export interface TopRow {
  value: string
  /** Page views; for a visit dimension, the page views of the visits counted in `visits`. */
  pageviews: number
  /** Visit dimensions only: visits that started in the range with this value. */
  visits?: number
  /** Visit dimensions only: of those visits, the ones with a single page view. */
  bounces?: number
  /** Visit dimensions only: sum of those visits' durations (last page view − first), ms. */
  durationMs?: number
  /**
   * `page` only, when presence reported time for some of its page views: how many, and their summed
   * engaged (reading + writing) and writing time, ms.
   */
  engagedViews?: number
  engagedMs?: number
  writingMs?: number
  /**
   * `page` only, when the snippet reported scroll depth for some of its page views
   * (livestats-extras.js, `data-scroll`): how many, and the sum of their deepest points, percent.
   */
  scrollViews?: number
  scrollSum?: number
}

/**
 * Visits that started in a range, summed (see `visits.ts` for what a visit is). Rates and means
 * are left to the reader: `bounces / visits`, `pageviews / visits`, `durationMs / visits`.
 */
export interface VisitTotals {
  visits: number
  /** Visits with a single page view. */
  bounces: number
  /** Page views of those visits, including any that fall after the range's end. */
  pageviews: number
  /** Sum of visit durations (last page view − first), ms. */
  durationMs: number
  /** Visits with presence data (a tab of theirs reported reading, writing, idle or hidden time). */
  engagedVisits: number
  /** Reading + writing time of those visits, ms. */
  engagedMs: number
  /** Writing time of those visits, ms. */
  writingMs: number
}

export interface FeedRow {
  id: string
  ts: number
  site: string
  path: string | null
  host: string | null
  title: string | null
  referrer: string | null
  browser: string | null
  os: string | null
  device: string | null
  country: string | null
}

/**
 * What `eventTop` ranks (issue 13.1): custom events by name (`event`), the property keys seen on
 * them (`prop`), or the values of one property key (`prop:plan`).
 */
export type EventDimension = 'event' | 'prop' | `prop:${string}`

/** A row of `eventTop`: custom events with that name, key or value, and their unique visitors. */
export interface EventRow {
  value: string
  events: number
  visitors: number
}

/** A goal's figures over a range (`conversions`): its converting page views or custom events. */
export interface GoalFigures {
  /** Unique visitors with at least one conversion. */
  visitors: number
  /** Conversions: the goal's page views, or its custom events. */
  conversions: number
}

/**
 * What `Store.view` computes besides the series, totals, visit totals and bots of its range.
 * @example { bucket: 'hour', dims: ['page', 'referrer'], limit: 10, events: true }
 */
export interface ViewOptions {
  /** The series' bucket (as `series`). */
  bucket: Bucket
  /** The top lists to rank, as `top` ranks them (`event`: custom events by name, as `top(…, 'event')`). */
  dims: readonly Dimension[]
  /** Rows per top list, 1 to 10,000 (as `top`). */
  limit: number
  /** Also rank custom events by name with their unique visitors (`eventTop(…, 'event')`, same limit). @default false */
  events?: boolean
}

/**
 * A History view of one range (issue 12.6): each figure is what the separate call gives for the
 * same range and filters, with that call's alignment (the series by its bucket, totals and visit
 * totals to the minute, top lists and events to the hour).
 */
export interface HistoryView {
  /** As `series(range, bucket)`: one point per bucket, zero-filled. */
  series: SeriesPoint[]
  /** As `totals(range)`. */
  totals: { pageviews: number; visitors: number }
  /** As `visitTotals(range)`. */
  visitTotals: VisitTotals
  /** As `bots(range)` (not filtered). */
  bots: number
  /** As `top(range, dim, limit)`, for each dimension asked for and only those. */
  tops: Partial<Record<Dimension, TopRow[]>>
  /** As `eventTop(range, 'event', limit)` when `events` was asked for, else null. */
  events: EventRow[] | null
}

/** Per-minute sample of the live board (issue: live presence). */
export interface LiveSample {
  site: string
  /** Minute start, ms. */
  minute: number
  totalMax: number
  totalMean: number
  readingMax: number
  readingMean: number
  writingMax: number
  writingMean: number
  idleMax: number
  idleMean: number
}

/** A finished visit (one tab's connection) with time spent in each state. */
export interface SessionRecord {
  id: string
  site: string
  visitor: string
  started: number
  ended: number
  pageviews: number
  readingMs: number
  writingMs: number
  idleMs: number
  hiddenMs: number
  entry: string | null
  exit: string | null
  /**
   * The tab's time per page it showed, in order: a page view (or a URL change) starts a stint, the
   * next one or the tab's end closes it. The store adds each stint's reading and writing time to
   * the page view it began with (`viewed`) and to that page view's visit (engaged time).
   */
  pages?: readonly PageStint[]
}

/** One page of a tab's session and the time the tab spent on it per state, ms. */
export interface PageStint {
  /** The page (unfolded path, as stored with page views). */
  path: string
  /** When it began: the page view's stored time when `viewed`, else when presence saw the URL change. */
  at: number
  /** True when a page view began it (so a stored page view has this path, time and visitor). */
  viewed: boolean
  readingMs: number
  writingMs: number
  idleMs: number
  hiddenMs: number
  /**
   * The deepest point of the page seen, percent of its height (0–100), when the snippet reported
   * it (livestats-extras.js with `data-scroll`): the store keeps it on the page view (`viewed`).
   */
  scroll?: number
}

/**
 * One minute of one Node process, as the hub folds its tracker's events (the Services view's
 * history). Sums over the minute; `cpu` is the sum of the samples' CPU (divide by `samples`).
 */
export interface ProcessMinute {
  app: string
  instance: string
  /** Minute start, ms. */
  t: number
  sent: number
  received: number
  read: number
  written: number
  jobs: number
  failed: number
  /** Job durations per bucket of JOB_BUCKETS_MS (plus the open-ended last one). */
  hist: number[]
  /** Shortest job of the minute, ms; null when none finished. */
  min: number | null
  max: number
  cpu: number
  rss: number
  heapUsed: number
  lag: number
  samples: number
  /** HTTP responses of the minute (`t.http` in the tracker); null or absent when none. */
  http?: HttpMinute | null
}

export interface Store {
  readonly kind: string
  /** Creates or migrates the schema; idempotent. */
  init(): Promise<void>
  /**
   * Writes the events in one transaction, skipping those whose id is already stored in the same
   * scope (site or app, and type: see `StoredEvent.id`), and updates the rollups
   * for the newly stored ones (bots excluded from pageview and visitor counts). Resolves once committed.
   */
  append(events: readonly StoredEvent[]): Promise<AppendResult>
  /** Pageviews and unique visitors per bucket over the range (buckets with no data are zero-filled). */
  series(range: Range, bucket: Bucket): Promise<SeriesPoint[]>
  /**
   * Top values of a dimension over the range: by page views, or for a visit dimension (entry and
   * exit page) by visits that started in the range.
   */
  top(range: Range, dim: Dimension, limit: number): Promise<TopRow[]>
  /**
   * Custom events over the range (hour resolution, like `top`), read from the kept events (so the
   * retention period, as filtered queries): per name (`event`), per property key (`prop`), or per
   * value of one key (`prop:plan`, values as text: `2`, `true`). Ranked by events, then value.
   * Filters select the custom events as for `top(…, 'event')`.
   */
  eventTop(range: Range, dim: EventDimension, limit: number): Promise<EventRow[]>
  /**
   * Each goal's figures over the range (minute resolution, like `totals`), in the order given:
   * page goals count the page views whose path the goal's page or pattern matches, event goals the
   * custom events with that name and those property values. Filters select those page views or
   * custom events as they do for `totals` and `top(…, 'event')`. Read from the kept events.
   */
  conversions(range: Range, goals: readonly GoalSpec[]): Promise<GoalFigures[]>
  /**
   * Everything one History view shows of a range, in one call: the series, totals, visit totals,
   * bots, the top list of each of `opts.dims` and (with `opts.events`) the custom events, each equal
   * to what its own call returns. Filtered, SQLite reads the range's page views once and its visits
   * once for all of them instead of once per figure. Throws LS_ERR_BAD_QUERY as those calls do (a
   * bad range, bucket, dimension or limit).
   */
  view(range: Range, opts: ViewOptions): Promise<HistoryView>
  /** Unique visitors and pageviews over the whole range. */
  totals(range: Range): Promise<{ pageviews: number; visitors: number }>
  /**
   * Page views flagged as bots over the range: stored, never counted, and told apart so a person
   * testing with a headless browser or curl can see why their visits do not count. Minute
   * resolution, like `totals`: a bot page view counts when its minute overlaps the range, as a
   * person's page view does. Read from the raw events, so ranges older than the retention count none.
   */
  bots(range: Range): Promise<number>
  /** Visits that started in the range (minute resolution, like `totals`), summed. */
  visitTotals(range: Range): Promise<VisitTotals>
  /**
   * A funnel over the visits that started in the range (minute resolution, like `visitTotals`) and
   * match its filters: per step (2 to 8, checked by `parseFunnelSteps`), the visits that reached it
   * in order and their distinct visitors. goals/funnel.ts states the rules.
   */
  funnel(range: Range, steps: readonly GoalSpec[]): Promise<FunnelStepCount[]>
  /** Most recent counted pageviews (human, with a visitor), newest first; `before` pages further back. */
  feed(site: string | null, limit: number, before?: number): Promise<FeedRow[]>
  /** Every site seen, with its first and last event time. */
  sites(): Promise<{ site: string; first: number; last: number }[]>
  /** Counts rows of the event table (tests and `/metrics`). */
  countEvents(site?: string): Promise<number>
  /** Deletes raw events older than `before` (ms); rollups are kept. Returns rows deleted. */
  prune(before: number): Promise<number>
  appendLiveSamples(samples: readonly LiveSample[]): Promise<void>
  liveHistory(range: Range, bucket: Bucket): Promise<LiveSample[]>
  appendSessions(sessions: readonly SessionRecord[]): Promise<void>
  /** Writes process minutes; a minute already stored is replaced (the hub rewrites the open one). */
  appendProcessMinutes(rows: readonly ProcessMinute[]): Promise<void>
  /** Process minutes with `from <= t < to`, oldest first. */
  processMinutes(from: number, to: number): Promise<ProcessMinute[]>
  /** Small key/value table for hub state (the hashed token). Never the visitor salts: see salt-file.ts. */
  getMeta(key: string): Promise<string | null>
  setMeta(key: string, value: string): Promise<void>
  /** Deletes a value from the store's files too, not only from its answers (SQLite: zeroed, WAL truncated). */
  deleteMeta(key: string): Promise<void>
  listMeta(prefix: string): Promise<{ key: string; value: string }[]>
  close(): Promise<void>
}
