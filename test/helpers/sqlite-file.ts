/**
 * A SQLite file for a test, and reads of it from outside the store: what several store tests need
 * to check the file itself (raw rows, postings, meta) rather than what the store answers.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'

/** A fresh path `test.db` in a new temp folder (named after `prefix`); `cleanup` removes the folder. */
export function tempDbFile(prefix: string): { file: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `livestats-${prefix}-`))
  return { file: join(dir, 'test.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Rows of `sql` (with `params`) on the file as arrays, read with a separate read-only connection. */
export function fileRows<T = unknown[]>(file: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(file, { readonly: true })
  try {
    return db.prepare(sql).raw().all(...params) as T[]
  } finally {
    db.close()
  }
}

/** The first column of the first row of `sql` on the file (a count, an id), read as `fileRows` reads. */
export function fileValue(file: string, sql: string, ...params: unknown[]): number {
  return (fileRows<[number]>(file, sql, ...params)[0] as [number])[0]
}
