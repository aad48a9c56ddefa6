/**
 * Everything the SQLite store keeps beyond raw events and page-view rollups, in one place for its
 * append transaction: visits (sqlite-visits.ts), the fact rows filtered queries read
 * (sqlite-facts.ts), and those queries (sqlite-filtered.ts, sqlite-funnel.ts, sqlite-view.ts).
 */
import type Database from 'better-sqlite3'
import { ChunkWriter } from './sqlite-chunk-store'
import { Dict } from './sqlite-dict'
import { Facts } from './sqlite-facts'
import { FilteredQueries } from './sqlite-filtered'
import { SqliteFunnels } from './sqlite-funnel'
import { VisitPostings } from './sqlite-visit-postings'
import { SqliteVisits } from './sqlite-visits'
import { ViewQueries, type ViewReader } from './sqlite-view'
import { SqlViewQueries } from './sqlite-view-sql'
import { ColumnReader } from './sqlite-chunks'
import { ColumnFilters } from './sqlite-col-filter'
import type { PageStint, StoredEvent } from './types'

export class SqliteAnalytics {
  readonly visits: SqliteVisits
  /** Visit ids per country, region, city, browser, OS and device (fed here, flushed off the commit path). */
  readonly visitPostings: VisitPostings
  readonly facts: Facts
  /** The stored hour chunks: dropped when a write makes them stale, built once an hour settled. */
  readonly chunks: ChunkWriter
  readonly filtered: FilteredQueries
  readonly funnels: SqliteFunnels
  readonly view: ViewReader
  /** Fact rows column-wise (sqlite-chunks.ts), for reads that visit every row of a range. */
  readonly columns: ColumnReader
  /** Filters as conditions on those columns. */
  readonly columnFilters: ColumnFilters

  /** `columnReads`: filtered views read column-wise (SqliteStoreOptions.columnReads). */
  constructor(db: Database.Database, columnReads = true) {
    const dict = new Dict(db)
    this.chunks = new ChunkWriter(db, dict)
    this.visits = new SqliteVisits(db, this.chunks)
    this.visitPostings = new VisitPostings(db)
    this.facts = new Facts(db, dict, this.chunks)
    this.filtered = new FilteredQueries(db, this.facts.dict, this.visits, this.facts.postings)
    this.funnels = new SqliteFunnels(db, this.facts.dict, this.visits, this.filtered, this.facts.postings, this.visitPostings)
    this.columns = new ColumnReader(db, this.facts.dict)
    this.columnFilters = new ColumnFilters(this.facts.dict, this.visits, this.filtered, this.columns)
    this.view = columnReads ? new ViewQueries(this.columns, this.facts.dict, this.columnFilters, this.filtered) : new SqlViewQueries(db, this.filtered)
  }

  begin(): void {
    this.chunks.sync()
    this.visits.begin()
    this.facts.postings.begin()
    this.visitPostings.begin()
  }

  /** The transaction rolled back: what memory holds about visits and ids is read again. */
  rollback(): void {
    this.visits.rollback()
    this.chunks.load()
    this.facts.recount()
    this.facts.postings.rollback()
    this.visitPostings.rollback()
  }

  /** A freshly stored event of site id `site`, `rid` its events rowid. Bots and visitor-less events count nowhere. */
  fresh(site: number, rid: number, e: StoredEvent): void {
    if (e.bot || e.visitor === null) return
    if (e.type === 'pageview') {
      const j = this.visits.pageview(site, e)
      if (j.created) this.visitPostings.add(site, j.visit)
      if (j.merged !== null) this.facts.merged(site, j.merged, j.visit)
      else if (j.sourceChanged) this.facts.resource(site, j.visit)
      this.facts.pageview(site, rid, e, j.visit, j.late)
    } else if (e.type === 'event') {
      this.facts.event(site, rid, e, this.visits.visitAt(site, e.visitor, e.ts)?.id ?? null)
    }
  }

  /**
   * A tab's pages with their time per state (a session's stints): reading + writing is engaged
   * time, added to the page view each began with (matched by site, time, visitor and page), with
   * its scroll depth when reported, and to that page view's visit. A stint with no stored page view (the URL changed without one, or its
   * page view is not committed yet) still counts for the visit.
   */
  engaged(site: number, visitor: string, pages: readonly PageStint[]): void {
    for (const p of pages) {
      const engaged = p.readingMs + p.writingMs
      if (p.viewed) this.facts.engage(site, p.at, visitor, p.path, engaged, p.writingMs, p.scroll)
      this.visits.engage(site, visitor, p.at, engaged, p.writingMs)
    }
  }

  /** Ends the transaction: visits that closed go into the rollups. */
  flush(): void {
    this.visits.flush()
  }
}
