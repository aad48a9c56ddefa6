/**
 * The `livestats` command. `livestats serve` (what `npm start` runs) starts the hub with the
 * dashboard. Flags and `LIVESTATS_*` variables are the same options; flags win.
 */
import { parseArgs } from 'node:util'
import { LivestatsError } from './protocol/errors'
import { optionsFromEnv, redactRedisUrl, redactStoreUrl, resolveConfig } from './hub/config'
import { Hub } from './hub/hub'
import { reachableUrls } from './hub/reach'

const HELP = `Usage: livestats serve [options]

Options (each also as an environment variable):
  --port N            port for the hub and dashboard           LIVESTATS_PORT (default 3000)
  --host ADDR         interface to bind                        LIVESTATS_HOST (default 127.0.0.1)
  --store URL         SQLite file (sqlite:PATH or a path), or  LIVESTATS_STORE (default ./livestats.db)
                      postgres://[USER@]HOST[:PORT]/DB[?schema=NAME] (schema default livestats)
  --db PATH           the same as --store                      LIVESTATS_DB
  --redis URL         Redis for cluster presence and the live LIVESTATS_REDIS (default: none, this node only)
                      bus: redis://HOST:PORT; hubs on one Redis are one cluster
  --redis-prefix P    prefix of Redis keys and channels        LIVESTATS_REDIS_PREFIX (default ls:)
  --retention DAYS    days of raw events to keep, 0 = all      LIVESTATS_RETENTION (default 180)
  --key-file PATH     visitor salts, mode 0600, not in backups LIVESTATS_KEY_FILE (default: the db path + .key)
  --trust-proxy LIST  proxies whose X-Forwarded-For is used    LIVESTATS_TRUST_PROXY (IPs or "loopback")
  --sites LIST        sites allowed to send, comma-separated   LIVESTATS_SITES (default: any)
  --site-hosts MAP    other hosts a site runs under, not       LIVESTATS_SITE_HOSTS
                      referrers: site=host,host;site2=host     (e.g. example.com=m.example.com)
  --auth MODE         auto | on | off                          LIVESTATS_AUTH (default auto: on when not loopback)
  --public-url URL    where people reach the hub; its name may LIVESTATS_PUBLIC_URL
                      read a hub without a token, its origin may open /live
  --allowed-hosts LIST  more host names a hub without a token  LIVESTATS_ALLOWED_HOSTS
                      answers reads for (default: loopback names only)
  --allowed-origins LIST  page origins, besides the hub's own, LIVESTATS_ALLOWED_ORIGINS
                      that may open /live
  --headers-timeout MS  time to send request headers           LIVESTATS_HEADERS_TIMEOUT (default 10000)
  --request-timeout MS  time to send a whole request           LIVESTATS_REQUEST_TIMEOUT (default 30000)
  --geoip FILE        .mmdb file for countries, or off         LIVESTATS_GEOIP (default: bundled DB-IP Lite country)
  --caps LIST         caps on live state and /collect sockets, LIVESTATS_CAPS
                      name=value,… (e.g. maxTabsPerIp=5000,idleMs=120000;
                      names and defaults in docs/security.md)
  --alerts LIST       alert evaluation and webhook retries,    LIVESTATS_ALERTS
                      name=value,… (e.g. intervalMs=15000,attempts=5;
                      names and defaults in docs/alerts.md)
  --reset-token       make and print a new read token
  -h, --help          this text
`

/** `serve`'s flags, each with the option it sets (string values: `resolveConfig` validates them). */
const FLAGS: Readonly<Record<string, string>> = {
  port: 'port', host: 'host', db: 'store', store: 'store', retention: 'retentionDays', 'key-file': 'keyFile', redis: 'redis', 'redis-prefix': 'redisPrefix',
  'trust-proxy': 'trustProxy', sites: 'sites', 'site-hosts': 'siteHosts', auth: 'auth', 'public-url': 'publicUrl',
  'allowed-hosts': 'allowedHosts', 'allowed-origins': 'allowedOrigins', 'headers-timeout': 'headersTimeoutMs',
  'request-timeout': 'requestTimeoutMs', geoip: 'geoip', caps: 'caps', alerts: 'alerts',
}

export interface ServeArgs {
  /** The first positional argument, `serve` when none. */
  command: string
  help: boolean
  resetToken: boolean
  /** Hub options: the `LIVESTATS_*` variables, with the flags over them. */
  options: Record<string, string>
}

