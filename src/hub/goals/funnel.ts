/**
 * What a funnel is and how a visit walks it, independent of any store. A funnel is 2 to 8 ordered
 * steps, each a goal (spec.ts: a page or page pattern, or a custom event with optional property
 * matches). Stores hand `FunnelWalk` the page views and custom events that match each step, and
 * it answers how many visits and visitors reached each one.
 *
 * The rules (the contract suite checks each on a hand-counted fixture):
 * - Within one visit only (a visit: visits.ts; a custom event belongs to the visit filters.ts says).
 *   The visits counted are those that started in the range, as every other visit figure; their
 *   page views and events after the range's end count too, a visit that started before it counts
 *   not at all, even for its page views inside the range.
 * - In order: a visit reaches step 1 at its first event matching step 1, and step k at its first
 *   event matching step k after the one that reached step k−1 (page views and events ordered by
 *   time, then by arrival). Steps out of order count only when they come again in order: step 2,
 *   then step 1 reaches step 1 alone. Other page views in between do not break the funnel.
 * - Repeats: a step matched many times counts once; the same goal twice in a row needs two
 *   matching events (`/a` then `/a` is two views of /a).
 * - Once per visit: a visit counts at most once per step; a visitor counts once per step when any
 *   of their visits reached it (so `visitors <= visits`, and both only fall from step to step).
 * - Filters (issue 12's, filters.ts) choose the visits, as for `visitTotals`; they never choose
 *   steps within a visit.
 */
import { LivestatsError } from '../../protocol/errors'
import { countDistinct } from './distinct'
import { parseGoalSpec, type GoalSpec } from './spec'

export const MIN_FUNNEL_STEPS = 2
export const MAX_FUNNEL_STEPS = 8

/** One step's figures: visits that reached it in order, and their distinct visitors. */
export interface FunnelStepCount {
  visits: number
  visitors: number
}

/**
 * Checks a list of steps from client input: 2 to 8 goal specs (`parseGoalSpec`).
 * @throws LivestatsError `LS_ERR_INVALID_GOAL` naming the step that is wrong.
 * @example parseFunnelSteps([{ page: '/pricing' }, { event: 'Signup', props: { plan: 'pro' } }])
 */
export function parseFunnelSteps(input: unknown): GoalSpec[] {
  if (!Array.isArray(input) || input.length < MIN_FUNNEL_STEPS || input.length > MAX_FUNNEL_STEPS) {
    throw new LivestatsError('LS_ERR_INVALID_GOAL', `a funnel has ${MIN_FUNNEL_STEPS} to ${MAX_FUNNEL_STEPS} steps, given as a list`)
  }
  return input.map((s, i) => {
    try {
      return parseGoalSpec(s)
    } catch (err) {
      if (err instanceof LivestatsError) throw new LivestatsError('LS_ERR_INVALID_GOAL', `step ${i + 1}: ${err.message}`)
      throw err
    }
  })
}

/**
 * The events that match one step, as columns (index i is one event): its visit, its visitor (any
 * key unique per visitor), its time (ms) and its arrival order (events rowid, or any sequence that
 * orders events of the same ms).
 */
export interface FunnelRows {
  visit: ArrayLike<number>
  visitor: ArrayLike<number | string>
  ts: ArrayLike<number>
  seq: ArrayLike<number>
}

/**
 * Walks every visit through the steps, one step at a time: `start` with the events matching step 1,
 * then `advance` with those matching each next step, in any order within a step. Events of visits
 * that may not count (outside the range, filtered out) are dropped by `allowed` at step 1.
 *
 * Visits get a slot each: their id minus the smallest id when the ids of step 1 are close together
 * (visits are made in time order, so a range's ids are), else a slot from a map. Per step an
 * Int32Array by slot holds the row where the visit reached it, and the rows are Float64Arrays
 * (copied once when given as plain arrays), so the loops below touch only flat typed arrays.
 * With numeric visitors and slots without a map (the stores' rows) out of time order, step 1 is
 * first only which visits reached it: where each did is found at the next step, for the visits
 * with rows there.
 * @example
 * const w = new FunnelWalk(() => true)
 * w.start(rows1); w.advance(rows2); w.counts() // [{ visits, visitors }, { visits, visitors }]
 */
