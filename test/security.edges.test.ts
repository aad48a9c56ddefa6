/**
 * Issue 10.9 and the nosniff header, through a real hub and raw sockets: every refusal the
 * protocol can carry a reason in carries a code (a request line the parser refuses, slow headers or
 * body, invalid UTF-8 in a WebSocket text frame), and the Bearer scheme is matched in any case.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import WebSocket from 'ws'
import { CollectClient, CHROME_UA, pageview, post, startHub, type TestHub } from './helpers/hub'
import { sleep } from './helpers/wait'

interface RawReply { status: number; headers: Record<string, string>; body: string; ms: number; closed: boolean }

/** Writes `chunks` on a raw TCP socket (one every `everyMs`) and reads until the hub closes or `waitMs`. */
function raw(base: string, chunks: (string | Buffer)[], everyMs = 0, waitMs = 5000): Promise<RawReply> {
  const u = new URL(base)
  return new Promise((resolve) => {
    const t0 = Date.now()
    const s = net.connect(Number(u.port), u.hostname)
    let data = ''
    let closed = false
    const finish = (): void => {
      clearTimeout(timer)
      s.destroy()
      const [head = '', ...rest] = data.split('\r\n\r\n')
      const [line = '', ...lines] = head.split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines) {
        const i = l.indexOf(':')
        if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim()
      }
      resolve({ status: Number(line.split(' ')[1] ?? 0), headers, body: rest.join('\r\n\r\n'), ms: Date.now() - t0, closed })
    }
    const timer = setTimeout(finish, waitMs)
    s.on('data', (c) => { data += c.toString('latin1') })
    s.on('close', () => { closed = true; finish() })
    s.on('error', () => { /* close follows */ })
    s.on('connect', async () => {
      for (const c of chunks) {
        if (s.destroyed) return
        s.write(typeof c === 'string' ? Buffer.from(c, 'latin1') : c)
        if (everyMs > 0) await sleep(everyMs)
      }
    })
  })
}

function assertCode(r: RawReply, status: number, code: string): void {
  assert.equal(r.status, status, JSON.stringify(r))
  assert.equal(r.headers['x-livestats-error'], code)
  assert.equal(r.headers['content-type'], 'application/json; charset=utf-8')
  assert.equal(r.headers['x-content-type-options'], 'nosniff')
  const body = JSON.parse(r.body) as { type: string; code: string }
  assert.equal(body.type, 'error')
  assert.equal(body.code, code)
  assert.equal(r.closed, true, 'the hub closes the connection after the reply')
}

