/**
 * The SQLite migration that adds what filtered queries read (sqlite-filtered.ts): `pv` and `ce`,
 * narrow copies of the human page views and custom events with integer ids for their strings
 * (`dict`), their visit, and their visit's source, clustered by (site, time) so a range is one
 * sequential read; engaged time per page; `utm_term`; and the visit rollups of the source
 * dimensions. It fills them from the raw events and visits already stored, in one pass: about
 * 10 µs a page view, so an upgrade of a file with 10 million of them takes a minute or two, once.
 */
import type Database from 'better-sqlite3'
import { Dict, visitorKey } from './sqlite-dict'
import { VISIT_DIMENSIONS, VISIT_GAP_MS } from './visits'

export const FACTS_TABLES = `
  ALTER TABLE events ADD COLUMN utm_term TEXT;
  ALTER TABLE visits ADD COLUMN utm_term TEXT;
  ALTER TABLE visits ADD COLUMN region TEXT;
  ALTER TABLE visits ADD COLUMN city TEXT;
  CREATE TABLE dict (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
  -- One row per counted page view: its visit, a 53-bit visitor key (sqlite-dict.ts), its page and
  -- agent facts and its visit's source, as dict ids; engaged time once presence reported it.
  CREATE TABLE pv (
    site INTEGER NOT NULL, ts INTEGER NOT NULL, rid INTEGER NOT NULL,
    visit INTEGER NOT NULL, vid INTEGER NOT NULL, path INTEGER,
    ref INTEGER, utm_source INTEGER, utm_medium INTEGER, utm_campaign INTEGER, utm_term INTEGER, keyword INTEGER,
    country INTEGER, region INTEGER, city INTEGER, browser INTEGER, os INTEGER, device INTEGER,
    engaged_ms INTEGER, writing_ms INTEGER,
    PRIMARY KEY (site, ts, rid)
  ) WITHOUT ROWID;
  -- One row per counted custom event; visit is null when it fell in none.
  CREATE TABLE ce (
    site INTEGER NOT NULL, ts INTEGER NOT NULL, rid INTEGER NOT NULL,
    visit INTEGER, vid INTEGER NOT NULL, name INTEGER, path INTEGER,
    country INTEGER, region INTEGER, city INTEGER, browser INTEGER, os INTEGER, device INTEGER,
    PRIMARY KEY (site, ts, rid)
  ) WITHOUT ROWID;
  -- Custom events that came before any page view of their visit, until one arrives (few, usually none).
  CREATE INDEX ce_orphans ON ce (site, vid, ts) WHERE visit IS NULL;
  -- Engaged time per page per hour of the page view (presence tab stints matched to page views).
  CREATE TABLE rollup_engaged (
    site INTEGER NOT NULL, t INTEGER NOT NULL, path TEXT NOT NULL,
    views INTEGER NOT NULL, engaged_ms INTEGER NOT NULL, writing_ms INTEGER NOT NULL,
    PRIMARY KEY (site, t, path)
  ) WITHOUT ROWID;
`

const HOUR = 3_600_000
const CHUNK = 20_000

interface RawRow {
  r: number
  site: number
  ts: number
  type: string
  visitor: string
  path: string | null
  name: string | null
  country: string | null
  region: string | null
  city: string | null
  browser: string | null
  os: string | null
  device: string | null
}

interface VisitRef {
  id: number
  start: number
  end: number
  ref: number | null
  us: number | null
  um: number | null
  uc: number | null
  kw: number | null
}

/** Fills pv and ce from the raw events, and the source dimensions' visit rollups from the closed visits. */
export function backfillFacts(db: Database.Database): void {
  const dict = new Dict(db)
  db.exec('CREATE INDEX tmp_visits_visitor ON visits (site, visitor, start)')
  const read = db.prepare<[number, number], RawRow>(`SELECT e.rowid AS r, s.id AS site, e.ts, e.type, e.visitor, e.path,
    e.name, e.country, e.region, e.city, e.browser, e.os, e.device FROM events e JOIN sites s ON s.name = e.site
    WHERE e.rowid > ? AND e.type IN ('pageview', 'event') AND e.bot = 0 AND e.visitor IS NOT NULL ORDER BY e.rowid LIMIT ?`)
  const near = db.prepare<[number, string, number], { id: number; start: number; end: number; ref: string | null;
    us: string | null; um: string | null; uc: string | null; kw: string | null }>(`SELECT id, start, end, ref_host AS ref,
    utm_source AS us, utm_medium AS um, utm_campaign AS uc, keyword AS kw FROM visits
    WHERE site = ? AND visitor = ? AND start <= ? ORDER BY start DESC LIMIT 2`)
  const pv = db.prepare(`INSERT INTO pv (site, ts, rid, visit, vid, path, ref, utm_source, utm_medium, utm_campaign,
    keyword, country, region, city, browser, os, device) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
  const ce = db.prepare(`INSERT INTO ce (site, ts, rid, visit, vid, name, path, country, region, city, browser, os, device)
    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
  const visitAt = (site: number, visitor: string, ts: number, gap: number): VisitRef | null => {
    for (const v of near.all(site, visitor, ts + gap)) {
      if (ts < v.start - gap || ts > v.end + gap) continue
      return { id: v.id, start: v.start, end: v.end, ref: dict.id(v.ref), us: dict.id(v.us), um: dict.id(v.um), uc: dict.id(v.uc), kw: dict.id(v.kw) }
    }
    return null
  }
  let after = 0
  for (;;) {
    const rows = read.all(after, CHUNK)
    if (rows.length === 0) break
    for (const e of rows) {
      after = e.r
      const vid = visitorKey(e.visitor)
      const agent = [dict.id(e.country), dict.id(e.region), dict.id(e.city), dict.id(e.browser), dict.id(e.os), dict.id(e.device)] as const
      if (e.type === 'pageview') {
        const v = visitAt(e.site, e.visitor, e.ts, 0)
        // every counted page view is in a visit (schema 7 made them from these rows)
        if (v === null) continue
        pv.run(e.site, e.ts, e.r, v.id, vid, dict.id(e.path), v.ref, v.us, v.um, v.uc, v.kw, ...agent)
      } else {
        const v = visitAt(e.site, e.visitor, e.ts, VISIT_GAP_MS)
        ce.run(e.site, e.ts, e.r, v?.id ?? null, vid, dict.id(e.name), dict.id(e.path), ...agent)
      }
    }
  }
  db.exec('DROP INDEX tmp_visits_visitor')
  // a visit's region and city are its first page view's, as its country (schema 7 had none)
  db.exec(`UPDATE visits SET (region, city) = (SELECT e.region, e.city FROM events e JOIN sites s ON s.name = e.site
    WHERE s.id = visits.site AND e.type = 'pageview' AND e.ts = visits.start AND e.bot = 0 AND e.visitor = visits.visitor LIMIT 1)`)
  const columns = ['ref_host', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword']
  for (const [i, dim] of VISIT_DIMENSIONS.entries()) {
    if (i < 2) continue // entry and exit pages: schema 7
    const col = columns[i - 2] as string
    db.exec(`INSERT INTO rollup_vtop SELECT site, ${i}, start - start % ${HOUR}, ${col}, count(*), sum(pageviews = 1),
      sum(pageviews), sum(end - start) FROM visits WHERE rolled = 1 AND ${col} IS NOT NULL
      GROUP BY site, start - start % ${HOUR}, ${col}; -- ${dim}`)
  }
}

export function factsMigration(db: Database.Database): void {
  db.exec(FACTS_TABLES)
  backfillFacts(db)
}
