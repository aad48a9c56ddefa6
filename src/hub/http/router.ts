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

  async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    allowed: (req: IncomingMessage, url: URL) => boolean,
  ): Promise<boolean> {
    const r = this.routes.get(url.pathname)
    if (r === undefined) return false
    const h = r.methods.get(req.method ?? 'GET') ?? r.methods.get('*')
    try {
      if (h === undefined) throw new LivestatsError('LS_ERR_METHOD_NOT_ALLOWED')
      if (r.auth && !allowed(req, url)) {
        fail(res, new LivestatsError('LS_ERR_UNAUTHORIZED'), { 'www-authenticate': 'Bearer' })
        return true
      }
      await h(req, res, url)
    } catch (err) {
      fail(res, err)
    }
    return true
  }
}
