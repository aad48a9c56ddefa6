/**
 * The `Store` on one SQLite file (better-sqlite3). Writes are synchronous under the hood, so every
 * method does its work and resolves; the async signatures are the seam shared with PostgreSQL.
 */
import { parseHttp } from '../process/http'
import Database from 'better-sqlite3'
import { LivestatsError } from '../../protocol/errors'
import { DIM_CODE, G_HOUR, OpenVisitors, RECOUNT, RollupBatch } from './rollup'
import { HourKeys } from './sqlite-hour-keys'
import { EVENTS_REST, applyPragmas, migrate } from './sqlite-schema'
import { FLUSH_PENDING } from './sqlite-postings'
import { SqliteAnalytics } from './sqlite-analytics'
import { VIEW_DIMS, type ViewQueries } from './sqlite-view'
import { COLUMN_WINS, ColumnTops, columnListed } from './sqlite-col-top'
import { BUCKET_MS, BUCKETS, alignRange, coverRange, pointsOf } from './time'
import type { GoalSpec } from '../goals/spec'
import type {
  AppendResult, Bucket, Dimension, EventDimension, EventRow, FeedRow, GoalFigures, HistoryView, LiveSample, ProcessMinute, Range, SeriesPoint,
  SessionRecord, Store, StoredEvent, TopRow, ViewOptions, VisitTotals,
} from './types'
import { composeView } from './view'
import type { Filter } from './filters'
import type { FunnelStepCount } from '../goals/funnel'
import { isVisitDimension, zeroSums } from './visits'

export interface SqliteStoreOptions {
  /** How long a write waits for another process's lock before failing, ms. @default 5000 */
  busyTimeoutMs?: number
  /** Page cache size, MiB: rollup and index pages that stay hot. @default 64 */
  cacheMiB?: number
  /**
   * The first this many MiB of the file are read through a memory map (`PRAGMA mmap_size`): a page
   * is read where the kernel caches it instead of copied out by a read() call. 0, the default, reads
   * every page with read(), as SQLite does unless told. SQLite caps the map just under 2 GiB
   * (better-sqlite3's SQLITE_MAX_MMAP_SIZE, 0x7fff0000) and reads pages past the cap, and pages
   * still in the WAL, with read() as before. Off by default because it did not measurably help:
   * on the 10 M-event bench file (5.8 GB) the hour chunks lie past the cap and half the funnel
   * postings' pages too; bench/query.ts's History reads showed no difference in CPU time beyond the
   * machine's noise, the 30-day funnel over the most postings 7-13 % less in some rounds and more
   * in others (docs/benchmarks.md, 2026-11-30). The map costs address
   * space, not RAM (the mapped pages are the kernel's page cache, shared and evictable); the risk,
   * from SQLite's memory-mapped I/O page, is that an I/O error on a mapped page (a failing disk, the
   * file cut short under the map) cannot come back as an error code: the process gets SIGBUS and dies.
   * @default 0
   */
  mmapMiB?: number
  /**
   * Page views pending for the funnel postings (sqlite-postings.ts) past which an append writes
   * them. Reads see pending ones too; a flush costs about 40 µs per page it touches, so large
   * batches are cheaper per page view (20,000 with 5,000 pages: 11 µs each; 200,000: 1-2 µs).
   * @default 200000
   */
  postingsFlushEntries?: number
  /**
   * Pending postings are also written when no append came for this long, ms, and on close.
   * @default 5000
   */
  postingsIdleMs?: number
  /** Rows deleted per prune transaction, so a prune never holds the write lock for long. @default 5000 */
  pruneChunk?: number
  /**
   * Filtered History views (`view`) read the fact rows column-wise (sqlite-view.ts over
   * sqlite-chunks.ts: stored hour chunks, the table for the rest); false reads them through SQL
   * aggregate functions (sqlite-view-sql.ts). The figures are the same; column-wise is 1.2-4 times
   * less CPU on a filtered day of 10 M events (bench/query.ts, docs/benchmarks.md), but reads
   * from the table alone (hours without a chunk) cost about 3 µs a row against 0.2-0.7 µs.
   * @default true
   */
  columnReads?: boolean
  /**
   * Unfiltered top lists of the dimensions with many values (page, referrer, entry and exit page:
   * sqlite-col-top.ts COLUMN_WINS) count the range's fact rows column-wise instead of grouping the
   * rollup rows; the lists are the same. `'all'`: every page-view and visit dimension (tests);
   * false: the rollups for all (tests and benches compare both). Ranges before a site's first
   * stored page view (pruned) and custom events always read the rollups.
   * @default true
   */
  columnTops?: boolean | 'all'
  /**
   * WAL pages (4 KiB) written before a commit checkpoints them into the database file. SQLite's own
   * default is 1000. Larger is faster (append, batches of 200: 1000 → 69-77k rows/s, 4000 → 80-87k,
   * 16000 → 92-119k) but the commit that checkpoints takes longer, and every ack waits on it: HTTP
   * collect p99 under wrk -c64 went 27 ms → ~50 ms → 100-150 ms. 4000 is the middle.
   * @default 4000
   */
  walCheckpointPages?: number
}

/** See SqliteStoreOptions.mmapMiB. */
export const MMAP_MIB_DEFAULT = 0

const FEED_COLUMNS = ['id', 'ts', 'site', 'path', 'host', 'title', 'referrer', 'browser', 'os', 'device', 'country'].map((c) => `e.${c}`).join(', ')
const MAX_LIMIT = 10_000
const NO_END = Number.MAX_SAFE_INTEGER