export class FunnelWalk {
  private slots: Slots = new Slots([])
  /** Slot → position (in step 1's arranged rows) where the visit reached step 1. */
  private first: Int32Array = new Int32Array(0)
  /** Step 1's visitors by arranged position (numbers), or its rows' visitors and positions' rows. */
  private firstKeys: Float64Array | null = null
  private firstVisitor: ArrayLike<number | string> = []
  private firstRow: Int32Array = new Int32Array(0)
  /** Slot → position (of `ts`/`seq`) where the visit reached the last step walked; −1: not reached. */
  private at: Int32Array = new Int32Array(0)
  private ts: Float64Array = new Float64Array(0)
  private seq: Float64Array = new Float64Array(0)
  /** Slots that reached the last step walked (the first `count` entries). */
  private list: Int32Array = new Int32Array(0)
  private count = 0
  /** Step 1 as `startLazy` left it (its rows, and a bit per slot that reached it), until `settle`. */
  private lazy: { parts: readonly Columns[]; reached: Int32Array } | null = null
  private readonly out: FunnelStepCount[] = []

  constructor(private readonly allowed: (visit: number) => boolean) {}

  /**
   * Step 1: each allowed visit's earliest matching event. `rows` may come in parts (row i of
   * `accept` counts across them; `accept` needs a single part).
   */
  start(rows: FunnelRows | readonly FunnelRows[], accept?: (i: number) => boolean): void {
    const parts = columns(rows)
    const numeric = parts.every((p) => p.visitor instanceof Float64Array)
    const slots = new Slots(parts.map((p) => p.visit))
    if (accept === undefined && numeric && slots.inOrder) {
      this.startInOrder(slots, parts)
      return
    }
    if (accept === undefined && numeric && slots.dense) {
      this.startLazy(slots, parts)
      return
    }
    const r = arrange(slots, parts, order(parts, accept), numeric, accept !== undefined || !numeric)
    const { slot, ts, seq, row } = r
    const at = new Int32Array(slots.size).fill(-1)
    const list = new Int32Array(Math.min(slots.size, slot.length))
    let count = 0
    const allowed = this.allowed
    for (let k = 0; k < slot.length; k++) {
      const s = slot[k] as number
      const j = at[s] as number
      if (j >= 0) {
        const a = ts[k] as number
        const b = ts[j] as number
        if (a > b || (a === b && (seq[k] as number) >= (seq[j] as number))) continue
      } else if (accept !== undefined && !allowed(slots.idOf(s))) continue
      if (accept !== undefined && !accept(row[k] as number)) continue
      if (j < 0) list[count++] = s
      at[s] = k
    }
    if (accept === undefined) count = this.keepAllowed(slots, at, list, count)
    this.slots = slots
    this.first = at
    this.firstKeys = r.key
    if (r.key === null) {
      this.firstVisitor = parts.length === 1 ? (parts[0] as Columns).visitor : parts.flatMap((p) => Array.from(p.visitor))
      this.firstRow = row
    }
    this.at = at
    this.ts = ts
    this.seq = seq
    this.list = list
    this.count = count
    this.close()
  }

  /**
   * `start` on rows that come about in time order (Slots.inOrder): walked as given, a position
   * being the row's index across the parts, so only the columns are joined (copies in one go), not
   * arranged by block row by row.
   */
  private startInOrder(slots: Slots, parts: readonly Columns[]): void {
    const ts = join(parts, (p) => p.ts)
    const seq = join(parts, (p) => p.seq)
    // numeric: every part's visitors are a Float64Array
    const key = join(parts, (p) => p.visitor as Float64Array)
    const at = new Int32Array(slots.size).fill(-1)
    const list = new Int32Array(Math.min(slots.size, ts.length))
    const base = slots.base
    let count = 0
    let g = 0
    for (const { visit } of parts) {
      const n = visit.length
      for (let i = 0; i < n; i++, g++) {
        const s = (visit[i] as number) - base
        const j = at[s] as number
        if (j >= 0) {
          const a = ts[g] as number
          const b = ts[j] as number
          if (a > b || (a === b && (seq[g] as number) >= (seq[j] as number))) continue
        } else list[count++] = s
        at[s] = g
      }
    }
    this.slots = slots
    this.first = at
    this.firstKeys = key
    this.at = at
    this.ts = ts
    this.seq = seq
    this.list = list
    this.count = this.keepAllowed(slots, at, list, count)
    this.close()
  }

