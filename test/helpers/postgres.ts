/**
 * PostgreSQL for tests: every run works in a schema of its own (`ls_test_<random>`), dropped
 * after, so engineers and parallel test files sharing the database never see each other's rows.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { POSTGRES_URL } from './services'

export { POSTGRES_URL }

/** A fresh schema name (not created: the store's init() creates it). */
export function testSchema(): string {
  return `ls_test_${randomBytes(6).toString('hex')}`
}

/** The test database's URL with `?schema=` set, as `--store` takes it. */
export function schemaUrl(schema: string, base = POSTGRES_URL): string {
  const u = new URL(base)
  u.searchParams.set('schema', schema)
  return u.toString()
}

/** Drops a test schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: POSTGRES_URL })
  await c.connect()
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await c.end()
  }
}
