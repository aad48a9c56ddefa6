/** Recent webhook deliveries, in memory: a bounded ring, newest first in views. */
import type { Attempt } from './deliver'

export interface Delivery {
  id: string
  rule: string
  name: string
  status: 'firing' | 'resolved'
  /** `sending` (first attempt under way), `retrying` (an attempt failed, another will follow), `delivered`, `failed` (every attempt failed). */
  state: 'sending' | 'retrying' | 'delivered' | 'failed'
  attempts: number
  /** HTTP status of the last attempt; null when none came back. */
  lastStatus: number | null
  error: string | null
  summary: string
  /** The receiver's origin (`https://hooks.slack.com`): its path may be a secret. */
  target: string
  format: 'json' | 'slack'
  created: number
  /** When it was delivered or given up; null while under way. */
  finished: number | null
}

export class DeliveryLog {
  private readonly ring: Delivery[] = []
  constructor(private readonly max = 200) {}

  add(d: Delivery): Delivery {
    this.ring.push(d)
    if (this.ring.length > this.max) this.ring.shift()
    return d
  }

  /** Records an attempt's outcome on `d`; `last` says whether no attempt follows it. */
  attempt(d: Delivery, a: Attempt, last: boolean, now: number): void {
    d.attempts = a.n
    d.lastStatus = a.status
    d.error = a.error
    d.state = a.ok ? 'delivered' : last ? 'failed' : 'retrying'
    if (a.ok || last) d.finished = now
  }

  /** Newest first; `rule` keeps one rule's. */
  list(limit = 100, rule: string | null = null): Delivery[] {
    const out: Delivery[] = []
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const d = this.ring[i] as Delivery
      if (rule === null || d.rule === rule) out.push({ ...d })
    }
    return out
  }
}
