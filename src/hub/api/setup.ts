/**
 * `GET /api/setup` → `{ publicUrl, reachable, allowLocalhost }`: what the dashboard's install panel
 * needs to write a snippet a visitor's browser can load: the configured public URL, else the address
 * the hub is reachable at (see `reach.ts`), and the attribute a page on localhost needs.
 */
import type { AddressInfo } from 'node:net'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import { reachableUrls } from '../reach'

export function setupRoutes(router: Router, publicUrl: string | null, address: () => AddressInfo | string | null): void {
  router.on('GET', '/api/setup', (_req, res) => {
    const a = address()
    const reach = a !== null && typeof a === 'object' ? reachableUrls({ host: a.address, port: a.port }, publicUrl) : null
    json(res, 200, {
      publicUrl,
      reachable: reach?.url ?? null,
      // the snippet ignores localhost, 127.* and [::1] pages without it (docs/snippet.md)
      allowLocalhost: 'data-allow-localhost',
    }, { 'cache-control': 'no-store' })
  }, { auth: true })
}