  /**
   * `start` on rows not in time order (a pattern's pages come page by page), numeric visitors and
   * slots without a map: only which visits reached step 1 and their visitors, in one pass with a
   * bit per slot (a month of 3.5 million visits is 440 KiB of bits, in the CPU cache, where
   * `arrange` copied every row by block first). A visit's rows share one visitor key (a visit is
   * one visitor's), so the first row met gives it. When each visit reached step 1 matters only to
   * the next step, and only for the visits with rows there: `settle` finds it then, for those
   * alone (/blog/** then /signup over the query bench's month: 1,088,825 visits reach step 1, 15,240
   * step 2). Rows in time order keep `startInOrder`: one walk as given costs less than this and
   * `settle` when the next step wants many of the visits (the funnel bench's / then /pricing:
   * 370,823 of 1,498,744 went from 658-780 to 782-824 ms CPU this way).
   */
  private startLazy(slots: Slots, parts: readonly Columns[]): void {
    const { base, size } = slots
    let n = 0
    for (const p of parts) n += p.visit.length
    const m = Math.min(size, n)
    const reached = new Int32Array((size + 31) >>> 5)
    const list = new Int32Array(m)
    const keys = new Float64Array(m)
    let count = 0
    for (const part of parts) {
      const visit = part.visit
      // numeric: every part's visitors are a Float64Array
      const who = part.visitor as Float64Array
      for (let i = 0; i < visit.length; i++) {
        const s = (visit[i] as number) - base
        const w = s >>> 5
        const bit = 1 << (s & 31)
        const word = reached[w] as number
        if ((word & bit) !== 0) continue
        reached[w] = word | bit
        list[count] = s
        keys[count] = who[i] as number
        count++
      }
    }
    // the visits that count, asked once per visit; the others' bits are cleared
    const allowed = this.allowed
    let kept = 0
    for (let k = 0; k < count; k++) {
      const s = list[k] as number
      if (allowed(base + s)) {
        list[kept] = s
        keys[kept] = keys[k] as number
        kept++
      } else reached[s >>> 5] = (reached[s >>> 5] as number) & ~(1 << (s & 31))
    }
    this.slots = slots
    this.lazy = { parts, reached }
    this.list = list
    this.count = kept
    this.out.push({ visits: kept, visitors: countDistinct(keys, kept) })
  }

  /**
   * After `startLazy`, before the next step walks `next` (its rows): where each visit that reached
   * step 1 and has a row in `next` reached it (its earliest row), as `start` keeps it for every
   * visit; a visit without a row in `next` cannot reach that step, nor any after it. Step 1's rows
   * of those visits are copied into one part (their visitor keys too, for the later steps'
   * visitor counts), then walked as `start` walks rows.
   */
  private settle(next: readonly Columns[]): void {
    const { parts, reached } = this.lazy as { parts: readonly Columns[]; reached: Int32Array }
    this.lazy = null
    const { base, size } = this.slots
    const want = new Int32Array(reached.length)
    let wanted = 0
    for (const { visit } of next) {
      for (let i = 0; i < visit.length; i++) {
        const s = (visit[i] as number) - base
        if (s < 0 || s >= size) continue
        const w = s >>> 5
        const bit = 1 << (s & 31)
        const word = want[w] as number
        if ((word & bit) !== 0 || ((reached[w] as number) & bit) === 0) continue
        want[w] = word | bit
        wanted++
      }
    }
    // step 1's rows of the wanted visits, in one part (about as many rows as visits: room for twice)
    let cap = 2 * wanted + 16
    let ts: Float64Array = new Float64Array(cap)
    let seq: Float64Array = new Float64Array(cap)
    let key: Float64Array = new Float64Array(cap)
    const at = new Int32Array(size).fill(-1)
    let k = 0
    for (const part of parts) {
      const { visit, ts: pts, seq: pseq } = part
      const who = part.visitor as Float64Array
      for (let i = 0; i < visit.length; i++) {
        const s = (visit[i] as number) - base
        if (((want[s >>> 5] as number) & (1 << (s & 31))) === 0) continue
        if (k === cap) {
          cap *= 2
          ts = grow(ts, cap)
          seq = grow(seq, cap)
          key = grow(key, cap)
        }
        const t = pts[i] as number
        const q = pseq[i] as number
        ts[k] = t
        seq[k] = q
        key[k] = who[i] as number
        const j = at[s] as number
        if (j < 0 || t < (ts[j] as number) || (t === ts[j] && q < (seq[j] as number))) at[s] = k
        k++
      }
    }
    this.first = at
    this.firstKeys = key
    this.at = at
    this.ts = ts
    this.seq = seq
  }

