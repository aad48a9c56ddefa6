/** A tiny exact-path router: the hub has a dozen fixed routes, so a Map lookup is all it needs. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import { fail } from './reply'

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>

export interface RouteOptions {
  /** Reads need the token when the hub enforces auth. @default false */
  auth?: boolean
}

interface Route {
  methods: Map<string, Handler>
  auth: boolean
}

export class Router {
  private readonly routes = new Map<string, Route>()

  /** Registers a handler; `method` '*' takes every method (the handler checks). */
  on(method: string, path: string, handler: Handler, opts: RouteOptions = {}): this {
    let r = this.routes.get(path)
    if (r === undefined) this.routes.set(path, (r = { methods: new Map(), auth: opts.auth ?? false }))
    r.methods.set(method, handler)
    if (method === 'GET') r.methods.set('HEAD', handler)
    return this
  }

  has(path: string): boolean {
    return this.routes.has(path)
  }

  /**
   * Runs the route for `url.pathname`; false when there is none. Synchronous: a handler's promise
   * is not awaited here (one promise layer less per request), only its rejection is answered.
   */
  dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    allowed: (req: IncomingMessage, url: URL) => boolean,
  ): boolean {
    const r = this.routes.get(url.pathname)
    if (r === undefined) return false
    const h = r.methods.get(req.method ?? 'GET') ?? r.methods.get('*')
    try {
      if (h === undefined) throw new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED')
      if (r.auth && !allowed(req, url)) {
        fail(res, new LivestatsError('LS_ERR_UNAUTHORIZED'), { 'www-authenticate': 'Bearer' })
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
