/**
 * A multiset of visit ids (positive integers, SQLite rowids) asked once per row of a column read
 * (sqlite-col-filter.ts): whether an id is a member, or how many times it was added. A JS Set of
 * 100,000 ids asked with the doubles of a Float64Array column cost 38 ms a view (page=~blog on a
 * day of 10 M events); the visits of one view's window have ids close together (ids grow with
 * time), so a count per id from the smallest to the largest answers with one array load. Ids
 * spread wider than MAX_SPAN (many sites interleaved over a long range) fall back to a Map.
 */

/** Largest `max - min + 1` kept as an Int32Array (16 MiB). */
const MAX_SPAN = 1 << 22

/** The table `VisitIds.lookup` gives: `counts[id - base]` when `counts` is set (0 outside it), else `map.get(id)`. */
export type VisitIdTable = { counts: Int32Array; base: number; map: null } | { counts: null; base: 0; map: Map<number, number> }

export class VisitIds {
  private added: number[] = []
  private table: VisitIdTable | null = null

  /** @param ids the first members (any order; an id given twice counts twice) */
  constructor(ids: Iterable<number> = []) {
    for (const id of ids) this.added.push(id)
  }

  /** Adds `id` (an integer) once more; the next `lookup` builds the table anew. */
  add(id: number): void {
    this.added.push(id)
    this.table = null
  }

  /** How many ids were added (with repeats). */
  get size(): number {
    return this.added.length
  }

  /** The table to ask in a loop (see VisitIdTable). */
  lookup(): VisitIdTable {
    this.table ??= this.build()
    return this.table
  }

  /** How many times `id` was added (0 for a non-member, NaN, a fraction). */
  count(id: number): number {
    const t = this.lookup()
    if (t.counts === null) return t.map.get(id) ?? 0
    const j = id - t.base
    return j >= 0 && j < t.counts.length ? (t.counts[j] ?? 0) : 0
  }

  /** Whether `id` is a member. */
  has(id: number): boolean {
    return this.count(id) > 0
  }

  private build(): VisitIdTable {
    const a = this.added
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < a.length; i++) {
      const v = a[i] as number
      if (v < min) min = v
      if (v > max) max = v
    }
    if (a.length === 0) return { counts: new Int32Array(0), base: 0, map: null }
    if (max - min < MAX_SPAN && Number.isSafeInteger(min) && Number.isSafeInteger(max)) {
      const counts = new Int32Array(max - min + 1)
      for (let i = 0; i < a.length; i++) {
        const j = (a[i] as number) - min
        counts[j] = (counts[j] as number) + 1
      }
      return { counts, base: min, map: null }
    }
    const map = new Map<number, number>()
    for (const v of a) map.set(v, (map.get(v) ?? 0) + 1)
    return { counts: null, base: 0, map }
  }
}
