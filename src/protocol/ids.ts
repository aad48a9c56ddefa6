/**
 * UUIDv7-style ids without dashes (32 hex chars): time-ordered, so the store's primary key
 * index grows at its end. Uses `crypto.getRandomValues`, present in browsers and Node >= 20.
 */
export function eventId(now: number = Date.now()): string {
  const r = new Uint8Array(10)
  globalThis.crypto.getRandomValues(r)
  let s = now.toString(16).padStart(12, '0').slice(-12)
  s += '7'
  for (let i = 0; i < 10; i++) s += (r[i] as number).toString(16).padStart(2, '0')
  return s.slice(0, 32).padEnd(32, '0')
}
