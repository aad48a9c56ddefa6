/**
 * PostgreSQL schema as an ordered list of migrations (append only, never renumber). `migrate`
 * applies the missing ones in one transaction under a transaction-level advisory lock, so N hub
 * processes starting at once migrate once: the first takes the lock and migrates, the others wait
 * for its COMMIT, then read the new version and apply nothing. `ls_schema` records each version.
 *
 * Every table lives in the schema the pool's `search_path` names (`?schema=` in the store URL),
 * so tests and several hubs can share one database without seeing each other's rows.
 */
import type { PoolClient } from 'pg'

/** Site names are text here (SQLite maps them to small ids): joins with events need no lookup. */
const MIGRATIONS: readonly string[] = [
  // 1: everything the SQLite store has at its schema 10, in PostgreSQL types.
  `
  CREATE TABLE events (
    site text NOT NULL, type text NOT NULL, id text NOT NULL, ts bigint NOT NULL,
    visitor text, cid text, host text, path text, title text, referrer text, ref_host text,
    utm_source text, utm_medium text, utm_campaign text, utm_term text, keyword text,
    browser text, os text, device text, bot boolean NOT NULL, country text, region text, city text,
    screen integer, language text, name text, data text, instance text,
    -- presence's reading + writing and writing time for a page view, once a session reported it
    engaged_ms bigint, writing_ms bigint,
    -- the dedupe key: an id is unique within its site or app and its type (types.ts StoredEvent.id)
    PRIMARY KEY (site, type, id)
  );
  -- feed, exact visitors over a range, bots, per-site counts, prune, filtered scans
  CREATE INDEX events_site_type_ts ON events (site, type, ts, bot, visitor);

  CREATE TABLE sites (name text PRIMARY KEY, first bigint NOT NULL, last bigint NOT NULL);

  -- bucket: 0 minute, 1 hour, 2 day (BUCKETS in time.ts)
  CREATE TABLE rollup_series (
    site text NOT NULL, bucket smallint NOT NULL, t bigint NOT NULL,
    pageviews bigint NOT NULL, visitors bigint NOT NULL,
    PRIMARY KEY (site, bucket, t)
  );
  -- Who was counted in a bucket: the primary key decides which of N writers counts a visitor first.
  CREATE TABLE visitor_seen (
    site text NOT NULL, bucket smallint NOT NULL, t bigint NOT NULL, visitor text NOT NULL,
    PRIMARY KEY (site, bucket, t, visitor)
  );
  -- dim: index into DIMENSIONS in rollup.ts; t: hour start
  CREATE TABLE rollup_top (
    site text NOT NULL, dim smallint NOT NULL, t bigint NOT NULL, value text NOT NULL,
    pageviews bigint NOT NULL,
    PRIMARY KEY (site, dim, t, value)
  );

  -- visits (visits.ts): always in the rollups; every change moves its figures there at once
  CREATE TABLE visits (
    id bigserial PRIMARY KEY,
    site text NOT NULL, visitor text NOT NULL,
    start_ms bigint NOT NULL, end_ms bigint NOT NULL, pageviews integer NOT NULL,
    entry text, exit text, ref_host text, utm_source text, utm_medium text, utm_campaign text, utm_term text,
    keyword text, country text, region text, city text, browser text, os text, device text,
    engaged_n integer NOT NULL DEFAULT 0, engaged_ms bigint NOT NULL DEFAULT 0, writing_ms bigint NOT NULL DEFAULT 0
  );
  -- a visitor's visits near a time (joining page views, attributing events and engaged time)
  CREATE INDEX visits_visitor ON visits (site, visitor, end_ms);
  -- ranges by visit start (filtered queries), prune
  CREATE INDEX visits_start ON visits (site, start_ms);
  CREATE TABLE rollup_visits (
    site text NOT NULL, bucket smallint NOT NULL, t bigint NOT NULL,
    visits bigint NOT NULL, bounces bigint NOT NULL, pageviews bigint NOT NULL, duration bigint NOT NULL,
    engaged_visits bigint NOT NULL, engaged_ms bigint NOT NULL, writing_ms bigint NOT NULL,
    PRIMARY KEY (site, bucket, t)
  );
  -- dim: index into VISIT_DIMENSIONS in visits.ts; t: hour of visit start
  CREATE TABLE rollup_vtop (
    site text NOT NULL, dim smallint NOT NULL, t bigint NOT NULL, value text NOT NULL,
    visits bigint NOT NULL, bounces bigint NOT NULL, pageviews bigint NOT NULL, duration bigint NOT NULL,
    PRIMARY KEY (site, dim, t, value)
  );
  CREATE TABLE rollup_engaged (
    site text NOT NULL, t bigint NOT NULL, path text NOT NULL,
    views bigint NOT NULL, engaged_ms bigint NOT NULL, writing_ms bigint NOT NULL,
    PRIMARY KEY (site, t, path)
  );

  CREATE TABLE live_minute (
    site text NOT NULL, minute bigint NOT NULL,
    total_max double precision NOT NULL, total_mean double precision NOT NULL,
    reading_max double precision NOT NULL, reading_mean double precision NOT NULL,
    writing_max double precision NOT NULL, writing_mean double precision NOT NULL,
    idle_max double precision NOT NULL, idle_mean double precision NOT NULL,
    PRIMARY KEY (site, minute)
  );
  CREATE TABLE sessions (
    id text PRIMARY KEY, site text NOT NULL, visitor text NOT NULL,
    started bigint NOT NULL, ended bigint NOT NULL, pageviews integer NOT NULL,
    reading_ms bigint NOT NULL, writing_ms bigint NOT NULL, idle_ms bigint NOT NULL, hidden_ms bigint NOT NULL,
    entry text, exit text
  );
  CREATE INDEX sessions_site_started ON sessions (site, started);
  CREATE TABLE process_minute (
    app text NOT NULL, instance text NOT NULL, t bigint NOT NULL,
    sent double precision NOT NULL, received double precision NOT NULL, read double precision NOT NULL,
    written double precision NOT NULL, jobs integer NOT NULL, failed integer NOT NULL, hist text NOT NULL,
    min double precision, max double precision NOT NULL, cpu double precision NOT NULL, rss double precision NOT NULL,
    heap_used double precision NOT NULL, lag double precision NOT NULL, samples integer NOT NULL,
    PRIMARY KEY (app, instance, t)
  );
  CREATE INDEX process_minute_t ON process_minute (t);
  CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
  `,
  // 2: HTTP responses of a process minute (`t.http` in the tracker), as JSON; older minutes have none.
  `ALTER TABLE process_minute ADD COLUMN http text;`,
  // 3: scroll depth per page view (livestats-extras.js, data-scroll), the deepest point seen in
  // percent, from presence like engaged time; the page rollup sums it (SQLite's schema 12).
  `
  ALTER TABLE events ADD COLUMN scroll smallint;
  ALTER TABLE rollup_engaged ADD COLUMN scroll_views bigint NOT NULL DEFAULT 0,
    ADD COLUMN scroll_sum bigint NOT NULL DEFAULT 0;
  `,
  // 4: rollup rows and site rows per writer shard (`w`, 0-7, summed at read). Every append adds to
  // the current minute's, hour's and day's rows, the hot pages' and its site's: with one row each,
  // concurrent appends waited on each other's row locks until COMMIT; a transaction now writes the
  // rows of its own shard, so up to 8 appends (of any hubs) add to the same figures at once.
  `
  ALTER TABLE rollup_series ADD COLUMN w smallint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_series DROP CONSTRAINT rollup_series_pkey, ADD PRIMARY KEY (site, bucket, t, w);
  ALTER TABLE rollup_top ADD COLUMN w smallint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_top DROP CONSTRAINT rollup_top_pkey, ADD PRIMARY KEY (site, dim, t, value, w);
  ALTER TABLE rollup_visits ADD COLUMN w smallint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_visits DROP CONSTRAINT rollup_visits_pkey, ADD PRIMARY KEY (site, bucket, t, w);
  ALTER TABLE rollup_vtop ADD COLUMN w smallint NOT NULL DEFAULT 0;
  ALTER TABLE rollup_vtop DROP CONSTRAINT rollup_vtop_pkey, ADD PRIMARY KEY (site, dim, t, value, w);
  ALTER TABLE sites ADD COLUMN w smallint NOT NULL DEFAULT 0;
  ALTER TABLE sites DROP CONSTRAINT sites_pkey, ADD PRIMARY KEY (name, w);
  `,
]

