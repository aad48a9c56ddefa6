/**
 * The text of a WebSocket message. The hub's WebSocket servers turn off `ws`'s own UTF-8 check
 * (`skipUTF8Validation`) and check here instead: `ws` closes a bad frame with 1007 and an empty
 * reason, this lets the hub send `LS_ERR_INVALID_UTF8` first and name it in the close reason.
 * Same cost: one validation pass per message either way.
 */
import { isUtf8 } from 'node:buffer'
import type { RawData } from 'ws'

/** The message as a string, or null when its bytes are not valid UTF-8. */
export function messageText(data: RawData): string | null {
  const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
  return isUtf8(buf) ? buf.toString('utf8') : null
}
