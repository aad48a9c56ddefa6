/**
 * The column-wise History view (sqlite-view.ts over sqlite-chunks.ts blocks, filters compiled by
 * sqlite-col-filter.ts) against the SQL path (the separate filtered calls of sqlite-filtered.ts,
 * unchanged) on random traffic: every filter dimension and operator, the empty value, property
 * filters, combinations, ragged ranges, late and out-of-order page views that merge visits,
 * engaged time and scroll, a page "contains" of more pages than the postings serve, and limits
 * that cut through ties.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createSqliteStore } from '../src/hub/store/sqlite'
import { FILTER_DIMENSIONS, type Filter, type FilterDimension } from '../src/hub/store/filters'
import { kthLargest } from '../src/hub/store/sqlite-col-tally'
import type { FilteredQueries } from '../src/hub/store/sqlite-filtered'
import { BUCKET_MS, alignRange } from '../src/hub/store/time'
import type { Bucket, Dimension, Range, StoredEvent } from '../src/hub/store/types'
import { pageview, prng, storeContract } from './helpers/store-contract'

const MIN = 60_000
const HOUR = 3_600_000
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0)
const site = 'a.example'

// 24 blog pages: a "contains" of them is more than the postings serve (sqlite-filtered.ts POSTED_PATHS)
const PATHS = ['/', '/pricing', '/about', '/shop/Item-1', '/shop/item-2', ...Array.from({ length: 24 }, (_, i) => `/blog/post-${i}`)]
const REFS = ['google.com', 'GitHub.com', 'news.example', 'bing.com']
const NAMES = ['Signup', 'Download', 'Play']
const DIMS: Dimension[] = ['page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword', 'browser', 'os',
  'device', 'country', 'region', 'city', 'entry_page', 'exit_page']

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T
}

function traffic(seed: number): StoredEvent[] {
  const r = prng(seed)
  const out: StoredEvent[] = []
  for (let v = 0; v < 120; v++) {
    const place = pick(r, [['DE', 'Bavaria', 'Munich'], ['NL', 'Utrecht', 'Utrecht'], ['US', null, null], [null, null, null]] as const)
    const agent = { visitor: `v${v}`, country: place[0], region: place[1], city: place[2], browser: pick(r, ['Chrome', 'Firefox', 'Safari', null]),
      os: pick(r, ['Linux', 'iOS', 'Windows']), device: pick(r, ['desktop', 'mobile']) }
    let ts = T0 + Math.floor(r() * 6 * HOUR) + v
    for (let i = 0, n = 1 + Math.floor(r() * 12); i < n; i++) {
      const src = r() < 0.5
      out.push(pageview({ ...agent, ts, path: pick(r, PATHS), refHost: src ? pick(r, REFS) : null, utmSource: src ? pick(r, ['newsletter', 'Twitter']) : null,
        utmMedium: src && r() < 0.5 ? 'email' : null, utmCampaign: src && r() < 0.3 ? 'Spring' : null, utmTerm: src && r() < 0.3 ? 'Boots' : null,
        keyword: src && r() < 0.3 ? 'boots' : null }))
      if (r() < 0.2) {
        out.push(pageview({ ...agent, type: 'event', ts: ts + 1000, name: pick(r, NAMES), path: pick(r, PATHS),
          data: JSON.stringify({ plan: pick(r, ['pro', 'free']), ...(r() < 0.5 ? { seats: 2 } : {}) }) }))
      }
      ts += Math.floor((1 + r() * 45) * MIN) + 7
    }
  }
  out.push(pageview({ visitor: 'bot', bot: true, ts: T0 + HOUR, path: '/', browser: 'Googlebot' }))
  return out
}

/** Values each dimension is filtered by: stored ones, in other case, the empty value, one never stored. */
const POOL: Record<FilterDimension, readonly string[]> = {
  page: ['/', '/shop/item-2', '/nowhere'], entry_page: ['/', '/pricing', '/nowhere'], exit_page: ['/', '/blog/post-3'],
  referrer: ['google.com', 'github.com', 'nothing.example'], utm_source: ['newsletter', 'Twitter'], utm_medium: ['email'],
  utm_campaign: ['Spring', 'spring'], utm_term: ['Boots'], keyword: ['boots'], country: ['DE', 'US'], region: ['Bavaria'],
  city: ['Utrecht'], browser: ['Firefox', 'Chrome'], os: ['iOS'], device: ['mobile'], event: ['Signup', 'Nothing'],
}
const CONTAINS: Record<FilterDimension, readonly string[]> = {
  page: ['blog', 'SHOP', 'post-1', 'zzz'], entry_page: ['blog', 'o'], exit_page: ['BLOG'], referrer: ['.com', 'GIT', 'zzz'],
  utm_source: ['news'], utm_medium: ['mai'], utm_campaign: ['prin'], utm_term: ['oo'], keyword: ['OOT'], country: ['e'],
  region: ['var'], city: ['trech'], browser: ['fox'], os: ['ios'], device: ['mob'], event: ['sign', 'a'],
}

