/** Public types of `tracker()`. */
import type { HttpOptions } from './http'

export type { HttpOptions } from './http'

/** Where warnings go. `console` fits; so do pino, winston and bunyan loggers. */
export interface TrackerLogger {
  warn(...args: unknown[]): void
}

/** Options of `tracker(config)`. Only `name` and one of `port` / `hub` matter to most users. */
export interface TrackerConfig {
  /**
   * Name of the application, shown in the dashboard (the seed's `name`).
   * Truncated to 200 characters.
   * @default 'node'
   */
  name?: string
  /**
   * Opens the tracker's own WebSocket server on this port; dashboards dial it
   * (`dashboard({ urls: ['ws://host:3001'] })`) and receive the same protocol frames the hub gets.
   * `0` picks a free port (see `ready()`). No server unless set.
   * @example tracker({ name: 'api', port: 3001 })
   */
  port?: number
  /** Interface the `port` server binds to. @default all interfaces, as Node's `listen` does */
  host?: string
  /**
   * URL of a Livestats hub to dial (`ws://`, `wss://`, `http://` or `https://`); the tracker sends to
   * its `/collect` unless the URL names another path. Read from `LIVESTATS_HUB` when not set.
   * @default process.env.LIVESTATS_HUB
   * @example tracker({ name: 'worker', hub: 'ws://127.0.0.1:3000' })
   */
  hub?: string
  /** Hub token, sent as `Authorization: Bearer <token>` (hubs that guard process events need it). @default process.env.LIVESTATS_TOKEN */
  token?: string
  /** Milliseconds between flushes of the in-process aggregates. @default 1000 */
  interval?: number
  /** Most events kept while nobody acknowledges them; past it the oldest are dropped and counted. @default 20000 */
  buffer?: number
  /** Most distinct job names; later names are counted under `(other)`. @default 100 */
  maxJobNames?: number
  /** Most distinct HTTP routes (method + route) measured by `t.http`; later ones are counted under `(other)`. @default 50 */
  maxHttpRoutes?: number
  /** Deadline of `close()` and of the flush on `SIGTERM` / `beforeExit`, ms. @default 5000 */
  closeTimeout?: number
  /** Process instance name. @default `${os.hostname()}:${process.pid}` */
  instance?: string
  /** Flush on `SIGTERM` and `beforeExit`. @default true */
  handleSignals?: boolean
}

/** A job started with `job.start()`. */
export interface TrackerJob {
  /** The name it is counted under (after truncation or folding into `(other)`). */
  readonly name: string
  /**
   * Stops the job and records its duration. Pass an error (or any truthy value) to mark it failed.
   * A second call is ignored, with one warning.
   * @example
   * const j = t.job.start('resize'); try { await work(); j.stop() } catch (e) { j.stop(e) }
   */
  stop(error?: unknown): void
}

/** What `close()` reports. */
export interface CloseResult {
  /** True when every buffered event was acknowledged before the deadline. */
  delivered: boolean
  /** Events still unacknowledged at the deadline (they are discarded). */
  pending: number
}

/** Delivery state, for health checks and tests. */
export interface TrackerStats {
  /** Events waiting for an acknowledgement, over all destinations. */
  buffered: number
  /** Events dropped because a buffer was full, since the tracker started. */
  dropped: number
  /** State of the connection to the hub. */
  hub: 'off' | 'connecting' | 'open' | 'down'
  /** Dashboards connected to the `port` server. */
  peers: number
  /** Jobs started and not stopped. */
  running: number
}

/** The object `tracker()` returns. Every method is safe to call with any input: none throws. */
export interface Tracker {
  bytes: {
    /**
     * Counts bytes sent. A string is counted in UTF-8 bytes; a Buffer, typed array or ArrayBuffer
     * by its byte length; a number as a byte count; a plain object or an array by the UTF-8 bytes of
     * its JSON (what it would weigh on the wire: `{ p: 'p' }` is 9 bytes, where the seed's `String()`
     * counted `[object Object]`, 15, whatever the object); anything else is converted with `String()`
     * (the seed's rule).
     * @example t.bytes.sent(body)
     */
    sent(data: unknown): void
    /** Counts bytes received, as `sent` does. @example t.bytes.received(chunk) */
    received(data: unknown): void
  }
  database: {
    /**
     * Counts rows read: the length of an array (or of a JSON array string), or a number of rows.
     * @example t.database.read(rows)
     */
    read(data: unknown): void
    /** Counts rows written, as `read` does. @example t.database.written(docs) */
    written(data: unknown): void
  }
  job: {
    /**
     * Starts a job; it is listed as running (with its start time) until its `stop()`.
     * @param jobName shown in the dashboard; truncated to 200 characters
     * @param start start time in ms since the epoch @default Date.now()
     * @example const j = t.job.start('nightly-report'); ...; j.stop()
     */
    start(jobName: string, start?: number): TrackerJob
  }
  /**
   * Measures an HTTP server: responses per method and route, their status classes (2xx, 3xx, 4xx,
   * 5xx) and response times, sent with each `process` sample. Pass a `node:http` or `node:https`
   * server (Express and Koa apps run on one: pass what `app.listen()` returns) or a Fastify instance.
   * Routes are read from the framework, never from the URL: Express's `req.baseUrl + req.route.path`,
   * Fastify's `routeOptions.url`, koa-router's `ctx._matchedRoute` (with `koaRoutes()`), or
   * `options.route`; others count as `(unmatched)`. Calling it twice for one server does nothing.
   * @example
   * const server = app.listen(3000)
   * t.http(server)
   */
  http(server: unknown, options?: HttpOptions): void
  /** Sends the current aggregates now instead of at the next interval. */
  flush(): void
  /**
   * Flushes, waits until every buffered event is acknowledged or the deadline passes, then closes
   * the connections and the server. Never rejects.
   * @example await t.close({ timeout: 2000 })
   */
  close(options?: { timeout?: number }): Promise<CloseResult>
  /** Resolves once the `port` server listens (`port: null` without a server or when it failed). */
  ready(): Promise<{ port: number | null }>
  /**
   * True while something holds this tracker's link: its connection to the `hub` is open, or a
   * dashboard that dialled it (`dashboard({ urls })`) is connected to its `port` server.
   * Seed 000's demo polls it before it starts sending. Events are buffered either way, so calls made
   * while it is false are not lost (up to `buffer` events).
   * @example
   * const timer = setInterval(() => {
   *   if (!t.isConnected()) return
   *   clearInterval(timer)
   *   t.bytes.sent(payload)
   * }, 3000)
   */
  isConnected(): boolean
  /** Delivery state. */
  stats(): TrackerStats
}
