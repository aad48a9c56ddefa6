/**
 * SQLite schema as an ordered list of migrations. `schema_version` in the `meta` table names the
 * last one applied; `migrate` applies the rest, each in its own transaction, so running it again
 * (a second `init()`, a restart) does nothing.
 */
import type Database from 'better-sqlite3'
import { factsMigration } from './sqlite-facts-schema'
import { postingsMigration } from './sqlite-postings'
import { VISITS_MIGRATION } from './sqlite-visits-schema'
import { Dict } from './sqlite-dict'
import { propsMigration } from './sqlite-props'
import { visitPostingsMigration } from './sqlite-visit-postings'
import { hourKeysMigration } from './sqlite-hour-keys'
import { chunksMigration, visitChunksMigration } from './sqlite-chunk-store'

const MIB = 1024 * 1024

export interface SqlitePragmas {
  busyTimeoutMs: number
  cacheMiB: number
  /** Bytes of the file read through a memory map, MiB; 0 reads every page with read(). */
  mmapMiB: number
  walCheckpointPages: number
}

/**
 * WAL lets readers run beside the one writer. synchronous=NORMAL in WAL mode syncs at checkpoints
 * only: a committed transaction is in the WAL file before COMMIT returns, so a SIGKILLed process
 * loses nothing committed (a power cut may lose the last few, which we accept for the throughput).
 * The checkpoint (the one fsync) runs inside the commit that fills the WAL past
 * `walCheckpointPages`; fewer, larger checkpoints cost the writer less time but stall the acks
 * waiting on that one commit longer (see SqliteStoreOptions).
 */
