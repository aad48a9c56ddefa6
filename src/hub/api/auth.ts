/**
 * Token auth for reads (query API, live channel) and for process events on a hub that is
 * reachable beyond loopback. Only a SHA-256 of the token is stored; the token itself is printed
 * once, at the start that generated it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Store } from '../store/types'

const META_KEY = 'token_sha256'
const BEARER = /^bearer[ \t]/i

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

export class TokenAuth {
  private hash: Buffer | null = null

  constructor(readonly required: boolean) {}

  /**
   * Loads the stored hash, or stores `fixed`, or generates a token. Returns the token when this
   * call made a new one (to print once), else null.
   */
  async init(store: Store, fixed: string | null, reset = false): Promise<string | null> {
    if (fixed !== null) {
      this.hash = sha256(fixed)
      return null
    }
    if (!this.required) return null
    const stored = reset ? null : await store.getMeta(META_KEY)
    if (stored !== null) {
      this.hash = Buffer.from(stored, 'hex')
      return null
    }
    const token = randomBytes(24).toString('base64url')
    this.hash = sha256(token)
    await store.setMeta(META_KEY, this.hash.toString('hex'))
    return token
  }

  /**
   * The token a request carries: `Authorization: Bearer …` (the scheme in any case, RFC 9110 §11.1),
   * or `?token=` (WebSockets cannot set headers).
   */
  static fromRequest(req: IncomingMessage, url: URL): string | null {
    const h = req.headers.authorization
    if (h !== undefined && h.length > 7 && BEARER.test(h)) return h.slice(7).trim()
    return url.searchParams.get('token')
  }

  /** True when the token matches; any token is fine while auth is off. */
  check(token: string | null): boolean {
    if (this.hash === null) return !this.required
    if (token === null) return false
    return timingSafeEqual(sha256(token), this.hash)
  }

  /** Whether reads must carry a token. */
  get enforced(): boolean {
    return this.required || this.hash !== null
  }

  /** Checks a read request; true means allowed. */
  allows(req: IncomingMessage, url: URL): boolean {
    return !this.enforced || this.check(TokenAuth.fromRequest(req, url))
  }
}
