/**
 * The SQLite migration that adds visits: the table the append transaction keeps (sessionised per
 * visitor, see visits.ts), its rollups, and a back-fill of both from the raw page views already
 * stored, in SQL (window functions), so an upgraded hub has visits for its whole raw history. Raw
 * events pruned before the upgrade have no visits.
 */
import { VISIT_GAP_MS } from './visits'

const HOUR = 3_600_000
/** Bucket codes as in time.ts BUCKETS: 0 minute, 1 hour, 2 day. */
const SIZES = [60_000, HOUR, 86_400_000]
const COUNTED = `e.type = 'pageview' AND e.bot = 0 AND e.visitor IS NOT NULL`

const sums = `count(*), sum(pageviews = 1), sum(pageviews), sum(end - start), sum(engaged_n > 0), sum(engaged_ms), sum(writing_ms)`

export const VISITS_TABLES = `
  CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    site INTEGER NOT NULL, visitor TEXT NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, pageviews INTEGER NOT NULL,
    entry TEXT, exit TEXT, ref_host TEXT, utm_source TEXT, utm_medium TEXT, utm_campaign TEXT, keyword TEXT,
    country TEXT, browser TEXT, os TEXT, device TEXT,
    engaged_n INTEGER NOT NULL DEFAULT 0, engaged_ms INTEGER NOT NULL DEFAULT 0, writing_ms INTEGER NOT NULL DEFAULT 0,
    -- 1 once the visit's figures are in the rollups (sqlite-visits.ts): a closed visit
    rolled INTEGER NOT NULL
  );
  -- Ranges, and late page views, read visits by start.
  CREATE INDEX visits_start ON visits (site, start);
  -- Open visits: few (those active in the last half hour), read by every query and by the closer.
  CREATE INDEX visits_open ON visits (site, start) WHERE rolled = 0;
  -- Per site: every closed (rolled) visit ended before closed_to; the longest visit lasted max_span ms.
  CREATE TABLE visit_state (site INTEGER PRIMARY KEY, closed_to INTEGER NOT NULL, max_span INTEGER NOT NULL);
  -- Visit sums per bucket of visit start (bucket codes as rollup_series).
  CREATE TABLE rollup_visits (
    site INTEGER NOT NULL, bucket INTEGER NOT NULL, t INTEGER NOT NULL,
    visits INTEGER NOT NULL, bounces INTEGER NOT NULL, pageviews INTEGER NOT NULL, duration INTEGER NOT NULL,
    engaged_visits INTEGER NOT NULL, engaged_ms INTEGER NOT NULL, writing_ms INTEGER NOT NULL,
    PRIMARY KEY (site, bucket, t)
  ) WITHOUT ROWID;
  -- dim: index into VISIT_DIMENSIONS in visits.ts; t: hour of visit start.
  CREATE TABLE rollup_vtop (
    site INTEGER NOT NULL, dim INTEGER NOT NULL, t INTEGER NOT NULL, value TEXT NOT NULL,
    visits INTEGER NOT NULL, bounces INTEGER NOT NULL, pageviews INTEGER NOT NULL, duration INTEGER NOT NULL,
    PRIMARY KEY (site, dim, t, value)
  ) WITHOUT ROWID;
`

/**
 * Fills the (empty) visits table and its rollups from the raw page views. Every visit goes in as
 * closed (rolled up); a later page view reopens one that was still going on.
 */
export const VISITS_BACKFILL = `
  INSERT INTO visits (site, visitor, start, end, pageviews, entry, exit, ref_host, utm_source, utm_medium,
    utm_campaign, keyword, country, browser, os, device, rolled)
  WITH p AS (
    SELECT s.id AS site, e.visitor, e.ts, e.rowid AS r, e.path, e.ref_host, e.utm_source, e.utm_medium,
      e.utm_campaign, e.keyword, e.country, e.browser, e.os, e.device,
      CASE WHEN e.ts - lag(e.ts) OVER (PARTITION BY e.site, e.visitor ORDER BY e.ts, e.rowid) <= ${VISIT_GAP_MS}
        THEN 0 ELSE 1 END AS first
    FROM events e JOIN sites s ON s.name = e.site
    WHERE ${COUNTED}
  ), k AS (
    SELECT *, sum(first) OVER (PARTITION BY site, visitor ORDER BY ts, r ROWS UNBOUNDED PRECEDING) AS n FROM p
  ), w AS (
    SELECT site, visitor, n, ts, first, path, ref_host, utm_source, utm_medium, utm_campaign, keyword, country, browser, os, device,
      last_value(path) OVER (PARTITION BY site, visitor, n ORDER BY ts, r
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS exit,
      min(ts) OVER v AS start, max(ts) OVER v AS end, count(*) OVER v AS pageviews
    FROM k WINDOW v AS (PARTITION BY site, visitor, n)
  )
  SELECT site, visitor, start, end, pageviews, path, exit, ref_host, utm_source, utm_medium, utm_campaign, keyword,
    country, browser, os, device, 1
  FROM w WHERE first = 1 ORDER BY start;

  ${SIZES.map((size, g) => `INSERT INTO rollup_visits SELECT site, ${g}, start - start % ${size}, ${sums}
  FROM visits GROUP BY site, start - start % ${size};`).join('\n  ')}
  INSERT INTO visit_state SELECT site, max(end) + 1, max(end - start) FROM visits GROUP BY site;
  INSERT INTO rollup_vtop SELECT site, 0, start - start % ${HOUR}, entry, count(*), sum(pageviews = 1), sum(pageviews),
    sum(end - start) FROM visits WHERE entry IS NOT NULL GROUP BY site, start - start % ${HOUR}, entry;
  INSERT INTO rollup_vtop SELECT site, 1, start - start % ${HOUR}, exit, count(*), sum(pageviews = 1), sum(pageviews),
    sum(end - start) FROM visits WHERE exit IS NOT NULL GROUP BY site, start - start % ${HOUR}, exit;
`

export const VISITS_MIGRATION = VISITS_TABLES + VISITS_BACKFILL
