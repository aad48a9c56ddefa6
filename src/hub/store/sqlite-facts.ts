/**
 * The fact rows filtered queries read (tables in sqlite-facts-schema.ts), written in the append
 * transaction beside the raw events: one `pv` row per counted page view (after its visit is known,
 * carrying the visit's source), one `ce` row per counted custom event. When a late page view moves
 * a visit's start (a new source) or bridges two visits, the rows of that visit's page views follow.
 */
import type Database from 'better-sqlite3'
import { KIND_PV, type ChunkWriter } from './sqlite-chunk-store'
import { Dict, visitorKey } from './sqlite-dict'
import { Postings } from './sqlite-postings'
import { PropWriter } from './sqlite-props'
import type { StoredEvent } from './types'
import { VISIT_GAP_MS, type Visit } from './visits'

const HOUR = 3_600_000

export class Facts {
  readonly dict: Dict
  /** Page-view postings for funnels and page goals (fed here, flushed off the commit path). */
  readonly postings: Postings
  private readonly props: PropWriter
  private readonly pv: Database.Statement
  private readonly pvPlain: Database.Statement
  private readonly ce: Database.Statement
  private readonly movePv: Database.Statement
  private readonly moveCe: Database.Statement
  private readonly source: Database.Statement
  private readonly adoptCe: Database.Statement
  private readonly claimCe: Database.Statement
  private readonly orphanCount: Database.Statement<[], [number]>
  private readonly engagePv: Database.Statement<[number, number, number | null, number | null, number, number, number, number]>
  private readonly scrollOf: Database.Statement<[number, number, number, number], [number | null]>
  private readonly addEngaged: Database.Statement<[number, number, string, number, number, number, number]>
  /** Custom events that fell in no visit: while none, page views skip looking for them. */
  private orphans = 0

