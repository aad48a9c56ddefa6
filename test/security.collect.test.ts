/**
 * Issue 10.7: `/collect` sockets are bounded. A socket that sends no frame is closed after the idle
 * timeout with 4408 LS_ERR_IDLE_TIMEOUT (answering pings does not count as a frame); one whose peer
 * vanished (no pong) is dropped sooner; upgrades past the caps overall and per client address are
 * answered 503 / 429 with their code and not upgraded. All on a real hub with short timeouts.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import WebSocket from 'ws'
import { CHROME_UA, CollectClient, id, startHub, type TestHub } from './helpers/hub'
import { sleep, until } from './helpers/wait'
import type { HubCaps } from '../src/hub/caps'
import type { ErrorReply } from '../src/protocol/messages'

async function withHub(caps: Partial<HubCaps>, fn: (t: TestHub) => Promise<void>): Promise<void> {
  const t = await startHub({ caps })
  try {
    await fn(t)
  } finally {
    await t.stop()
  }
}

async function metric(t: TestHub, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

/** Opens a /collect socket; resolves with it once open, or with the refused upgrade's status and body. */
function connect(t: TestHub, opts: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket } | { status: number; body: ErrorReply; header: string | undefined }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/collect`, { headers: { 'user-agent': CHROME_UA }, ...opts })
    ws.once('open', () => resolve({ ws }))
    ws.once('unexpected-response', (_req, res) => {
      let b = ''
      res.on('data', (d: Buffer) => (b += String(d)))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(b) as ErrorReply, header: res.headers['x-livestats-rejected'] as string | undefined }))
    })
    ws.once('error', (err) => { if (!/Unexpected server response/.test(String(err))) reject(err) })
  })
}

describe('idle /collect sockets', () => {
  it('a socket that never sends a frame is closed with 4408 LS_ERR_IDLE_TIMEOUT, pongs or not; a talking one stays', () =>
    withHub({ idleMs: 3000 }, async (t) => {
      const silent = new CollectClient(t.url) // ws answers pings by itself: alive, but sends nothing
      await silent.open()
      const t0 = Date.now()
      const got: ErrorReply[] = []
      silent.ws.on('message', (d) => got.push(JSON.parse(String(d)) as ErrorReply))
      const talking = new CollectClient(t.url)
      const cid = id('cid')
      await talking.send({ id: id(), type: 'presence', site: 'idle.test', cid, state: 'reading', url: 'https://idle.test/', interval: 15 })
      const beat = setInterval(() => talking.ws.send(JSON.stringify({ id: id(), type: 'presence', site: 'idle.test', cid, state: 'reading' })), 150)
      try {
        const closed = await silent.closed
        const after = Date.now() - t0
        assert.deepEqual(closed, { code: 4408, reason: 'LS_ERR_IDLE_TIMEOUT' })
        assert.equal(got.at(-1)?.code, 'LS_ERR_IDLE_TIMEOUT')
        assert.ok(after >= 2900 && after < 6000, `closed after ${after} ms`)
        await sleep(500)
        assert.equal(talking.ws.readyState, WebSocket.OPEN, 'a socket that keeps sending is never idle')
        assert.ok(Date.now() - t0 > 3000)
      } finally {
        clearInterval(beat)
      }
      assert.equal(await metric(t, 'livestats_limit_hits_total', 'limit="idle"'), 1)
      assert.equal(await metric(t, 'livestats_events_rejected_total', 'code="LS_ERR_IDLE_TIMEOUT"'), 1)
      talking.close()
    }))

  it('a socket whose peer vanished (no pong) is dropped well before the idle cap, and its tab ends', () =>
    withHub({ idleMs: 3000 }, async (t) => {
      const r = await connect(t, { autoPong: false })
      assert.ok('ws' in r)
      const ws = r.ws
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      ws.send(JSON.stringify({ id: id(), type: 'presence', site: 'gone.test', cid: id('cid'), state: 'reading', url: 'https://gone.test/', interval: 15 }))
      await until('tab live', async () => (await t.hub.countStates('gone.test')).total === 1)
      const t0 = Date.now()
      assert.equal(await closed, 1006, 'terminated, not closed politely: the peer is not there to hear it')
      const after = Date.now() - t0
      assert.ok(after < 1500, `dropped after ${after} ms (idle cap 3000)`)
      await until('tab ended', async () => (await t.hub.countStates('gone.test')).total === 0, 1000)
    }))
})

describe('caps on /collect sockets', () => {
  it('per client address: 429 LS_ERR_TOO_MANY_IP_CONNECTIONS, not upgraded; another address gets in', () =>
    withHub({ maxConnectionsPerIp: 3 }, async (t) => {
      const open: WebSocket[] = []
      for (let i = 0; i < 3; i++) {
        const r = await connect(t)
        assert.ok('ws' in r)
        open.push(r.ws)
      }
      const refused = await connect(t)
      assert.ok('status' in refused)
      assert.equal(refused.status, 429)
      assert.equal(refused.body.code, 'LS_ERR_TOO_MANY_IP_CONNECTIONS')
      assert.equal(refused.header, 'LS_ERR_TOO_MANY_IP_CONNECTIONS')
      const other = await connect(t, { localAddress: '127.0.0.2' })
      assert.ok('ws' in other)
      other.ws.close()
      assert.equal(await metric(t, 'livestats_limit_hits_total', 'limit="ip_connections"'), 1)
      assert.equal(await metric(t, 'livestats_events_rejected_total', 'code="LS_ERR_TOO_MANY_IP_CONNECTIONS"'), 1)
      // one closes: there is room again
      const gone = new Promise((r) => open[0]?.once('close', r))
      open[0]?.close()
      await gone
      await until('room again', async () => 'ws' in (await connect(t).then((x) => { if ('ws' in x) open.push(x.ws); return x })))
      for (const ws of open) ws.close()
    }))

  it('overall: 503 LS_ERR_TOO_MANY_CONNECTIONS past maxConnections, from any address', () =>
    withHub({ maxConnections: 4, maxConnectionsPerIp: 10 }, async (t) => {
      const open: WebSocket[] = []
      for (let i = 0; i < 4; i++) {
        const r = await connect(t, { localAddress: `127.0.0.${2 + i}` })
        assert.ok('ws' in r)
        open.push(r.ws)
      }
      const refused = await connect(t, { localAddress: '127.0.0.9' })
      assert.ok('status' in refused)
      assert.equal(refused.status, 503)
      assert.equal(refused.body.code, 'LS_ERR_TOO_MANY_CONNECTIONS')
      assert.equal(await metric(t, 'livestats_limit_hits_total', 'limit="connections"'), 1)
      assert.match(await (await fetch(`${t.url}/metrics`)).text(), /livestats_collect_connections 4\n/)
      // events still get in over HTTP, which is what the snippet falls back to
      const res = await fetch(`${t.url}/api/collect`, {
        method: 'POST', headers: { 'content-type': 'text/plain', 'user-agent': CHROME_UA },
        body: JSON.stringify({ id: id(), type: 'pageview', site: 'full.test', url: 'https://full.test/' }),
      })
      assert.equal(res.status, 202)
      for (const ws of open) ws.close()
    }))
})
