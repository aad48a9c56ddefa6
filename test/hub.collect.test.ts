import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { CollectClient, id, pageview, post, startHub, type TestHub } from './helpers/hub'
import { ERRORS, type ErrorCode } from '../src/protocol/errors'
import { channels } from '../src/hub/bus/types'

const long = (n: number) => 'x'.repeat(n)

/** Each bad input with the code it must get. `frame: true` codes fail the whole frame. */
const BAD: { name: string; body: unknown; code: ErrorCode; frame?: boolean }[] = [
  { name: 'not JSON', body: '{"type":', code: 'LS_ERR_INVALID_JSON', frame: true },
  { name: 'a JSON array', body: '[1,2]', code: 'LS_ERR_NOT_AN_OBJECT', frame: true },
  { name: 'a JSON string', body: '"hello"', code: 'LS_ERR_NOT_AN_OBJECT', frame: true },
  { name: 'neither type nor events', body: { hello: 1 }, code: 'LS_ERR_NOT_AN_OBJECT', frame: true },
  { name: 'wrong protocol version', body: { v: 2, events: [pageview('a.test', 'https://a.test/')] }, code: 'LS_ERR_UNSUPPORTED_VERSION', frame: true },
  { name: 'empty batch', body: { v: 1, events: [] }, code: 'LS_ERR_BATCH_EMPTY', frame: true },
  { name: 'events not an array', body: { v: 1, events: {} }, code: 'LS_ERR_NOT_AN_OBJECT', frame: true },
  { name: 'negative seq', body: { v: 1, seq: -1, events: [pageview('a.test', 'https://a.test/')] }, code: 'LS_ERR_NOT_AN_OBJECT', frame: true },
  { name: 'batch over the limit', body: { v: 1, events: Array.from({ length: 10_001 }, () => ({ type: 'leave' })) }, code: 'LS_ERR_BATCH_TOO_LARGE', frame: true },
  { name: 'unknown type', body: { id: id(), type: 'purchase', site: 'a.test' }, code: 'LS_ERR_UNKNOWN_TYPE' },
  { name: 'missing type', body: { v: 1, events: [{ id: id(), site: 'a.test' }] }, code: 'LS_ERR_UNKNOWN_TYPE' },
  { name: 'missing id', body: { type: 'pageview', site: 'a.test', url: 'https://a.test/' }, code: 'LS_ERR_INVALID_EVENT' },
  { name: 'id with bad characters', body: { id: 'abc def ghi', type: 'pageview', site: 'a.test', url: 'https://a.test/' }, code: 'LS_ERR_INVALID_EVENT' },
  { name: 'missing url', body: { id: id(), type: 'pageview', site: 'a.test' }, code: 'LS_ERR_INVALID_EVENT' },
  // over-long text is cut, not refused (test/field-cuts.test.ts); an over-long name of a site or app is refused
  { name: 'site too long', body: pageview(long(300), 'https://a.test/'), code: 'LS_ERR_FIELD_TOO_LONG' },
  { name: 'app too long', body: { id: id(), type: 'bytes', app: long(201), instance: 'h:1', sent: 1, received: 0 }, code: 'LS_ERR_FIELD_TOO_LONG' },
  { name: 'unknown field', body: pageview('a.test', 'https://a.test/', { ip: '1.2.3.4' }), code: 'LS_ERR_INVALID_EVENT' },
  { name: 'screen not a number', body: pageview('a.test', 'https://a.test/', { screen: 'wide' }), code: 'LS_ERR_INVALID_EVENT' },
  { name: 'presence state unknown', body: { id: id(), type: 'presence', site: 'a.test', cid: id('c'), state: 'dancing' }, code: 'LS_ERR_INVALID_EVENT' },
  { name: 'nested prop value', body: { id: id(), type: 'event', site: 'a.test', name: 'x', props: { a: { b: 1 } } }, code: 'LS_ERR_INVALID_EVENT' },
  { name: 'negative bytes', body: { id: id(), type: 'bytes', app: 'svc', instance: 'h:1', sent: -5, received: 0 }, code: 'LS_ERR_INVALID_EVENT' },
  { name: 'event is null', body: { v: 1, events: [null] }, code: 'LS_ERR_INVALID_EVENT' },
]

