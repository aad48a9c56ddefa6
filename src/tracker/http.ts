/**
 * HTTP metrics of a tracked server (`t.http(server)`): per method and route, responses finished,
 * their status classes and a response-time histogram, sent with the next `process` sample.
 *
 * Per request: one `performance.now()` and one `'finish'` listener (a shared function, no closure);
 * at finish, the route is read from what the framework left on the request, one Map lookup finds its
 * aggregate, and a few additions record it. Routes are the framework's names (`/users/:id`), never
 * raw URLs: a request no framework named a route for is counted as `(unmatched)`, and past
 * `maxHttpRoutes` named routes the rest are counted as `(other)`.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { cutText } from '../protocol/cut'
import { BUCKET_COUNT, bucketOf } from '../protocol/histogram'
import { DEFAULT_LIMITS, HTTP_METHODS, OTHER_JOB_NAME, UNMATCHED_ROUTE } from '../protocol/limits'
import type { HttpRouteSample } from '../protocol/schema'
import type { Warner } from './warn'

/**
 * Where a route name can be left on a request (`req[ROUTE] = '/users/:id'`) for `t.http` to use.
 * A global symbol, so two copies of Livestats in one process agree on it.
 */
export const ROUTE: unique symbol = Symbol.for('livestats.route') as never
const T0 = Symbol('livestats.t0')
const MAX_ROUTE = DEFAULT_LIMITS.maxShortLength

type Method = (typeof HTTP_METHODS)[number]
const METHOD_INDEX = new Map<string, number>(HTTP_METHODS.map((m, i) => [m, i]))
const OTHER_METHOD = HTTP_METHODS.length - 1

/** Responses of one method and route since the last flush. Fixed shape. */
export class RouteAgg {
  count = 0
  s2 = 0
  s3 = 0
  s4 = 0
  s5 = 0
  sum = 0
  min = Infinity
  max = 0
  readonly hist: number[] = new Array<number>(BUCKET_COUNT).fill(0)
  constructor(readonly method: Method, readonly route: string) {}

  record(ms: number, status: number): void {
    this.count++
    if (status < 300) this.s2++
    else if (status < 400) this.s3++
    else if (status < 500) this.s4++
    else this.s5++
    this.sum += ms
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
    ;(this.hist[bucketOf(ms)] as number)++
  }

  /** The protocol entry, and back to zero. */
  take(): HttpRouteSample {
    const out: HttpRouteSample = {
      method: this.method, route: this.route, count: this.count, status: [this.s2, this.s3, this.s4, this.s5],
      sum: round3(this.sum), min: round3(this.min), max: round3(this.max), hist: this.hist.slice(),
    }
    this.count = this.s2 = this.s3 = this.s4 = this.s5 = this.sum = this.max = 0
    this.min = Infinity
    this.hist.fill(0)
    return out
  }
}

/** Routes per method, capped: past `cap` named routes, requests are counted under `(other)`. */
export class HttpTable {
  private readonly byMethod: Map<string, RouteAgg>[] = HTTP_METHODS.map(() => new Map())
  private named = 0
  constructor(private readonly cap: number, private readonly warn: Warner) {}

  /** The aggregate of a request's method and route (the route as read by `routeOf`). */
  agg(method: string | undefined, route: string): RouteAgg {
    const mi = method === undefined ? OTHER_METHOD : METHOD_INDEX.get(method) ?? OTHER_METHOD
    const map = this.byMethod[mi] as Map<string, RouteAgg>
    return map.get(route) ?? this.add(mi, map, route)
  }

  private add(mi: number, map: Map<string, RouteAgg>, route: string): RouteAgg {
    let name = route
    if (name.length > MAX_ROUTE) {
      name = cutText(name, MAX_ROUTE)
      const known = map.get(name)
      if (known !== undefined) return known
    }
    const special = name === UNMATCHED_ROUTE || name === OTHER_JOB_NAME
    if (!special && this.named >= this.cap) {
      this.warn.once('http-routes-capped', `more than ${this.cap} distinct HTTP routes: later ones are counted as "${OTHER_JOB_NAME}"`)
      return map.get(OTHER_JOB_NAME) ?? this.add(mi, map, OTHER_JOB_NAME)
    }
    if (!special) this.named++
    const a = new RouteAgg(HTTP_METHODS[mi] as Method, name)
    map.set(name, a)
    return a
  }

  /** Entries with responses since the last flush (and resets them); undefined when there are none. */
  take(): HttpRouteSample[] | undefined {
    let out: HttpRouteSample[] | undefined
    for (const map of this.byMethod) {
      for (const a of map.values()) if (a.count > 0) (out ??= []).push(a.take())
    }
    return out
  }
}

/** What `t.http(target, options)` accepts besides the server. */
export interface HttpOptions {
  /**
   * Names the route of a request when neither the framework nor `req[ROUTE]` did; return undefined
   * to count it as `(unmatched)`. Return a route pattern, never the raw URL (each distinct value is a series).
   * @example t.http(server, { route: (req) => (req.url?.startsWith('/api/') ? '/api/*' : undefined) })
   */
  route?: (req: IncomingMessage) => string | undefined
}

