/**
 * Top lists counted from column blocks (sqlite-chunks.ts): one typed array per figure indexed by
 * dict id, filled by loops over a block's rows, instead of a Map lookup per row (about 30 ns each,
 * a few ms per list over a day's page views). Only the ids that can make a list of `limit` rows
 * (those counting at least the `limit`th largest) become groups for the rankings the SQL path uses
 * (`FilteredQueries.pvList`, `visitList`), so the lists are the same, ties and all.
 */
import type { Block, Column, PvColumn, VisitColumn } from './sqlite-chunks'
import type { Dict } from './sqlite-dict'
import type { Tallied, VisitsTallied } from './sqlite-tally'

/** The `k`th largest of the non-zero counts[1..], or 0 when there are no more than `k` of them. */
export function kthLargest(counts: Int32Array, k: number): number {
  const heap = new Int32Array(Math.max(k, 1))
  let size = 0
  for (let i = 1; i < counts.length; i++) {
    const c = counts[i] as number
    if (c === 0) continue
    if (size < k) {
      // sift up a min-heap
      let j = size++
      while (j > 0) {
        const up = (j - 1) >> 1
        if ((heap[up] as number) <= c) break
        heap[j] = heap[up] as number
        j = up
      }
      heap[j] = c
    } else if (c > (heap[0] as number)) {
      let j = 0
      for (;;) {
        const l = 2 * j + 1
        if (l >= size) break
        const r = l + 1
        const m = r < size && (heap[r] as number) < (heap[l] as number) ? r : l
        if ((heap[m] as number) >= c) break
        heap[j] = heap[m] as number
        j = m
      }
      heap[j] = c
    }
  }
  // with no more than k groups every one is listed (as pvList's threshold)
  return size < k || k === 0 ? 0 : (heap[0] as number)
}

/** The largest value of an Int32Array column over blocks (0 when none). */
export function maxId<C extends string>(blocks: readonly Block<C>[], col: C): number {
  let max = 0
  for (const b of blocks) {
    const a = b.cols[col] as Int32Array
    for (let i = 0; i < b.n; i++) if ((a[i] as number) > max) max = a[i] as number
  }
  return max
}

/** Page views per dict id of one pv column; with `engaged`, a page's engaged time and scroll too (addEngaged). */
export class PvCounts {
  readonly n: Int32Array
  private readonly ev: Int32Array | null
  private readonly em: Float64Array | null
  private readonly wm: Float64Array | null
  private readonly sv: Int32Array | null
  private readonly ss: Float64Array | null

  constructor(readonly col: PvColumn, size: number, engaged: boolean) {
    this.n = new Int32Array(size)
    this.ev = engaged ? new Int32Array(size) : null
    this.em = engaged ? new Float64Array(size) : null
    this.wm = engaged ? new Float64Array(size) : null
    this.sv = engaged ? new Int32Array(size) : null
    this.ss = engaged ? new Float64Array(size) : null
  }

  /** Counts the rows `rows[lo..hi)` of `b` (row indexes). */
  add(b: Block<PvColumn>, rows: Int32Array, lo: number, hi: number): void {
    const ids = b.cols[this.col] as Int32Array
    const n = this.n
    if (this.ev === null) {
      for (let k = lo; k < hi; k++) {
        const id = ids[rows[k] as number] as number
        if (id !== 0) n[id] = (n[id] as number) + 1
      }
      return
    }
    const ev = this.ev
    const em = this.em as Float64Array
    const wm = this.wm as Float64Array
    const sv = this.sv as Int32Array
    const ss = this.ss as Float64Array
    const e = b.cols.engaged_ms as Float64Array
    const w = b.cols.writing_ms as Float64Array
    const s = b.cols.scroll as Float64Array
    for (let k = lo; k < hi; k++) {
      const i = rows[k] as number
      const id = ids[i] as number
      if (id === 0) continue
      n[id] = (n[id] as number) + 1
      const ei = e[i] as number
      if (ei === ei) {
        ev[id] = (ev[id] as number) + 1
        em[id] = (em[id] as number) + ei
        const wi = w[i] as number
        wm[id] = (wm[id] as number) + (wi === wi ? wi : 0)
      }
      const si = s[i] as number
      if (si === si) {
        sv[id] = (sv[id] as number) + 1
        ss[id] = (ss[id] as number) + si
      }
    }
  }

