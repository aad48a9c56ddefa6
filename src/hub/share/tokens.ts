/**
 * Share links (issue 15.5): a token that reads one site's dashboard and nothing else. Only a
 * SHA-256 of each token is kept (meta `share:<id>` → `{ site, hash, label, created }`), as for the
 * hub token; the token itself is shown once, when it is made. Revoking deletes the row.
 */
import { createHash, randomBytes } from 'node:crypto'
import { LivestatsError } from '../../protocol/errors'
import type { Store } from '../store/types'

export const SHARE_PREFIX = 'share:'
/** Every share token starts with this, so a request with the hub token never hashes for a share lookup. */
export const SHARE_TOKEN_PREFIX = 'lss_'
const MAX_SHARES = 1000

export interface Share {
  id: string
  site: string
  label: string | null
  created: number
}

/** The stored form of a share token. */
export function shareHash(s: string): string {
  return sha256hex(s)
}

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex')
}

export class ShareTokens {
  private readonly byHash = new Map<string, Share>()
  private readonly byId = new Map<string, { share: Share; hash: string }>()
  /** Ids made or revoked here while a `load` was reading: its older view of them is not applied. */
  private readonly touched = new Set<string>()

  constructor(private readonly store: Pick<Store, 'getMeta' | 'setMeta' | 'listMeta' | 'deleteMeta'>) {}

  /**
   * Reads the share links from the store, replacing what was held: at start, and again now and then
   * so that a link revoked on another hub of a cluster stops working here too.
   */
  async load(): Promise<void> {
    this.touched.clear()
    const byHash = new Map<string, Share>()
    const byId = new Map<string, { share: Share; hash: string }>()
    for (const { key, value } of await this.store.listMeta(SHARE_PREFIX)) {
      if (this.touched.has(key.slice(SHARE_PREFIX.length))) continue
      try {
        const o = JSON.parse(value) as { site?: unknown; hash?: unknown; label?: unknown; created?: unknown }
        if (typeof o.site !== 'string' || typeof o.hash !== 'string' || !/^[0-9a-f]{64}$/.test(o.hash)) continue
        const share: Share = {
          id: key.slice(SHARE_PREFIX.length), site: o.site,
          label: typeof o.label === 'string' ? o.label : null, created: typeof o.created === 'number' ? o.created : 0,
        }
        byHash.set(o.hash, share)
        byId.set(share.id, { share, hash: o.hash })
      } catch { /* not a share row this hub understands: it grants nothing */ }
    }
    // what this hub made while reading stays; what it revoked stays gone
    for (const id of this.touched) {
      const e = this.byId.get(id)
      if (e === undefined) continue
      byId.set(id, e)
      byHash.set(e.hash, e.share)
    }
    this.byHash.clear()
    this.byId.clear()
    for (const [k, v] of byHash) this.byHash.set(k, v)
    for (const [k, v] of byId) this.byId.set(k, v)
  }

  /** Makes a share link for `site`; the token is returned here and never again. */
  async create(site: unknown, label: unknown): Promise<{ share: Share; token: string }> {
    if (typeof site !== 'string' || site === '' || site.length > 253 || /[\u0000-\u001f\u007f]/.test(site)) {
      throw new LivestatsError('LS_ERR_INVALID_SHARE', 'site is required (a site name of at most 253 characters)')
    }
    if (label !== undefined && label !== null && (typeof label !== 'string' || label.length > 100)) {
      throw new LivestatsError('LS_ERR_INVALID_SHARE', 'label must be a string of at most 100 characters')
    }
    if (this.byId.size >= MAX_SHARES) throw new LivestatsError('LS_ERR_INVALID_SHARE', `at most ${MAX_SHARES} share links`)
    const token = SHARE_TOKEN_PREFIX + randomBytes(24).toString('base64url')
    const hash = sha256hex(token)
    const share: Share = { id: randomBytes(8).toString('hex'), site, label: typeof label === 'string' && label !== '' ? label : null, created: Date.now() }
    await this.store.setMeta(SHARE_PREFIX + share.id, JSON.stringify({ site, hash, label: share.label, created: share.created }))
    this.byHash.set(hash, share)
    this.byId.set(share.id, { share, hash })
    this.touched.add(share.id)
    return { share, token }
  }

  list(site: string | null = null): Share[] {
    return [...this.byId.values()].map((e) => e.share).filter((s) => site === null || s.site === site).sort((a, b) => a.created - b.created)
  }

  /** Revokes a share link; returns its token's hash, so open `/live` sockets that used it can be closed. */
  async revoke(id: string): Promise<string> {
    const e = this.byId.get(id)
    if (e === undefined) throw new LivestatsError('LS_ERR_SHARE_NOT_FOUND')
    // forget it first: from this moment the token reads nothing, even while the row is deleted
    this.byHash.delete(e.hash)
    this.byId.delete(id)
    this.touched.add(id)
    await this.store.deleteMeta(SHARE_PREFIX + id)
    return e.hash
  }

  /** The share a token opens, or null (not a share token, or revoked). */
  lookup(token: string | null): Share | null {
    if (token === null || !token.startsWith(SHARE_TOKEN_PREFIX) || this.byHash.size === 0) return null
    return this.byHash.get(sha256hex(token)) ?? null
  }
}
