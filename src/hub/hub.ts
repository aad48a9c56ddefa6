/**
 * The composition root: builds a hub from validated options. Data flows one way:
 * transports → ingest (validate, enrich) → listeners (presence, live) and the batched writer → store.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { join } from 'node:path'
import { resolveConfig, type HubConfig, type HubInput } from './config'
import { TokenAuth } from './api/auth'
import { queryRoutes } from './api/query'
import { historyRoutes } from './api/history'
import { funnelRoutes } from './api/funnels'
import { readGuard, type ReadGuard } from './http/guard'
import { answerClientError, json, fail, rawError } from './http/reply'
import { Router } from './http/router'
import { loadAsset, loadDir, packageRoot, sendAsset, type Asset } from './http/static'
import { makeTrust } from './ingest/client-ip'
import { collectHttp } from './ingest/collect-http'
import { collectWs, type CollectWs } from './ingest/collect-ws'
import { openGeo, type Geo } from './ingest/geo'
import { Ingest } from './ingest/pipeline'
import { createValidator } from './ingest/validate'
import { memorySalts, saltFile } from './ingest/salt-file'
import { VisitorHasher } from './ingest/visitor'
import { BatchWriter } from './ingest/writer'
import { HubMetrics, hubGauges, renderPrometheus, type Gauge } from './metrics'
import { openStore } from './store'
import type { Store } from './store/types'
import { LivestatsError } from '../protocol/errors'
// live presence (issue 3): presence, bus, /live, /api/live, live gauges
import { wireLive, type LiveParts } from './live/wire'
import { feedIds } from './live/feed'
import { liveGauges } from './live/metrics'
import { wireProcessSeries } from './api/process'
import { setupRoutes } from './api/setup'
import { conversionRoutes } from './api/conversions'
import { goalRoutes } from './api/goals'
import { GoalRegistry, REFRESH_MS } from './goals/registry'
import type { LiveCounts } from './presence/types'
// alerts and sharing (issue 15.4, 15.5)
import { AlertEngine } from './alerts/engine'
import { alertRoutes } from './api/alerts'
import { badgeSite, serveBadge, shareRoutes } from './api/share'
import type { RouteAccess } from './http/router'
import { Badges } from './share/badge'
import { shareRefusal } from './share/scope'
import { SHARE_TOKEN_PREFIX, ShareTokens, shareHash } from './share/tokens'

const DAY = 86_400_000

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL) => void

/** Content-Security-Policy of the dashboard: no inline script, nothing from elsewhere. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
  "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'"

export interface ListenInfo {
  port: number
  host: string
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  url: string
}

export class Hub {
  readonly config: HubConfig
  readonly store: Store
  readonly metrics = new HubMetrics()
  readonly router = new Router()
  readonly auth: TokenAuth
  readonly ingest: Ingest
  readonly writer: BatchWriter
  /** Country lookups (issue 12.5): the database the hub reads, or none when `geoip` is off. */
  readonly geo: Geo
  /** WebSocket endpoints by path; `/collect` is built in, `/live` is added by the live channel. */
  readonly upgrades = new Map<string, UpgradeHandler>()
  /** Extra `/metrics` sections (live gauges). */
  readonly gauges: (() => Gauge[])[] = []
  /** Work to run on close, after transports stop and before the store closes (newest first). */
  readonly closers: (() => Promise<void> | void)[] = []
  /** Work to run in `listen()` once the store is open, before the hub accepts connections. */
  readonly starters: (() => Promise<void> | void)[] = []
  /** Live presence, bus and the dashboard channel (issue 3). */
  readonly live: LiveParts
  /** Each site's goals (issue 13), in memory for the live feed and in the store's key/value table. */
  readonly goals: GoalRegistry
  /** Checks `Host` (DNS rebinding) and `Origin` (cross-site WebSockets) of reads. */
  readonly guard: ReadGuard
  /** Event id → the id readers see in feeds (`/live`, `/api/feed`): one secret per hub process. */
  readonly feedId = feedIds()
  /** Share links: tokens that read one site (issue 15.5). */
  readonly shares: ShareTokens
  /** Public live badges, per site when the operator enabled one (issue 15.5). */
  readonly badges: Badges
  /** Alert rules, their evaluation and webhook deliveries (issue 15.4). */
  readonly alerts: AlertEngine
  /** The token this start generated, to print once; null when none was made. */
  newToken: string | null = null
  private readonly server: Server
  private readonly collect: CollectWs
  private readonly hasher: VisitorHasher
  private readonly assets: Map<string, Asset>
  private readonly snippet: Asset | null
  private readonly snippetExtras: Asset | null
  private timers: NodeJS.Timeout[] = []
  private closing: Promise<void> | null = null
  private resetToken = false
  private readonly routeUrls = new Map<string, URL>()
  /**
   * Why a read is refused, or null: a share link's token reads its site's routes alone; else with a
   * token the token decides, without one the `Host` must name this hub; and an admin write must come
   * from no page or the hub's own (`Origin`).
   */
  private readonly readRefusal = (req: IncomingMessage, url: URL, access: RouteAccess): LivestatsError | null => {
    const share = this.shares.lookup(TokenAuth.fromRequest(req, url))
    if (share !== null) return shareRefusal(req, url, access, share.site)
    const no = !this.auth.enforced ? this.hostRefusal(req) : this.auth.allows(req, url) ? null : new LivestatsError('LS_ERR_UNAUTHORIZED')
    if (no !== null || !access.admin || req.method === 'GET' || req.method === 'HEAD') return no
    return this.guard.originAllowed(req) ? null : new LivestatsError('LS_ERR_ORIGIN_FORBIDDEN')
  }

  constructor(options: HubInput | HubConfig = {}) {
    this.config = 'requireToken' in options ? options : resolveConfig(options)
    const c = this.config
    // before the store: a bad geoip file fails the constructor with nothing opened yet
    this.geo = openGeo(c.geoip)
    this.store = openStore(c.storeUrl)
    this.auth = new TokenAuth(c.requireToken)
    this.goals = new GoalRegistry(this.store)
    this.writer = new BatchWriter(this.store)
    this.hasher = new VisitorHasher(c.keyFile === null ? memorySalts() : saltFile(c.keyFile), this.store)
    this.shares = new ShareTokens(this.store)
    const trusted = makeTrust(c.trustProxy)
    this.guard = readGuard(c, trusted)
    this.ingest = new Ingest(c, createValidator(c.limits), this.hasher, this.writer, this.metrics)
    this.collect = collectWs(c, this.ingest, this.metrics, this.auth, trusted, this.ingest.listeners, this.geo.locate)
    this.upgrades.set('/collect', (req, socket, head, url) => this.collect.handleUpgrade(req, socket, head, url))

    const root = packageRoot()
    this.snippet = loadAsset(join(root, 'dist', 'livestats.js'), 'public, max-age=86400, stale-while-revalidate=604800')
    // the snippet with its extras (docs/snippet.md, "Extras"): the same caching and CORS as the core
    this.snippetExtras = loadAsset(join(root, 'dist', 'livestats-extras.js'), 'public, max-age=86400, stale-while-revalidate=604800')
    this.assets = loadDir(join(root, 'dist', 'dashboard'), '/', (p) =>
      p.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')

    const r = this.router
    const collect = collectHttp(c, this.ingest, this.metrics, this.auth, trusted, this.geo.locate)
    r.on('*', '/api/collect', collect)
    // the WebSocket's path takes a POST too: the snippet then names one URL (bytes it does not spend)
    r.on('*', '/collect', collect)
    r.on('GET', '/healthz', (_req, res) =>
      json(res, 200, {
        status: this.closing ? 'closing' : 'ok', store: this.store.kind,
        // cluster: counts every node's visitors (Redis); node: this hub's own (single node, or Redis unreachable)
        presence: this.live.presence.scope, uptime: (Date.now() - this.metrics.started) / 1000,
      }))
    // seed 000's dashboard answered this; monitors and the original demo's users still ask it
    r.on('GET', '/ping', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': 4, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
      res.end('pong')
    })
    r.on('GET', '/metrics', async (_req, res) => {
      // live gauges first: on a cluster node they are read from Redis (this node's when it cannot)
      const live = liveGauges(await this.live.overview(), this.live.channel, this.config.caps.metricsSites)
      const text = renderPrometheus([...hubGauges(this.metrics, this.writer.pending), ...live, ...this.gauges.flatMap((g) => g())])
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
      res.end(text)
    }, { auth: true })
    queryRoutes(r, this.store, this.feedId, this.geo.source)
    historyRoutes(r, this.store, this.geo.source) // the History view in one round trip (issue 12.6)
    funnelRoutes(r, this.store, this.goals, (req) => this.guard.originAllowed(req)) // issue 13.3
    this.live = wireLive(this) // issue 3: after ingest and router exist
    wireProcessSeries(this) // issue 5.4 / 6: per-process series at /api/processes
    setupRoutes(r, c.publicUrl, () => this.server.address()) // the dashboard's install panel
    goalRoutes(r, this.goals, (req) => this.guard.originAllowed(req)) // issue 13: goal definitions
    conversionRoutes(r, this.store, this.goals) // their figures
    const presence = this.live.presence
    this.badges = new Badges(this.store, async (site) => (await presence.countStates(site)).total)
    this.alerts = new AlertEngine({ store: this.store, presence, settings: c.alerts, logger: c.logger, hubUrl: c.publicUrl, ...(this.live.leader === null ? {} : { leader: this.live.leader }) })
    alertRoutes(r, this.alerts, c.alerts)
    shareRoutes(r, this.shares, this.badges, (hash) => this.live.channel.drop((req) => {
      try {
        const t = TokenAuth.fromRequest(req, new URL(req.url ?? '/', 'http://hub'))
        return t !== null && t.startsWith(SHARE_TOKEN_PREFIX) && shareHash(t) === hash
      } catch {
        return false
      }
    }))
    this.starters.push(() => this.shares.load(), () => this.badges.load(), () => this.alerts.load())
    // closers run newest first: no alert is evaluated once presence starts closing
    this.closers.push(() => this.alerts.close())

    this.server = createServer({
      // set on purpose, not Node's 60 s / 300 s: a slow-headers client is answered 408 and let go
      headersTimeout: c.headersTimeoutMs,
      requestTimeout: c.requestTimeoutMs,
      // how often those are checked (Node's default 30 s would add up to 30 s to each)
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(c.headersTimeoutMs / 4))),
    }, (req, res) => this.onRequest(req, res))
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head))
    this.server.on('clientError', answerClientError)
    this.server.keepAliveTimeout = 65_000
  }

  /** Hub-generated token on next `listen()` even if one is stored (`livestats serve --reset-token`). */
  resetTokenOnStart(): this {
    this.resetToken = true
    return this
  }

  /**
   * Refuses a read whose `Host` is not this hub's on a hub without a token (DNS rebinding: a page on
   * a name that now resolves to 127.0.0.1 still sends its own name); null when it may read.
   * With a token, the token decides and this is not asked.
   */
  hostRefusal(req: IncomingMessage): LivestatsError | null {
    return this.auth.enforced || this.guard.hostAllowed(req) ? null : new LivestatsError('LS_ERR_HOST_FORBIDDEN')
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const raw = req.url ?? '/'
    let url = this.routeUrls.get(raw)
    if (url === undefined) {
      try {
        url = new URL(raw, 'http://hub')
      } catch {
        fail(res, new LivestatsError('LS_ERR_NOT_FOUND'))
        return
      }
      // a route asked for without query (every POST /api/collect) parses the same every time:
      // keep that URL; handlers only read it
      if (raw === url.pathname && this.routeUrls.size < 64 && this.router.has(raw)) this.routeUrls.set(raw, url)
    }
    if (this.router.dispatch(req, res, url, this.readRefusal)) return
    if (req.method === 'GET' || req.method === 'HEAD') {
      const badge = badgeSite(url.pathname)
      if (badge !== null) return serveBadge(req, res, badge, this.badges)
      const snippet = url.pathname === '/livestats.js' ? this.snippet : url.pathname === '/livestats-extras.js' ? this.snippetExtras : null
      if (snippet !== null) {
        sendAsset(req, res, snippet, { 'access-control-allow-origin': '*' })
        return
      }
      const a = this.assets.get(url.pathname === '/' ? '/index.html' : url.pathname)
      if (a !== undefined) {
        // the dashboard holds no data, but a rebinding page should not get it either: it says why at once
        const no = this.hostRefusal(req)
        if (no !== null) return fail(res, no)
        sendAsset(req, res, a, a.type.startsWith('text/html')
          ? { 'content-security-policy': DASHBOARD_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' }
          : { 'x-content-type-options': 'nosniff' })
        return
      }
    }
    fail(res, new LivestatsError('LS_ERR_NOT_FOUND'))
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy())
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://hub')
    } catch {
      return rawError(socket, new LivestatsError('LS_ERR_BAD_REQUEST', 'Malformed request URL'))
    }
    const h = this.upgrades.get(url.pathname)
    if (h === undefined || this.closing) return rawError(socket, new LivestatsError(this.closing ? 'LS_ERR_SHUTTING_DOWN' : 'LS_ERR_NOT_FOUND'))
    h(req, socket, head, url)
  }

  /**
   * Seed 002's `State::countStates()`: visitors on `site` now, by state; total = reading + writing + idle
   * (a visitor with every tab hidden is idle, and counted again in `hidden`, a part of idle).
   * @example
   * const { total, reading, writing, idle } = await hub.countStates('example.com')
   */
  countStates(site: string): Promise<LiveCounts> {
    return this.live.presence.countStates(site)
  }

  /** Opens the store, loads salts and the token, and starts listening. */
  async listen(): Promise<ListenInfo> {
    const c = this.config
    await this.store.init()
    await this.hasher.rotate()
    this.newToken = await this.auth.init(this.store, c.token, this.resetToken)
    await this.goals.load()
    for (const fn of this.starters) await fn()
    await new Promise<void>((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException): void => {
        // the one failure a person starting a second hub (or the demo beside `npm start`) meets
        reject(err.code === 'EADDRINUSE'
          ? new LivestatsError('LS_ERR_PORT_IN_USE', `port ${c.port} on ${c.host} is already in use (another Livestats, or another program): stop it, or choose another port with --port N or LIVESTATS_PORT`)
          : err)
      }
      this.server.once('error', fail)
      this.server.listen(c.port, c.host, () => {
        this.server.off('error', fail)
        resolve()
      })
    })
    // another node of a cluster may change the goals: read them again now and then
    this.timers.push(setInterval(() => {
      this.goals.load().catch((err: unknown) => c.logger.error('livestats: reading goals failed', err))
      // share links, badges and alert rules too: a link revoked on another node stops working here
      Promise.all([this.shares.load().then(() => this.live.channel.drop((req) => {
        try {
          // a /live socket whose share link was revoked on another node closes here too
          const t = TokenAuth.fromRequest(req, new URL(req.url ?? '/', 'http://hub'))
          return t !== null && t.startsWith(SHARE_TOKEN_PREFIX) && this.shares.lookup(t) === null && !this.auth.check(t)
        } catch {
          return false
        }
      })), this.badges.load(), this.alerts.load()])
        .catch((err: unknown) => c.logger.error('livestats: reading share links, badges or alert rules failed', err))
    }, REFRESH_MS).unref())
    if (c.retentionDays > 0) {
      const prune = (): void => {
        this.store.prune(Date.now() - c.retentionDays * DAY).catch((err: unknown) => c.logger.error('livestats: prune failed', err))
      }
      prune()
      this.timers.push(setInterval(prune, 3_600_000).unref())
    }
    const a = this.server.address() as AddressInfo
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address
    return { port: a.port, host: a.address, url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${a.port}` }
  }

  /** Stops accepting, commits everything queued, runs closers, closes the store. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing
    this.closing = (async () => {
      for (const t of this.timers) clearInterval(t)
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
      await this.collect.close()
      for (const fn of [...this.closers].reverse()) await fn()
      this.server.closeIdleConnections()
      await this.writer.drain()
      setTimeout(() => this.server.closeAllConnections(), 2000).unref()
      await closed
      await this.store.close()
    })()
    return this.closing
  }
}

/**
 * Builds a hub (not yet listening).
 * @example
 * const hub = createHub({ port: 3000, store: './livestats.db' })
 * const { url } = await hub.listen()
 */
export function createHub(options: HubInput = {}): Hub {
  return new Hub(options)
}
