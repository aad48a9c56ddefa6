import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'node:http'
import net from 'node:net'
import { startChildHub } from './helpers/child-hub'
import { CHROME_UA } from './helpers/hub'

const bin = join(__dirname, '..', 'bin', 'livestats.js')
const dir = mkdtempSync(join(tmpdir(), 'livestats-cli-'))
const notMmdb = join(dir, 'not.mmdb')
writeFileSync(notMmdb, 'country,US\n')

describe('livestats serve', () => {
  after(() => rmSync(dir, { recursive: true, force: true }))

  for (const [args, env, needle] of [
    [['--port', 'abc'], {}, 'port must be an integer'],
    [['--host', 'example.com'], {}, 'host must be an IP address'],
    [['--retention=-1'], {}, 'retention must be an integer'],
    [[], { LIVESTATS_AUTH: 'maybe' }, 'auth must be auto, on or off'],
    [['--db', 'mongodb://x'], {}, 'MongoDB is not a Livestats store'],
    [['--nope'], {}, "Unknown option '--nope'"],
    [['--redis', 'http://127.0.0.1:6379'], {}, 'must start with redis://'],
    [[], { LIVESTATS_REDIS: 'redis://127.0.0.1:6379', LIVESTATS_REDIS_PREFIX: 'a b' }, 'redisPrefix must be'],
    [['--public-url', 'stats.example.com'], {}, 'publicUrl'],
    [[], { LIVESTATS_ALLOWED_ORIGINS: 'https://a.example/path' }, 'allowedOrigins entry'],
    [['--headers-timeout', '5'], {}, 'headersTimeoutMs must be an integer'],
    [['--headers-timeout', '20000', '--request-timeout', '10000'], {}, 'must not be shorter than headersTimeoutMs'],
    [['--geoip', join(dir, 'missing.mmdb')], {}, `geoip: cannot read ${join(dir, 'missing.mmdb')} (ENOENT)`],
    [[], { LIVESTATS_GEOIP: notMmdb }, 'is not a readable MaxMind DB (.mmdb) file'],
  ] as [string[], Record<string, string>, string][]) {
    it(`refuses ${args.join(' ') || JSON.stringify(env)} with a clear message and exit code 2`, () => {
      const r = spawnSync(process.execPath, [bin, 'serve', ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 10_000 })
      assert.equal(r.status, 2, r.stderr)
      assert.ok(r.stderr.includes(needle), r.stderr)
    })
  }

  it('prints the dashboard URL and the snippet, and on SIGTERM commits what is queued and exits 0', async () => {
    const hub = await startChildHub(['--port', '0', '--db', join(dir, 'a.db')])
    assert.match(hub.output(), /<script defer src="http:\/\/127\.0\.0\.1:\d+\/livestats\.js"><\/script>/)
    assert.match(hub.output(), /Countries: {2}\S+dbip-country\.mmdb \(built \d{4}-\d\d-\d\d\); IP Geolocation by DB-IP, https:\/\/db-ip\.com/)
    const events = Array.from({ length: 2000 }, (_, i) => ({ id: `term${String(i).padStart(6, '0')}`, type: 'pageview', site: 's.test', url: `https://s.test/${i}` }))
    const sent = fetch(`${hub.url}/api/collect`, {
      method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA }, body: JSON.stringify({ v: 1, events }),
    })
    const res = await sent
    assert.equal(res.status, 202)
    hub.proc.kill('SIGTERM')
    const exit = await hub.exited
    assert.equal(exit.code, 0, hub.output())
    const again = await startChildHub(['--port', '0', '--db', join(dir, 'a.db')])
    const totals = await (await fetch(`${again.url}/api/totals?site=s.test&range=1h`)).json() as { pageviews: number }
    assert.equal(totals.pageviews, 2000)
    again.proc.kill('SIGTERM')
    assert.equal((await again.exited).code, 0)
  })

  it('on a non-loopback host, generates a token once, prints it, stores only its hash, and requires it for reads', async () => {
    const db = join(dir, 'auth.db')
    const hub = await startChildHub(['--port', '0', '--host', '0.0.0.0', '--db', db])
    const token = /Read token: (\S+)/.exec(hub.output())?.[1]
    assert.ok(token, hub.output())
    assert.equal((await fetch(`${hub.url}/api/sites`)).status, 401)
    assert.equal((await fetch(`${hub.url}/api/sites`, { headers: { authorization: `Bearer ${token}` } })).status, 200)
    hub.proc.kill('SIGTERM')
    await hub.exited
    const again = await startChildHub(['--port', '0', '--host', '0.0.0.0', '--db', db])
    assert.doesNotMatch(again.output(), /Read token:/)
    assert.equal((await fetch(`${again.url}/api/sites`, { headers: { authorization: `Bearer ${token}` } })).status, 200)
    again.proc.kill('SIGTERM')
    await again.exited
    const { default: Database } = await import('better-sqlite3')
    const raw = new Database(db, { readonly: true })
    const dump = JSON.stringify(raw.prepare("SELECT * FROM sqlite_master").all())
    raw.close()
    assert.ok(!dump.includes(token))
  })

  it('--host 0.0.0.0 prints URLs a browser elsewhere can reach: this machine\'s addresses, not 127.0.0.1 (issue 11.8)', async () => {
    const hub = await startChildHub(['--port', '0', '--host', '0.0.0.0', '--db', join(dir, 'wild.db')])
    const out = hub.output()
    const dash = /Dashboard: {2}(http:\/\/([^/\s:]+):(\d+))\//.exec(out)
    const snippet = /Snippet: {4}<script defer src="(http:\/\/([^/\s:]+):(\d+))\/livestats\.js"><\/script>/.exec(out)
    assert.ok(dash && snippet, out)
    const own = Object.values(networkInterfaces()).flat().filter((a) => a !== undefined && !a.internal && a.family === 'IPv4').map((a) => a?.address)
    if (own.length > 0) {
      assert.ok(own.includes(dash[2]), `${dash[2]} is one of ${own.join(', ')}`)
      assert.equal(snippet[1], dash[1])
      assert.doesNotMatch(`${dash[1]} ${snippet[1]}`, /127\.0\.0\.1|0\.0\.0\.0/)
      // and the snippet is really served there
      assert.equal((await fetch(`${snippet[1]}/livestats.js`)).status, 200)
      assert.match(out, /Local: {6}http:\/\/127\.0\.0\.1:\d+\//)
    } else {
      assert.match(out, /Only this machine can reach the hub/)
    }
    hub.proc.kill('SIGTERM')
    assert.equal((await hub.exited).code, 0)

    const pub = await startChildHub(['--port', '0', '--host', '0.0.0.0', '--db', join(dir, 'wild.db'), '--public-url', 'https://stats.example.com'])
    assert.match(pub.output(), /Dashboard: {2}https:\/\/stats\.example\.com\/\n/)
    assert.match(pub.output(), /Snippet: {4}<script defer src="https:\/\/stats\.example\.com\/livestats\.js"><\/script>/)
    assert.doesNotMatch(pub.output(), /127\.0\.0\.1.*livestats\.js/)
    pub.proc.kill('SIGTERM')
    assert.equal((await pub.exited).code, 0)
  })

  it('the banner says why a page on localhost sends nothing, with the tag that makes it send (issue 11.7)', async () => {
    const hub = await startChildHub(['--port', '0', '--db', join(dir, 'local.db')])
    const out = hub.output()
    assert.match(out, /localhost/)
    const tag = /<script defer data-allow-localhost src="(http:\/\/127\.0\.0\.1:\d+)\/livestats\.js"><\/script>/.exec(out)
    assert.ok(tag, out)
    assert.equal(tag[1], hub.url)
    hub.proc.kill('SIGTERM')
    assert.equal((await hub.exited).code, 0)
  })

  it('a taken port is one clear line naming --port, and exit 1 (issue 11.10)', async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      for (const [args, env] of [[['--port', String(port)], {}], [[], { LIVESTATS_PORT: String(port) }]] as [string[], Record<string, string>][]) {
        const r = spawnSync(process.execPath, [bin, 'serve', ...args, '--db', join(dir, 'taken.db')], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 15_000 })
        assert.equal(r.status, 1, r.stderr)
        const lines = r.stderr.trim().split('\n')
        assert.equal(lines.length, 1, r.stderr)
        assert.match(lines[0] ?? '', new RegExp(`^livestats: cannot start: port ${port} on 127\\.0\\.0\\.1 is already in use .*--port N or LIVESTATS_PORT$`))
        assert.doesNotMatch(r.stderr + r.stdout, /EADDRINUSE|\n\s+at /)
      }
    } finally {
      blocker.close()
    }
  })

  it('--geoip off says so in the banner', async () => {
    const hub = await startChildHub(['--port', '0', '--db', join(dir, 'off.db'), '--geoip', 'off'])
    assert.match(hub.output(), /Countries: {2}off/)
    hub.proc.kill('SIGTERM')
    assert.equal((await hub.exited).code, 0)
  })

  it('reads LIVESTATS_* variables, and flags win over them', async () => {
    const hub = await startChildHub(['--port', '0'], { LIVESTATS_PORT: '1', LIVESTATS_DB: join(dir, 'env.db') })
    assert.ok(hub.output().includes(join(dir, 'env.db')))
    hub.proc.kill('SIGTERM')
    assert.equal((await hub.exited).code, 0)
  })

  it('--public-url, LIVESTATS_ALLOWED_HOSTS and --headers-timeout take effect', async () => {
    const hub = await startChildHub(
      ['--port', '0', '--db', join(dir, 'names.db'), '--public-url', 'https://stats.example.com', '--headers-timeout', '500'],
      { LIVESTATS_ALLOWED_HOSTS: 'dash.lan' },
    )
    const u = new URL(hub.url)
    const status = (host: string): Promise<number> => new Promise((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, path: '/api/sites', headers: { host } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(await status('stats.example.com'), 200)
    assert.equal(await status('dash.lan:3000'), 200)
    assert.equal(await status('attacker.example'), 403)
    const t0 = Date.now()
    const reply = await new Promise<string>((resolve) => {
      const s = net.connect(Number(u.port), u.hostname, () => s.write('GET /api/sites HTTP/1.1\r\nHost: localhost\r\n'))
      let d = ''
      s.on('data', (c) => { d += String(c) })
      s.on('close', () => resolve(d))
    })
    assert.match(reply, /^HTTP\/1\.1 408 /)
    assert.match(reply, /LS_ERR_REQUEST_TIMEOUT/)
    assert.ok(Date.now() - t0 < 1500, `408 after ${Date.now() - t0} ms`)
    hub.proc.kill('SIGTERM')
    assert.equal((await hub.exited).code, 0)
  })
})