  /**
   * Keeps the listed visits that count. Which do depends on the visit alone: asked once per visit,
   * not per row (with `accept`, which must only see rows of visits that count, they were asked before).
   */
  private keepAllowed(slots: Slots, at: Int32Array, list: Int32Array, count: number): number {
    const allowed = this.allowed
    let kept = 0
    for (let k = 0; k < count; k++) {
      const s = list[k] as number
      if (allowed(slots.idOf(s))) list[kept++] = s
      else at[s] = -1
    }
    return kept
  }

  /**
   * The next step: for each visit that reached the step before, its earliest matching event after
   * that one. `accept`, when given, is asked only about events that would otherwise count, earliest
   * first (a store reads their properties then, so only the few candidates cost a read).
   */
  advance(rows: FunnelRows | readonly FunnelRows[], accept?: (i: number) => boolean): void {
    const parts = columns(rows)
    if (this.lazy !== null) this.settle(parts)
    const { slots, at: prev, ts: pts, seq: pseq } = this
    let slot: Int32Array | null = null
    let ts: Float64Array
    let seq: Float64Array
    let row: Int32Array = new Int32Array(0)
    if (accept === undefined && slots.inOrderOf(parts)) {
      ts = join(parts, (p) => p.ts)
      seq = join(parts, (p) => p.seq)
    } else {
      const r = arrange(slots, parts, order(parts, accept), false, accept !== undefined)
      ;({ slot, ts, seq, row } = r)
    }
    const at = new Int32Array(prev.length).fill(-1)
    const list = new Int32Array(Math.min(this.count, ts.length))
    let count = 0
    const { base, size } = slots
    // rows as given (slot computed here) or arranged (slot given); k runs over ts either way
    let g = 0
    for (const part of slot === null ? parts : [null]) {
      const visit = part === null ? null : part.visit
      const n = visit === null ? ts.length : visit.length
      for (let i = 0; i < n; i++, g++) {
        let s: number
        if (visit === null) s = (slot as Int32Array)[g] as number
        else {
          s = (visit[i] as number) - base
          if (s < 0 || s >= size) continue
        }
        const p = prev[s] as number
        if (p < 0) continue
        const t = ts[g] as number
        const q = seq[g] as number
        const tp = pts[p] as number
        if (tp > t || (tp === t && (pseq[p] as number) >= q)) continue
        const h = at[s] as number
        if (h >= 0) {
          const th = ts[h] as number
          if (t > th || (t === th && q >= (seq[h] as number))) continue
        }
        if (accept !== undefined && !accept(row[g] as number)) continue
        if (h < 0) list[count++] = s
        at[s] = g
      }
    }
    this.at = at
    this.ts = ts
    this.seq = seq
    this.list = list
    this.count = count
    this.close()
  }

  /** The ids of the visits that reached the last step walked, ascending; null when over `max`. */
  reached(max: number): number[] | null {
    if (this.count > max) return null
    const out: number[] = []
    for (let k = 0; k < this.count; k++) out.push(this.slots.idOf(this.list[k] as number))
    return out.sort((a, b) => a - b)
  }

  /** One count per step walked so far. */
  counts(): FunnelStepCount[] {
    return this.out.map((c) => ({ ...c }))
  }

  private close(): void {
    const { first, list, count, firstKeys } = this
    let visitors: number
    if (firstKeys !== null) {
      const keys = new Float64Array(count)
      for (let k = 0; k < count; k++) keys[k] = firstKeys[first[list[k] as number] as number] as number
      visitors = countDistinct(keys)
    } else {
      const people = new Set<number | string>()
      const who = this.firstVisitor
      for (let k = 0; k < count; k++) people.add(who[this.firstRow[first[list[k] as number] as number] as number] as number | string)
      visitors = people.size
    }
    this.out.push({ visits: count, visitors })
  }
}

