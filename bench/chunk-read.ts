/**
 * The column-wise reads of History's 24 hours (sqlite-chunks.ts) on the bench/query.ts file:
 * ColumnReader (stored hour chunks, sqlite-chunk-store.ts, and the table for the rest) against
 * TableRows (every row from the table), page views with ts, vid, path and visits with start,
 * pageviews, duration, ref_host, NOW = 2025-02-01 minus 17 minutes, site shop.example, and
 * TableRows over the last hour alone (`hour`, what a read pays for the open hour). Opening
 * the file through the store applies schema 20 when the file is older: its time and the file's
 * growth are printed too. Use a private copy (the migration writes it):
 *
 *   BENCH_FILE=.scratch/q.db node --import tsx bench/chunk-read.ts [--runs=7]
 *
 * Prints one JSON line (medians, ms of wall and of this process's CPU).
 */
import { statSync } from 'node:fs'
import Database from 'better-sqlite3'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { ColumnReader, TableRows, type PvColumn, type VisitColumn } from '../src/hub/store/sqlite-chunks'
import { Dict } from '../src/hub/store/sqlite-dict'

const FILE = process.env.BENCH_FILE
if (FILE === undefined) throw new Error('BENCH_FILE=path of a private copy of the bench/query.ts file')
const RUNS = Number(process.argv.find((a) => a.startsWith('--runs='))?.slice(7) ?? 7)
const NOW = Date.UTC(2025, 1, 1) - 17 * 60_000
const FROM = NOW - 86_400_000
const PV: PvColumn[] = ['ts', 'vid', 'path']
const VISITS: VisitColumn[] = ['start', 'pageviews', 'duration', 'ref_host']

const size = (): number => statSync(FILE).size + (() => { try { return statSync(`${FILE}-wal`).size } catch { return 0 } })()

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] as number
}

/** Median wall and CPU ms of `runs` calls of `f`, and what the last returned. */
function time<R>(f: () => R): { wallMs: number; cpuMs: number; last: R } {
  const wall: number[] = []
  const cpu: number[] = []
  let last = f()
  for (let i = 0; i < RUNS; i++) {
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    last = f()
    wall.push(performance.now() - t0)
    const c = process.cpuUsage(c0)
    cpu.push((c.user + c.system) / 1000)
  }
  return { wallMs: +median(wall).toFixed(2), cpuMs: +median(cpu).toFixed(2), last }
}

async function main(): Promise<void> {
  const before = size()
  const t0 = performance.now()
  const store = createSqliteStore(FILE as string)
  await store.init()
  const openMs = performance.now() - t0
  await store.close()
  const db = new Database(FILE as string, { readonly: true })
  const dict = new Dict(db)
  const site = (db.prepare("SELECT id FROM sites WHERE name = 'shop.example'").pluck().get() as number)
  const reader = new ColumnReader(db, dict)
  const table = new TableRows(db, dict)
  const rows = (b: { blocks: { n: number }[] }) => b.blocks.reduce((a, x) => a + x.n, 0)
  const chunkPv = time(() => rows(reader.pv(site, FROM, NOW, PV)))
  const tablePv = time(() => table.pv(site, FROM, NOW, PV).n)
  const chunkVisits = time(() => rows(reader.visits(site, FROM, NOW, VISITS)))
  const tableVisits = time(() => table.visits(site, FROM, NOW, VISITS, new Map()).n)
  // the last hour from the table alone: what a read pays for the open hour
  const hourPv = time(() => table.pv(site, NOW - 3_600_000, NOW, PV).n)
  const hourVisits = time(() => table.visits(site, NOW - 3_600_000, NOW, VISITS, new Map()).n)
  const chunks = db.prepare('SELECT kind, count(*) AS hours, sum(n) AS rows FROM chunk_hours GROUP BY kind').all()
  db.close()
  console.log(JSON.stringify({
    openMs: Math.round(openMs), bytesBefore: before, bytesAfter: size(), chunks,
    pv: { rows: chunkPv.last, chunk: { wallMs: chunkPv.wallMs, cpuMs: chunkPv.cpuMs }, table: { wallMs: tablePv.wallMs, cpuMs: tablePv.cpuMs, rows: tablePv.last } },
    visits: { rows: chunkVisits.last, chunk: { wallMs: chunkVisits.wallMs, cpuMs: chunkVisits.cpuMs }, table: { wallMs: tableVisits.wallMs, cpuMs: tableVisits.cpuMs, rows: tableVisits.last } },
    hour: { pv: { wallMs: hourPv.wallMs, cpuMs: hourPv.cpuMs, rows: hourPv.last }, visits: { wallMs: hourVisits.wallMs, cpuMs: hourVisits.cpuMs, rows: hourVisits.last } },
    served: reader.served,
  }))
}

void main()