/**
 * The route a framework named for a request, read at finish and only if present: `req[ROUTE]`
 * (Fastify and Koa, through `t.http`'s hook and `koaRoutes()`), Express's `req.baseUrl + req.route.path`,
 * then `options.route`. Otherwise `(unmatched)`.
 */
export function routeOf(req: IncomingMessage, custom: HttpOptions['route'] | undefined): string {
  const r = req as IncomingMessage & { [ROUTE]?: unknown; route?: { path?: unknown }; baseUrl?: unknown }
  const own = r[ROUTE]
  if (typeof own === 'string' && own !== '') return own
  const er = r.route
  if (typeof er === 'object' && er !== null) {
    // Express sets `req.route` to the same Route object on every request of that route: its name is
    // worked out once (no string concatenation and hashing per request)
    const base = typeof r.baseUrl === 'string' ? r.baseUrl : ''
    const known = NAMES.get(er)
    if (known !== undefined && known.base === base) return known.name
    const p = er.path
    const path = typeof p === 'string' ? p : p instanceof RegExp || Array.isArray(p) ? String(p) : null
    if (path !== null) {
      const name = base + path
      NAMES.set(er, { base, name })
      return name
    }
  }
  if (custom !== undefined) {
    const c = custom(req)
    if (typeof c === 'string' && c !== '') return c
  }
  return UNMATCHED_ROUTE
}

/** Route names per Express Route object (and the `baseUrl` it was mounted at). */
const NAMES = new WeakMap<object, { base: string; name: string }>()

/** A Fastify instance, as far as `t.http` uses one. */
interface FastifyLike {
  server: Server
  addHook(name: 'onRequest', fn: (request: FastifyRequestLike, reply: unknown, done: () => void) => void): unknown
}
interface FastifyRequestLike {
  raw: IncomingMessage & { [ROUTE]?: string }
  routeOptions?: { url?: unknown }
  routerPath?: unknown
}

function isServer(v: unknown): v is Server {
  return typeof v === 'object' && v !== null && typeof (v as Server).prependListener === 'function' && typeof (v as Server).listen === 'function'
}

function isFastify(v: unknown): v is FastifyLike {
  return typeof v === 'object' && v !== null && isServer((v as FastifyLike).server) && typeof (v as FastifyLike).addHook === 'function'
}

/**
 * Starts measuring `target`: a `node:http` / `node:https` server (Express and Koa apps run on one),
 * or a Fastify instance (its `server`, with its route names). A second call for the same server does nothing.
 * Returns false (after one warning) when `target` is neither.
 */
export function attachHttp(target: unknown, options: HttpOptions | undefined, table: HttpTable, warn: Warner, attached: WeakSet<object>): boolean {
  let server: Server
  if (isFastify(target)) {
    server = target.server
    if (attached.has(server)) return true
    try {
      target.addHook('onRequest', (request, _reply, done) => {
        try {
          const u = request.routeOptions?.url ?? request.routerPath
          if (typeof u === 'string' && u !== '') request.raw[ROUTE] = u
        } catch { /* a Fastify without these fields: the request stays unmatched */ }
        done()
      })
    } catch (e) {
      // Fastify refuses hooks once it listens: measure anyway, without route names
      warn.once('http-target', `t.http(fastify) could not add its onRequest hook (${String(e)}); call it before listen() to get route names`, 'fastify')
    }
  } else if (isServer(target)) {
    server = target
  } else {
    warn.once('http-target', 't.http() takes a node:http or node:https server (or a Fastify instance); nothing is measured')
    return false
  }
  if (attached.has(server)) return true
  attached.add(server)
  const custom = typeof options?.route === 'function' ? options.route : undefined
  function onFinish(this: ServerResponse & { [T0]?: number }): void {
    try {
      const t0 = this[T0]
      const req = this.req
      if (t0 === undefined || req === undefined) return
      const ms = performance.now() - t0
      table.agg(req.method, routeOf(req, custom)).record(ms > 0 ? ms : 0, this.statusCode)
    } catch (e) {
      warn.once('internal', `internal error in t.http(): ${String(e)}`)
    }
  }
  // first listener: the clock starts before the application's own handler runs
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse & { [T0]?: number }) => {
    res[T0] = performance.now()
    res.on('finish', onFinish)
  })
  return true
}

/**
 * Koa middleware that hands koa-router's matched route (`ctx._matchedRoute`) to `t.http`. Put it
 * first (`app.use(koaRoutes())`), then measure the server `app.listen()` returns.
 * @example
 * app.use(koaRoutes()); app.use(router.routes()); t.http(app.listen(3000))
 */
export function koaRoutes(): (ctx: { req: IncomingMessage & { [ROUTE]?: string }; _matchedRoute?: unknown }, next: () => Promise<unknown>) => Promise<void> {
  return async (ctx, next) => {
    try {
      await next()
    } finally {
      const r = ctx._matchedRoute
      if (typeof r === 'string' && r !== '') ctx.req[ROUTE] = r
    }
  }
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000
}
