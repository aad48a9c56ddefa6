/**
 * The one place that reads configuration: options given in code, `LIVESTATS_*` environment
 * variables and CLI flags are merged once, validated, and frozen. Nothing else reads `process.env`.
 */
import { isIP } from 'node:net'
import { LivestatsError } from '../protocol/errors'
import { DEFAULT_LIMITS, type Limits } from '../protocol/limits'

export interface Logger {
  info(msg: string, ...rest: unknown[]): void
  warn(msg: string, ...rest: unknown[]): void
  error(msg: string, ...rest: unknown[]): void
  debug?(msg: string, ...rest: unknown[]): void
}

export interface HubOptions {
  /** TCP port for the collect endpoints, the query API, the live channel and the dashboard. @default 3000 */
  port: number
  /** Interface to bind. Any non-loopback host turns token auth on for reads. @default '127.0.0.1' */
  host: string
  /** Store: a SQLite file path, `sqlite:PATH`, or `postgres://…`. @default './livestats.db' */
  store: string
  /** Days of raw events to keep (rollups are kept for good); 0 keeps everything. @default 180 */
  retentionDays: number
  /** Proxies whose `X-Forwarded-For` is believed: IP addresses, or `loopback`. @default [] */
  trustProxy: string[]
  /** `auto`: reads need a token when bound to a non-loopback host; `on` / `off` force it. @default 'auto' */
  auth: 'auto' | 'on' | 'off'
  /** A fixed token instead of the generated one (e.g. from a secret store). */
  token: string | null
  /** Sites allowed to send web events; empty allows any. @default [] */
  sites: string[]
  /**
   * Other hosts each site runs under (a mobile or staging host): navigation between them is not a
   * referrer. Keyed by site name. As a string: `site=host,host;site2=host`. @default {}
   * @example { 'example.test': ['m.example.test', 'staging.example.test'] }
   */
  siteHosts: Record<string, readonly string[]>
  /** Show full client IPs in the live feed (memory only; the store always keeps masked IPs). @default false */
  feedFullIp: boolean
  /** Largest number of rows waiting for the writer before new frames are refused. @default 200000 */
  maxQueuedRows: number
  limits: Limits
  logger: Logger
}

/** What `createHub` and `dashboard` accept: every option is optional; `db` is an alias of `store`. */
export type HubInput = Partial<Omit<HubOptions, 'limits'>> & { db?: string; limits?: Partial<Limits> }

export type HubConfig = Readonly<HubOptions> & { readonly requireToken: boolean; readonly storeUrl: string }

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.')
}

function fail(message: string): never {
  throw new LivestatsError('LS_ERR_CONFIG', message)
}