describe('collect: bad input gets a stable code on both transports, and loses nothing accepted', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('accepts a good pageview first', async () => {
    const r = await post(t.url, pageview('a.test', 'https://a.test/kept'))
    assert.equal(r.status, 202)
    assert.equal(r.body.stored, 1)
  })

  for (const c of BAD) {
    it(`HTTP: ${c.name} → ${c.code}`, async () => {
      const r = await post(t.url, c.body)
      assert.equal(r.status, ERRORS[c.code].status)
      if (c.frame) {
        assert.equal(r.body.code, c.code)
        assert.equal(r.headers.get('x-livestats-error'), c.code)
      } else {
        const rej = r.body.rejected as { code: string; message: string }[]
        assert.equal(rej[0]?.code, c.code)
        assert.ok(rej[0]?.message.length)
        assert.equal(r.headers.get('x-livestats-rejected'), c.code)
      }
    })

    it(`WebSocket: ${c.name} → ${c.code}`, async () => {
      const ws = new CollectClient(t.url)
      const reply = await ws.send(c.body)
      if (c.frame) {
        assert.equal(reply.type, 'error')
        assert.equal((reply as { code: string }).code, c.code)
        const closed = await ws.closed
        assert.equal(closed.code, ERRORS[c.code].close)
        assert.equal(closed.reason, c.code)
      } else {
        assert.equal(reply.type, 'ack')
        assert.equal((reply as { rejected: { code: string }[] }).rejected[0]?.code, c.code)
        ws.close()
      }
    })
  }

  it('HTTP: a body over the limit → 413 LS_ERR_BODY_TOO_LARGE', async () => {
    const r = await post(t.url, 'x'.repeat(4 * 1024 * 1024 + 10))
    assert.equal(r.status, 413)
    assert.equal(r.body.code, 'LS_ERR_BODY_TOO_LARGE')
  })

  it('WebSocket: a frame over the limit closes with 1009', async () => {
    const ws = new CollectClient(t.url)
    await ws.open()
    ws.ws.send('x'.repeat(4 * 1024 * 1024 + 10))
    const closed = await ws.closed
    assert.equal(closed.code, 1009)
  })

  it('HTTP: a wrong content type → 415, a GET → 405', async () => {
    const r = await post(t.url, '{}', { 'content-type': 'application/xml' })
    assert.equal(r.status, 415)
    assert.equal(r.body.code, 'LS_ERR_UNSUPPORTED_MEDIA_TYPE')
    const g = await fetch(`${t.url}/api/collect`)
    assert.equal(g.status, 405)
  })

  it('a batch with good and bad events stores the good ones and names the bad by index', async () => {
    const good = [pageview('a.test', 'https://a.test/1'), pageview('a.test', 'https://a.test/2')]
    const r = await post(t.url, { v: 1, seq: 9, events: [good[0], { type: 'nope' }, good[1]] })
    assert.equal(r.status, 202)
    assert.equal(r.body.seq, 9)
    assert.equal(r.body.stored, 2)
    assert.deepEqual((r.body.rejected as { i: number; code: string }[]).map((x) => [x.i, x.code]), [[1, 'LS_ERR_UNKNOWN_TYPE']])
  })

  it('after all of that the hub still answers, and everything accepted is stored', async () => {
    const h = await fetch(`${t.url}/healthz`)
    assert.equal(h.status, 200)
    // a hub without --redis counts its own visitors: presence "node"
    assert.equal((await h.json() as { presence: string }).presence, 'node')
    assert.equal(await t.hub.store.countEvents('a.test'), 3)
    const m = await (await fetch(`${t.url}/metrics`)).text()
    assert.match(m, /livestats_events_rejected_total\{code="LS_ERR_INVALID_JSON"\} 2/)
    assert.match(m, /livestats_events_stored_total 3/)
  })
})