type Db = Database.Database

function prepareAll(db: Db) {
  return {
    insert: db.prepare(`INSERT OR IGNORE INTO events (id, ts, type, site, visitor, cid, host, path, title, referrer,
      ref_host, utm_source, utm_medium, utm_campaign, browser, os, device, bot, country, screen, language, name,
      data, instance, keyword, region, city, utm_term) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
    // The usual page view has no campaign, keyword, custom event fields, region or city: leaving
    // those ten columns to their default (null) spares binding them (about 0.3 µs an event).
    insertPlain: db.prepare(`INSERT OR IGNORE INTO events (id, ts, type, site, visitor, cid, host, path, title, referrer,
      ref_host, browser, os, device, bot, country, screen, language) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
    upsertSite: db.prepare<[string, number, number], { id: number }>(`INSERT INTO sites (name, first, last)
      VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET first = min(first, excluded.first),
      last = max(last, excluded.last) RETURNING id`),
    siteId: db.prepare<[string], { id: number }>('SELECT id FROM sites WHERE name = ?'),
    // by name, as its covering index gives them: the all-sites feed merges sites in this order
    siteNames: db.prepare<[], { id: number; name: string }>('SELECT id, name FROM sites ORDER BY name'),
    // Absolute visitor counts: a replay writes the same number again.
    upsertSeries: db.prepare<[number, number, number, number, number]>(`INSERT INTO rollup_series
      (site, bucket, t, pageviews, visitors) VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, bucket, t)
      DO UPDATE SET pageviews = pageviews + excluded.pageviews, visitors = excluded.visitors`),
    addPageviews: db.prepare<[number, number, number, number]>(`INSERT INTO rollup_series
      (site, bucket, t, pageviews, visitors) VALUES (?, ?, ?, ?, 0) ON CONFLICT (site, bucket, t)
      DO UPDATE SET pageviews = pageviews + excluded.pageviews`),
    // Counted page views are the `pv` rows (human, with a visitor); their visitor keys count as the
    // visitor strings do, see totals.
    recount: db.prepare<[number, number, number, number, number, number]>(`UPDATE rollup_series SET visitors =
      (SELECT count(DISTINCT vid) FROM pv WHERE site = ? AND ts >= ? AND ts < ?)
      WHERE site = ? AND bucket = ? AND t = ?`),
    upsertTop: db.prepare<[number, number, number, string, number]>(`INSERT INTO rollup_top
      (site, dim, t, value, pageviews) VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, dim, t, value)
      DO UPDATE SET pageviews = pageviews + excluded.pageviews`),
    latestCounted: db.prepare<[number], [number | null]>('SELECT max(ts) FROM pv WHERE site = ?').raw(),
    // the open sets hold visitor strings (rollup.ts): the raw row gives each page view's
    countedSince: db.prepare<[number, number], [number, string | null]>(
      'SELECT pv.ts, e.visitor FROM pv CROSS JOIN events e ON e.rowid = pv.rid WHERE pv.site = ? AND pv.ts >= ?').raw(),
    series: db.prepare<[number, number, number, number], [number, number, number]>(`SELECT t, pageviews, visitors
      FROM rollup_series WHERE site = ? AND bucket = ? AND t >= ? AND t < ? ORDER BY t`).raw(),
    seriesOne: db.prepare<[number, number, number], { pageviews: number; visitors: number }>(
      'SELECT pageviews, visitors FROM rollup_series WHERE site = ? AND bucket = ? AND t = ?'),
    sumPageviews: db.prepare<[number, number, number, number], [number]>(`SELECT coalesce(sum(pageviews), 0)
      FROM rollup_series WHERE site = ? AND bucket = ? AND t >= ? AND t < ?`).raw(),
    // the partial index of bot page views (schema 13) holds only them
    countBots: db.prepare<[string, number, number], [number]>(`SELECT count(*) FROM events INDEXED BY events_bots
      WHERE site = ? AND type = 'pageview' AND bot = 1 AND ts >= ? AND ts < ?`).raw(),
    top: db.prepare<[number, number, number, number, number], TopRow>(`SELECT value, sum(pageviews) AS pageviews
      FROM rollup_top WHERE site = ? AND dim = ? AND t >= ? AND t < ? GROUP BY value
      ORDER BY pageviews DESC, value LIMIT ?`),
    // Ties in time keep the order the raw index (site, type, ts, bot, visitor) gave them before
    // schema 17: visitor, then rowid, both descending.
    feedSite: db.prepare<[number, number, number], FeedRow>(`SELECT ${FEED_COLUMNS} FROM pv CROSS JOIN events e
      ON e.rowid = pv.rid WHERE pv.site = ? AND pv.ts < ? ORDER BY pv.ts DESC, e.visitor DESC, pv.rid DESC LIMIT ?`),
    sites: db.prepare<[], { site: string; first: number; last: number }>(
      'SELECT name AS site, first, last FROM sites ORDER BY name'),
    countAll: db.prepare<[], [number]>('SELECT count(*) FROM events').raw(),
    countSite: db.prepare<[string], [number]>('SELECT count(*) FROM events WHERE site = ?').raw(),
    // Pruning: the raw rows of counted page views and custom events through their fact rows, up to
    // the key pvBound / ceBound give, with the fact rows in one transaction; bot page views and the
    // rest through their partial indexes (schema 17).
    pvBound: db.prepare<[number, number, number], [number, number]>(`SELECT ts, rid FROM (SELECT ts, rid FROM pv
      WHERE site = ? AND ts < ? ORDER BY ts, rid LIMIT ?) ORDER BY ts DESC, rid DESC LIMIT 1`).raw(),
    ceBound: db.prepare<[number, number, number], [number, number]>(`SELECT ts, rid FROM (SELECT ts, rid FROM ce
      WHERE site = ? AND ts < ? ORDER BY ts, rid LIMIT ?) ORDER BY ts DESC, rid DESC LIMIT 1`).raw(),
    prunePvEvents: db.prepare<[number, number, number, number]>(`DELETE FROM events WHERE rowid IN
      (SELECT rid FROM pv WHERE site = ? AND ts <= ? AND (ts < ? OR rid <= ?))`),
    pruneCeEvents: db.prepare<[number, number, number, number]>(`DELETE FROM events WHERE rowid IN
      (SELECT rid FROM ce WHERE site = ? AND ts <= ? AND (ts < ? OR rid <= ?))`),
    prunePv: db.prepare<[number, number, number, number]>('DELETE FROM pv WHERE site = ? AND ts <= ? AND (ts < ? OR rid <= ?)'),
    pruneCe: db.prepare<[number, number, number, number]>('DELETE FROM ce WHERE site = ? AND ts <= ? AND (ts < ? OR rid <= ?)'),
    // a custom event's properties go with it (cp's key starts with ce's)
    pruneCp: db.prepare<[number, number, number, number]>('DELETE FROM cp WHERE site = ? AND ts <= ? AND (ts < ? OR rid <= ?)'),
    pruneBots: db.prepare<[string, number, number]>(`DELETE FROM events WHERE rowid IN (SELECT rowid FROM events
      INDEXED BY events_bots WHERE site = ? AND type = 'pageview' AND bot = 1 AND ts < ? LIMIT ?)`),
    pruneRest: db.prepare<[string, number, number]>(`DELETE FROM events WHERE rowid IN (SELECT rowid FROM events
      INDEXED BY events_rest WHERE site = ? AND ts < ? AND ${EVENTS_REST} LIMIT ?)`),
    // The listed pages' hours by key (site, t, path): one lookup per hour and page. A range scan read
    // every page's row of every hour (72,000 rows for a day of 5,000 pages, 7.6 ms; this 0.2 ms).
    engagedOf: db.prepare<[number, string, string], [string, number, number, number, number, number]>(`SELECT path,
      sum(views), sum(engaged_ms), sum(writing_ms), sum(scroll_views), sum(scroll_sum) FROM rollup_engaged WHERE site = ?
      AND t IN (SELECT value FROM json_each(?)) AND path IN (SELECT value FROM json_each(?)) GROUP BY path`).raw(),
    pruneVisits: db.prepare<[number, number, number]>(`DELETE FROM visits WHERE rowid IN
      (SELECT rowid FROM visits WHERE site = ? AND start < ? AND end < ? LIMIT 5000)`),
    upsertLive: db.prepare<[string, ...number[]]>(`INSERT INTO live_minute (site, minute, total_max,
      total_mean, reading_max, reading_mean, writing_max, writing_mean, idle_max, idle_mean)
      VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (site, minute) DO UPDATE SET total_max = excluded.total_max,
      total_mean = excluded.total_mean, reading_max = excluded.reading_max, reading_mean = excluded.reading_mean,
      writing_max = excluded.writing_max, writing_mean = excluded.writing_mean, idle_max = excluded.idle_max,
      idle_mean = excluded.idle_mean`),
    // One bucket of the history: max of the per-minute maxima, mean of the per-minute means.
    liveHistory: db.prepare<[{ size: number; site: string; from: number; to: number }], LiveSample>(`SELECT site,
      minute - (minute % @size) AS minute,
      max(total_max) AS totalMax, avg(total_mean) AS totalMean, max(reading_max) AS readingMax,
      avg(reading_mean) AS readingMean, max(writing_max) AS writingMax, avg(writing_mean) AS writingMean,
      max(idle_max) AS idleMax, avg(idle_mean) AS idleMean
      FROM live_minute WHERE site = @site AND minute >= @from AND minute < @to
      GROUP BY minute - (minute % @size) ORDER BY 2`),
    insertSession: db.prepare(`INSERT OR IGNORE INTO sessions (id, site, visitor, started, ended, pageviews,
      reading_ms, writing_ms, idle_ms, hidden_ms, entry, exit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`),
    upsertProcessMinute: db.prepare(`INSERT OR REPLACE INTO process_minute (app, instance, t, sent, received, read,
      written, jobs, failed, hist, min, max, cpu, rss, heap_used, lag, samples, http) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`),
    processMinutes: db.prepare<[number, number], ProcessMinuteRow>(`SELECT app, instance, t, sent, received, read, written,
      jobs, failed, hist, min, max, cpu, rss, heap_used AS heapUsed, lag, samples, http FROM process_minute
      WHERE t >= ? AND t < ? ORDER BY t, app, instance`),
    getMeta: db.prepare<[string], [string]>('SELECT value FROM meta WHERE key = ?').raw(),
    setMeta: db.prepare<[string, string]>(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    deleteMeta: db.prepare<[string]>('DELETE FROM meta WHERE key = ?'),
    listMeta: db.prepare<[{ prefix: string }], { key: string; value: string }>(
      'SELECT key, value FROM meta WHERE substr(key, 1, length(@prefix)) = @prefix ORDER BY key'),
  }
}
type Statements = ReturnType<typeof prepareAll>
type ProcessMinuteRow = Omit<ProcessMinute, 'hist' | 'http'> & { hist: string; http: string | null }

/** Whether a query has filters (and so reads the fact tables, not the rollups). */
function filtered(range: Range): range is Range & { filters: readonly Filter[] } {
  return range.filters !== undefined && range.filters.length > 0
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new LivestatsError('LS_ERR_BAD_QUERY', `limit must be an integer from 1 to ${MAX_LIMIT}`)
  }
}

function checkDimension(dim: Dimension): void {
  if (!isVisitDimension(dim) && !Object.hasOwn(DIM_CODE, dim)) throw new LivestatsError('LS_ERR_BAD_QUERY', `Unknown dimension ${String(dim)}`)
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite'
  private readonly db: Db
  private readonly pruneChunkRows: number
  private readonly columnReads: boolean
  /** The dimensions whose unfiltered lists count columns (`columnTops`). */
  private readonly colDims: (dim: Dimension) => boolean
  private colTops: ColumnTops | null = null
  private readonly open = new OpenVisitors()
  private readonly siteIds = new Map<string, number>()
  private st: Statements | null = null
  private an: SqliteAnalytics | null = null
  private hk: HourKeys | null = null
  private appendTx: Database.Transaction<(events: readonly StoredEvent[]) => AppendResult> | null = null
  private readonly flushEntries: number
  private readonly idleMs: number
  private flushTimer: NodeJS.Timeout | null = null
  private appended = 0

  constructor(readonly path: string, opts: SqliteStoreOptions = {}) {
    this.db = new Database(path)
    applyPragmas(this.db, {
      busyTimeoutMs: opts.busyTimeoutMs ?? 5000, cacheMiB: opts.cacheMiB ?? 64, mmapMiB: opts.mmapMiB ?? MMAP_MIB_DEFAULT,
      walCheckpointPages: opts.walCheckpointPages ?? 4000,
    })
    this.pruneChunkRows = opts.pruneChunk ?? 5000
    this.columnReads = opts.columnReads ?? true
    const tops = opts.columnTops ?? true
    this.colDims = tops === 'all' ? columnListed : tops ? (dim) => COLUMN_WINS.has(dim) : () => false
    this.flushEntries = opts.postingsFlushEntries ?? FLUSH_PENDING
    this.idleMs = opts.postingsIdleMs ?? 5000
  }

  /** Bytes of the file this connection reads through a memory map (SqliteStoreOptions.mmapMiB, as SQLite capped it). */
  mmapBytes(): number {
    return this.db.pragma('mmap_size', { simple: true }) as number
  }

  private get q(): Statements {
    if (this.st === null) throw new Error('SqliteStore: call init() first')
    return this.st
  }

  async init(): Promise<void> {
    // a migration may have deleted data (schema 6 drops the masked IPs): none of it stays in the WAL
    if (migrate(this.db) > 0) this.scrubWal()
    this.st = prepareAll(this.db)
    this.an = new SqliteAnalytics(this.db, this.columnReads)
    this.colTops = new ColumnTops(this.db, this.an.columns, this.an.facts.dict)
    this.hk = new HourKeys(this.db)
    this.appendTx = this.db.transaction((events: readonly StoredEvent[]) => this.appendRows(events))
    this.reseed()
    // page views a crash kept from the postings (committed, never flushed)
    this.an.facts.postings.recover()
    this.an.visitPostings.recover()
    // a flush holds the write lock: done when appends pause, so acks do not wait on it
    this.flushTimer = setInterval(() => {
      if (performance.now() - this.appended >= this.idleMs) this.flushPostings(false)
    }, this.idleMs)
    this.flushTimer.unref()
  }

  /**
   * Writes the pending postings (sqlite-postings.ts, then sqlite-visit-postings.ts). The timer's
   * and the append's flush leave a failure (a busy lock) to the next one, the entries staying
   * pending; prune's throws it.
   */
  private flushPostings(strict: boolean): void {
    if (this.an === null) return
    try {
      this.an.facts.postings.flush()
      this.an.visitPostings.flush()
    } catch (err) {
      if (strict) throw err
    }
  }

  /** Rebuilds the open visitor sets from the raw events of each site's latest counted day. */
  private reseed(): void {
    const q = this.q
    this.open.clear()
    this.siteIds.clear()
    for (const { id, name } of q.siteNames.all()) {
      const latest = q.latestCounted.get(id)?.[0]
      if (latest === null || latest === undefined) continue
      this.open.seed(name, latest)
      const dayStart = latest - (latest % BUCKET_MS.day)
      for (const [ts, visitor] of q.countedSince.iterate(id, dayStart)) this.open.seedVisitor(name, ts, visitor)
    }
  }

  async append(events: readonly StoredEvent[]): Promise<AppendResult> {
    const tx = this.appendTx
    if (tx === null) throw new Error('SqliteStore: call init() first')
    try {
      const r = tx.immediate(events)
      this.appended = performance.now()
      // the visit postings flush with them: about 2 entries a page view, written in the same pass
      if (this.analytics.facts.postings.size >= this.flushEntries) this.flushPostings(false)
      return r
    } catch (err) {
      // The transaction rolled back but the open visitor sets already took its visitors.
      this.reseed()
      this.analytics.rollback()
      throw err
    }
  }

  private get analytics(): SqliteAnalytics {
    if (this.an === null) throw new Error('SqliteStore: call init() first')
    return this.an
  }

  private get hourKeys(): HourKeys {
    if (this.hk === null) throw new Error('SqliteStore: call init() first')
    return this.hk
  }

  private get visits(): SqliteAnalytics['visits'] {
    return this.analytics.visits
  }

  private appendRows(events: readonly StoredEvent[]): AppendResult {
    const q = this.q
    const an = this.analytics
    an.begin()
    const batch = new RollupBatch(this.open)
    const fresh = new Array<boolean>(events.length)
    let stored = 0
    for (let i = 0; i < events.length; i++) {
      const e = events[i] as StoredEvent
      const r = e.utmSource === null && e.utmMedium === null && e.utmCampaign === null && e.utmTerm === null &&
        e.keyword === null && e.name === null && e.data === null && e.instance === null && e.region === null && e.city === null
        ? q.insertPlain.run(e.id, e.ts, e.type, e.site, e.visitor, e.cid, e.host, e.path, e.title, e.referrer,
          e.refHost, e.browser, e.os, e.device, e.bot ? 1 : 0, e.country, e.screen, e.language)
        : q.insert.run(e.id, e.ts, e.type, e.site, e.visitor, e.cid, e.host, e.path, e.title, e.referrer,
          e.refHost, e.utmSource, e.utmMedium, e.utmCampaign, e.browser, e.os, e.device, e.bot ? 1 : 0,
          e.country, e.screen, e.language, e.name, e.data, e.instance, e.keyword, e.region, e.city, e.utmTerm)
      const isNew = r.changes === 1
      fresh[i] = isNew
      if (isNew) {
        stored++
        batch.add(e)
        if ((e.type === 'pageview' || e.type === 'event') && !e.bot && e.visitor !== null) {
          an.fresh(this.siteFor(e.site, e.ts), Number(r.lastInsertRowid), e)
        }
      }
    }
    this.writeRollups(batch)
    an.flush()
    // at most one stored hour chunk per append, for an hour that settled (sqlite-chunk-store.ts)
    an.chunks.work()
    return { stored, duplicates: events.length - stored, fresh }
  }

  private writeRollups(batch: RollupBatch): void {
    const q = this.q
    for (const [name, c] of batch.sites) {
      const row = q.upsertSite.get(name, c.first, c.last)
      if (row === undefined) continue
      const site = row.id
      this.siteIds.set(name, site)
      for (let g = 0; g < c.series.length; g++) {
        const size = BUCKET_MS[BUCKETS[g] as Bucket]
        for (const [t, d] of c.series[g] ?? []) {
          if (d.visitors === RECOUNT) {
            q.addPageviews.run(site, g, t, d.pageviews)
            q.recount.run(site, t, t + size, site, g, t)
          } else {
            q.upsertSeries.run(site, g, t, d.pageviews, d.visitors)
          }
        }
      }
      // the hours whose page views changed, and the one the batch may have closed (sqlite-hour-keys.ts)
      const open = (this.open.of(name)[G_HOUR] as { start: number }).start
      const hours = new Set((c.series[G_HOUR] as Map<number, unknown>).keys())
      if (Number.isFinite(c.hourWas)) hours.add(c.hourWas)
      for (const t of hours) {
        if (t < open) this.hourKeys.write(site, t)
        else this.hourKeys.open(site, t)
      }
      this.analytics.chunks.advance(site, (this.open.of(name)[0] as { start: number }).start, c.first)
      for (const [t, dims] of c.top) {
        for (let dim = 0; dim < dims.length; dim++) {
          for (const [value, n] of dims[dim] ?? []) q.upsertTop.run(site, dim, t, value, n)
        }
      }
    }
  }

  /** The site's id, creating its row on its first event. */
  private siteFor(name: string, ts: number): number {
    const known = this.siteIds.get(name)
    if (known !== undefined) return known
    const row = this.q.upsertSite.get(name, ts, ts)
    if (row === undefined) throw new Error(`SqliteStore: no id for site ${name}`)
    this.siteIds.set(name, row.id)
    return row.id
  }

  private siteId(name: string): number | undefined {
    const known = this.siteIds.get(name)
    if (known !== undefined) return known
    const row = this.q.siteId.get(name)
    if (row !== undefined) this.siteIds.set(name, row.id)
    return row?.id
  }

  /**
   * Whether filtered page-view figures (series, totals) read column-wise: with columnReads, unless
   * every filter is a page "is" or "contains", whose page views FilteredQueries reads from the
   * postings instead of every page view of the range.
   */
  private columnView(filters: readonly Filter[]): boolean {
    return this.columnReads && !filters.every((f) => f.dim === 'page' && f.op !== 'not')
  }

  async series(range: Range, bucket: Bucket): Promise<SeriesPoint[]> {
    const { from, n } = pointsOf(range.from, range.to, bucket)
    const size = BUCKET_MS[bucket]
    const out = new Array<SeriesPoint>(n)
    for (let i = 0; i < n; i++) out[i] = { t: from + i * size, pageviews: 0, visitors: 0 }
    const site = this.siteId(range.site)
    if (site === undefined) return out
    if (filtered(range)) {
      if (this.columnView(range.filters)) {
        const r = { series: { from, size, n }, minute: { from, to: from }, hour: { from, to: from } }
        return (this.analytics.view as ViewQueries).read(site, r, [], 1, range.filters, 'pv').series
      }
      this.analytics.filtered.series(site, from, size, out, range.filters)
      return out
    }
    for (const [t, pageviews, visitors] of this.q.series.iterate(site, BUCKETS.indexOf(bucket), from, from + n * size)) {
      const p = out[(t - from) / size]
      if (p !== undefined) {
        p.pageviews = pageviews
        p.visitors = visitors
      }
    }
    return out
  }

  /**
   * Unfiltered, the separate calls (each reads its rollups); filtered, one read of the range's page
   * views and one of its visits for the series, totals, visit totals and every page-view and visit
   * list (sqlite-view.ts), then bots and custom events as their own calls read them.
   */
  async view(range: Range, opts: ViewOptions): Promise<HistoryView> {
    checkLimit(opts.limit)
    for (const d of opts.dims) checkDimension(d)
    const series = pointsOf(range.from, range.to, opts.bucket)
    const site = this.siteId(range.site)
    if (!filtered(range) || site === undefined) return composeView(this, range, opts)
    const dims = [...new Set(opts.dims)]
    const r = {
      series: { from: series.from, size: BUCKET_MS[opts.bucket], n: series.n },
      minute: alignRange(range.from, range.to, BUCKET_MS.minute),
      hour: alignRange(range.from, range.to, BUCKET_MS.hour),
    }
    const v = this.analytics.view.read(site, r, dims, opts.limit, range.filters)
    for (const d of dims) if (v.tops[d] === undefined) v.tops[d] = await this.top(range, d, opts.limit)
    return { ...v, bots: await this.bots(range), events: opts.events === true ? await this.eventTop(range, 'event', opts.limit) : null }
  }

  /**
   * Hour resolution: every hour that overlaps the range counts whole. Unfiltered, counted from the
   * fact rows column-wise (`columnTops`) or from the rollups; a page's engaged time and scroll come
   * from rollup_engaged either way (its `views` counts reports, which a page view's row cannot tell).
   */
  async top(range: Range, dim: Dimension, limit: number): Promise<TopRow[]> {
    checkLimit(limit)
    checkDimension(dim)
    const visitDim = isVisitDimension(dim)
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.hour)
    const site = this.siteId(range.site)
    if (site === undefined) return []
    if (filtered(range)) {
      // column-wise as the view's lists (sqlite-view.ts); custom events and what it does not list go through SQL
      if (!this.columnReads || !VIEW_DIMS.has(dim)) return this.analytics.filtered.top(site, dim, from, to, limit, range.filters)
      const r = { series: { from, size: BUCKET_MS.hour, n: 0 }, minute: { from, to: from }, hour: { from, to } }
      return this.analytics.view.read(site, r, [dim], limit, range.filters).tops[dim] ?? []
    }
    const cols = this.colTops !== null && this.colDims(dim) && this.colTops.covers(site, from) ? this.colTops : null
    if (visitDim) return cols?.top(site, dim, from, to, limit) ?? this.visits.top(site, dim, from, to, limit)
    const rows = cols?.top(site, dim, from, to, limit) ?? this.q.top.all(site, DIM_CODE[dim], from, to, limit)
    if (dim === 'page' && rows.length > 0) {
      for (const [path, views, engagedMs, writingMs, scrollViews, scrollSum] of this.q.engagedOf.iterate(site, hoursOf(from, to), JSON.stringify(rows.map((r) => r.value)))) {
        const row = rows.find((r) => r.value === path)
        if (row === undefined) continue
        Object.assign(row, { engagedViews: views, engagedMs, writingMs })
        if (scrollViews > 0) Object.assign(row, { scrollViews, scrollSum })
      }
    }
    return rows
  }

  /** Hour resolution, like `top`; from the custom event and property facts (the retention period). */
  async eventTop(range: Range, dim: EventDimension, limit: number): Promise<EventRow[]> {
    checkLimit(limit)
    if (dim !== 'event' && dim !== 'prop' && !(dim.startsWith('prop:') && dim.length > 5)) {
      throw new LivestatsError('LS_ERR_BAD_QUERY', `Unknown custom event dimension ${String(dim)}`)
    }
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.hour)
    const site = this.siteId(range.site)
    if (site === undefined) return []
    return this.analytics.filtered.eventTop(site, dim, from, to, limit, range.filters ?? [])
  }

  /** Minute resolution, like `totals`; from the page view and custom event facts (the retention period). */
  async conversions(range: Range, goals: readonly GoalSpec[]): Promise<GoalFigures[]> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    const site = this.siteId(range.site)
    if (site === undefined || from === to) return goals.map(() => ({ visitors: 0, conversions: 0 }))
    return goals.map((g) => this.analytics.filtered.conversion(site, from, to, range.filters ?? [], g))
  }

  /** Minute resolution, by visit start, from the visit rollups. */
  async visitTotals(range: Range): Promise<VisitTotals> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    const site = this.siteId(range.site)
    if (site === undefined || from === to) return zeroSums()
    if (filtered(range)) {
      if (!this.columnReads) return this.analytics.filtered.visitTotals(site, from, to, range.filters)
      const r = { series: { from, size: BUCKET_MS.minute, n: 0 }, minute: { from, to }, hour: { from, to } }
      return (this.analytics.view as ViewQueries).read(site, r, [], 1, range.filters, 'visits').visitTotals
    }
    return this.visits.totals(site, from, to)
  }

  /** Minute resolution, by visit start, like `visitTotals`; steps are read from the fact rows. */
  async funnel(range: Range, steps: readonly GoalSpec[]): Promise<FunnelStepCount[]> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    const site = this.siteId(range.site)
    if (site === undefined || from === to) return steps.map(() => ({ visits: 0, visitors: 0 }))
    return this.analytics.funnels.run(site, from, to, range.filters ?? [], steps)
  }

  /**
   * Minute resolution. Pageviews sum at most a few hundred rollup rows (see coverRange). Visitors
   * come from the rollup row when the range is exactly one minute, hour or day; otherwise they are
   * the distinct visitor keys of the range's `pv` rows, counted as filtered totals count them
   * (countDistinct, not SQLite's count(DISTINCT) b-tree), the keys of its whole closed hours read
   * from their hour_visitors rows and the rest from `pv` (sqlite-hour-keys.ts).
   * Keys stand for the visitor strings: two visitors of one range share a 53-bit key (sqlite-dict.ts)
   * with a chance of about n² / 2^54, one in 18,000 for a million visitors (a month of 10 million
   * events has about 900,000), and then the count is one low; the strings through the join cost a
   * random read of a raw row per page view. Pruned page views are not counted.
   */
  async totals(range: Range): Promise<{ pageviews: number; visitors: number }> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    const site = this.siteId(range.site)
    if (site === undefined || from === to) return { pageviews: 0, visitors: 0 }
    if (filtered(range)) {
      if (!this.columnView(range.filters)) return this.analytics.filtered.totals(site, from, to, range.filters)
      const r = { series: { from, size: BUCKET_MS.minute, n: 0 }, minute: { from, to }, hour: { from, to: from } }
      return (this.analytics.view as ViewQueries).read(site, r, [], 1, range.filters, 'pv').totals
    }
    let pageviews = 0
    for (const s of coverRange(from, to)) {
      pageviews += this.q.sumPageviews.get(site, BUCKETS.indexOf(s.bucket), s.from, s.to)?.[0] ?? 0
    }
    const g = BUCKETS.findIndex((b) => BUCKET_MS[b] === to - from && from % BUCKET_MS[b] === 0)
    if (g >= 0) return { pageviews, visitors: this.q.seriesOne.get(site, g, from)?.visitors ?? 0 }
    return { pageviews, visitors: this.hourKeys.visitors(site, from, to, this.analytics.filtered) }
  }

  /**
   * Minute resolution, like `totals`, so the bots a range kept out cover the same span as the page
   * views it counts (a bot hit in the range's last, unfinished minute counts in both or neither).
   * One index entry per bot page view (the partial index events_bots); pruned raw events are not counted.
   */
  async bots(range: Range): Promise<number> {
    if (!(range.to > range.from)) return 0
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    return this.q.countBots.get(range.site, from, to)?.[0] ?? 0
  }

  /**
   * Counted pageviews (the `pv` rows: bots and visitor-less web events, which ingest never makes,
   * left out), newest first; `before` is an exclusive ts bound for paging.
   * All sites: each site's newest `limit` through its index, merged (a hub has few sites; an index
   * on ts alone would cost every insert).
   */
  async feed(site: string | null, limit: number, before?: number): Promise<FeedRow[]> {
    checkLimit(limit)
    const end = before ?? NO_END
    if (site !== null) {
      const id = this.siteId(site)
      return id === undefined ? [] : this.q.feedSite.all(id, end, limit)
    }
    const rows: FeedRow[] = []
    for (const { id } of this.q.siteNames.all()) for (const r of this.q.feedSite.iterate(id, end, limit)) rows.push(r)
    if (rows.length <= limit) return rows.sort((a, b) => b.ts - a.ts)
    return rows.sort((a, b) => b.ts - a.ts).slice(0, limit)
  }

  /** First and last event of any type, including pruned ones. */
  async sites(): Promise<{ site: string; first: number; last: number }[]> {
    return this.q.sites.all()
  }

  async countEvents(site?: string): Promise<number> {
    const row = site === undefined ? this.q.countAll.get() : this.q.countSite.get(site)
    return row?.[0] ?? 0
  }

  /** Deletes in chunks, yielding to the event loop between them, so appends interleave with a long prune. */
  async prune(before: number): Promise<number> {
    const q = this.q
    const chunk = this.pruneChunkRows
    let deleted = 0
    // open visits the prune would delete first go into the rollups, which outlive it
    this.db.transaction(() => this.visits.closeBefore(before))()
    const yieldNow = () => new Promise<void>((resolve) => setImmediate(resolve))
    for (const { id: site, name } of q.siteNames.all()) {
      // a visit goes with its last page view, so a pruned range never leaves half a visit behind
      const pruneVisits = this.db.transaction(() => {
        this.analytics.chunks.sync()
        this.analytics.chunks.prune(site, before)
        return q.pruneVisits.run(site, before, before).changes
      })
      while (pruneVisits() === 5000) await yieldNow()
      this.flushPostings(true)
      this.analytics.facts.postings.prune(site, before)
      this.analytics.visitPostings.prune(site, before, this.visits.maxSpan(site))
      // counted page views and custom events: `chunk` fact rows and their raw rows per transaction
      for (;;) {
        const n = this.pruneFacts(site, before, chunk)
        deleted += n.events
        if (n.facts < chunk) break
        await yieldNow()
      }
      for (const stmt of [q.pruneBots, q.pruneRest]) {
        for (;;) {
          const n = stmt.run(name, before, chunk).changes
          deleted += n
          if (n < chunk) break
          await yieldNow()
        }
      }
    }
    return deleted
  }

  /**
   * Deletes the oldest `chunk` page view and custom event fact rows before `before` of site id
   * `site`, with their raw events (and a custom event's properties), in one transaction: a raw
   * event is never left without the fact row that finds it. Returns how many raw events went, and
   * the larger of the two fact row counts (under `chunk` once none are left).
   */
  private pruneFacts(site: number, before: number, chunk: number): { events: number; facts: number } {
    const q = this.q
    return this.db.transaction(() => {
      const out = { events: 0, facts: 0 }
      this.hourKeys.prune(site, before)
      this.analytics.chunks.sync()
      this.analytics.chunks.prune(site, before)
      const pv = q.pvBound.get(site, before, chunk)
      if (pv !== undefined) {
        const [ts, rid] = pv
        out.events += q.prunePvEvents.run(site, ts, ts, rid).changes
        out.facts = q.prunePv.run(site, ts, ts, rid).changes
      }
      const ce = q.ceBound.get(site, before, chunk)
      if (ce !== undefined) {
        const [ts, rid] = ce
        out.events += q.pruneCeEvents.run(site, ts, ts, rid).changes
        out.facts = Math.max(out.facts, q.pruneCe.run(site, ts, ts, rid).changes)
        q.pruneCp.run(site, ts, ts, rid)
      }
      return out
    })()
  }

  async appendProcessMinutes(rows: readonly ProcessMinute[]): Promise<void> {
    const q = this.q
    this.db.transaction(() => {
      for (const m of rows) {
        q.upsertProcessMinute.run(m.app, m.instance, m.t, m.sent, m.received, m.read, m.written, m.jobs, m.failed,
          JSON.stringify(m.hist), m.min, m.max, m.cpu, m.rss, m.heapUsed, m.lag, m.samples, m.http ? JSON.stringify(m.http) : null)
      }
    })()
  }

  async processMinutes(from: number, to: number): Promise<ProcessMinute[]> {
    return this.q.processMinutes.all(from, to).map((r) => ({ ...r, hist: JSON.parse(r.hist) as number[], http: parseHttp(r.http) }))
  }

  async appendLiveSamples(samples: readonly LiveSample[]): Promise<void> {
    const q = this.q
    this.db.transaction(() => {
      for (const s of samples) {
        q.upsertLive.run(s.site, s.minute, s.totalMax, s.totalMean, s.readingMax, s.readingMean, s.writingMax,
          s.writingMean, s.idleMax, s.idleMean)
      }
    })()
  }

  /** Only buckets that hold samples: a gap means the hub was down, not that nobody was there. */
  async liveHistory(range: Range, bucket: Bucket): Promise<LiveSample[]> {
    const { from, to } = pointsOf(range.from, range.to, bucket)
    return this.q.liveHistory.all({ size: BUCKET_MS[bucket], site: range.site, from, to })
  }

  /** Idempotent by session id, like events. */
  async appendSessions(sessions: readonly SessionRecord[]): Promise<void> {
    const q = this.q
    const an = this.analytics
    try {
      this.db.transaction(() => {
        an.begin()
        for (const s of sessions) {
          const r = q.insertSession.run(s.id, s.site, s.visitor, s.started, s.ended, s.pageviews, s.readingMs, s.writingMs,
            s.idleMs, s.hiddenMs, s.entry, s.exit)
          // engaged time goes to page views and visits once, with the session's first write
          const site = r.changes === 1 && s.pages !== undefined ? this.siteId(s.site) : undefined
          if (site !== undefined) an.engaged(site, s.visitor, s.pages ?? [])
        }
        an.flush()
      })()
    } catch (err) {
      an.rollback()
      throw err
    }
  }

  async getMeta(key: string): Promise<string | null> {
    return this.q.getMeta.get(key)?.[0] ?? null
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.q.setMeta.run(key, value)
  }

  /** secure_delete zeroes the row in its page; the checkpoint then drops the WAL's older copies of that page. */
  async deleteMeta(key: string): Promise<void> {
    if (this.q.deleteMeta.run(key).changes > 0) this.scrubWal()
  }

  /**
   * Copies the WAL into the database file and truncates it: page images written before a delete
   * (a salt, an IP of the days before issue 10) stay readable in the WAL until they are overwritten.
   */
  private scrubWal(): void {
    this.db.pragma('wal_checkpoint(TRUNCATE)')
  }

  async listMeta(prefix: string): Promise<{ key: string; value: string }[]> {
    return this.q.listMeta.all({ prefix })
  }

  async close(): Promise<void> {
    if (this.flushTimer !== null) clearInterval(this.flushTimer)
    this.flushTimer = null
    if (this.db.open) {
      this.flushPostings(false)
      // Lets SQLite refresh its planner statistics where they drifted; cheap, and it needs the open handle.
      this.db.pragma('optimize')
      this.db.close()
    }
    this.st = null
    this.an = null
    this.appendTx = null
  }
}

/**
 * Opens (or creates) a SQLite store; call `init()` before use.
 * @example
 * const store = createSqliteStore('./livestats.db')
 * await store.init()
 */
export function createSqliteStore(path: string, opts?: SqliteStoreOptions): SqliteStore {
  return new SqliteStore(path, opts)
}

/** The hour buckets of an hour-aligned range [from, to), as a JSON array for `json_each`. */
function hoursOf(from: number, to: number): string {
  const hours: number[] = []
  for (let t = from; t < to; t += BUCKET_MS.hour) hours.push(t)
  return JSON.stringify(hours)
}