/** Slots per block of `at` that the arranged rows visit one at a time (64 KiB of Int32). */
const BLOCK_BITS = 14

/** A step's rows (one part) with Float64Array columns. */
interface Columns {
  visit: Float64Array
  visitor: ArrayLike<number | string>
  ts: Float64Array
  seq: Float64Array
}

function columns(rows: FunnelRows | readonly FunnelRows[]): Columns[] {
  const list: readonly FunnelRows[] = Array.isArray(rows) ? rows : [rows as FunnelRows]
  return list.map((r) => ({ visit: floats(r.visit), visitor: r.visitor, ts: floats(r.ts), seq: floats(r.seq) }))
}

/**
 * A step's rows with a slot, copied in the order the walk visits them: grouped by block of
 * 2^BLOCK_BITS slots, and within a block in the given order (rows as given, or `idx`: earliest
 * first). A step's rows come path by path, each path in time order, so consecutive rows belong to
 * visits all over the slot range: walking them as given, nearly every row missed the CPU cache
 * twice (its visit's slot, then the row that slot points to); walked by block, both stay in cache.
 * `row` maps a position back to the row given (counted across the parts) when asked for (else
 * empty); `key` is the visitor keys when asked for. Rows of visits without a slot are left out.
 */
function arrange(slots: Slots, parts: readonly Columns[], idx: number[] | null, keys: boolean, rows: boolean):
  { slot: Int32Array; ts: Float64Array; seq: Float64Array; row: Int32Array; key: Float64Array | null } {
  const slotOf = parts.map((p) => slots.rows(p.visit))
  const blocks = (slots.size >>> BLOCK_BITS) + 1
  const start = new Int32Array(blocks + 1)
  for (const part of slotOf) {
    for (let i = 0; i < part.length; i++) {
      const s = part[i] as number
      if (s >= 0) start[(s >>> BLOCK_BITS) + 1] = (start[(s >>> BLOCK_BITS) + 1] as number) + 1
    }
  }
  for (let b = 0; b < blocks; b++) start[b + 1] = (start[b + 1] as number) + (start[b] as number)
  const m = start[blocks] as number
  const out = { slot: new Int32Array(m), ts: new Float64Array(m), seq: new Float64Array(m), row: new Int32Array(rows ? m : 0), key: keys ? new Float64Array(m) : null }
  const row = rows ? out.row : null
  let base = 0
  for (let p = 0; p < parts.length; p++) {
    const { ts, seq, visitor } = parts[p] as Columns
    const part = slotOf[p] as Int32Array
    const n = part.length
    const key = out.key
    for (let k = 0; k < n; k++) {
      const i = idx === null ? k : (idx[k] as number)
      const s = part[i] as number
      if (s < 0) continue
      const b = s >>> BLOCK_BITS
      const to = start[b] as number
      start[b] = to + 1
      out.slot[to] = s
      out.ts[to] = ts[i] as number
      out.seq[to] = seq[i] as number
      if (row !== null) row[to] = base + i
      if (key !== null) key[to] = visitor[i] as number
    }
    base += n
  }
  return out
}

/** One column of the parts end to end (a part's own array when there is one part). */
function join(parts: readonly Columns[], column: (p: Columns) => Float64Array): Float64Array {
  if (parts.length === 1) return column(parts[0] as Columns)
  let n = 0
  for (const p of parts) n += column(p).length
  const out = new Float64Array(n)
  let at = 0
  for (const p of parts) {
    out.set(column(p), at)
    at += column(p).length
  }
  return out
}

/** A copy of `a` with room for `n` entries. */
function grow(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n)
  b.set(a)
  return b
}

/** A column as a Float64Array (stores hand typed arrays; plain arrays are copied once). */
function floats(a: ArrayLike<number>): Float64Array {
  return a instanceof Float64Array ? a : Float64Array.from(a)
}

/**
 * Slots a row may fall behind the highest slot seen before it and still count as in order: rows
 * that stay within this window of the newest visits touch `at` and the rows it points to in a
 * range that stays in the CPU cache (as one block of `arrange` does).
 */
const WINDOW = 1 << BLOCK_BITS