  /** `chunks` drops the stored hour chunks each write makes stale (sqlite-chunk-store.ts). */
  constructor(db: Database.Database, dict: Dict, private readonly chunks: ChunkWriter) {
    this.dict = dict
    this.props = new PropWriter(db, this.dict)
    this.postings = new Postings(db)
    this.pv = db.prepare(`INSERT INTO pv (site, ts, rid, visit, vid, path, ref, utm_source, utm_medium, utm_campaign,
      utm_term, keyword, country, region, city, browser, os, device) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
    // most page views: a visit without campaign or keyword, no region or city; the seven left out stay null
    this.pvPlain = db.prepare(`INSERT INTO pv (site, ts, rid, visit, vid, path, ref, country, browser, os, device)
      VALUES (?,?,?,?,?,?,?,?,?,?,?)`)
    this.ce = db.prepare(`INSERT INTO ce (site, ts, rid, visit, vid, name, path, country, region, city, browser, os, device)
      VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)`)
    this.movePv = db.prepare('UPDATE pv SET visit = ? WHERE site = ? AND ts >= ? AND ts <= ? AND visit = ?')
    this.moveCe = db.prepare('UPDATE ce SET visit = ? WHERE site = ? AND ts >= ? AND ts <= ? AND visit = ?')
    this.source = db.prepare(`UPDATE pv SET ref = ?, utm_source = ?, utm_medium = ?, utm_campaign = ?, utm_term = ?,
      keyword = ? WHERE site = ? AND ts >= ? AND ts <= ? AND visit = ?`)
    this.adoptCe = db.prepare('UPDATE ce SET visit = ? WHERE site = ? AND vid = ? AND ts >= ? AND ts <= ? AND visit IS NULL')
    this.claimCe = db.prepare('UPDATE ce SET visit = ? WHERE site = ? AND vid = ? AND ts >= ? AND ts <= ? AND visit <> ?')
    // one page view per (site, time, visitor, page): LIMIT-free, the key seeks straight to the time
    // scroll keeps the deepest report: SQLite's two-argument max() is null when either is
    this.engagePv = db.prepare<[number, number, number | null, number | null, number, number, number, number]>(`UPDATE pv SET
      engaged_ms = coalesce(engaged_ms, 0) + ?, writing_ms = coalesce(writing_ms, 0) + ?,
      scroll = coalesce(max(scroll, ?), scroll, ?)
      WHERE site = ? AND ts = ? AND vid = ? AND path = ?`)
    this.scrollOf = db.prepare<[number, number, number, number], [number | null]>(
      'SELECT scroll FROM pv WHERE site = ? AND ts = ? AND vid = ? AND path = ?').raw()
    this.addEngaged = db.prepare<[number, number, string, number, number, number, number]>(`INSERT INTO rollup_engaged
      (site, t, path, views, engaged_ms, writing_ms, scroll_views, scroll_sum) VALUES (?, ?, ?, 1, ?, ?, ?, ?)
      ON CONFLICT (site, t, path) DO UPDATE SET views = views + 1, engaged_ms = engaged_ms + excluded.engaged_ms,
      writing_ms = writing_ms + excluded.writing_ms, scroll_views = scroll_views + excluded.scroll_views,
      scroll_sum = scroll_sum + excluded.scroll_sum`)
    this.orphanCount = db.prepare<[], [number]>('SELECT count(*) FROM ce WHERE visit IS NULL').raw()
    this.recount()
  }

  /** Reads how many orphan custom events there are (at start and after a rollback). */
  recount(): void {
    this.orphans = this.orphanCount.get()?.[0] ?? 0
    this.dict.forget()
  }

  /**
   * A counted page view, once its visit is known. `rid` is its events rowid. `late`: it came out of
   * order (sqlite-visits.ts' Joined), so custom events a later visit took when they were stored may
   * now belong to `v`.
   */
  pageview(site: number, rid: number, e: StoredEvent, v: Visit, late = false): void {
    const d = this.dict
    const vid = visitorKey(e.visitor ?? '')
    const path = d.id(e.path)
    if (v.utmSource === null && v.utmMedium === null && v.utmCampaign === null && v.utmTerm === null && v.keyword === null &&
      e.region === null && e.city === null) {
      this.pvPlain.run(site, e.ts, rid, v.id, vid, path, d.id(v.refHost), d.id(e.country), d.id(e.browser), d.id(e.os), d.id(e.device))
    } else {
      this.pv.run(site, e.ts, rid, v.id, vid, path, d.id(v.refHost), d.id(v.utmSource),
        d.id(v.utmMedium), d.id(v.utmCampaign), d.id(v.utmTerm), d.id(v.keyword), d.id(e.country), d.id(e.region),
        d.id(e.city), d.id(e.browser), d.id(e.os), d.id(e.device))
    }
    this.chunks.touch(KIND_PV, site, e.ts)
    this.postings.add(site, path, v.id, vid, e.ts, rid)
    // custom events that came before the page views of their visit join it now
    if (this.orphans > 0) this.adopt(site, v)
    // an event belongs to the visit that started at or before it (docs/api.md, Filters): one stored
    // while only a later visit touched it moves to `v` once `v` reaches it. In order, no visit of the
    // visitor starts after this page view, so only late ones need the read.
    if (late) this.claimCe.run(v.id, site, vid, v.start, v.end + VISIT_GAP_MS, v.id)
  }

  /** A counted custom event, in visit `visit` or none. */
  event(site: number, rid: number, e: StoredEvent, visit: number | null): void {
    const d = this.dict
    this.ce.run(site, e.ts, rid, visit, visitorKey(e.visitor ?? ''), d.id(e.name), d.id(e.path), d.id(e.country),
      d.id(e.region), d.id(e.city), d.id(e.browser), d.id(e.os), d.id(e.device))
    this.props.write(site, e.ts, rid, e.visitor ?? '', e.data)
    if (visit === null) this.orphans++
  }

  /**
   * Adds a tab's time on a page to the page view it began with, and to the page's engaged rollup,
   * with the deepest point of the page seen (`scroll`, percent) when the snippet reported one: the
   * page view keeps its deepest, and the rollup counts each page view's depth once.
   * False when no stored page view matches (none was viewed at that time, or it is not committed).
   */
  engage(site: number, at: number, visitor: string, path: string, engagedMs: number, writingMs: number, scroll?: number): boolean {
    const id = this.dict.lookup(path)
    if (id === null) return false
    const vid = visitorKey(visitor)
    // what the page view held before: the rollup adds a new depth once, and only a deeper one's difference
    const was = scroll === undefined ? undefined : this.scrollOf.get(site, at, vid, id)?.[0] ?? null
    const depth = scroll ?? null
    if (this.engagePv.run(engagedMs, writingMs, depth, depth, site, at, vid, id).changes === 0) return false
    this.chunks.touch(KIND_PV, site, at)
    const views = scroll !== undefined && was === null ? 1 : 0
    const deeper = scroll === undefined ? 0 : was === null || was === undefined ? scroll : Math.max(0, scroll - was)
    this.addEngaged.run(site, at - (at % HOUR), path, engagedMs, writingMs, views, deeper)
    return true
  }

  /** `from` was bridged into `into`: its page views and custom events now belong to `into`. */
  merged(site: number, from: Visit, into: Visit): void {
    this.movePv.run(into.id, site, from.start, from.end, from.id)
    this.moveCe.run(into.id, site, from.start - VISIT_GAP_MS, from.end + VISIT_GAP_MS, from.id)
    this.postings.alias(site, from.id, into.id, from.end)
    // drops the stored chunks of into's span, which holds from's page views (sqlite-chunk-store.ts)
    this.resource(site, into)
  }

  /** The visit's page views carry its (new) source. */
  resource(site: number, v: Visit): void {
    const d = this.dict
    this.source.run(d.id(v.refHost), d.id(v.utmSource), d.id(v.utmMedium), d.id(v.utmCampaign), d.id(v.utmTerm),
      d.id(v.keyword), site, v.start, v.end, v.id)
    this.chunks.touchSpan(KIND_PV, site, v.start, v.end)
  }

  /** Custom events that came before their visit's page views join it once one arrives. */
  private adopt(site: number, v: Visit): void {
    const n = this.adoptCe.run(v.id, site, visitorKey(v.visitor), v.start - VISIT_GAP_MS, v.end + VISIT_GAP_MS).changes
    this.orphans -= n
  }
}
