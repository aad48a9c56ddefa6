/**
 * Fire once, resolve once: Prometheus's `for:` applied both ways. A rule's condition must hold for
 * `forMs` before the alert fires, and be gone for `forMs` before it resolves, so a value that
 * wobbles around its threshold sends nothing until it settles (no flapping).
 */
export interface RuleState {
  /** What the last delivered notification said. */
  firing: boolean
  /** Since when the condition has differed from `firing`; null while it agrees. */
  since: number | null
  /** When the alert last fired (for the resolved notification). */
  firedAt: number | null
}

export function newState(): RuleState {
  return { firing: false, since: null, firedAt: null }
}

/**
 * Advances a rule's state by one evaluation; returns the notification to send, if any.
 * @example
 * step(s, true, 0, 60_000)      // null: pending
 * step(s, true, 60_000, 60_000) // 'firing'
 */
export function step(s: RuleState, active: boolean, now: number, forMs: number): 'firing' | 'resolved' | null {
  if (active === s.firing) {
    s.since = null
    return null
  }
  if (s.since === null) s.since = now
  if (now - s.since < forMs) return null
  s.firing = active
  s.since = null
  if (active) s.firedAt = now
  return active ? 'firing' : 'resolved'
}
