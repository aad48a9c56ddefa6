/**
 * Turns what the host passes to `bytes.*` and `database.*` into counts. Common inputs (a string,
 * a Buffer, an array) take the first branch or two; odd ones get a defined count and one warning.
 */
import { describe } from './jobs'
import type { Warner } from './warn'

/** Bytes in `data`: UTF-8 length of a string, byte length of binary data, a number as is, an object's JSON. */
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
  // the seed's rule, String(), makes every object "[object Object]" (15 bytes): an object or an
  // array is counted as the JSON it would be sent as
  if (Array.isArray(data) || (isPlain(data) && !Object.prototype.hasOwnProperty.call(data, 'toString'))) {
    return jsonBytes(data, warn)
  }
  // anything else (a Date, a URL, something with its own toString): its string's UTF-8 bytes
  return Buffer.byteLength(String(data))
}

function isPlain(data: unknown): data is object {
  if (typeof data !== 'object' || data === null) return false
  const proto: unknown = Object.getPrototypeOf(data)
  return proto === Object.prototype || proto === null
}

function jsonBytes(data: object, warn: Warner): number {
  try {
    const json = JSON.stringify(data)
    return json === undefined ? 0 : Buffer.byteLength(json)
  } catch (e) {
    // a cycle or a BigInt: there is no JSON to weigh
    warn.once('bytes-input', `bytes.sent/received got an object that is not JSON (${String(e)}); counted as 0`)
    return 0
  }
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