describe('malformed requests are answered with a code (10.9)', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(() => t.stop())

  for (const [name, bytes] of [
    ['0xFF in the path', 'GET /\xff HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['0xFF before the method', '\xffGET / HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['0xFF as the method', '\xff\xff /api/sites HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['a NUL in the request line', 'GET /api/\x00sites HTTP/1.1\r\nHost: localhost\r\n\r\n'],
    ['a bad HTTP version', 'GET / HTTP/9\xff\r\nHost: localhost\r\n\r\n'],
    ['0xFF in a header name', 'GET / HTTP/1.1\r\nHost: localhost\r\nX\xffY: 1\r\n\r\n'],
    ['a header line without a colon', 'POST /api/collect HTTP/1.1\r\nHost: localhost\r\nnonsense\r\n\r\n'],
    ['TLS spoken to the plain port', Buffer.from('16030100a5010000a10303', 'hex')],
  ] as [string, string | Buffer][]) {
    it(`${name}: 400 LS_ERR_BAD_REQUEST with a JSON body`, async () => {
      assertCode(await raw(t.url, [bytes]), 400, 'LS_ERR_BAD_REQUEST')
    })
  }

  it('headers over the size limit: 431 LS_ERR_HEADERS_TOO_LARGE', async () => {
    assertCode(await raw(t.url, [`GET /api/sites HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`]), 431, 'LS_ERR_HEADERS_TOO_LARGE')
  })

  it('the hub keeps serving afterwards', async () => {
    assert.equal((await post(t.url, pageview('edges.test', 'https://edges.test/'))).status, 202)
  })

  it('an upgrade to an unknown path or a bad one is answered with a code', async () => {
    const up = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
    assertCode(await raw(t.url, [`GET /nope HTTP/1.1\r\nHost: localhost\r\n${up}\r\n`]), 404, 'LS_ERR_NOT_FOUND')
    assertCode(await raw(t.url, [`GET /live?site=${'x'.repeat(5000)} HTTP/1.1\r\nHost: localhost\r\n${up}\r\n`]), 400, 'LS_ERR_BAD_QUERY')
  })
})

describe('slow clients are answered 408 within the configured time (10.9)', () => {
  let t: TestHub
  before(async () => { t = await startHub({ headersTimeoutMs: 1000, requestTimeoutMs: 1500 }) })
  after(() => t.stop())

  it('headers that trickle in (slowloris): 408 LS_ERR_REQUEST_TIMEOUT after about headersTimeoutMs', async () => {
    const trickle = ['GET /api/sites HTTP/1.1\r\nHost: localhost\r\n', ...Array.from({ length: 40 }, (_, i) => `X-${i}: y\r\n`)]
    const r = await raw(t.url, trickle, 100)
    assertCode(r, 408, 'LS_ERR_REQUEST_TIMEOUT')
    assert.ok(r.ms >= 900 && r.ms < 2000, `answered after ${r.ms} ms`)
  })

  it('a request line and nothing more: 408 as well', async () => {
    const r = await raw(t.url, ['GET /api/sites HTTP/1.1\r\n'])
    assertCode(r, 408, 'LS_ERR_REQUEST_TIMEOUT')
    assert.ok(r.ms < 2000, `answered after ${r.ms} ms`)
  })

  it('a body that trickles in: 408 after about requestTimeoutMs', async () => {
    const head = 'POST /api/collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 500\r\n\r\n'
    const r = await raw(t.url, [head, ...Array.from({ length: 40 }, () => ' ')], 100)
    assertCode(r, 408, 'LS_ERR_REQUEST_TIMEOUT')
    assert.ok(r.ms >= 1400 && r.ms < 2600, `answered after ${r.ms} ms`)
  })

  it('WebSockets and idle keep-alive connections are not cut by these timeouts', async () => {
    const c = new CollectClient(t.url)
    await c.open()
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 })
    const get = (): Promise<number> => new Promise((resolve, reject) => {
      const u = new URL(t.url)
      const req = (require('node:http') as typeof import('node:http')).request({ host: u.hostname, port: u.port, path: '/healthz', agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(await get(), 200)
    await sleep(2200)
    assert.equal(await get(), 200)
    assert.equal((await c.send(pageview('edges.test', 'https://edges.test/late'))).type, 'ack')
    c.close()
    agent.destroy()
  })

  it('the timeouts are options with defaults, checked at start', async () => {
    const { resolveConfig } = await import('../src/hub/config')
    const d = resolveConfig({})
    assert.equal(d.headersTimeoutMs, 10_000)
    assert.equal(d.requestTimeoutMs, 30_000)
    assert.throws(() => resolveConfig({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 }), /requestTimeoutMs/)
    assert.throws(() => resolveConfig({ headersTimeoutMs: 0 }), /headersTimeoutMs/)
  })
})

/** Bytes that are not UTF-8: a lone continuation, an overlong '/', a surrogate, a truncated sequence, 0xFF. */
const NOT_UTF8 = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xff], [0xf4, 0x90, 0x80, 0x80]]

function sendText(ws: WebSocket, bytes: Buffer, fragments = 1): void {
  // ws sends a Buffer as a text frame unchanged when told binary: false (it does not check outgoing text)
  const size = Math.ceil(bytes.length / fragments)
  for (let i = 0; i < fragments; i++) ws.send(bytes.subarray(i * size, (i + 1) * size), { binary: false, fin: i === fragments - 1 })
}

describe('invalid UTF-8 in a WebSocket text frame closes with 1007 and a reason (10.9)', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(() => t.stop())

  for (const bad of NOT_UTF8) {
    const hex = Buffer.from(bad).toString('hex')
    it(`/collect: bytes ${hex} → error LS_ERR_INVALID_UTF8, close 1007 "LS_ERR_INVALID_UTF8"`, async () => {
      const c = new CollectClient(t.url)
      await c.open()
      const reply = c.next()
      sendText(c.ws, Buffer.concat([Buffer.from('{"id":"abcdefgh12","type":"pageview","site":"u.test","url":"https://u.test/'), Buffer.from(bad), Buffer.from('"}')]))
      const m = await reply
      assert.equal(m.type, 'error')
      assert.equal((m as { code: string }).code, 'LS_ERR_INVALID_UTF8')
      assert.deepEqual(await c.closed, { code: 1007, reason: 'LS_ERR_INVALID_UTF8' })
    })

    it(`/live: bytes ${hex} → close 1007 "LS_ERR_INVALID_UTF8"`, async () => {
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/live`)
      const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: String(reason) })))
      await new Promise((r) => ws.once('open', r))
      sendText(ws, Buffer.concat([Buffer.from('{"type":"subscribe","site":"u'), Buffer.from(bad), Buffer.from('"}')]))
      assert.deepEqual(await closed, { code: 1007, reason: 'LS_ERR_INVALID_UTF8' })
    })
  }

  it('valid UTF-8 split across fragments, even inside a character, is accepted', async () => {
    const c = new CollectClient(t.url)
    await c.open()
    const reply = c.next()
    const frame = Buffer.from(JSON.stringify(pageview('u.test', 'https://u.test/€-😀-ü', { title: '日本語 😀' })))
    sendText(c.ws, frame, 7)
    const m = await reply
    assert.equal(m.type, 'ack', JSON.stringify(m))
    assert.equal((m as { stored: number }).stored, 1)
    c.close()
  })
})

describe('the Bearer scheme is matched in any case (10.9)', () => {
  const token = 'edges-token-0123456789'
  let t: TestHub
  before(async () => { t = await startHub({ token, auth: 'on' }) })
  after(() => t.stop())

  for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
    it(`Authorization: ${scheme} TOKEN reads`, async () => {
      const r = await fetch(`${t.url}/api/sites`, { headers: { authorization: `${scheme} ${token}` } })
      assert.equal(r.status, 200)
      const r2 = await fetch(`${t.url}/api/sites`, { headers: { authorization: `${scheme}   ${token}` } })
      assert.equal(r2.status, 200)
      const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/live?site=s.test`, { headers: { authorization: `${scheme} ${token}` } })
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (d) => resolve((JSON.parse(String(d)) as { type: string }).type))
        ws.once('unexpected-response', (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)))
      })
      assert.equal(first, 'snapshot')
      ws.close()
    })
  }

  for (const h of [`Basic ${token}`, `Bearer${token}`, `Bearer wrong-token-000000000`, 'bearer ', token]) {
    it(`Authorization: ${JSON.stringify(h)} does not`, async () => {
      const r = await fetch(`${t.url}/api/sites`, { headers: { authorization: h } })
      assert.equal(r.status, 401)
      assert.equal(r.headers.get('x-livestats-error'), 'LS_ERR_UNAUTHORIZED')
    })
  }

  it('a lower-case scheme also authenticates process events on /api/collect', async () => {
    const ev = {
      id: 'procedges0001', type: 'process', app: 'edges', instance: 'h:1', at: Date.now(), pid: 1, host: 'h',
      cpu: 1, rss: 1, heapUsed: 1, heapTotal: 2, lag: 0, uptime: 1, running: [], runningCount: 0,
    }
    const lower = await post(t.url, ev, { authorization: `bearer ${token}` })
    assert.equal(lower.status, 202, JSON.stringify(lower.body))
    assert.equal(lower.body.stored, 1)
    const none = await post(t.url, { ...ev, id: 'procedges0002' })
    assert.match(JSON.stringify(none.body), /LS_ERR_TRACKER_FORBIDDEN/)
  })
})

describe('every JSON reply says X-Content-Type-Options: nosniff', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(() => t.stop())

  it('reads, ingest, errors, health and metrics', async () => {
    const replies = [
      await fetch(`${t.url}/api/sites`),
      await fetch(`${t.url}/api/feed?site=n.test`),
      await fetch(`${t.url}/api/feed`),
      await fetch(`${t.url}/nope`),
      await fetch(`${t.url}/api/collect`),
      await fetch(`${t.url}/healthz`),
      await fetch(`${t.url}/metrics`),
      await fetch(`${t.url}/api/collect`, { method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA }, body: JSON.stringify(pageview('n.test', 'https://n.test/')) }),
    ]
    for (const r of replies) {
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${r.url} ${r.status}`)
      await r.arrayBuffer()
    }
  })
})
