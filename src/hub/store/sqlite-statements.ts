/**
 * Prepared statements by their SQL text, for queries whose text depends on the filters (so they
 * cannot all be prepared up front). Bounded: past `max` distinct texts the cache starts over, so a
 * stream of new filter shapes cannot grow it without end.
 */
import type Database from 'better-sqlite3'

export class StatementCache {
  private readonly cache = new Map<string, Database.Statement>()

  /** `max`: distinct SQL texts kept before the cache is emptied. */
  constructor(private readonly db: Database.Database, private readonly max: number) {}

  /** The statement for `sql`, prepared on first use. @throws SqliteError when the SQL does not compile. */
  get(sql: string): Database.Statement {
    let st = this.cache.get(sql)
    if (st === undefined) {
      if (this.cache.size >= this.max) this.cache.clear()
      this.cache.set(sql, (st = this.db.prepare(sql)))
    }
    return st
  }
}
