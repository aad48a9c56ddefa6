/**
 * Visitor ids change at UTC midnight (the salt rotates, visitor.ts), which would cut every visit
 * that spans midnight in two. So, as Plausible does, a visit going on at midnight keeps its id:
 * in the last VISIT_GAP_MS of a day the pipeline notes when each visitor id was last seen; after
 * the rotation, a visitor whose id under yesterday's salt was seen within the gap keeps that id for
 * as long as the visit goes on (no gap over VISIT_GAP_MS), then gets today's.
 *
 * Outside the half hour before midnight and the carried visits after it, this costs one comparison
 * per event. A hub restarted across midnight has no notes, and its midnight visits split.
 */
import { VISIT_GAP_MS } from '../store/visits'

const DAY = 86_400_000

export class VisitCarry {
  /** Visitor id → last seen, ms: ids of the day before the rotation only. */
  private readonly seen = new Map<string, number>()
  /** Note every id from this time on (the last gap of the current day); after rotation, +Infinity. */
  private watchFrom: number
  private latest = 0

  constructor(now: number) {
    this.watchFrom = Math.floor(now / DAY) * DAY + DAY - VISIT_GAP_MS
  }

  /** Whether carried ids may exist: the pipeline asks for yesterday's id only then. */
  get active(): boolean {
    return this.seen.size > 0
  }

  /** An event of visitor `id` at `now`, before midnight. */
  note(id: string, now: number): void {
    if (now < this.watchFrom) return
    this.seen.set(id, now)
    this.latest = now
  }

  /** The salt rotated at `now`: from here on only carried visits are followed. */
  rotated(now: number): void {
    this.watchFrom = Math.floor(now / DAY) * DAY + DAY - VISIT_GAP_MS
    if (now - this.latest > VISIT_GAP_MS) this.seen.clear()
  }

  /**
   * True when `previousId` (the visitor's id under yesterday's salt) was last seen within the gap:
   * the event keeps that id, and the visit stays open from `now`.
   */
  carries(previousId: string, now: number): boolean {
    // every visit noted has ended: forget them all at once
    if (now - this.latest > VISIT_GAP_MS) {
      this.seen.clear()
      return false
    }
    const last = this.seen.get(previousId)
    if (last === undefined) return false
    if (now - last > VISIT_GAP_MS) {
      this.seen.delete(previousId)
      return false
    }
    this.seen.set(previousId, now)
    this.latest = now
    return true
  }
}
