/**
 * The `Store` on PostgreSQL (node-postgres pool), for hubs that share one database: any number of
 * hub processes may append at once (postgres-append.ts says how they stay exact), and every read
 * answers from what all of them committed. An append resolves only after its COMMIT returned.
 *
 * Differences from SQLite a user may notice: `deleteMeta` deletes the row, and PostgreSQL's
 * VACUUM, not the hub, reclaims its old versions; unique visitors per bucket come from
 * `visitor_seen`, which a prune trims with the raw events.
 */
import pg from 'pg'
import { parseHttp } from '../process/http'
import { LivestatsError } from '../../protocol/errors'
import { DIM_CODE } from './rollup'
import { appendTx, lockVisitors, visitorLock, writeVisitDeltas } from './postgres-append'
import { PgFiltered } from './postgres-filtered'
import { PG_SHARDS, migratePg, quoteIdent } from './postgres-schema'
import { pgFunnel } from './postgres-funnel'
import type { FunnelStepCount } from '../goals/funnel'
import { SiteIndex, visitAt } from './postgres-visits'
import { BUCKET_MS, BUCKETS, alignRange, coverRange, floorTo, pointsOf } from './time'
import { compilePage, type GoalSpec } from '../goals/spec'
import type {
  AppendResult, Bucket, Dimension, EventDimension, EventRow, FeedRow, GoalFigures, HistoryView, ViewOptions, LiveSample, ProcessMinute, Range, SeriesPoint, SessionRecord, Store,
  StoredEvent, TopRow, VisitTotals,
} from './types'
import type { Filter } from './filters'
import { composeView } from './view'
import { VISIT_DIM_CODE, VisitDeltas, isVisitDimension, listsNone, withNone, zeroSums, type Listed } from './visits'

export interface PostgresStoreOptions {
  /** Schema holding the tables (created when missing). @default the URL's `?schema=`, else `livestats` */
  schema?: string
  /** Pool size: connections this hub holds at most. @default 10 */
  poolMax?: number
  /** How long to wait for a connection (PostgreSQL down: appends fail after this, not hang), ms. @default 5000 */
  connectTimeoutMs?: number
  /** A statement running longer than this is cancelled, ms. @default 30000 */
  statementTimeoutMs?: number
  /** Raw events deleted per prune statement (each its own transaction). @default 5000 */
  pruneChunk?: number
}

const MAX_LIMIT = 10_000
const STORED_TYPES: readonly StoredEvent['type'][] = ['pageview', 'event', 'leave', 'bytes', 'db', 'job', 'process']
const NO_END = Number.MAX_SAFE_INTEGER
const HOUR = BUCKET_MS.hour
const FEED_COLUMNS = 'id, ts, site, path, host, title, referrer, browser, os, device, country'
const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** bigint and numeric (sums) as JavaScript numbers: every figure here stays below 2^53. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format)
  },
}

/** The query that was running fails with the same error, and the caller handles that one. */
function ignore(): void {}

/**
 * PostgreSQL unreachable (a socket error, a connect timeout, a dropped connection, SQLSTATE class 08,
 * a shutdown 57P01-57P03, too many connections 53300) becomes LS_ERR_STORE_UNAVAILABLE (503, "try
 * later"); an error in a statement stays what it is.
 */
export function storeError(err: unknown): unknown {
  if (err instanceof LivestatsError) return err
  const code = (err as { code?: unknown } | null)?.code
  const sqlState = typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null
  if (sqlState === null || sqlState.startsWith('08') || /^57P0[123]$/.test(sqlState) || sqlState === '53300') {
    return new LivestatsError('LS_ERR_STORE_UNAVAILABLE', `PostgreSQL is unavailable: ${(err as Error | null)?.message ?? String(err)}`)
  }
  return err
}

function filtered(range: Range): range is Range & { filters: readonly Filter[] } {
  return range.filters !== undefined && range.filters.length > 0
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new LivestatsError('LS_ERR_BAD_QUERY', `limit must be an integer from 1 to ${MAX_LIMIT}`)
  }
}

