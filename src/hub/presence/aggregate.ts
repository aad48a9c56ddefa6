/**
 * Visitor counts kept incrementally: each visitor holds a tally of their tabs per state, and the
 * aggregate counts each visitor once, in the state of their most active tab. A tab event costs
 * O(1): one tally update, and at most one move between the counters. Nothing is ever recounted.
 */
import type { PresenceState } from '../../protocol/limits'
import type { LiveCounts } from './types'

/** State indexes, most active first (the order of `STATES`): writing 0, reading 1, idle 2, hidden 3. */
export const STATE_INDEX: Readonly<Record<PresenceState, number>> = { writing: 0, reading: 1, idle: 2, hidden: 3 }
export const NONE = -1

function best(tally: number[]): number {
  for (let i = 0; i < 4; i++) if ((tally[i] as number) > 0) return i
  return NONE
}

export class Aggregate {
  /** visitor → tabs per state (a 4-slot tally). A visitor with no tab left is deleted. */
  private readonly tallies = new Map<string, number[]>()
  /** Visitors per most-active state: writing, reading, idle, hidden. */
  readonly byState = [0, 0, 0, 0]
  total = 0

  /**
   * One tab of `visitor` moves from state index `from` to `to` (`NONE` for a join or a leave).
   * Returns true when the visitor's counted state changed, i.e. the counters moved.
   */
  move(visitor: string, from: number, to: number): boolean {
    let tally = this.tallies.get(visitor)
    if (tally === undefined) {
      if (from !== NONE) throw new Error('presence: tab left a visitor the aggregate does not hold')
      tally = [0, 0, 0, 0]
      this.tallies.set(visitor, tally)
    }
    const before = best(tally)
    if (from !== NONE) tally[from] = (tally[from] as number) - 1
    if (to !== NONE) tally[to] = (tally[to] as number) + 1
    const after = best(tally)
    if (after === NONE) this.tallies.delete(visitor)
    if (before === after) return false
    if (before === NONE) this.total++
    else this.byState[before] = (this.byState[before] as number) - 1
    if (after === NONE) this.total--
    else this.byState[after] = (this.byState[after] as number) + 1
    return true
  }

  get visitors(): number {
    return this.tallies.size
  }

  /** A visitor whose every tab is hidden counts as idle (and in `hidden`, a part of idle), so total = reading + writing + idle. */
  counts(): LiveCounts {
    const s = this.byState
    const hidden = s[3] as number
    return { total: this.total, reading: s[1] as number, writing: s[0] as number, idle: (s[2] as number) + hidden, hidden }
  }
}
