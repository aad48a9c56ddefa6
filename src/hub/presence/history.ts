/**
 * Per-minute samples of a site's live counts: max and time-weighted mean of total, reading,
 * writing and idle. The mean integrates each value over the time it held (updated in O(1) on
 * every change), so a spike of 200 ms weighs 200 ms, exactly, without sampling.
 */
import type { LiveSample } from '../store/types'
import type { LiveCounts } from './types'

export const MINUTE = 60_000

export class MinuteSampler {
  private minute: number
  /** Start of the observed part of the minute (the hub may start mid-minute). */
  private from: number
  private last: number
  private cur: LiveCounts = { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 }
  private readonly sum = { total: 0, reading: 0, writing: 0, idle: 0 }
  private readonly max = { total: 0, reading: 0, writing: 0, idle: 0 }

  constructor(now: number) {
    this.minute = Math.floor(now / MINUTE) * MINUTE
    this.from = now
    this.last = now
  }

  /** Records the counts that hold from `now` on. Call after every change; `now` never goes back. */
  set(now: number, counts: LiveCounts): void {
    this.accrue(now)
    this.cur = counts
    const m = this.max
    if (counts.total > m.total) m.total = counts.total
    if (counts.reading > m.reading) m.reading = counts.reading
    if (counts.writing > m.writing) m.writing = counts.writing
    if (counts.idle > m.idle) m.idle = counts.idle
  }

  /** Closes every whole minute before `now` and returns their samples (one per minute, oldest first). */
  roll(site: string, now: number, out: LiveSample[]): void {
    while (now >= this.minute + MINUTE) {
      const end = this.minute + MINUTE
      this.accrue(end)
      const span = end - this.from || 1
      const s = this.sum
      const m = this.max
      out.push({
        site, minute: this.minute,
        totalMax: m.total, totalMean: s.total / span,
        readingMax: m.reading, readingMean: s.reading / span,
        writingMax: m.writing, writingMean: s.writing / span,
        idleMax: m.idle, idleMean: s.idle / span,
      })
      this.minute = end
      this.from = end
      s.total = s.reading = s.writing = s.idle = 0
      const c = this.cur
      m.total = c.total; m.reading = c.reading; m.writing = c.writing; m.idle = c.idle
    }
  }

  /** True when the counts are zero and have been since the minute began: the site can be forgotten. */
  get quiet(): boolean {
    return this.cur.total === 0 && this.max.total === 0
  }

  private accrue(now: number): void {
    const dt = now - this.last
    if (dt <= 0) return
    const c = this.cur
    const s = this.sum
    s.total += c.total * dt
    s.reading += c.reading * dt
    s.writing += c.writing * dt
    s.idle += c.idle * dt
    this.last = now
  }
}
