/**
 * The tracker's event ids: UUIDv7 (see src/protocol/ids.ts) with random bits from node:crypto's
 * CSPRNG. Bytes are drawn for 256 ids at a time, so an id costs no system call of its own.
 */
import { randomFillSync } from 'node:crypto'
import { UUID_RANDOM_BYTES, formatUuidv7 } from '../protocol/ids'

const POOL_BYTES = UUID_RANDOM_BYTES * 256
const pool = Buffer.allocUnsafe(POOL_BYTES)
let next = POOL_BYTES

/** A new UUIDv7 for an event made at `now` (ms). Each byte of the pool is used once. */
export function trackerEventId(now: number = Date.now()): string {
  if (next + UUID_RANDOM_BYTES > POOL_BYTES) {
    randomFillSync(pool)
    next = 0
  }
  const id = formatUuidv7(now, pool, next)
  next += UUID_RANDOM_BYTES
  return id
}