/** Writer shards of the rollup and site rows (migration 4): a transaction writes the rows of one. */
export const PG_SHARDS = 8

export const PG_SCHEMA_VERSION = MIGRATIONS.length

/** Advisory lock key of migrations (any fixed 64-bit number; the schema name is the second key). */
const MIGRATE_LOCK = 0x4c53_4d49

/**
 * Brings the client's schema (created when missing) to PG_SCHEMA_VERSION and returns how many
 * migrations it applied. A schema from a newer Livestats is refused, not downgraded.
 */
export async function migratePg(client: PoolClient, schema: string): Promise<number> {
  await client.query('BEGIN')
  try {
    // the lock is per schema: hubs on other schemas of the same database do not wait on each other
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATE_LOCK, schema])
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
    await client.query(`CREATE TABLE IF NOT EXISTS ls_schema (version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now())`)
    const r = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM ls_schema')
    const current = r.rows[0]?.v ?? 0
    if (current > PG_SCHEMA_VERSION) {
      throw new Error(`PostgreSQL schema ${current} is newer than this Livestats (${PG_SCHEMA_VERSION})`)
    }
    for (let v = current; v < PG_SCHEMA_VERSION; v++) {
      await client.query(MIGRATIONS[v] as string)
      await client.query('INSERT INTO ls_schema (version) VALUES ($1)', [v + 1])
    }
    await client.query('COMMIT')
    return PG_SCHEMA_VERSION - current
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw err
  }
}

/** A schema name as a quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}
