/**
 * Issue 10.1 and 10.2 through a real hub: a page from another origin cannot read `/live`
 * (cross-site WebSocket hijacking), and a hub without a token answers no read to a `Host` that is
 * not its own (DNS rebinding); ingest stays open to every origin and host.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import WebSocket from 'ws'
import { CollectClient, CHROME_UA, pageview, post, startHub, type TestHub } from './helpers/hub'

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** A GET or POST with any `Host` (fetch will not send one of its own choosing). */
function call(base: string, path: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Reply> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers: { 'user-agent': CHROME_UA, ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

interface LiveResult {
  /** HTTP status when the upgrade was refused, else 101. */
  status: number
  messages: { type: string; code?: string }[]
  close: { code: number; reason: string } | null
}

/** Opens `/live` with the given headers; resolves once it closed or `settleMs` after the first message. */
function live(base: string, query: string, headers: Record<string, string>, settleMs = 300): Promise<LiveResult> {
  return new Promise((resolve) => {
    const out: LiveResult = { status: 101, messages: [], close: null }
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/live${query}`, { headers })
    let timer: NodeJS.Timeout | null = null
    const done = (): void => {
      if (timer) clearTimeout(timer)
      ws.terminate()
      resolve(out)
    }
    ws.on('unexpected-response', (_req, res) => {
      out.status = res.statusCode ?? 0
      done()
    })
    ws.on('message', (d) => {
      out.messages.push(JSON.parse(String(d)) as { type: string; code?: string })
      timer ??= setTimeout(done, settleMs)
    })
    ws.on('close', (code, reason) => {
      out.close = { code, reason: String(reason) }
      done()
    })
    ws.on('error', () => { /* reported through close or unexpected-response */ })
    setTimeout(done, 3000)
  })
}

function assertRefusedLive(r: LiveResult, code: string): void {
  assert.equal(r.status, 101, 'the handshake completes so that a page can read the close code')
  assert.deepEqual(r.close, { code: 4403, reason: code })
  assert.deepEqual(r.messages.map((m) => m.type), ['error'], 'nothing but the error is sent')
  assert.equal(r.messages[0]?.code, code)
}

function assertReads(r: LiveResult): void {
  assert.equal(r.status, 101)
  assert.ok(r.messages.some((m) => m.type === 'snapshot' || m.type === 'hello'), JSON.stringify(r))
  assert.equal(r.messages.some((m) => m.type === 'error'), false, JSON.stringify(r))
}

const SITE = 'guard.test'

describe('/live refuses pages from other origins (10.1)', () => {
  let t: TestHub
  let own: string
  before(async () => {
    t = await startHub({ allowedOrigins: ['https://intranet.example', 'http://10.1.2.3:8080'], publicUrl: 'https://stats.example.com' })
    own = t.url
    await post(t.url, pageview(SITE, `https://${SITE}/account/reset`, { cid: 'tabguard000001', title: 'Reset' }))
  })
  after(() => t.stop())

  for (const origin of [
    'http://evil.example', 'https://evil.example', 'null', 'file://', 'http://127.0.0.1', 'http://127.0.0.1:1',
    'http://localhost.evil.example', 'https://intranet.example.evil.example', 'http://intranet.example',
  ]) {
    it(`Origin ${origin}: handshake, then LS_ERR_ORIGIN_FORBIDDEN and close 4403, no snapshot`, async () => {
      assertRefusedLive(await live(t.url, `?site=${SITE}`, { origin }), 'LS_ERR_ORIGIN_FORBIDDEN')
      assertRefusedLive(await live(t.url, '', { origin }), 'LS_ERR_ORIGIN_FORBIDDEN')
    })
  }

  it('the right host with the wrong scheme is another origin', async () => {
    const port = new URL(own).port
    assertRefusedLive(await live(t.url, `?site=${SITE}`, { origin: `https://127.0.0.1:${port}` }), 'LS_ERR_ORIGIN_FORBIDDEN')
  })

  it('a client without Origin (not a browser) reads', async () => {
    assertReads(await live(t.url, `?site=${SITE}`, {}))
  })

  it("the hub's own origin reads, under each of its loopback names", async () => {
    const port = new URL(own).port
    assertReads(await live(t.url, `?site=${SITE}`, { origin: own }))
    assertReads(await live(t.url, `?site=${SITE}`, { origin: `http://localhost:${port}`, host: `localhost:${port}` }))
    assertReads(await live(t.url, `?site=${SITE}`, { origin: `http://LocalHost:${port}`, host: `localhost:${port}` }))
  })

  it('configured origins and the public URL read', async () => {
    assertReads(await live(t.url, `?site=${SITE}`, { origin: 'https://intranet.example' }))
    assertReads(await live(t.url, `?site=${SITE}`, { origin: 'http://10.1.2.3:8080' }))
    assertReads(await live(t.url, `?site=${SITE}`, { origin: 'https://stats.example.com' }))
  })

  it('/collect stays open to every origin', async () => {
    const c = new CollectClient(t.url, { 'user-agent': CHROME_UA, origin: 'https://customer-site.example', host: 'customer-hub.example' })
    const ack = await c.send(pageview(SITE, `https://${SITE}/x`))
    assert.equal(ack.type, 'ack')
    c.close()
  })
})

describe('a hub without a token answers reads only to its own names (10.2)', () => {
  let t: TestHub
  let port: string
  let reads: string[]
  before(async () => {
    t = await startHub({ publicUrl: 'https://stats.example.com/', allowedHosts: ['192.168.1.5', 'dash.lan:8080'] })
    port = new URL(t.url).port
    reads = t.hub.router.readPaths()
    // the dashboard too, where it is built (npm test builds it)
    if ((await call(t.url, '/', { host: `127.0.0.1:${port}` })).status === 200) reads.push('/')
    await post(t.url, pageview(SITE, `https://${SITE}/account/reset`, { title: 'Reset' }))
  })
  after(() => t.stop())

  it('covers every read route', () => {
    for (const p of ['/api/feed', '/api/sites', '/api/series', '/api/live', '/metrics', '/api/processes']) assert.ok(reads.includes(p), p)
  })

  for (const host of [
    'attacker.example', 'attacker.example:PORT', 'localhost.attacker.example', '127.0.0.1.nip.io:PORT', 'ATTACKER.example',
    '10.0.0.1', '[fe80::1]:PORT', 'stats.example.com.attacker.example', 'localhost@attacker.example', '127.0.0.1:PORT/x',
  ]) {
    it(`Host "${host}": every read answers 403 LS_ERR_HOST_FORBIDDEN, /live closes 4403`, async () => {
      const h = host.replace('PORT', port)
      for (const path of reads) {
        const r = await call(t.url, `${path}?site=${SITE}`, { host: h })
        assert.equal(r.status, 403, `${path}: ${r.body}`)
        assert.equal(r.headers['x-livestats-error'], 'LS_ERR_HOST_FORBIDDEN', path)
        assert.equal((JSON.parse(r.body) as { code: string }).code, 'LS_ERR_HOST_FORBIDDEN')
        assert.doesNotMatch(r.body, /account\/reset/)
      }
      assertRefusedLive(await live(t.url, `?site=${SITE}`, { host: h }), 'LS_ERR_HOST_FORBIDDEN')
    })
  }

  for (const host of ['localhost:PORT', 'localhost', '127.0.0.1:PORT', '127.0.0.2', '[::1]:PORT', '[::ffff:127.0.0.1]', 'dash.localhost:PORT',
    'LOCALHOST:PORT', 'stats.example.com', 'stats.example.com:443', '192.168.1.5:PORT', 'dash.lan']) {
    it(`Host "${host}" reads`, async () => {
      const h = host.replace('PORT', port)
      const feed = await call(t.url, `/api/feed?site=${SITE}`, { host: h })
      assert.equal(feed.status, 200, feed.body)
      assert.match(feed.body, /account\/reset/)
      for (const path of reads) {
        const r = await call(t.url, `${path}?site=${SITE}`, { host: h })
        assert.notEqual(r.status, 403, `${path}: ${r.body}`)
      }
      assertReads(await live(t.url, `?site=${SITE}`, { host: h }))
    })
  }

  it('ingest and the snippet stay open to every host', async () => {
    const body = JSON.stringify(pageview(SITE, `https://${SITE}/from-anywhere`))
    const r = await call(t.url, '/api/collect', { host: 'attacker.example', 'content-type': 'text/plain' }, 'POST', body)
    assert.equal(r.status, 202, r.body)
    assert.equal((JSON.parse(r.body) as { stored: number }).stored, 1)
    const pre = await call(t.url, '/api/collect', { host: 'attacker.example', origin: 'https://a.example' }, 'OPTIONS')
    assert.equal(pre.status, 204)
    assert.equal((await call(t.url, '/healthz', { host: 'attacker.example' })).status, 200)
    const js = await call(t.url, '/livestats.js', { host: 'attacker.example' })
    assert.notEqual(js.status, 403)
    const c = new CollectClient(t.url, { 'user-agent': CHROME_UA, host: 'attacker.example' })
    assert.equal((await c.send(pageview(SITE, `https://${SITE}/ws`))).type, 'ack')
    c.close()
  })
})

describe('with a token, the token decides (10.2)', () => {
  const token = 'guard-token-0123456789'
  let t: TestHub
  before(async () => {
    t = await startHub({ token })
  })
  after(() => t.stop())

  it('any Host reads with the token; none reads without it', async () => {
    for (const host of ['attacker.example', '127.0.0.1']) {
      const ok = await call(t.url, `/api/feed?site=${SITE}`, { host, authorization: `Bearer ${token}` })
      assert.equal(ok.status, 200, ok.body)
      const no = await call(t.url, `/api/feed?site=${SITE}`, { host })
      assert.equal(no.status, 401)
      assert.equal(no.headers['x-livestats-error'], 'LS_ERR_UNAUTHORIZED')
    }
    assertReads(await live(t.url, `?site=${SITE}&token=${token}`, { host: 'attacker.example' }))
    assert.equal((await live(t.url, `?site=${SITE}`, { host: 'attacker.example' })).status, 401)
  })

  it('a page from another origin cannot read /live even with the token', async () => {
    assertRefusedLive(await live(t.url, `?site=${SITE}&token=${token}`, { origin: 'http://evil.example' }), 'LS_ERR_ORIGIN_FORBIDDEN')
  })
})

describe('configuration of the names', () => {
  it('refuses a public URL or an origin that is not one', async () => {
    const { resolveConfig } = await import('../src/hub/config')
    assert.throws(() => resolveConfig({ publicUrl: 'stats.example.com' }), /publicUrl/)
    assert.throws(() => resolveConfig({ publicUrl: 'ftp://stats.example.com' }), /publicUrl/)
    assert.throws(() => resolveConfig({ allowedOrigins: 'https://a.example/path' }), /allowedOrigins/)
    assert.throws(() => resolveConfig({ allowedHosts: 'http://a.example/' }), /allowedHosts/)
    const c = resolveConfig({ publicUrl: 'https://Stats.Example.com/', allowedOrigins: 'https://A.example:443, http://b.example:8080', allowedHosts: 'Dash.LAN:8080' })
    assert.equal(c.publicUrl, 'https://stats.example.com')
    assert.deepEqual(c.allowedOrigins, ['https://a.example', 'http://b.example:8080'])
    assert.deepEqual(c.allowedHosts, ['dash.lan'])
  })
})
