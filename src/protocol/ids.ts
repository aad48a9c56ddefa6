/**
 * Event ids in the UUIDv7 layout (RFC 9562): 48 bits of ms time, the version 7, the variant, and
 * 74 random bits. Time-ordered, so the store's key index grows at its end; random, so nobody who
 * saw one id can guess another source's next one (an id stored first by someone else would make
 * that source's event a duplicate within its scope).
 */

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** Random bytes one UUIDv7 uses. */
export const UUID_RANDOM_BYTES = 10

/**
 * Formats a UUIDv7 from a time and the `UUID_RANDOM_BYTES` bytes of `random` from `at`
 * (`xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx`, lower case).
 */
export function formatUuidv7(now: number, random: Uint8Array, at = 0): string {
  const t = Math.max(0, Math.min(0xffffffffffff, Math.floor(now))).toString(16).padStart(12, '0')
  const r = (i: number): number => random[at + i] as number
  return `${t.slice(0, 8)}-${t.slice(8)}-7${(r(0) & 0x0f).toString(16)}${HEX[r(1)]}-${HEX[(r(2) & 0x3f) | 0x80]}${HEX[r(3)]}-` +
    `${HEX[r(4)]}${HEX[r(5)]}${HEX[r(6)]}${HEX[r(7)]}${HEX[r(8)]}${HEX[r(9)]}`
}

/**
 * A UUIDv7 from `crypto.getRandomValues` (browsers and Node >= 20). The Node tracker draws its
 * random bytes from node:crypto in batches instead (src/tracker/ids.ts).
 * @example eventId() // '019a6b4e-3c1f-7d2a-8e4b-5f60718293a4'
 */
export function eventId(now: number = Date.now()): string {
  const r = new Uint8Array(UUID_RANDOM_BYTES)
  globalThis.crypto.getRandomValues(r)
  return formatUuidv7(now, r)
}