export function applyPragmas(db: Database.Database, p: SqlitePragmas): void {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma(`busy_timeout = ${Math.max(0, Math.floor(p.busyTimeoutMs))}`)
  db.pragma(`cache_size = -${Math.max(1, Math.floor(p.cacheMiB)) * 1024}`)
  // SQLite caps the map at its compile-time SQLITE_MAX_MMAP_SIZE (better-sqlite3: 0x7fff0000, just
  // under 2 GiB) and silently uses that for anything larger; see SqliteStoreOptions.mmapMiB.
  db.pragma(`mmap_size = ${Math.max(0, Math.floor(p.mmapMiB)) * MIB}`)
  db.pragma('temp_store = MEMORY')
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.floor(p.walCheckpointPages))}`)
  // Deleted content is overwritten with zeros, not left in free space: pruned events, a deleted meta
  // value and the IPs schema 6 dropped cannot be read back from the file. Inserts cost the same;
  // a prune writes its freed pages once more.
  db.pragma('secure_delete = ON')
}

/** Schema 4's third key column (schema 8 keys on `type` instead): 1 for web events, 0 for tracker events. */
const WEB_SCOPE = "type IN ('pageview', 'event', 'leave')"

/**
 * The raw events with no fact row (`pv`, `ce`) and outside events_bots: tracker events, bots'
 * custom events, and web events without a visitor (the store API allows them; ingest always sets
 * one). A query reads the partial index events_rest only with this exact expression in its WHERE.
 */
export const EVENTS_REST = "(type NOT IN ('pageview', 'event') OR (type = 'event' AND bot = 1) OR (bot = 0 AND visitor IS NULL))"

/** SQL to run, or a function for a migration that fills tables with more than SQL. */
type Migration = string | ((db: Database.Database) => void)

const MIGRATIONS: readonly Migration[] = [
  // 1: events, rollups, live samples, sessions.
  `
  CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    site TEXT NOT NULL,
    visitor TEXT, cid TEXT, host TEXT, path TEXT, title TEXT, referrer TEXT, ref_host TEXT,
    utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, browser TEXT, os TEXT, device TEXT,
    bot INTEGER NOT NULL,
    ip TEXT, country TEXT, screen INTEGER, language TEXT, name TEXT, data TEXT, instance TEXT
  );
  -- One index serves per-site feed, exact visitors over a range (covering: bot and visitor are in
  -- it), per-site counts and chunked prune. Few indexes keep append fast.
  CREATE INDEX events_site_type_ts ON events (site, type, ts, bot, visitor);
  -- The all-sites feed: human pageviews only, newest first.
  CREATE INDEX events_feed_ts ON events (ts) WHERE type = 'pageview' AND bot = 0;

  -- Rollups key sites by a small integer: rows stay short and the hot pages stay in cache.
  CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    first INTEGER NOT NULL,
    last INTEGER NOT NULL
  );
  -- bucket: 0 minute, 1 hour, 2 day (BUCKETS in time.ts).
  CREATE TABLE rollup_series (
    site INTEGER NOT NULL, bucket INTEGER NOT NULL, t INTEGER NOT NULL,
    pageviews INTEGER NOT NULL, visitors INTEGER NOT NULL,
    PRIMARY KEY (site, bucket, t)
  ) WITHOUT ROWID;
  -- dim: index into DIMENSIONS in rollup.ts; t: hour start.
  CREATE TABLE rollup_top (
    site INTEGER NOT NULL, dim INTEGER NOT NULL, t INTEGER NOT NULL, value TEXT NOT NULL,
    pageviews INTEGER NOT NULL,
    PRIMARY KEY (site, dim, t, value)
  ) WITHOUT ROWID;

  CREATE TABLE live_minute (
    site TEXT NOT NULL, minute INTEGER NOT NULL,
    total_max REAL NOT NULL, total_mean REAL NOT NULL,
    reading_max REAL NOT NULL, reading_mean REAL NOT NULL,
    writing_max REAL NOT NULL, writing_mean REAL NOT NULL,
    idle_max REAL NOT NULL, idle_mean REAL NOT NULL,
    PRIMARY KEY (site, minute)
  ) WITHOUT ROWID;

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL, visitor TEXT NOT NULL,
    started INTEGER NOT NULL, ended INTEGER NOT NULL, pageviews INTEGER NOT NULL,
    reading_ms INTEGER NOT NULL, writing_ms INTEGER NOT NULL, idle_ms INTEGER NOT NULL, hidden_ms INTEGER NOT NULL,
    entry TEXT, exit TEXT
  );
  CREATE INDEX sessions_site_started ON sessions (site, started);
  `,
  // 2: the all-sites feed merges each site's newest pageviews read through events_site_type_ts, so
  // this partial index no longer costs an extra B-tree insert on every pageview (~8% of append).
  `DROP INDEX IF EXISTS events_feed_ts;`,
  // 3: per-minute series of Node processes (the Services view's history survives a restart).
  `
  CREATE TABLE process_minute (
    app TEXT NOT NULL, instance TEXT NOT NULL, t INTEGER NOT NULL,
    sent REAL NOT NULL, received REAL NOT NULL, read REAL NOT NULL, written REAL NOT NULL,
    jobs INTEGER NOT NULL, failed INTEGER NOT NULL, hist TEXT NOT NULL, min REAL, max REAL NOT NULL,
    cpu REAL NOT NULL, rss REAL NOT NULL, heap_used REAL NOT NULL, lag REAL NOT NULL, samples INTEGER NOT NULL,
    PRIMARY KEY (app, instance, t)
  ) WITHOUT ROWID;
  CREATE INDEX process_minute_t ON process_minute (t);
  `,
  // 4: an event id is unique within its source's scope, no longer across the whole hub: a web event
  // within its site, a tracker event within its app (both in `site`), and web and tracker events
  // apart (the third key column). An id stored on one site or app can no longer make another
  // source's event a "duplicate". SQLite cannot change a table's key in place, so the table is copied.
  `
  CREATE TABLE events_v4 (
    id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    type TEXT NOT NULL,
    site TEXT NOT NULL,
    visitor TEXT, cid TEXT, host TEXT, path TEXT, title TEXT, referrer TEXT, ref_host TEXT,
    utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, browser TEXT, os TEXT, device TEXT,
    bot INTEGER NOT NULL,
    ip TEXT, country TEXT, screen INTEGER, language TEXT, name TEXT, data TEXT, instance TEXT
  );
  INSERT INTO events_v4 (id, ts, type, site, visitor, cid, host, path, title, referrer, ref_host, utm_source,
    utm_medium, utm_campaign, browser, os, device, bot, ip, country, screen, language, name, data, instance)
  SELECT id, ts, type, site, visitor, cid, host, path, title, referrer, ref_host, utm_source,
    utm_medium, utm_campaign, browser, os, device, bot, ip, country, screen, language, name, data, instance
  FROM events ORDER BY rowid;
  DROP TABLE events;
  ALTER TABLE events_v4 RENAME TO events;
  CREATE INDEX events_site_type_ts ON events (site, type, ts, bot, visitor);
  CREATE UNIQUE INDEX events_key ON events (site, id, ${WEB_SCOPE});
  `,
  // 5: the keyword dimension (utm_term or a search engine's query words); older rows have none.
  `ALTER TABLE events ADD COLUMN keyword TEXT;`,
  // 6: no IP on disk, not even a masked one (issue 10 item 5): beside the visitor hash and the
  // day's salt it gave the raw IP back in 256 guesses per user agent. The live feed's IP comes from
  // memory now, and the salts live in a key file (ingest/salt-file.ts). secure_delete (applyPragmas)
  // zeroes the dropped values in the file, and init() truncates the WAL after a migration.
  `ALTER TABLE events DROP COLUMN ip;`,
  // 7: visits (see visits.ts), kept at append, and their rollups; filled here from the raw page views.
  VISITS_MIGRATION,
  // 8: the dedupe key becomes (site, type, id): plain columns, where schema 4 indexed an expression
  // (site, id, web-or-tracker) that cost inserts about 40% more store CPU than the old id-only key;
  // this one costs about 10% (docs/benchmarks.md). Web and tracker events still never share a scope
  // (no type is both), and a resend has its type, so it stays a duplicate.
  `
  DROP INDEX events_key;
  CREATE UNIQUE INDEX events_key ON events (site, type, id);
  `,
  // 9: region and city, filled when the hub reads a city-level IP database (--geoip); older rows have none.
  `ALTER TABLE events ADD COLUMN region TEXT; ALTER TABLE events ADD COLUMN city TEXT;`,
  // 10: what filtered queries read (page view and custom event facts, a string dictionary, engaged
  // time per page), utm_term, and the source dimensions' visit rollups; filled from what is stored.
  factsMigration,
  // 11: HTTP responses of a process minute (`t.http` in the tracker), as JSON; older minutes have none.
  `ALTER TABLE process_minute ADD COLUMN http TEXT;`,
  // 12: custom event properties (issue 13.1), one row per property of a counted custom event;
  // filled from the events stored.
  (db) => propsMigration(db, new Dict(db)),
  // 13: scroll depth per page view (livestats-extras.js, data-scroll), the deepest point seen in
  // percent, from presence like engaged time; the page rollup sums it for the unfiltered top pages.
  `
  ALTER TABLE pv ADD COLUMN scroll INTEGER;
  ALTER TABLE rollup_engaged ADD COLUMN scroll_views INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE rollup_engaged ADD COLUMN scroll_sum INTEGER NOT NULL DEFAULT 0;
  `,
  // 14: funnels read each step's page views and custom events from covering indexes (`pv_path` went in 16).
  `
  CREATE INDEX pv_path ON pv (site, path, ts, visit, vid);
  CREATE INDEX ce_name ON ce (site, name, ts, visit, vid) WHERE visit IS NOT NULL;
  `,
  // 15: bot page views by time, on their own: the bot count every totals and overview answer
  // carries read every page view of the range through events_site_type_ts (a day of 10 million
  // events: ~330,000 index entries for ~10,000 bots); this partial index holds only the bots.
  `CREATE INDEX events_bots ON events (site, ts) WHERE type = 'pageview' AND bot = 1;`,
  // 16: page steps and page goals read page-view postings (sqlite-postings.ts), written off the
  // commit path, instead of `pv_path`, a random insert into a path-major b-tree for every page
  // view in the append transaction (about 10 of 60-70 µs per event); filled from the pv rows.
  postingsMigration,
  // 17: events_site_type_ts (site, type, ts, bot, visitor) goes: two strings and the visitor per
  // entry, written for every event, and what it answered the fact tables answer with integers
  // (sqlite.ts: counted page views from `pv`, raw columns through rowid = pv.rid). Pruning finds
  // raw events through their fact rows, bot page views through events_bots, and the rest, which
  // have neither (tracker events, bots' custom events, web events without a visitor), through
  // events_rest: few rows, as its WHERE (EVENTS_REST) leaves every counted event out.
  `
  CREATE INDEX events_rest ON events (site, ts) WHERE ${EVENTS_REST};
  DROP INDEX events_site_type_ts;
  `,
  // 18: visit postings (sqlite-visit-postings.ts): the ids of the visits per country, region,
  // city, browser, OS and device, written off the commit path, so a funnel filtered by one reads
  // those visits' ids, not every visit row of the range; filled from the stored visits.
  visitPostingsMigration,
  // 19: the visitor keys of each closed hour (sqlite-hour-keys.ts), so visitors over a range that is
  // not one whole minute, hour or day read its whole hours' keys, not all of its page views; filled
  // from the pv rows.
  hourKeysMigration,
  // 20: the pv and visits rows of each closed hour column-wise, one BLOB per column (schema 21 fills the visits ones)
  // (sqlite-chunk-store.ts), so reads over many rows (History's filtered view and top lists) take
  // typed arrays instead of one row at a time; the pv ones filled from the table.
  (db) => chunksMigration(db, new Dict(db)),
  // 21: the visits rows of each closed hour as stored chunks, in (start, id) order: the order
  // visits_start gives without a sort (schema 20's first version wrote them in id order, per hour).
  (db) => visitChunksMigration(db, new Dict(db)),
]

export const SCHEMA_VERSION = MIGRATIONS.length
const VERSION_KEY = 'schema_version'

/**
 * Brings the file to SCHEMA_VERSION (tests pass an older `target` to build a file as an earlier
 * Livestats left it) and returns how many migrations it applied. A file from a newer Livestats is
 * refused, not downgraded.
 */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): number {
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID')
  const read = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?')
  const write = db.prepare<[string, string]>(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  )
  // IMMEDIATE takes the write lock before reading the version, so two processes opening a new file
  // at once cannot both apply migration 1.
  const step = db.transaction((): boolean => {
    const current = Number(read.get(VERSION_KEY)?.value ?? 0)
    if (current > SCHEMA_VERSION) {
      throw new Error(`Database schema ${current} is newer than this Livestats (${SCHEMA_VERSION})`)
    }
    if (current >= target) return false
    const m = MIGRATIONS[current] as Migration
    if (typeof m === 'string') db.exec(m)
    else m(db)
    write.run(VERSION_KEY, String(current + 1))
    return true
  })
  let applied = 0
  while (step.immediate()) applied++ // one migration per transaction
  return applied
}