/** The connection string without Livestats' own `schema` parameter, and that schema. */
export function parsePostgresUrl(url: string): { connectionString: string; schema: string | null } {
  const u = new URL(url)
  const schema = u.searchParams.get('schema')
  u.searchParams.delete('schema')
  return { connectionString: u.toString(), schema }
}

/** A page-hour of rollup_engaged being added up by one appendSessions. */
interface EngagedRow {
  views: number
  engaged: number
  writing: number
  scrollViews: number
  scrollSum: number
}

export class PostgresStore implements Store {
  readonly kind = 'postgres'
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly filteredQ: PgFiltered
  /** The writer shard of the last transaction: appends take turns over PG_SHARDS, from a random start per instance. */
  private shard = Math.floor(Math.random() * PG_SHARDS)
  private readonly pruneChunk: number

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    const { connectionString, schema } = parsePostgresUrl(url)
    this.schema = opts.schema ?? schema ?? 'livestats'
    if (!SCHEMA_NAME.test(this.schema)) throw new LivestatsError('LS_ERR_CONFIG', `Invalid PostgreSQL schema name "${this.schema}"`)
    this.pool = new pg.Pool({
      connectionString,
      max: opts.poolMax ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      statement_timeout: opts.statementTimeoutMs ?? 30_000,
      options: `-c search_path=${quoteIdent(this.schema)}`,
      types,
    })
    // an idle connection that dies (PostgreSQL restarted) must not crash the hub; the next query reconnects
    this.pool.on('error', ignore)
    // every read goes through pool.query: an outage answers 503 with the store's code, not 500
    const query = this.pool.query.bind(this.pool) as (text: string, values?: unknown[]) => Promise<pg.QueryResult>
    this.pool.query = ((text: string, values?: unknown[]) => query(text, values).catch((err: unknown) => {
      throw storeError(err)
    })) as typeof this.pool.query
    this.filteredQ = new PgFiltered(this.pool)
    this.pruneChunk = Math.max(1, Math.floor(opts.pruneChunk ?? 5000))
  }

  async init(): Promise<void> {
    const c = await this.pool.connect()
    c.on('error', ignore)
    try {
      await migratePg(c, this.schema)
    } finally {
      c.off('error', ignore)
      c.release()
    }
  }

  /** Runs `body` in a transaction on one connection; resolves after COMMIT returned. */
  private async tx<T>(body: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect().catch((err: unknown) => {
      throw storeError(err)
    })
    // a connection that dies while checked out emits 'error' (besides failing the query): without a
    // listener that would be an uncaught exception and end the hub
    c.on('error', ignore)
    let broken: Error | undefined
    try {
      await c.query('BEGIN')
      const out = await body(c)
      await c.query('COMMIT')
      return out
    } catch (err) {
      await c.query('ROLLBACK').catch((e: Error) => {
        broken = e
      })
      throw storeError(err)
    } finally {
      // a connection that failed mid-transaction is dropped, not handed to the next caller
      c.off('error', ignore)
      c.release(broken)
    }
  }

  async append(events: readonly StoredEvent[]): Promise<AppendResult> {
    if (events.length === 0) return { stored: 0, duplicates: 0, fresh: [] }
    this.shard = (this.shard + 1) % PG_SHARDS
    const w = this.shard
    return this.tx((c) => appendTx(c, this.schema, w, events))
  }

  async series(range: Range, bucket: Bucket): Promise<SeriesPoint[]> {
    const { from, n } = pointsOf(range.from, range.to, bucket)
    const size = BUCKET_MS[bucket]
    const out = new Array<SeriesPoint>(n)
    for (let i = 0; i < n; i++) out[i] = { t: from + i * size, pageviews: 0, visitors: 0 }
    if (n === 0) return out
    if (filtered(range)) {
      await this.filteredQ.series(range.site, from, size, out, range.filters)
      return out
    }
    const r = await this.pool.query<{ t: number; pageviews: number; visitors: number }>(`SELECT t, sum(pageviews) AS pageviews,
      sum(visitors) AS visitors FROM rollup_series WHERE site = $1 AND bucket = $2 AND t >= $3 AND t < $4 GROUP BY t`, [range.site, BUCKETS.indexOf(bucket), from, from + n * size])
    for (const row of r.rows) {
      const p = out[(row.t - from) / size]
      if (p !== undefined) {
        p.pageviews = row.pageviews
        p.visitors = row.visitors
      }
    }
    return out
  }

  /** The separate calls, concurrently (each on a connection of the pool): see view.ts. */
  async view(range: Range, opts: ViewOptions): Promise<HistoryView> {
    checkLimit(opts.limit)
    return composeView(this, range, opts)
  }

  /** Hour resolution: every hour that overlaps the range counts whole. */
  async top(range: Range, dim: Dimension, limit: number): Promise<TopRow[]> {
    checkLimit(limit)
    const visitDim = isVisitDimension(dim)
    if (!visitDim && !Object.hasOwn(DIM_CODE, dim)) throw new LivestatsError('LS_ERR_BAD_QUERY', `Unknown dimension ${String(dim)}`)
    const { from, to } = alignRange(range.from, range.to, HOUR)
    if (filtered(range)) return this.filteredQ.top(range.site, dim, from, to, limit, range.filters)
    if (visitDim) {
      // the referrer list's NO_VALUE row: the range's visits (rollup_visits at the same alignment) less those of every referrer
      const none = listsNone(dim)
      const [r, all] = await Promise.all([this.pool.query<Required<Pick<TopRow, 'value' | 'pageviews' | 'visits' | 'bounces' | 'durationMs'>> & Partial<Listed>>(
        `SELECT value, sum(pageviews) AS pageviews, sum(visits) AS visits, sum(bounces) AS bounces, sum(duration) AS "durationMs"
        ${none ? `, sum(sum(visits)) OVER () AS "listedVisits", sum(sum(bounces)) OVER () AS "listedBounces",
          sum(sum(pageviews)) OVER () AS "listedPageviews", sum(sum(duration)) OVER () AS "listedDuration"` : ''}
        FROM rollup_vtop WHERE site = $1 AND dim = $2 AND t >= $3 AND t < $4 GROUP BY value HAVING sum(visits) > 0
        ORDER BY 3 DESC, value COLLATE "C" LIMIT $5`, [range.site, VISIT_DIM_CODE[dim], from, to, limit]),
      none ? this.visitTotals({ ...range, from, to, filters: [] }) : null])
      if (all === null) return r.rows
      const first = r.rows[0] as Listed | undefined
      const listed = { ...zeroSums(), visits: first?.listedVisits ?? 0, bounces: first?.listedBounces ?? 0,
        pageviews: first?.listedPageviews ?? 0, durationMs: first?.listedDuration ?? 0 }
      const own = r.rows.map((x) => ({ value: x.value, pageviews: x.pageviews, visits: x.visits, bounces: x.bounces, durationMs: x.durationMs }))
      return withNone(own, all, listed, limit)
    }
    const r = await this.pool.query<TopRow>(`SELECT value, sum(pageviews) AS pageviews FROM rollup_top
      WHERE site = $1 AND dim = $2 AND t >= $3 AND t < $4 GROUP BY value HAVING sum(pageviews) > 0
      ORDER BY 2 DESC, value COLLATE "C" LIMIT $5`, [range.site, DIM_CODE[dim], from, to, limit])
    const rows = r.rows
    if (dim === 'page' && rows.length > 0) {
      const e = await this.pool.query<{ path: string; views: number; engaged: number; writing: number; scrollViews: number; scrollSum: number }>(
        `SELECT path, sum(views) AS views, sum(engaged_ms) AS engaged, sum(writing_ms) AS writing,
        sum(scroll_views) AS "scrollViews", sum(scroll_sum) AS "scrollSum" FROM rollup_engaged
        WHERE site = $1 AND t >= $2 AND t < $3 AND path = ANY($4) GROUP BY path`, [range.site, from, to, rows.map((x) => x.value)])
      for (const x of e.rows) {
        const row = rows.find((y) => y.value === x.path)
        if (row === undefined) continue
        Object.assign(row, { engagedViews: x.views, engagedMs: x.engaged, writingMs: x.writing })
        if (x.scrollViews > 0) Object.assign(row, { scrollViews: x.scrollViews, scrollSum: x.scrollSum })
      }
    }
    return rows
  }

  /** Hour resolution, like `top`; from the raw custom events (their JSON properties). */
  async eventTop(range: Range, dim: EventDimension, limit: number): Promise<EventRow[]> {
    checkLimit(limit)
    if (dim !== 'event' && dim !== 'prop' && !(dim.startsWith('prop:') && dim.length > 5)) {
      throw new LivestatsError('LS_ERR_BAD_QUERY', `Unknown custom event dimension ${String(dim)}`)
    }
    const { from, to } = alignRange(range.from, range.to, HOUR)
    return this.filteredQ.eventTop(range.site, dim, from, to, limit, range.filters ?? [])
  }

  /**
   * Minute resolution, like `totals`. A page pattern runs over the distinct paths of the page
   * rollup's hours that overlap the range (every stored page view's path is there).
   */
  async conversions(range: Range, goals: readonly GoalSpec[]): Promise<GoalFigures[]> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    if (from === to) return goals.map(() => ({ visitors: 0, conversions: 0 }))
    let known: string[] | null = null
    const out: GoalFigures[] = []
    for (const g of goals) {
      let paths: string[] = []
      if (g.kind === 'page') {
        if (!g.page.includes('*')) paths = [g.page]
        else {
          known ??= (await this.pool.query<{ value: string }>(`SELECT DISTINCT value FROM rollup_top WHERE site = $1 AND dim = $2
            AND t >= $3 AND t < $4`, [range.site, DIM_CODE.page, floorTo(from, HOUR), to])).rows.map((r) => r.value)
          const test = compilePage(g.page)
          paths = known.filter(test)
        }
      }
      out.push(await this.filteredQ.conversion(range.site, from, to, range.filters ?? [], g, paths))
    }
    return out
  }

  /** Minute resolution, by visit start, from the visit rollups. */
  /**
   * Minute resolution, by visit start, like `visitTotals` (goals/funnel.ts). A page pattern runs over
   * the distinct paths of the page rollup's hours from the range's start on (a visit that started
   * in the range may go on after its end).
   */
  async funnel(range: Range, steps: readonly GoalSpec[]): Promise<FunnelStepCount[]> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    if (from === to) return steps.map(() => ({ visits: 0, visitors: 0 }))
    let known: string[] | null = null
    const paths = async (): Promise<string[]> => (known ??= (await this.pool.query<{ value: string }>(`SELECT DISTINCT value
      FROM rollup_top WHERE site = $1 AND dim = $2 AND t >= $3`, [range.site, DIM_CODE.page, floorTo(from, HOUR)])).rows.map((r) => r.value))
    return pgFunnel(this.pool, range.site, from, to, range.filters ?? [], steps, paths)
  }

  async visitTotals(range: Range): Promise<VisitTotals> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    if (from === to) return zeroSums()
    if (filtered(range)) return this.filteredQ.visitTotals(range.site, from, to, range.filters)
    const spans = coverRange(from, to)
    const r = await this.pool.query<VisitTotals>(`SELECT coalesce(sum(visits), 0) AS visits, coalesce(sum(bounces), 0) AS bounces,
      coalesce(sum(pageviews), 0) AS pageviews, coalesce(sum(duration), 0) AS "durationMs",
      coalesce(sum(engaged_visits), 0) AS "engagedVisits", coalesce(sum(engaged_ms), 0) AS "engagedMs",
      coalesce(sum(writing_ms), 0) AS "writingMs"
      FROM rollup_visits r JOIN unnest($2::smallint[], $3::bigint[], $4::bigint[]) AS s(g, a, b)
      ON r.bucket = s.g AND r.t >= s.a AND r.t < s.b WHERE r.site = $1`,
    [range.site, spans.map((s) => BUCKETS.indexOf(s.bucket)), spans.map((s) => s.from), spans.map((s) => s.to)])
    return r.rows[0] ?? zeroSums()
  }

  /**
   * Minute resolution. Pageviews sum a few hundred rollup rows at most (coverRange). Visitors come
   * from the rollup row when the range is exactly one minute, hour or day, else from
   * COUNT(DISTINCT visitor) over the raw events (pruned ones are not counted).
   */
  async totals(range: Range): Promise<{ pageviews: number; visitors: number }> {
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    if (from === to) return { pageviews: 0, visitors: 0 }
    if (filtered(range)) return this.filteredQ.totals(range.site, from, to, range.filters)
    const spans = coverRange(from, to)
    const p = await this.pool.query<{ n: number }>(`SELECT coalesce(sum(pageviews), 0) AS n FROM rollup_series r
      JOIN unnest($2::smallint[], $3::bigint[], $4::bigint[]) AS s(g, a, b) ON r.bucket = s.g AND r.t >= s.a AND r.t < s.b
      WHERE r.site = $1`, [range.site, spans.map((s) => BUCKETS.indexOf(s.bucket)), spans.map((s) => s.from), spans.map((s) => s.to)])
    const pageviews = p.rows[0]?.n ?? 0
    const g = BUCKETS.findIndex((b) => BUCKET_MS[b] === to - from && from % BUCKET_MS[b] === 0)
    if (g >= 0) {
      const one = await this.pool.query<{ visitors: number }>('SELECT sum(visitors) AS visitors FROM rollup_series WHERE site = $1 AND bucket = $2 AND t = $3',
        [range.site, g, from])
      return { pageviews, visitors: one.rows[0]?.visitors ?? 0 }
    }
    const v = await this.pool.query<{ n: number }>(`SELECT count(DISTINCT visitor) AS n FROM events WHERE site = $1
      AND type = 'pageview' AND NOT bot AND ts >= $2 AND ts < $3`, [range.site, from, to])
    return { pageviews, visitors: v.rows[0]?.n ?? 0 }
  }

  /** Minute resolution, like `totals` (see SqliteStore.bots). */
  async bots(range: Range): Promise<number> {
    if (!(range.to > range.from)) return 0
    const { from, to } = alignRange(range.from, range.to, BUCKET_MS.minute)
    const r = await this.pool.query<{ n: number }>(`SELECT count(*) AS n FROM events WHERE site = $1 AND type = 'pageview'
      AND ts >= $2 AND ts < $3 AND bot`, [range.site, from, to])
    return r.rows[0]?.n ?? 0
  }

  /**
   * Counted pageviews (human, with a visitor, as SQLite's `pv` rows: ingest sets one on every web
   * event), newest first; all sites: each site's newest `limit` through its index, merged.
   */
  async feed(site: string | null, limit: number, before?: number): Promise<FeedRow[]> {
    checkLimit(limit)
    const end = before ?? NO_END
    if (site !== null) {
      const r = await this.pool.query<FeedRow>(`SELECT ${FEED_COLUMNS} FROM events WHERE site = $1 AND type = 'pageview'
        AND NOT bot AND visitor IS NOT NULL AND ts < $2 ORDER BY ts DESC LIMIT $3`, [site, end, limit])
      return r.rows
    }
    const r = await this.pool.query<FeedRow>(`SELECT f.* FROM (SELECT DISTINCT name FROM sites) s CROSS JOIN LATERAL (SELECT ${FEED_COLUMNS} FROM events
      WHERE site = s.name AND type = 'pageview' AND NOT bot AND visitor IS NOT NULL AND ts < $1 ORDER BY ts DESC LIMIT $2) f ORDER BY f.ts DESC LIMIT $2`, [end, limit])
    return r.rows
  }

  async sites(): Promise<{ site: string; first: number; last: number }[]> {
    const r = await this.pool.query<{ site: string; first: number; last: number }>(
      'SELECT name AS site, min(first) AS first, max(last) AS last FROM sites GROUP BY name ORDER BY name COLLATE "C"')
    return r.rows
  }

  async countEvents(site?: string): Promise<number> {
    const r = site === undefined
      ? await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM events')
      : await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM events WHERE site = $1', [site])
    return r.rows[0]?.n ?? 0
  }

  /**
   * Deletes raw events older than `before`, visits that ended before it (a visit goes with its
   * last page view), and the `visitor_seen` rows of buckets that ended by then. Rollups stay. One
   * statement per table and site, the raw events in chunks of `pruneChunk`, each its own transaction.
   */
  async prune(before: number): Promise<number> {
    let deleted = 0
    const sites = await this.pool.query<{ name: string }>('SELECT DISTINCT name FROM sites')
    for (const { name } of sites.rows) {
      await this.pool.query('DELETE FROM visits WHERE site = $1 AND start_ms < $2 AND end_ms < $2', [name, before])
      for (let g = 0; g < BUCKETS.length; g++) {
        const size = BUCKET_MS[BUCKETS[g] as Bucket]
        await this.pool.query('DELETE FROM visitor_seen WHERE site = $1 AND bucket = $2 AND t <= $3', [name, g, before - size])
      }
      // in chunks through the (site, type, ts) index, each its own short transaction: a prune of
      // months never holds one long transaction (nor runs into statement_timeout)
      for (const type of STORED_TYPES) {
        for (;;) {
          const r = await this.pool.query(`DELETE FROM events WHERE ctid = ANY(ARRAY(SELECT ctid FROM events
            WHERE site = $1 AND type = $2 AND ts < $3 LIMIT $4))`, [name, type, before, this.pruneChunk])
          const n = r.rowCount ?? 0
          deleted += n
          if (n < this.pruneChunk) break
        }
      }
    }
    return deleted
  }

  async appendLiveSamples(samples: readonly LiveSample[]): Promise<void> {
    if (samples.length === 0) return
    // one row per (site, minute): the last sample of a key in the batch wins, as a replace would
    const last = new Map<string, LiveSample>()
    for (const s of samples) last.set(`${s.site}\0${s.minute}`, s)
    const rows = [...last.values()].sort((a, b) => (a.site < b.site ? -1 : a.site > b.site ? 1 : a.minute - b.minute))
    const col = (f: (s: LiveSample) => number): number[] => rows.map(f)
    await this.pool.query(`INSERT INTO live_minute (site, minute, total_max, total_mean, reading_max, reading_mean,
      writing_max, writing_mean, idle_max, idle_mean)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
        $8::float8[], $9::float8[], $10::float8[])
      ON CONFLICT (site, minute) DO UPDATE SET total_max = excluded.total_max, total_mean = excluded.total_mean,
      reading_max = excluded.reading_max, reading_mean = excluded.reading_mean, writing_max = excluded.writing_max,
      writing_mean = excluded.writing_mean, idle_max = excluded.idle_max, idle_mean = excluded.idle_mean`, [
      rows.map((s) => s.site), col((s) => s.minute), col((s) => s.totalMax), col((s) => s.totalMean), col((s) => s.readingMax),
      col((s) => s.readingMean), col((s) => s.writingMax), col((s) => s.writingMean), col((s) => s.idleMax), col((s) => s.idleMean),
    ])
  }

  /** Only buckets that hold samples: a gap means the hub was down, not that nobody was there. */
  async liveHistory(range: Range, bucket: Bucket): Promise<LiveSample[]> {
    const { from, to } = pointsOf(range.from, range.to, bucket)
    const r = await this.pool.query<LiveSample>(`SELECT site, minute - (minute % $1) AS minute,
      max(total_max) AS "totalMax", avg(total_mean) AS "totalMean", max(reading_max) AS "readingMax",
      avg(reading_mean) AS "readingMean", max(writing_max) AS "writingMax", avg(writing_mean) AS "writingMean",
      max(idle_max) AS "idleMax", avg(idle_mean) AS "idleMean"
      FROM live_minute WHERE site = $2 AND minute >= $3 AND minute < $4
      GROUP BY site, minute - (minute % $1) ORDER BY 2`, [BUCKET_MS[bucket], range.site, from, to])
    return r.rows
  }

  /**
   * Idempotent by session id. Engaged time goes to page views and visits once, with the session's
   * first write, under the same visitor locks as appends (so a visit and its rollups move together).
   */
  async appendSessions(sessions: readonly SessionRecord[]): Promise<void> {
    if (sessions.length === 0) return
    await this.tx(async (c) => {
      await lockVisitors(c, sessions.filter((s) => s.pages !== undefined && s.pages.length > 0)
        .map((s) => visitorLock(this.schema, s.site, s.visitor)))
      const rows = [...new Map(sessions.map((s) => [s.id, s])).values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      const col = <T>(f: (s: SessionRecord) => T): T[] => rows.map(f)
      const r = await c.query<{ id: string }>(`INSERT INTO sessions (id, site, visitor, started, ended, pageviews, reading_ms,
        writing_ms, idle_ms, hidden_ms, entry, exit)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::int[], $7::bigint[],
          $8::bigint[], $9::bigint[], $10::bigint[], $11::text[], $12::text[])
        ON CONFLICT DO NOTHING RETURNING id`, [
        col((s) => s.id), col((s) => s.site), col((s) => s.visitor), col((s) => s.started), col((s) => s.ended),
        col((s) => s.pageviews), col((s) => s.readingMs), col((s) => s.writingMs), col((s) => s.idleMs), col((s) => s.hiddenMs),
        col((s) => s.entry), col((s) => s.exit),
      ])
      const fresh = new Set(r.rows.map((x) => x.id))
      const idx = new SiteIndex()
      const deltas = new VisitDeltas()
      const engagedRows = new Map<string, EngagedRow>()
      for (const s of rows) {
        if (!fresh.has(s.id) || s.pages === undefined) continue
        for (const p of s.pages) await this.engage(c, s, p, idx, deltas, engagedRows)
      }
      const keys = [...engagedRows.keys()].sort()
      if (keys.length > 0) {
        const parts = keys.map((k) => k.split('\0'))
        await c.query(`INSERT INTO rollup_engaged (site, t, path, views, engaged_ms, writing_ms, scroll_views, scroll_sum)
          SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
          ON CONFLICT (site, t, path) DO UPDATE SET views = rollup_engaged.views + excluded.views,
          engaged_ms = rollup_engaged.engaged_ms + excluded.engaged_ms, writing_ms = rollup_engaged.writing_ms + excluded.writing_ms,
          scroll_views = rollup_engaged.scroll_views + excluded.scroll_views, scroll_sum = rollup_engaged.scroll_sum + excluded.scroll_sum`, [
          parts.map((x) => x[0]), parts.map((x) => Number(x[1])), parts.map((x) => x.slice(2).join('\0')),
          keys.map((k) => engagedRows.get(k)?.views ?? 0), keys.map((k) => engagedRows.get(k)?.engaged ?? 0),
          keys.map((k) => engagedRows.get(k)?.writing ?? 0), keys.map((k) => engagedRows.get(k)?.scrollViews ?? 0),
          keys.map((k) => engagedRows.get(k)?.scrollSum ?? 0),
        ])
      }
      this.shard = (this.shard + 1) % PG_SHARDS
      await writeVisitDeltas(c, this.shard, idx, deltas)
    })
  }

  /**
   * One stint: its page view (when viewed and stored) and its visit get the reading + writing time;
   * the page view keeps its deepest scroll, and the rollup counts each page view's depth once.
   */
  private async engage(c: pg.PoolClient, s: SessionRecord, p: NonNullable<SessionRecord['pages']>[number], idx: SiteIndex,
    deltas: VisitDeltas, engagedRows: Map<string, EngagedRow>): Promise<void> {
    const engaged = p.readingMs + p.writingMs
    if (p.viewed) {
      const match = `site = $1 AND type = 'pageview' AND ts = $2 AND visitor = $3 AND path = $4 AND NOT bot`
      const key = [s.site, p.at, s.visitor, p.path]
      // what the page view held before (the visitor's lock is held): a new depth counts once, a deeper one its difference
      const was = p.scroll === undefined ? null : (await c.query<{ scroll: number | null }>(`SELECT scroll FROM events WHERE ${match} LIMIT 1`, key)).rows[0]
      // greatest() skips nulls: no report keeps the stored depth
      const r = await c.query(`UPDATE events SET engaged_ms = coalesce(engaged_ms, 0) + $5, writing_ms = coalesce(writing_ms, 0) + $6,
        scroll = greatest(scroll, $7::smallint) WHERE ${match}`, [...key, engaged, p.writingMs, p.scroll ?? null])
      if ((r.rowCount ?? 0) > 0) {
        const k = `${s.site}\0${floorTo(p.at, HOUR)}\0${p.path}`
        const row = engagedRows.get(k) ?? { views: 0, engaged: 0, writing: 0, scrollViews: 0, scrollSum: 0 }
        row.views++
        row.engaged += engaged
        row.writing += p.writingMs
        if (p.scroll !== undefined && was !== undefined && was !== null) {
          if (was.scroll === null) row.scrollViews++
          row.scrollSum += was.scroll === null ? p.scroll : Math.max(0, p.scroll - was.scroll)
        }
        engagedRows.set(k, row)
      }
    }
    const v = await visitAt(c, s.site, s.visitor, p.at)
    if (v === null) return
    const sid = idx.of(s.site)
    deltas.remove(sid, { ...v })
    v.engagedN++
    v.engagedMs += engaged
    v.writingMs += p.writingMs
    deltas.add(sid, v)
    await c.query('UPDATE visits SET engaged_n = $1, engaged_ms = $2, writing_ms = $3 WHERE id = $4', [v.engagedN, v.engagedMs, v.writingMs, v.id])
  }

  async appendProcessMinutes(rows: readonly ProcessMinute[]): Promise<void> {
    if (rows.length === 0) return
    const last = new Map<string, ProcessMinute>()
    for (const m of rows) last.set(`${m.app}\0${m.instance}\0${m.t}`, m)
    const ms = [...last.values()]
    const col = <T>(f: (m: ProcessMinute) => T): T[] => ms.map(f)
    await this.pool.query(`INSERT INTO process_minute (app, instance, t, sent, received, read, written, jobs, failed, hist,
      min, max, cpu, rss, heap_used, lag, samples, http)
      SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
        $8::int[], $9::int[], $10::text[], $11::float8[], $12::float8[], $13::float8[], $14::float8[], $15::float8[],
        $16::float8[], $17::int[], $18::text[])
      ON CONFLICT (app, instance, t) DO UPDATE SET sent = excluded.sent, received = excluded.received, read = excluded.read,
      written = excluded.written, jobs = excluded.jobs, failed = excluded.failed, hist = excluded.hist, min = excluded.min,
      max = excluded.max, cpu = excluded.cpu, rss = excluded.rss, heap_used = excluded.heap_used, lag = excluded.lag,
      samples = excluded.samples, http = excluded.http`, [
      col((m) => m.app), col((m) => m.instance), col((m) => m.t), col((m) => m.sent), col((m) => m.received), col((m) => m.read),
      col((m) => m.written), col((m) => m.jobs), col((m) => m.failed), col((m) => JSON.stringify(m.hist)), col((m) => m.min),
      col((m) => m.max), col((m) => m.cpu), col((m) => m.rss), col((m) => m.heapUsed), col((m) => m.lag), col((m) => m.samples),
      col((m) => (m.http ? JSON.stringify(m.http) : null)),
    ])
  }

  async processMinutes(from: number, to: number): Promise<ProcessMinute[]> {
    const r = await this.pool.query<Omit<ProcessMinute, 'hist' | 'http'> & { hist: string; http: string | null }>(`SELECT app,
      instance, t, sent, received, read, written, jobs, failed, hist, min, max, cpu, rss, heap_used AS "heapUsed", lag, samples,
      http FROM process_minute
      WHERE t >= $1 AND t < $2 ORDER BY t, app COLLATE "C", instance COLLATE "C"`, [from, to])
    return r.rows.map((x) => ({ ...x, hist: JSON.parse(x.hist) as number[], http: parseHttp(x.http) }))
  }

  async getMeta(key: string): Promise<string | null> {
    const r = await this.pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [key])
    return r.rows[0]?.value ?? null
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.pool.query('INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value])
  }

  async deleteMeta(key: string): Promise<void> {
    await this.pool.query('DELETE FROM meta WHERE key = $1', [key])
  }

  async listMeta(prefix: string): Promise<{ key: string; value: string }[]> {
    const r = await this.pool.query<{ key: string; value: string }>(
      'SELECT key, value FROM meta WHERE left(key, length($1)) = $1 ORDER BY key COLLATE "C"', [prefix])
    return r.rows
  }

  private closed = false

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.end()
  }
}

/**
 * Opens a PostgreSQL store; call `init()` before use. `?schema=NAME` in the URL picks the schema.
 * @example
 * const store = createPostgresStore('postgres://livestats@db.internal/livestats')
 * await store.init()
 */
export function createPostgresStore(url: string, opts?: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(url, opts)
}
