/**
 * A set of visit ids (positive integers, SQLite rowids) asked once per row of a column read
 * (sqlite-col-filter.ts). A JS Set of 100,000 ids asked with the doubles of a Float64Array column
 * cost 38 ms a view (page=~blog on a day of 10 M events); the visits of one view's window have ids
 * close together (ids grow with time), so a byte per id from the smallest to the largest answers
 * with one array load. Ids spread wider than MAX_SPAN (many sites interleaved over a long range)
 * fall back to a Set.
 */

/** Largest `max - min + 1` kept as a byte array (16 MiB). */
const MAX_SPAN = 1 << 24

export class VisitIds {
  private added: number[] = []
  private bits: Uint8Array | null = null
  private base = 0
  private set: Set<number> | null = null

  /** @param ids the first members (any order, duplicates allowed) */
  constructor(ids: Iterable<number> = []) {
    for (const id of ids) this.added.push(id)
  }

  /** Adds `id` (an integer); the next `lookup` builds the table anew. */
  add(id: number): void {
    this.added.push(id)
    this.bits = null
    this.set = null
  }

  /** How many ids were added (with duplicates). */
  get size(): number {
    return this.added.length
  }

  /**
   * The table to ask in a loop: `bits[id - base] === 1` for a member when `bits` is set (an index
   * outside `bits` is no member), else `set.has(id)`.
   */
  lookup(): { bits: Uint8Array; base: number; set: null } | { bits: null; base: 0; set: Set<number> } {
    if (this.bits === null && this.set === null) this.build()
    if (this.bits !== null) return { bits: this.bits, base: this.base, set: null }
    return { bits: null, base: 0, set: this.set as Set<number> }
  }

  /** Whether `id` is a member. */
  has(id: number): boolean {
    if (this.bits === null && this.set === null) this.build()
    const bits = this.bits
    if (bits === null) return (this.set as Set<number>).has(id)
    const j = id - this.base
    return j >= 0 && j < bits.length && bits[j] === 1
  }

  private build(): void {
    const a = this.added
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < a.length; i++) {
      const v = a[i] as number
      if (v < min) min = v
      if (v > max) max = v
    }
    if (a.length === 0) {
      this.bits = new Uint8Array(0)
      this.base = 0
    } else if (max - min < MAX_SPAN && Number.isSafeInteger(min) && Number.isSafeInteger(max)) {
      const bits = new Uint8Array(max - min + 1)
      for (let i = 0; i < a.length; i++) bits[(a[i] as number) - min] = 1
      this.bits = bits
      this.base = min
    } else this.set = new Set(a)
  }
}
