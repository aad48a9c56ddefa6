/**
 * Small integer ids for the strings of the fact tables (paths, referrers, UTM values, agents,
 * countries, event names): one `dict` table for all of them, so a fact row is a few bytes per
 * column and filtered scans compare integers. The writer keeps a bounded cache of ids.
 */
import type Database from 'better-sqlite3'
import { compilePage } from '../goals/spec'

/** Ids cached before the cache starts over (a miss costs one indexed read). */
const CACHE_MAX = 200_000

export class Dict {
  private readonly cache = new Map<string, number>()
  private readonly find: Database.Statement<[string], [number]>
  private readonly add: Database.Statement<[string]>
  private readonly like: Database.Statement<[string], [number]>
  private readonly names: Database.Statement<[string], [number, string]>
  private readonly prefixed: Database.Statement<[string, string], [number, string]>

  constructor(db: Database.Database) {
    this.find = db.prepare<[string], [number]>('SELECT id FROM dict WHERE value = ?').raw()
    this.add = db.prepare<[string]>('INSERT INTO dict (value) VALUES (?)')
    // LIKE is case-insensitive for ASCII only, as `contains` promises; escape its wildcards
    this.like = db.prepare<[string], [number]>(`SELECT id FROM dict WHERE value LIKE ? ESCAPE '\\'`).raw()
    // the UNIQUE index on value (binary order) answers a prefix as one range
    this.prefixed = db.prepare<[string, string], [number, string]>('SELECT id, value FROM dict WHERE value >= ? AND value < ?').raw()
    this.names = db.prepare<[string], [number, string]>('SELECT id, value FROM dict WHERE id IN (SELECT value FROM json_each(?))').raw()
  }

  /** The id of `value`, made when new (writer only, inside its transaction). */
  id(value: string | null): number | null {
    if (value === null) return null
    const hit = this.cache.get(value)
    if (hit !== undefined) return hit
    const row = this.find.get(value)
    const id = row === undefined ? Number(this.add.run(value).lastInsertRowid) : row[0]
    if (this.cache.size >= CACHE_MAX) this.cache.clear()
    this.cache.set(value, id)
    return id
  }

  /**
   * Ids of the stored strings a goal's page (an exact path or a wildcard pattern, goals/spec.ts)
   * matches: the exact one, or the pattern run over the strings sharing its literal prefix. Only
   * paths start with `/`, so only paths can match.
   */
  pageIds(page: string): number[] {
    const star = page.indexOf('*')
    if (star < 0) {
      const id = this.lookup(page)
      return id === null ? [] : [id]
    }
    const test = compilePage(page)
    return this.withPrefix(page.slice(0, star)).filter(([, v]) => test(v)).map(([id]) => id)
  }

  /** Forgets cached ids (a rolled-back transaction may have made some). */
  forget(): void {
    this.cache.clear()
  }

  /** The id of an existing value, or null: a query for a value never stored matches nothing. */
  lookup(value: string): number | null {
    return this.cache.get(value) ?? this.find.get(value)?.[0] ?? null
  }

  /** Ids of every value containing `part`, ignoring ASCII case. */
  containing(part: string): number[] {
    return this.like.all(`%${part.replace(/[\\%_]/g, (c) => `\\${c}`)}%`).map((r) => r[0])
  }

  /** Ids and values of every stored string starting with `prefix` (page goals' patterns run over them). */
  withPrefix(prefix: string): [number, string][] {
    return this.prefixed.all(prefix, `${prefix}\u{10FFFF}`)
  }

  /** Values of ids, for a query's answer. */
  values(ids: readonly number[]): Map<number, string> {
    const out = new Map<number, string>()
    if (ids.length > 0) for (const [id, v] of this.names.iterate(JSON.stringify(ids))) out.set(id, v)
    return out
  }
}

/**
 * A visitor id as a number for the fact tables: 53 bits of FNV-1a (two 32-bit lanes). Counting
 * distinct numbers instead of 22-character strings is several times faster; two visitors share a
 * number with a chance of about n² / 2^54 (one in 18,000 for a million visitors in one range).
 */
export function visitorKey(visitor: string): number {
  let a = 0x811c9dc5
  let b = 0x01000193 ^ 0x5bd1e995
  for (let i = 0; i < visitor.length; i++) {
    const c = visitor.charCodeAt(i)
    a = Math.imul(a ^ c, 0x01000193)
    b = Math.imul(b ^ c, 0x5bd1e995)
    b ^= b >>> 15
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff)
}
