/**
 * Per client address (`ClientInfo.ipGroup`): how many live tabs it opened and its budget of live
 * messages. A new `cid` per message gets past the per-tab rate limit, so the address is what a
 * flood is held to (issue 10.6). An entry costs one map slot and one token bucket; an address with
 * no live tab is forgotten once its budget has refilled (the presence sweep, every second), and past
 * `maxEntries` an old one without tabs makes room, so the table stays bounded by `maxEntries` plus the
 * addresses holding live tabs (at most `maxTabs`), whatever the number of addresses sending.
 */
import { TokenBucket, type RateLimit } from './token-bucket'

export class IpEntry {
  /** Live tabs opened from this address. */
  tabs = 0
  readonly bucket: TokenBucket
  constructor(rate: RateLimit, now: number) {
    this.bucket = new TokenBucket(rate, now)
  }
}

/** How many of the oldest entries an insert looks at to make room: O(1) per new address. */
const EVICT_SCAN = 8

export class IpTable {
  private readonly entries = new Map<string, IpEntry>()

  constructor(private readonly rate: Readonly<RateLimit>, private readonly maxEntries = 100_000) {}

  /** The entry of `group`, made on first sight. */
  get(group: string, now: number): IpEntry {
    let e = this.entries.get(group)
    if (e === undefined) {
      if (this.entries.size >= this.maxEntries) this.evict()
      this.entries.set(group, (e = new IpEntry(this.rate, now)))
    }
    return e
  }

  get size(): number {
    return this.entries.size
  }

  /** Forgets addresses with no live tab whose budget has refilled (nothing about them is left to remember). */
  sweep(now: number): void {
    for (const [group, e] of this.entries) if (e.tabs === 0 && e.bucket.full(now)) this.entries.delete(group)
  }

  /** Drops the oldest address without live tabs among the first few (the sweep clears the rest). */
  private evict(): void {
    let seen = 0
    for (const [group, e] of this.entries) {
      if (e.tabs === 0) {
        this.entries.delete(group)
        return
      }
      if (++seen >= EVICT_SCAN) return
    }
  }
}