  /** The groups that can make a list of `limit` rows, by dict id (for FilteredQueries.pvList). */
  groups(limit: number): Map<number, Tallied> {
    const least = Math.max(1, kthLargest(this.n, limit))
    const out = new Map<number, Tallied>()
    const n = this.n
    for (let id = 1; id < n.length; id++) {
      const c = n[id] as number
      if (c < least) continue
      out.set(id, {
        n: c, engagedViews: this.ev?.[id] ?? 0, engagedMs: this.em?.[id] ?? 0, writingMs: this.wm?.[id] ?? 0,
        scrollViews: this.sv?.[id] ?? 0, scrollSum: this.ss?.[id] ?? 0,
      })
    }
    return out
  }
}

/**
 * Visits per value of one visit text column (dict ids; negative ids and, when `none` names it,
 * NULL as that value go to a Map, being few), with their bounces, page views and duration.
 */
export class VisitCounts {
  private readonly visits: Int32Array
  private readonly bounces: Int32Array
  private readonly pageviews: Float64Array
  private readonly duration: Float64Array
  /** By negative id, or 0 for NULL. */
  private readonly rest = new Map<number, VisitsTallied>()

  constructor(readonly col: VisitColumn, size: number, private readonly none: string | null) {
    this.visits = new Int32Array(size)
    this.bounces = new Int32Array(size)
    this.pageviews = new Float64Array(size)
    this.duration = new Float64Array(size)
  }

  /** Counts the visits `rows` (row indexes) of `b` (columns pageviews, duration and `col`). */
  add(b: Block<VisitColumn>, rows: Int32Array): void {
    const ids = b.cols[this.col] as Int32Array
    const pv = b.cols.pageviews as Float64Array
    const ms = b.cols.duration as Float64Array
    const { visits, bounces, pageviews, duration } = this
    for (let k = 0; k < rows.length; k++) {
      const i = rows[k] as number
      const id = ids[i] as number
      const p = pv[i] as number
      if (id > 0) {
        visits[id] = (visits[id] as number) + 1
        if (p === 1) bounces[id] = (bounces[id] as number) + 1
        pageviews[id] = (pageviews[id] as number) + p
        duration[id] = (duration[id] as number) + (ms[i] as number)
      } else if (id < 0 || this.none !== null) {
        let g = this.rest.get(id)
        if (g === undefined) this.rest.set(id, (g = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0 }))
        g.visits++
        if (p === 1) g.bounces++
        g.pageviews += p
        g.durationMs += ms[i] as number
      }
    }
  }

  /** The groups that can make a list of `limit` rows, by value (for visitList); `text` resolves negative ids. */
  groups(limit: number, dict: Dict, text: (id: number) => string | undefined): Map<string, VisitsTallied> {
    const least = Math.max(1, kthLargest(this.visits, limit))
    const ids: number[] = []
    for (let id = 1; id < this.visits.length; id++) if ((this.visits[id] as number) >= least) ids.push(id)
    const names = dict.values(ids)
    const out = new Map<string, VisitsTallied>()
    const merge = (value: string, g: VisitsTallied): void => {
      const had = out.get(value)
      if (had === undefined) out.set(value, g)
      else {
        had.visits += g.visits
        had.bounces += g.bounces
        had.pageviews += g.pageviews
        had.durationMs += g.durationMs
      }
    }
    for (const id of ids) {
      merge(names.get(id) ?? '', {
        visits: this.visits[id] as number, bounces: this.bounces[id] as number,
        pageviews: this.pageviews[id] as number, durationMs: this.duration[id] as number,
      })
    }
    for (const [id, g] of this.rest) merge(id === 0 ? (this.none as string) : (text(id) ?? ''), g)
    return out
  }
}

/** The position in `rows` (row indexes, in time order) of the first row whose `ts` is >= t. */
export function lowerBound(ts: Column, rows: Int32Array, t: number): number {
  let lo = 0
  let hi = rows.length
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if ((ts[rows[m] as number] as number) < t) lo = m + 1
    else hi = m
  }
  return lo
}