/**
 * Parses `serve`'s arguments and merges the flags over the `LIVESTATS_*` variables of `env` (flags
 * win). `npm run demo` parses its arguments with it too, so both take the same options.
 * Throws LS_ERR_CONFIG on an unknown flag or a flag without its value.
 * @example parseServeArgs(['--port', '4000']).options // { port: '4000', ...from LIVESTATS_* }
 */
export function parseServeArgs(argv: string[], env?: NodeJS.ProcessEnv): ServeArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
        'reset-token': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    throw new LivestatsError('LS_ERR_CONFIG', (err as Error).message)
  }
  const { positionals } = parsed
  const values = parsed.values as Record<string, string | boolean | undefined>
  const flags: Record<string, string> = {}
  for (const [flag, option] of Object.entries(FLAGS)) {
    const v = values[flag]
    if (typeof v === 'string') flags[option] = v
  }
  return {
    command: positionals[0] ?? 'serve',
    help: values.help === true,
    resetToken: values['reset-token'] === true,
    options: { ...optionsFromEnv(env), ...flags },
  }
}

export async function main(argv: string[]): Promise<void> {
  let args: ServeArgs
  try {
    args = parseServeArgs(argv)
  } catch (err) {
    process.stderr.write(`livestats: ${(err as Error).message}\n\n${HELP}`)
    process.exit(2)
  }
  if (args.help || args.command === 'help') {
    process.stdout.write(HELP)
    return
  }
  if (args.command !== 'serve') {
    process.stderr.write(`livestats: unknown command "${args.command}"\n\n${HELP}`)
    process.exit(2)
  }

  let hub: Hub
  try {
    const config = resolveConfig(args.options)
    hub = new Hub(config)
    if (args.resetToken) hub.resetTokenOnStart()
  } catch (err) {
    const msg = err instanceof LivestatsError ? err.message : String(err)
    process.stderr.write(`livestats: invalid configuration: ${msg}\n`)
    process.exit(2)
  }
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    process.stdout.write(`livestats: ${signal}, committing queued events and closing\n`)
    hub.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`livestats: error while closing: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  // installed before listening, so a SIGTERM during start-up still drains and exits 0
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))

  const started = Date.now()
  let info
  try {
    info = await hub.listen()
  } catch (err) {
    if (stopping) return // a signal during start-up: stop() drains and exits
    // one line, no stack: what went wrong and what to do (a taken port names --port)
    process.stderr.write(`livestats: cannot start: ${(err as Error).message}\n`)
    await hub.close().catch(() => {})
    process.exit(1)
  }
  // URLs a visitor's browser can reach: --public-url, or this machine's addresses on 0.0.0.0 / ::
  const reach = reachableUrls({ host: info.host, port: info.port }, hub.config.publicUrl)
  const lines = [
    `Livestats hub ready in ${Date.now() - started} ms (store: ${redactStoreUrl(hub.config.storeUrl)}; presence: ${hub.config.redis === null ? 'this node' : `cluster on ${redactRedisUrl(hub.config.redis)}`})`,
    `  Dashboard:  ${reach.url}/${reach.others.length > 0 ? `   (also ${reach.others.map((u) => `${u}/`).join(', ')})` : ''}`,
  ]
  // the address this machine itself can always use, when the lines above name another
  if (reach.url !== info.url) lines.push(`  Local:      ${info.url}/`)
  if (hub.newToken !== null) {
    lines.push(`  Read token: ${hub.newToken}`)
    lines.push('              (shown once; only its hash is stored. --reset-token makes a new one)')
  } else if (hub.auth.enforced) {
    lines.push('  Reads need the token printed at first start (--reset-token makes a new one)')
  }
  const geo = hub.geo.source
  lines.push(geo === null
    ? '  Countries:  off (--geoip)'
    : `  Countries:  ${geo.file} (built ${new Date(geo.built).toISOString().slice(0, 10)})${geo.attribution ? `; ${geo.attribution.text}, ${geo.attribution.url}` : ''}`)
  lines.push(`  Snippet:    <script defer src="${reach.url}/livestats.js"></script>`)
  if (!reach.fromPublicUrl) {
    lines.push('  Testing on a page served from localhost? The snippet ignores localhost, 127.* and [::1]')
    lines.push(`              pages unless its tag says so: <script defer data-allow-localhost src="${reach.url}/livestats.js"></script>`)
  }
  if (reach.loopbackOnly) {
    lines.push('  Only this machine can reach the hub: --host 0.0.0.0 (and --public-url URL behind a proxy) for real sites')
  } else if (!reach.fromPublicUrl) {
    lines.push('  Behind a proxy or a domain name? --public-url https://stats.example.com puts it in these lines')
  }
  // one write, so whoever reads the banner gets it whole
  process.stdout.write(lines.join('\n') + '\n')
}
