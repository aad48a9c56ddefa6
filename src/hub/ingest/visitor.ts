/**
 * Visitor ids without cookies and without keeping IPs: HMAC-SHA256 of (site, IP, user agent)
 * under a random salt that changes every UTC day. Yesterday's salt is kept until the day after,
 * so no salt older than 48 h exists, and ids cannot be linked across days or reversed to an IP.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { Store } from '../store/types'

const DAY = 86_400_000
const PREFIX = 'salt:'

function dayKey(day: number): string {
  return PREFIX + new Date(day * DAY).toISOString().slice(0, 10)
}

export class VisitorHasher {
  private day = -1
  private salt: Buffer = Buffer.alloc(0)

  constructor(private readonly store: Store) {}

  /** Loads or creates today's salt and deletes salts older than yesterday. */
  async rotate(now: number = Date.now()): Promise<void> {
    const day = Math.floor(now / DAY)
    if (day === this.day) return
    const key = dayKey(day)
    let hex = await this.store.getMeta(key)
    if (hex === null) {
      hex = randomBytes(32).toString('hex')
      await this.store.setMeta(key, hex)
    }
    const keep = new Set([key, dayKey(day - 1)])
    for (const { key: k } of await this.store.listMeta(PREFIX)) if (!keep.has(k)) await this.store.deleteMeta(k)
    this.salt = Buffer.from(hex, 'hex')
    this.day = day
  }

  /** True when the clock passed into a new UTC day and `rotate` must run before hashing again. */
  stale(now: number): boolean {
    return Math.floor(now / DAY) !== this.day
  }

  hash(site: string, ip: string, userAgent: string): string {
    return createHmac('sha256', this.salt).update(site).update('\0').update(ip).update('\0').update(userAgent)
      .digest('base64url').slice(0, 22)
  }
}
