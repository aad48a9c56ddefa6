/**
 * Availability of the external parts some suites need. A suite passes the returned reason to
 * `describe(name, { skip })`, so a machine without the part reports the suite as skipped and
 * names what is missing. With LIVESTATS_REQUIRE_SERVICES=1 a missing part throws instead.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'

const required = process.env.LIVESTATS_REQUIRE_SERVICES === '1'

function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port })
    const done = (ok: boolean) => { s.destroy(); resolve(ok) }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

function verdict(ok: boolean, what: string): string | false {
  if (ok) return false
  if (required) throw new Error(`LIVESTATS_REQUIRE_SERVICES=1 but ${what}`)
  return `${what} (skipped)`
}

export const POSTGRES_URL = process.env.LIVESTATS_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
export const REDIS_URL = process.env.LIVESTATS_TEST_REDIS ?? 'redis://127.0.0.1:6379'
export const CHROMIUM_PATH = process.env.LIVESTATS_CHROMIUM ?? '/usr/bin/chromium'

export async function postgresMissing(): Promise<string | false> {
  return verdict(await tcpOpen('127.0.0.1', 5432), 'PostgreSQL is not reachable on 127.0.0.1:5432')
}
export async function redisMissing(): Promise<string | false> {
  return verdict(await tcpOpen('127.0.0.1', 6379), 'Redis is not reachable on 127.0.0.1:6379')
}
export function chromiumMissing(): string | false {
  return verdict(existsSync(CHROMIUM_PATH), `Chromium is not installed at ${CHROMIUM_PATH}`)
}

/**
 * The same question as `postgresMissing`, answered synchronously (for `describe`'s skip option in a
 * CommonJS test file, which cannot await at the top): connects with node-postgres and runs SELECT 1,
 * so a missing database or role is named too, not only a closed port.
 */
export function postgresMissingSync(url = POSTGRES_URL): string | false {
  const probe = `const pg = require('pg'); const c = new pg.Client({ connectionString: process.argv[1], connectionTimeoutMillis: 3000 });
    c.connect().then(() => c.query('SELECT 1')).then(() => c.end()).catch((e) => { console.error(e.message); process.exit(1) })`
  const r = spawnSync(process.execPath, ['-e', probe, url], { encoding: 'utf8', timeout: 10_000 })
  const where = url.replace(/\/\/[^@/]*@/, '//')
  return verdict(r.status === 0, `PostgreSQL is not reachable at ${where}: ${(r.stderr || r.error?.message || 'no answer').trim().split('\n')[0]}`)
}
export const PROMTOOL_PATH = process.env.LIVESTATS_PROMTOOL ?? '/usr/bin/promtool'
export const PROMETHEUS_PATH = process.env.LIVESTATS_PROMETHEUS ?? '/usr/bin/prometheus'
export function promtoolMissing(): string | false {
  return verdict(existsSync(PROMTOOL_PATH), `promtool is not installed at ${PROMTOOL_PATH} (Debian package prometheus)`)
}
export function prometheusMissing(): string | false {
  return verdict(existsSync(PROMETHEUS_PATH), `Prometheus is not installed at ${PROMETHEUS_PATH} (Debian package prometheus)`)
}

/**
 * The same question as `redisMissing`, answered synchronously (for `describe`'s skip option in a
 * CommonJS test file): sends PING and expects +PONG, so a port held by something else is named too.
 */
export function redisMissingSync(url = REDIS_URL): string | false {
  const probe = `const u = new URL(process.argv[1]); const s = require('node:net').connect(+(u.port || 6379), u.hostname);
    s.setTimeout(3000, () => { console.error('no answer'); process.exit(1) });
    s.on('connect', () => s.write('PING\\r\\n')); s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1));
    s.on('error', (e) => { console.error(e.message); process.exit(1) })`
  const r = spawnSync(process.execPath, ['-e', probe, url], { encoding: 'utf8', timeout: 10_000 })
  return verdict(r.status === 0, `Redis is not reachable at ${url}: ${(r.stderr || r.error?.message || 'no PONG').trim().split('\n')[0]}`)
}
