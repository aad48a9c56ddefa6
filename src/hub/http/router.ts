/** A tiny exact-path router: the hub has a dozen fixed routes, so a Map lookup is all it needs. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import { fail } from './reply'

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>

export interface RouteOptions {
  /** A read: the hub's read check (token, or Host on a hub without one) runs first. @default false */
  auth?: boolean
  /**
   * What a share link's token may read here (issue 15.5): `site`, this route's GETs for the share's
   * site alone (`?site=` must name it, once); `hub`, GETs that hold no site's data (the IP database's
   * notice). Absent: a share token is refused (LS_ERR_SHARE_FORBIDDEN). Implies `auth`. @default none
   */
  share?: 'site' | 'hub'
  /** An admin route (alert rules, share links, badges): the hub token only; writes also check `Origin`. Implies `auth`. @default false */
  admin?: boolean
}

/** How a route is guarded, handed to the hub's refusal check. */
export interface RouteAccess {
  share: 'site' | 'hub' | null
  admin: boolean
}

interface Route {
  methods: Map<string, Handler>
  auth: boolean
  access: RouteAccess
}

/** A route as `routes()` lists it. */
export interface RouteInfo extends RouteAccess {
  path: string
  /** `public` routes (ingest, health) have no read check at all. */
  auth: boolean
  methods: string[]
}

export class Router {
  private readonly routes = new Map<string, Route>()

  /** Registers a handler; `method` '*' takes every method (the handler checks). */
  on(method: string, path: string, handler: Handler, opts: RouteOptions = {}): this {
    let r = this.routes.get(path)
    if (r === undefined) {
      const admin = opts.admin ?? false
      const share = admin ? null : opts.share ?? null
      this.routes.set(path, (r = { methods: new Map(), auth: (opts.auth ?? false) || admin || share !== null, access: { share, admin } }))
    }
    r.methods.set(method, handler)
    if (method === 'GET') r.methods.set('HEAD', handler)
    return this
  }

  has(path: string): boolean {
    return this.routes.has(path)
  }

  /** Paths registered as reads (`auth: true`): what a check covering every read must try. */
  readPaths(): string[] {
    return [...this.routes].filter(([, r]) => r.auth).map(([p]) => p)
  }

  /** Every route with its methods and guard: what a check over all routes (share scoping) walks. */
  list(): RouteInfo[] {
    return [...this.routes].map(([path, r]) => ({ path, auth: r.auth, ...r.access, methods: [...r.methods.keys()] }))
  }

  /**
   * Runs the route for `url.pathname`; false when there is none. Synchronous: a handler's promise
   * is not awaited here (one promise layer less per request), only its rejection is answered.
   * `refusal` says why a read (a route with `auth`) may not run, or null when it may.
   */
  dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    refusal: (req: IncomingMessage, url: URL, access: RouteAccess) => LivestatsError | null,
  ): boolean {
    const r = this.routes.get(url.pathname)
    if (r === undefined) return false
    const h = r.methods.get(req.method ?? 'GET') ?? r.methods.get('*')
    try {
      if (h === undefined) throw new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED')
      const no = r.auth ? refusal(req, url, r.access) : null
      if (no !== null) {
        fail(res, no, no.code === 'LS_ERR_UNAUTHORIZED' ? { 'www-authenticate': 'Bearer' } : {})
        return true
      }
      const p = h(req, res, url)
      if (p !== undefined) p.catch((err: unknown) => fail(res, err))
    } catch (err) {
      fail(res, err)
    }
    return true
  }
}