function cases(): Filter[][] {
  const out: Filter[][] = [[]]
  for (const dim of FILTER_DIMENSIONS) {
    for (const value of POOL[dim]) for (const op of ['is', 'not'] as const) out.push([{ dim, op, value }])
    for (const value of CONTAINS[dim]) out.push([{ dim, op: 'contains', value }])
    if (dim !== 'event') for (const op of ['is', 'not'] as const) out.push([{ dim, op, value: '' }])
  }
  const prop = (key: string, op: 'is' | 'not' | 'contains', value: string): Filter => ({ dim: 'prop', key, op, value })
  out.push([prop('plan', 'is', 'pro')], [prop('plan', 'not', 'pro')], [prop('seats', 'contains', '2')], [prop('nokey', 'not', 'x')], [prop('plan', 'is', 'gold')])
  out.push(
    [{ dim: 'page', op: 'contains', value: 'blog' }, { dim: 'referrer', op: 'not', value: 'google.com' }],
    [{ dim: 'page', op: 'not', value: '/' }, { dim: 'country', op: 'is', value: 'DE' }],
    [{ dim: 'entry_page', op: 'is', value: '/' }, { dim: 'event', op: 'is', value: 'Signup' }],
    [{ dim: 'referrer', op: 'is', value: '' }, { dim: 'browser', op: 'not', value: 'Firefox' }, { dim: 'page', op: 'contains', value: 'post' }],
    [{ dim: 'page', op: 'contains', value: 'blog' }, { dim: 'page', op: 'contains', value: 'post-1' }],
  )
  return out
}

