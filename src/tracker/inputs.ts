/**
 * Turns what the host passes to `bytes.*` and `database.*` into counts. Common inputs (a string,
 * a Buffer, an array) take the first branch or two; odd ones get a defined count and one warning.
 */
import { describe } from './jobs'
import type { Warner } from './warn'

/** Bytes in `data`: UTF-8 length of a string, byte length of binary data, a number as is. */
export function byteCount(data: unknown, warn: Warner): number {
  if (typeof data === 'string') return Buffer.byteLength(data)
  if (typeof data === 'number') {
    if (data >= 0 && data <= Number.MAX_SAFE_INTEGER) return Math.trunc(data)
    warn.once('bytes-input', `bytes.sent/received got the number ${data}; counted as 0`)
    return 0
  }
  if (ArrayBuffer.isView(data)) return data.byteLength
  if (data instanceof ArrayBuffer) return data.byteLength
  if (data === undefined || data === null) {
    warn.once('bytes-input', `bytes.sent/received got ${String(data)}; counted as 0 (pass a string, a Buffer or a byte count)`)
    return 0
  }
  // the seed's rule for anything else: convert to a string, count its UTF-8 bytes
  return Buffer.byteLength(String(data))
}

/** Rows in `data`: the length of an array or of a JSON array string, or a number of rows. */
export function rowCount(data: unknown, warn: Warner): number {
  if (Array.isArray(data)) return data.length
  if (typeof data === 'number' && data >= 0 && data <= Number.MAX_SAFE_INTEGER) return Math.trunc(data)
  if (typeof data === 'string') {
    try {
      const parsed: unknown = JSON.parse(data)
      if (Array.isArray(parsed)) return parsed.length
    } catch {
      // not JSON: warned below
    }
  }
  warn.once('db-input', `database.read/written expects an array (or a JSON array, or a row count); got ${describe(data)}, counted as 0`)
  return 0
}