function int(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`)
  }
  return n
}

function list(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(String).map((s) => s.trim()).filter(Boolean)
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean)
  return []
}

// a host name as a person writes it (any letters for IDNs), with an optional port
const HOST_NAME = /^(\[[0-9a-f:.]+\]|[^\s/?#@\[\]:=,;]+)(:\d{1,5})?$/i

/** `site=host,host;site2=host` (or the same as an object) → frozen site → hosts. */
function siteHosts(v: unknown): Record<string, readonly string[]> {
  const out: Record<string, readonly string[]> = {}
  if (v == null || v === '') return Object.freeze(out)
  let entries: [string, unknown][]
  if (typeof v === 'string') {
    entries = v.split(/[;\s]+/).filter(Boolean).map((part): [string, unknown] => {
      const eq = part.indexOf('=')
      if (eq <= 0) fail(`siteHosts: "${part}" is not site=host,host`)
      return [part.slice(0, eq), part.slice(eq + 1)]
    })
  } else if (typeof v === 'object' && !Array.isArray(v)) {
    entries = Object.entries(v as Record<string, unknown>)
  } else {
    fail('siteHosts must be "site=host,host;site2=host" or an object of site → hosts')
  }
  for (const [site, hosts] of entries) {
    const names = list(hosts)
    for (const h of [site, ...names]) if (!HOST_NAME.test(h)) fail(`siteHosts: "${h}" is not a host name`)
    if (names.length === 0) fail(`siteHosts: site "${site}" lists no hosts`)
    out[site] = Object.freeze([...(out[site] ?? []), ...names])
  }
  return Object.freeze(out)
}

function storeUrl(store: string): string {
  if (store.startsWith('postgres://') || store.startsWith('postgresql://')) return store
  if (store.startsWith('sqlite:')) return store
  if (store.startsWith('mongodb')) fail('MongoDB is not a Livestats store; use a SQLite path or postgres://')
  return `sqlite:${store}`
}

/** Environment variables the hub understands, mapped to option names. */
export const ENV_KEYS: Record<string, keyof HubOptions> = {
  LIVESTATS_PORT: 'port',
  LIVESTATS_HOST: 'host',
  LIVESTATS_DB: 'store',
  LIVESTATS_STORE: 'store',
  LIVESTATS_RETENTION: 'retentionDays',
  LIVESTATS_TRUST_PROXY: 'trustProxy',
  LIVESTATS_AUTH: 'auth',
  LIVESTATS_TOKEN: 'token',
  LIVESTATS_SITES: 'sites',
  LIVESTATS_FEED_FULL_IP: 'feedFullIp',
  LIVESTATS_SITE_HOSTS: 'siteHosts',
}

/** Options from `LIVESTATS_*` variables (strings; `resolveConfig` validates them). */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, opt] of Object.entries(ENV_KEYS)) {
    const v = env[k]
    if (v !== undefined && v !== '') out[opt] = v
  }
  return out
}

/** Validates and freezes hub options; throws `LS_ERR_CONFIG` with a plain message on the first problem. */
export function resolveConfig(input: Partial<Record<keyof HubOptions, unknown>> = {}): HubConfig {
  const known = new Set<string>([
    'port', 'host', 'store', 'db', 'retentionDays', 'trustProxy', 'auth', 'token', 'sites', 'siteHosts', 'feedFullIp',
    'maxQueuedRows', 'limits', 'logger',
  ])
  for (const k of Object.keys(input)) if (!known.has(k)) fail(`unknown option "${k}"`)
  const raw = input as Record<string, unknown>
  const port = int('port', raw.port ?? 3000, 0, 65535)
  const host = String(raw.host ?? '127.0.0.1')
  if (host !== 'localhost' && host !== '0.0.0.0' && host !== '::' && isIP(host) === 0) {
    fail(`host must be an IP address or localhost, got ${JSON.stringify(host)}`)
  }
  const store = String(raw.store ?? raw.db ?? './livestats.db')
  const retentionDays = int('retention', raw.retentionDays ?? 180, 0, 36500)
  const trustProxy = list(raw.trustProxy)
  for (const p of trustProxy) if (p !== 'loopback' && isIP(p) === 0) fail(`trustProxy entry "${p}" is not an IP or "loopback"`)
  const auth = String(raw.auth ?? 'auto')
  if (auth !== 'auto' && auth !== 'on' && auth !== 'off') fail(`auth must be auto, on or off, got "${auth}"`)
  const token = raw.token == null ? null : String(raw.token)
  if (token !== null && token.length < 16) fail('token must be at least 16 characters')
  const feed = raw.feedFullIp
  const feedFullIp = feed === true || feed === 'true' || feed === '1'
  const maxQueuedRows = int('maxQueuedRows', raw.maxQueuedRows ?? 200_000, 1000, 10_000_000)
  const limitsIn = (raw.limits ?? {}) as Partial<Limits>
  const limits: Limits = { ...DEFAULT_LIMITS }
  for (const [k, v] of Object.entries(limitsIn)) {
    if (!(k in DEFAULT_LIMITS)) fail(`unknown limit "${k}"`)
    limits[k as keyof Limits] = int(`limits.${k}`, v, 1, 1 << 30)
  }
  const logger = (raw.logger as Logger | undefined) ?? console
  const requireToken = auth === 'on' || (auth === 'auto' && !isLoopbackHost(host))
  return Object.freeze({
    port, host, store, retentionDays, trustProxy, auth: auth as HubOptions['auth'], token,
    sites: list(raw.sites), siteHosts: siteHosts(raw.siteHosts), feedFullIp, maxQueuedRows, limits: Object.freeze(limits), logger,
    requireToken, storeUrl: storeUrl(store),
  })
}