describe('column-wise History view (issue 12.6)', () => {
  it('kthLargest gives the limit-th largest non-zero count, or 0 when no more are listed', () => {
    assert.equal(kthLargest(Int32Array.of(9, 5, 0, 3, 5, 1), 2), 5)
    assert.equal(kthLargest(Int32Array.of(9, 5, 0, 3, 5, 1), 3), 3)
    assert.equal(kthLargest(Int32Array.of(9, 5, 0, 3, 5, 1), 4), 1)
    assert.equal(kthLargest(Int32Array.of(9, 5, 0, 3, 5, 1), 5), 0)
    const r = prng(5)
    for (let t = 0; t < 50; t++) {
      const a = Int32Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 6))
      const k = 1 + Math.floor(r() * 30)
      const nz = [...a.subarray(1)].filter((x) => x > 0).sort((x, y) => y - x)
      assert.equal(kthLargest(a, k), nz.length <= k ? 0 : nz[k - 1])
    }
  })

  it('gives what the separate SQL calls give for every filter, on random traffic with late page views, merges and engaged time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-colview-'))
    const s = createSqliteStore(join(dir, 'test.db'), { columnReads: true })
    try {
      await s.init()
      const events = traffic(21)
      // most in time order, in batches of random size; every eighth held back and appended late,
      // reversed, so visits are joined late, extended and bridged
      const r = prng(4)
      const early = events.filter((_, i) => i % 8 !== 0).sort((a, b) => a.ts - b.ts)
      const late = events.filter((_, i) => i % 8 === 0).reverse()
      for (let i = 0; i < early.length;) {
        const n = 1 + Math.floor(r() * 60)
        await s.append(early.slice(i, i + n))
        i += n
      }
      for (let i = 0; i < late.length; i += 17) await s.append(late.slice(i, i + 17))
      // engaged time and scroll on some page views (and a stint with no page view)
      const views = events.filter((e) => e.type === 'pageview' && !e.bot)
      await s.appendSessions(views.filter((_, i) => i % 3 === 0).map((e, i) => ({
        id: `view-${i}`, site, visitor: e.visitor as string, started: e.ts, ended: e.ts + MIN, pageviews: 1, readingMs: 3000 + i,
        writingMs: i % 2 === 0 ? 0 : 500, idleMs: 0, hiddenMs: 0, entry: e.path, exit: e.path,
        pages: [
          { path: e.path as string, at: e.ts, viewed: true, readingMs: 3000 + i, writingMs: i % 2 === 0 ? 0 : 500, idleMs: 0, hiddenMs: 0, ...(i % 4 === 0 ? { scroll: 20 + (i % 80) } : {}) },
          ...(i % 5 === 0 ? [{ path: '/ghost', at: e.ts + 1000, viewed: false, readingMs: 700, writingMs: 0, idleMs: 0, hiddenMs: 0 }] : []),
        ],
      })))
      // traffic hours later, one page view per append: the writer (re)builds the settled hours'
      // chunks, one per append (sqlite-chunk-store.ts); then a late page view makes one stale again
      for (let i = 0; i < 60; i++) await s.append([pageview({ visitor: `later${i % 3}`, ts: T0 + 16 * HOUR + i * MIN, path: '/' })])
      await s.append([pageview({ visitor: 'v7', ts: T0 + 3 * HOUR + 30 * MIN, path: '/blog/post-5', refHost: 'bing.com' })])
      const ranges: [number, number, Bucket, number][] = [
        [T0 + 17 * MIN + 5_000, T0 + 4 * HOUR + 3 * MIN, 'minute', 100], [T0 - HOUR, T0 + 12 * HOUR, 'hour', 5],
        [T0 + 41 * MIN, T0 + 5 * HOUR + 29 * MIN + 1, 'hour', 1], [T0 + 3 * MIN, T0 + 9 * HOUR, 'day', 3],
      ]
      const separately = async (q: Range, bucket: Bucket, limit: number, dims: readonly Dimension[]) => ({
        series: await s.series(q, bucket), totals: await s.totals(q), visitTotals: await s.visitTotals(q), bots: await s.bots(q),
        tops: Object.fromEntries(await Promise.all(dims.map(async (d) => [d, await s.top(q, d, limit)] as const))),
        events: null,
      })
      let nonzero = 0
      const all = cases()
      for (const [k, filters] of all.entries()) {
        // each case over two of the ranges, every list on one and a few on the other
        for (const [j, [from, to, bucket, limit]] of [ranges[k % 4], ranges[(k + 1) % 4]].map((x) => x as [number, number, Bucket, number]).entries()) {
          const q = { site, from: from as number, to: to as number, filters }
          const dims = j === 0 ? DIMS : (['exit_page', 'page', 'referrer', 'city'] as Dimension[])
          const v = await s.view(q, { bucket: bucket as Bucket, dims, limit: limit as number })
          assert.deepEqual(v, await separately(q, bucket as Bucket, limit as number, dims), `view ${JSON.stringify(filters)} [${from}, ${to}) ${bucket} ${limit}`)
          if (v.totals.pageviews > 0 && v.visitTotals.visits > 0) nonzero++
          if (j === 0) {
            // a filtered top list on its own (SqliteStore.top, column-wise) against FilteredQueries.top (SQL)
            const an = (s as unknown as { an: { filtered: FilteredQueries } }).an
            const h = alignRange(q.from, q.to, BUCKET_MS.hour)
            const m = alignRange(q.from, q.to, BUCKET_MS.minute)
            assert.deepEqual(await s.totals(q), an.filtered.totals(1, m.from, m.to, filters), `totals ${JSON.stringify(filters)}`)
            assert.deepEqual(await s.visitTotals(q), an.filtered.visitTotals(1, m.from, m.to, filters), `visitTotals ${JSON.stringify(filters)}`)
            const size = BUCKET_MS[bucket as Bucket]
            const want = (await s.series({ site, from: q.from, to: q.to }, bucket as Bucket)).map((p) => ({ ...p, pageviews: 0, visitors: 0 }))
            an.filtered.series(1, want[0]?.t ?? 0, size, want, filters)
            assert.deepEqual(await s.series(q, bucket as Bucket), want, `series ${JSON.stringify(filters)}`)
            for (const d of DIMS) {
              assert.deepEqual(await s.top(q, d, limit as number), an.filtered.top(1, d, h.from, h.to, limit as number, filters),
                `top ${d} ${JSON.stringify(filters)} [${from}, ${to}) ${limit}`)
            }
          }
        }
      }
      assert.ok(nonzero > all.length, `most views count something (${nonzero} of ${2 * all.length})`)
      // the reads came both from stored hour chunks and from the table (edges, stale hours)
      const served = (s as unknown as { an: { columns: { served: { chunkBlocks: number; tableBlocks: number } } } }).an.columns.served
      assert.ok(served.chunkBlocks > 0 && served.tableBlocks > 0, JSON.stringify(served))
    } finally {
      await s.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// the whole store contract (hand-counted fixtures, the view against the separate calls) with the SQL view
// (store.sqlite.test.ts runs it with column reads, the default)
storeContract('sqlite (SQL view)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-colview-'))
  return { open: () => createSqliteStore(join(dir, 'test.db'), { columnReads: false }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
})
