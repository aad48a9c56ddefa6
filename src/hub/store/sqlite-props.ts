/**
 * Custom event properties for queries (issue 13.1): one narrow `cp` row per property of a counted
 * custom event (one with a `ce` row): (site, time, rid) of the event, its property key and value as
 * dict ids (values as text: `2`, `true`), and its visitor key. Written in the append transaction
 * beside the `ce` row; a prop filter or breakdown reads the range's rows by (site, time), and the
 * event's visit comes from its `ce` row (same rid), so a visit merge moves nothing here.
 */
import type Database from 'better-sqlite3'
import type { Dict } from './sqlite-dict'
import { visitorKey } from './sqlite-dict'

export const PROPS_TABLE = `
  CREATE TABLE cp (
    site INTEGER NOT NULL, ts INTEGER NOT NULL, rid INTEGER NOT NULL, key INTEGER NOT NULL,
    value INTEGER NOT NULL, vid INTEGER NOT NULL,
    PRIMARY KEY (site, ts, rid, key)
  ) WITHOUT ROWID;
`

/** The properties of a stored event's `data` (JSON text) as [key, text value] pairs; none when it is not an object. */
export function propPairs(data: string | null): [string, string][] {
  if (data === null) return []
  let o: unknown
  try {
    o = JSON.parse(data)
  } catch {
    return []
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return []
  const out: [string, string][] = []
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push([k, String(v)])
  }
  return out
}

/** Writes `cp` rows: one per property of a counted custom event. */
export class PropWriter {
  private readonly insert: Database.Statement<[number, number, number, number, number, number]>

  constructor(db: Database.Database, private readonly dict: Dict) {
    this.insert = db.prepare<[number, number, number, number, number, number]>(
      'INSERT OR IGNORE INTO cp (site, ts, rid, key, value, vid) VALUES (?,?,?,?,?,?)')
  }

  /** The event (site id, time, rowid, visitor) has properties `data` (JSON text, or null). */
  write(site: number, ts: number, rid: number, visitor: string, data: string | null): void {
    if (data === null) return
    const vid = visitorKey(visitor)
    for (const [k, v] of propPairs(data)) {
      this.insert.run(site, ts, rid, this.dict.id(k) as number, this.dict.id(v) as number, vid)
    }
  }
}

/** Migration: the table, filled from the custom events already stored (those with a `ce` row). */
export function propsMigration(db: Database.Database, dict: Dict): void {
  db.exec(PROPS_TABLE)
  const w = new PropWriter(db, dict)
  // in chunks by rowid (a statement cannot write while another iterates); ce's key finds the counted ones
  const read = db.prepare<[number], { site: number; ts: number; rid: number; visitor: string; data: string }>(`SELECT
    s.id AS site, e.ts, e.rowid AS rid, e.visitor, e.data FROM events e JOIN sites s ON s.name = e.site
    WHERE e.rowid > ? AND e.type = 'event' AND e.data IS NOT NULL
    AND EXISTS (SELECT 1 FROM ce WHERE ce.site = s.id AND ce.ts = e.ts AND ce.rid = e.rowid) ORDER BY e.rowid LIMIT 20000`)
  for (let after = 0; ;) {
    const rows = read.all(after)
    if (rows.length === 0) break
    for (const r of rows) w.write(r.site, r.ts, r.rid, r.visitor, r.data)
    after = rows[rows.length - 1]?.rid ?? after
  }
}
