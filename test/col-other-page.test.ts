/**
 * page=!P in the column-wise view: a visit entering and exiting on P is kept when it has a page
 * view of another page, counted from the view's own read of page views (sqlite-col-filter.ts'
 * `other` condition filled by a PageNeed), including page views in the next hour and after the
 * range's end, and left out when its many page views are all of P.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { it } from 'node:test'
import { createSqliteStore } from '../src/hub/store/sqlite'
import type { FilteredQueries } from '../src/hub/store/sqlite-filtered'
import { pageview } from './helpers/store-contract'

const HOUR = 3_600_000
const MIN = 60_000
/** An hour boundary (2026-01-05T10:00Z). */
const H = Date.UTC(2026, 0, 5, 10)

it('page=!/ keeps the visits entering and exiting on / with another page, across an hour edge and past the range', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-colother-'))
  const s = createSqliteStore(join(dir, 'test.db'), { columnReads: true })
  try {
    await s.init()
    const at = (visitor: string, ...views: [number, string][]) => views.map(([ts, path]) => pageview({ visitor, ts, path }))
    await s.append([
      // only /, five times: out
      ...at('only', [H + 5 * MIN, '/'], [H + 10 * MIN, '/'], [H + 15 * MIN, '/'], [H + 20 * MIN, '/'], [H + 25 * MIN, '/']),
      // / → /x → / across the 11:00 edge: in
      ...at('edge', [H + 50 * MIN, '/'], [H + HOUR + 5 * MIN, '/x'], [H + HOUR + 20 * MIN, '/']),
      // a bounce on /: out
      ...at('bounce', [H + 30 * MIN, '/']),
      // entry elsewhere: in
      ...at('pricing', [H + 40 * MIN, '/pricing'], [H + 45 * MIN, '/']),
      // started before the range: not counted
      ...at('before', [H - 10 * MIN, '/'], [H + 2 * MIN, '/x'], [H + 8 * MIN, '/']),
      // starts before the range's end, its other page and last / after it: in
      ...at('late', [H + 2 * HOUR + 50 * MIN, '/'], [H + 3 * HOUR + 5 * MIN, '/x'], [H + 3 * HOUR + 10 * MIN, '/']),
      // traffic hours later, so that the range's hours are settled
      ...at('later', [H + 9 * HOUR, '/']),
    ])
    const filters = [{ dim: 'page' as const, op: 'not' as const, value: '/' }]
    const q = { site: 'a.example', from: H, to: H + 3 * HOUR, filters }
    const v = await s.view(q, { bucket: 'hour', dims: ['page', 'entry_page'], limit: 10 })
    assert.equal(v.visitTotals.visits, 3)
    assert.equal(v.visitTotals.pageviews, 8)
    const an = (s as unknown as { an: { filtered: FilteredQueries } }).an
    assert.deepEqual(v.visitTotals, an.filtered.visitTotals(1, q.from, q.to, filters))
    assert.deepEqual(v.tops.entry_page?.map((r) => [r.value, r.visits]), [['/', 2], ['/pricing', 1]])
  } finally {
    await s.close()
    rmSync(dir, { recursive: true, force: true })
  }
})