/**
 * Whether `visit`'s rows (slots base + 0 … size − 1; others are skipped) come about in time order:
 * at most 1 in 8 falls more than WINDOW slots behind the highest before it. A page's postings do
 * (its views in time order, and visits take ids in time order); the rows of many pages, page by
 * page, do not.
 */
function inOrder(parts: readonly Float64Array[], base: number, size: number): boolean {
  let far = 0
  let length = 0
  let top = -Infinity
  for (const visit of parts) {
    length += visit.length
    for (let k = 0; k < visit.length; k++) {
      const s = (visit[k] as number) - base
      if (s < 0 || s >= size) continue
      if (s > top) top = s
      else if (s < top - WINDOW) far++
    }
  }
  return far * 8 <= length
}

/**
 * Slots per row of step 1 up to which slots are ids − base: a slot costs each step 4 bytes to
 * allocate and fill (about a nanosecond), a map's slot a Map lookup per row of each step (about a
 * hundred). A month's page views of `/` come from about 1 visit in 6 of the month's visits: with
 * 4 slots per row, those took the map and spent more time in it than in the rest of the walk.
 */
const DENSE = 32

/** Visit id → slot: id − base when step 1's ids are close together, else from a map. −1: no slot. */
class Slots {
  readonly size: number
  /** The visit id of slot 0 (without a map). */
  readonly base: number
  private readonly map: Map<number, number> | null
  /** Slot → visit id, for a map's slots. */
  private ids: number[] = []
  /** Slots are visit ids less `base` (no map). */
  readonly dense: boolean
  /** Step 1's rows are in order (see `inOrder`), and slots need no map. */
  readonly inOrder: boolean

  constructor(parts: readonly Float64Array[]) {
    let min = Infinity
    let max = -Infinity
    let length = 0
    for (const visit of parts) {
      length += visit.length
      for (let k = 0; k < visit.length; k++) {
        const v = visit[k] as number
        if (v < min) min = v
        if (v > max) max = v
      }
    }
    const span = max - min + 1
    if (length === 0) {
      this.base = 0
      this.size = 0
      this.map = null
    } else if (Number.isSafeInteger(span) && span <= DENSE * length + 65_536) {
      this.base = min
      this.size = span
      this.map = null
    } else {
      const map = new Map<number, number>()
      const ids: number[] = []
      for (const visit of parts) {
        for (let k = 0; k < visit.length; k++) {
          const v = visit[k] as number
          if (!map.has(v)) map.set(v, ids.push(v) - 1)
        }
      }
      this.ids = ids
      this.base = 0
      this.size = map.size
      this.map = map
    }
    this.dense = this.map === null
    this.inOrder = this.inOrderOf(parts)
  }

  /** Whether rows with these visits can be walked as given: in order, and slots without a map. */
  inOrderOf(parts: readonly (Float64Array | Columns)[]): boolean {
    return this.map === null && inOrder(parts.map((p) => (p instanceof Float64Array ? p : p.visit)), this.base, this.size)
  }

  /** The visit id of a slot. */
  idOf(slot: number): number {
    return this.map === null ? this.base + slot : (this.ids[slot] as number)
  }

  /** The slot of each row's visit (−1: none), in one pass. */
  rows(visit: Float64Array): Int32Array {
    const out = new Int32Array(visit.length)
    const { map, base, size } = this
    if (map !== null) {
      for (let i = 0; i < visit.length; i++) out[i] = map.get(visit[i] as number) ?? -1
      return out
    }
    for (let i = 0; i < visit.length; i++) {
      const k = (visit[i] as number) - base
      out[i] = k >= 0 && k < size ? k : -1
    }
    return out
  }
}

/** Row indexes earliest first when `accept` must see the earliest candidate first; null: as given. */
function order(parts: readonly Columns[], accept: ((i: number) => boolean) | undefined): number[] | null {
  if (accept === undefined) return null
  if (parts.length !== 1) throw new Error('FunnelWalk: `accept` needs the rows in one part')
  const { ts, seq } = parts[0] as Columns
  const idx = Array.from({ length: ts.length }, (_, i) => i)
  return idx.sort((a, b) => (ts[a] as number) - (ts[b] as number) || (seq[a] as number) - (seq[b] as number))
}
