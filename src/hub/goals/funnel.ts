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
 * @example
 * const w = new FunnelWalk(() => true)
 * w.start(rows1); w.advance(rows2); w.counts() // [{ visits, visitors }, { visits, visitors }]
 */
export class FunnelWalk {
  /** Where each visit reached step 1 (row index into `firstRows`): its visitor is that row's. */
  private first: VisitIndex = new MapIndex()
  private firstRows: FunnelRows = { visit: [], visitor: [], ts: [], seq: [] }
  /** Visit → index (into `rows`) of the event where it reached the last step walked. */
  private reached: VisitIndex = new MapIndex()
  private rows: FunnelRows = this.firstRows
  private make: () => VisitIndex = () => new MapIndex()
  private readonly out: FunnelStepCount[] = []

  constructor(private readonly allowed: (visit: number) => boolean) {}

  /** Step 1: each allowed visit's earliest matching event. */
  start(rows: FunnelRows, accept?: (i: number) => boolean): void {
    const { visit } = rows
    let min = Infinity
    let max = -Infinity
    for (let k = 0; k < visit.length; k++) {
      const v = visit[k] as number
      if (v < min) min = v
      if (v > max) max = v
    }
    // visit ids of a range are close together (made in time order): an array indexed by id beats a map
    const span = max - min + 1
    if (Number.isSafeInteger(span) && span <= 4 * visit.length + 65_536) this.make = () => new DenseIndex(min, span)
    const m = this.make()
    const idx = order(rows, accept)
    for (let k = 0; k < visit.length; k++) {
      const i = idx === null ? k : (idx[k] as number)
      const v = visit[i] as number
      const j = m.get(v)
      if (j >= 0 && !before(rows, i, rows, j)) continue
      if ((j < 0 && !this.allowed(v)) || (accept !== undefined && !accept(i))) continue
      m.set(v, i)
    }
    this.first = m
    this.firstRows = rows
    this.reached = m
    this.rows = rows
    this.close()
  }

  /**
   * The next step: for each visit that reached the step before, its earliest matching event after
   * that one. `accept`, when given, is asked only about events that would otherwise count, earliest
   * first (a store reads their properties then, so only the few candidates cost a read).
   */
  advance(rows: FunnelRows, accept?: (i: number) => boolean): void {
    const prev = this.reached
    const prevRows = this.rows
    const next = this.make()
    const { visit } = rows
    const idx = order(rows, accept)
    for (let k = 0; k < visit.length; k++) {
      const i = idx === null ? k : (idx[k] as number)
      const v = visit[i] as number
      const p = prev.get(v)
      if (p < 0 || !before(prevRows, p, rows, i)) continue
      const got = next.get(v)
      if (got >= 0 && !before(rows, i, rows, got)) continue
      if (accept !== undefined && !accept(i)) continue
      next.set(v, i)
    }
    this.reached = next
    this.rows = rows
    this.close()
  }

  /** One count per step walked so far. */
  counts(): FunnelStepCount[] {
    return this.out.map((c) => ({ ...c }))
  }

  private close(): void {
    const people = new Set<number | string>()
    const { first } = this
    const who = this.firstRows.visitor
    this.reached.forEach((v) => people.add(who[first.get(v)] as number | string))
    this.out.push({ visits: this.reached.size, visitors: people.size })
  }
}

/** Visit id → row index (−1: none). */
interface VisitIndex {
  get(visit: number): number
  set(visit: number, row: number): void
  readonly size: number
  forEach(fn: (visit: number) => void): void
}

class MapIndex implements VisitIndex {
  private readonly m = new Map<number, number>()
  get(visit: number): number {
    return this.m.get(visit) ?? -1
  }
  set(visit: number, row: number): void {
    this.m.set(visit, row)
  }
  get size(): number {
    return this.m.size
  }
  forEach(fn: (visit: number) => void): void {
    for (const v of this.m.keys()) fn(v)
  }
}

/** For visit ids in [base, base + size): one Int32Array slot per id, and the ids set, in order of setting. */
class DenseIndex implements VisitIndex {
  private readonly at: Int32Array
  private readonly ids: number[] = []
  constructor(private readonly base: number, size: number) {
    this.at = new Int32Array(size).fill(-1)
  }
  get(visit: number): number {
    const k = visit - this.base
    return k >= 0 && k < this.at.length ? (this.at[k] as number) : -1
  }
  set(visit: number, row: number): void {
    const k = visit - this.base
    if (this.at[k] === -1) this.ids.push(visit)
    this.at[k] = row
  }
  get size(): number {
    return this.ids.length
  }
  forEach(fn: (visit: number) => void): void {
    for (const v of this.ids) fn(v)
  }
}

/** Whether event `i` of `a` comes strictly before event `j` of `b` (time, then arrival). */
function before(a: FunnelRows, i: number, b: FunnelRows, j: number): boolean {
  const ta = a.ts[i] as number
  const tb = b.ts[j] as number
  return ta < tb || (ta === tb && (a.seq[i] as number) < (b.seq[j] as number))
}

/** Row indexes earliest first when `accept` must see the earliest candidate first; null: as given. */
function order(rows: FunnelRows, accept: ((i: number) => boolean) | undefined): number[] | null {
  if (accept === undefined) return null
  const { ts, seq } = rows
  const idx = Array.from({ length: rows.visit.length }, (_, i) => i)
  return idx.sort((a, b) => (ts[a] as number) - (ts[b] as number) || (seq[a] as number) - (seq[b] as number))
}