describe('collect: acknowledgements and idempotency', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('a WebSocket batch is acked with its seq after commit; a resend counts as duplicates', async () => {
    const ws = new CollectClient(t.url)
    const events = Array.from({ length: 50 }, (_, i) => pageview('b.test', `https://b.test/p${i}`))
    const a1 = await ws.send({ v: 1, seq: 1, events })
    assert.deepEqual(a1, { type: 'ack', seq: 1, stored: 50, duplicates: 0, rejected: [] })
    assert.equal(await t.hub.store.countEvents('b.test'), 50)
    const a2 = await ws.send({ v: 1, seq: 2, events })
    assert.deepEqual(a2, { type: 'ack', seq: 2, stored: 0, duplicates: 50, rejected: [] })
    ws.close()
  })

  it('a single event over WebSocket is acked by its id', async () => {
    const ws = new CollectClient(t.url)
    const ev = pageview('b.test', 'https://b.test/single')
    const a = await ws.send(ev)
    assert.deepEqual(a, { type: 'ack', id: ev.id, stored: 1, duplicates: 0, rejected: [] })
    ws.close()
  })

  it('presence and leave are accepted but not written to the event table', async () => {
    const before = await t.hub.store.countEvents('b.test')
    const cid = id('c')
    const r = await post(t.url, { v: 1, events: [
      pageview('b.test', 'https://b.test/x', { cid }),
      { id: id(), type: 'presence', site: 'b.test', cid, state: 'reading' },
      { id: id(), type: 'leave', site: 'b.test', cid },
    ] })
    assert.equal(r.status, 202)
    assert.deepEqual(r.body.rejected, [])
    assert.equal(await t.hub.store.countEvents('b.test'), before + 1)
  })

  it('CORS: text/plain needs no preflight and the answer is readable cross-origin', async () => {
    const r = await post(t.url, pageview('b.test', 'https://b.test/cors'), { origin: 'https://b.test' })
    assert.equal(r.headers.get('access-control-allow-origin'), '*')
    const pre = await fetch(`${t.url}/api/collect`, { method: 'OPTIONS' })
    assert.equal(pre.status, 204)
  })
})

