/**
 * Per-connection rate limit: `burst` messages at once, then `perSecond` sustained. A person
 * changes state a few times a second at most, so real state changes always pass; a looping
 * script is refused with LS_ERR_RATE_LIMITED without touching the counts.
 * Two numbers per connection and no timer: tokens refill lazily when the next message arrives.
 */
export interface RateLimit {
  /** @default 20 */
  burst: number
  /** @default 5 */
  perSecond: number
}

export const DEFAULT_RATE: Readonly<RateLimit> = Object.freeze({ burst: 20, perSecond: 5 })

export class TokenBucket {
  private tokens: number
  private at: number

  constructor(private readonly limit: RateLimit, now: number) {
    this.tokens = limit.burst
    this.at = now
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = now - this.at
    if (elapsed > 0) {
      this.tokens = Math.min(this.limit.burst, this.tokens + (elapsed * this.limit.perSecond) / 1000)
      this.at = now
    }
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** True when the bucket would be full at `now`: its owner has been quiet long enough to be forgotten. */
  full(now: number): boolean {
    return this.tokens + ((now - this.at) * this.limit.perSecond) / 1000 >= this.limit.burst
  }
}
