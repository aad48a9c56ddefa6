/**
 * Visitor ids without cookies and without keeping IPs: HMAC-SHA256 of (site, IP, user agent)
 * under a random salt that changes every UTC day. Yesterday's salt is kept until the day after,
 * so no salt older than 48 h exists, and ids cannot be linked across days.
 *
 * The salts are kept by a `SaltKeeper` (the key file beside the database, salt-file.ts), never in
 * the store: the store holds hashes and no IP, so its files alone give no way back to an address,
 * and with the key file too an address costs a search of the whole address space per user agent.
 * A restart within a day reads today's salt back, so one visitor is never counted twice.
 */
import { createHmac, randomBytes } from 'node:crypto'
import type { Store } from '../store/types'
import type { SaltKeeper } from './salt-file'

const DAY = 86_400_000
/** Where Livestats before issue 10 kept salts: `meta` keys `salt:YYYY-MM-DD`. */
const LEGACY_PREFIX = 'salt:'

function dayKey(day: number): string {
  return new Date(day * DAY).toISOString().slice(0, 10)
}

export class VisitorHasher {
  private day = -1
  private salt: Buffer = Buffer.alloc(0)
  /** Yesterday's salt, when the hub made one: visits that span midnight keep yesterday's id (visit-carry.ts). */
  private previous: Buffer | null = null

  /** @param store read once per day for salts an older Livestats left in `meta`, which move to the keeper */
  constructor(private readonly keeper: SaltKeeper, private readonly store: Store | null = null) {}

  /** Loads or creates today's salt and forgets salts older than yesterday. */
  async rotate(now: number = Date.now()): Promise<void> {
    const day = Math.floor(now / DAY)
    if (day === this.day) return
    const key = dayKey(day)
    const salts = await this.keeper.load()
    const legacy = this.store === null ? [] : await this.store.listMeta(LEGACY_PREFIX)
    let changed = false
    for (const { key: k, value } of legacy) {
      const d = k.slice(LEGACY_PREFIX.length)
      // the keeper's own salt wins: it is the one hashes were made with since the move
      if (!salts.has(d) && /^[0-9a-f]{64}$/.test(value)) {
        salts.set(d, value)
        changed = true
      }
    }
    let hex = salts.get(key)
    if (hex === undefined) {
      hex = randomBytes(32).toString('hex')
      salts.set(key, hex)
      changed = true
    }
    const keep = new Set([key, dayKey(day - 1)])
    for (const k of [...salts.keys()]) {
      if (!keep.has(k)) {
        salts.delete(k)
        changed = true
      }
    }
    if (changed) await this.keeper.save(salts)
    // only once the keeper holds them: a crash in between keeps the salts in one place or both
    for (const { key: k } of legacy) await this.store?.deleteMeta(k)
    this.salt = Buffer.from(hex, 'hex')
    const prev = salts.get(dayKey(day - 1))
    this.previous = prev === undefined ? null : Buffer.from(prev, 'hex')
    this.day = day
  }

  /** True when the clock passed into a new UTC day and `rotate` must run before hashing again. */
  stale(now: number): boolean {
    return Math.floor(now / DAY) !== this.day
  }

  hash(site: string, ip: string, userAgent: string): string {
    return digest(this.salt, site, ip, userAgent)
  }

  /** The id the same visitor had yesterday, or null when there was no salt yesterday. */
  hashPrevious(site: string, ip: string, userAgent: string): string | null {
    return this.previous === null ? null : digest(this.previous, site, ip, userAgent)
  }
}

function digest(salt: Buffer, site: string, ip: string, userAgent: string): string {
  return createHmac('sha256', salt).update(site).update('\0').update(ip).update('\0').update(userAgent)
    .digest('base64url').slice(0, 22)
}