describe('collect: enrichment happens on the server, and raw IPs never reach the disk', () => {
  let t: TestHub
  before(async () => { t = await startHub({ trustProxy: ['loopback'] }) })
  after(async () => { await t.stop() })

  /** The masked IP lives in memory only: read it from the live feed's message, not the store. */
  function feedIps(site: string): { ips: (string | null)[]; off: () => void } {
    const ips: (string | null)[] = []
    const off = t.hub.live.bus.subscribe(channels.site(site), (m) => { if (m.type === 'pageview') ips.push(m.ip) })
    return { ips, off }
  }

  it('derives page parts, UTM, referrer host, agent facts and a masked IP', async () => {
    const fed = feedIps('c.test')
    const r = await post(t.url, pageview('c.test', 'https://c.test/shop/item?utm_source=news&utm_medium=mail&utm_campaign=fall&x=1', {
      referrer: 'https://www.search.example/q?x', title: 'Item', screen: 1280, language: 'fr-FR',
    }), { 'x-forwarded-for': '203.0.113.77, 127.0.0.1' })
    assert.equal(r.status, 202)
    const [row] = await t.hub.store.feed('c.test', 1)
    assert.ok(row)
    assert.equal(row.path, '/shop/item')
    assert.equal(row.host, 'c.test')
    assert.deepEqual(fed.ips, ['203.0.113.0'])
    fed.off()
    assert.equal('ip' in row, false, 'no IP is stored, not even masked')
    assert.equal(row.browser, 'Chrome')
    assert.equal(row.os, 'Linux')
    assert.equal(row.device, 'desktop')
    const top = await t.hub.store.top({ site: 'c.test', from: Date.now() - 3_600_000, to: Date.now() + 60_000 }, 'utm_source', 5)
    assert.deepEqual(top, [{ value: 'news', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 }])
    const refs = await t.hub.store.top({ site: 'c.test', from: Date.now() - 3_600_000, to: Date.now() + 60_000 }, 'referrer', 5)
    assert.deepEqual(refs, [{ value: 'search.example', pageviews: 1, visits: 1, bounces: 1, durationMs: 0 }])
  })

  it('ignores a client-sent ip, and the leftmost X-Forwarded-For entry is not believed', async () => {
    const fed = feedIps('c.test')
    await post(t.url, pageview('c.test', 'https://c.test/spoof'), { 'x-forwarded-for': '198.51.100.9, 192.0.2.44' })
    fed.off()
    assert.deepEqual(fed.ips, ['192.0.2.0'])
  })

  it('the same person gets the same visitor id on one site and another on a second site; bots are flagged', async () => {
    const hdr = { 'x-forwarded-for': '192.0.2.10' }
    await post(t.url, { v: 1, events: [pageview('d.test', 'https://d.test/1'), pageview('d.test', 'https://d.test/2')] }, hdr)
    await post(t.url, pageview('d.test', 'https://d.test/bot'), { ...hdr, 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' })
    const r = { site: 'd.test', from: Date.now() - 3_600_000, to: Date.now() + 60_000 }
    assert.deepEqual(await t.hub.store.totals(r), { pageviews: 2, visitors: 1 })
    assert.equal(await t.hub.store.countEvents('d.test'), 3)
  })

  it('the database file never holds an IP, raw or masked', async () => {
    await post(t.url, pageview('e.test', 'https://e.test/'), { 'x-forwarded-for': '198.18.123.234' })
    await t.hub.writer.drain()
    assert.equal(await t.hub.store.countEvents('e.test'), 1)
    const bytes = readFileSync(join(t.dir, 'hub.db')).toString('latin1') + readFileSync(join(t.dir, 'hub.db-wal')).toString('latin1')
    assert.ok(bytes.includes('e.test'), 'the row is in these files')
    assert.ok(!bytes.includes('198.18.123.234'))
    assert.ok(!bytes.includes('198.18.123.0'), 'nor the masked IP')
  })
})

describe('collect: sites allowlist and process events on a hub with auth', () => {
  let t: TestHub
  before(async () => { t = await startHub({ sites: ['ok.test'], auth: 'on', token: 'a-very-secret-token-123' }) })
  after(async () => { await t.stop() })

  it('refuses web events for a site not in the list', async () => {
    const r = await post(t.url, pageview('other.test', 'https://other.test/'))
    assert.equal(r.status, 400) // every event of the frame was refused
    assert.equal((r.body.rejected as { code: string }[])[0]?.code, 'LS_ERR_SITE_NOT_ALLOWED')
    assert.equal((await post(t.url, pageview('ok.test', 'https://ok.test/'))).status, 202)
  })

  it('process events need the token; with it they are stored', async () => {
    const ev = { id: id(), type: 'bytes', app: 'svc', instance: 'h:1', sent: 10, received: 20 }
    const r = await post(t.url, ev)
    assert.equal((r.body.rejected as { code: string }[])[0]?.code, 'LS_ERR_TRACKER_FORBIDDEN')
    const ok = await post(t.url, ev, { authorization: 'Bearer a-very-secret-token-123' })
    assert.equal(ok.body.stored, 1)
  })

  it('reads need the token', async () => {
    assert.equal((await fetch(`${t.url}/api/sites`)).status, 401)
    assert.equal((await fetch(`${t.url}/metrics`)).status, 401)
    const ok = await fetch(`${t.url}/api/sites`, { headers: { authorization: 'Bearer a-very-secret-token-123' } })
    assert.equal(ok.status, 200)
    assert.equal((await fetch(`${t.url}/api/sites?token=a-very-secret-token-123`)).status, 200)
    assert.equal((await fetch(`${t.url}/healthz`)).status, 200)
  })
})

