/**
 * Issue 10.3: a tab belongs to the socket or visitor that opened it. Another socket, another
 * address or another browser that knows (or guesses) a tab's `cid` is refused with LS_ERR_NOT_OWNER
 * and changes nothing; the visitor's own reconnects still carry on; dashboards never see a `cid`.
 * All through a real hub, over both transports, from two client addresses (127.0.0.1 and .2).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { CHROME_UA, CollectClient, id, postFrom, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { until, sleep } from './helpers/wait'
import type { Ack, ErrorReply } from '../src/protocol/messages'

let sites = 0
/** A site of its own for each test, so one test's leftovers never meet another's assertions. */
const fresh = (): string => `victim${++sites}.test`
const FIREFOX_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0'
const portOf = (url: string): number => Number(new URL(url).port)

function ackOf(m: Ack | ErrorReply): Ack {
  assert.equal(m.type, 'ack', JSON.stringify(m))
  return m as Ack
}
const codeOf = (m: Ack | ErrorReply): string | undefined => ackOf(m).rejected[0]?.code

async function live(t: TestHub, site: string): Promise<{ counts: unknown; pages: { path: string; total: number }[] }> {
  const counts = await (await fetch(`${t.url}/api/live?site=${site}`)).json()
  const { pages } = await (await fetch(`${t.url}/api/live/pages?site=${site}`)).json() as { pages: { path: string; total: number }[] }
  return { counts, pages }
}

describe('a tab belongs to the socket or visitor that opened it', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  /** The victim: one tab on its own socket from 127.0.0.1, reading /inbox. */
  async function victim(S: string): Promise<{ ws: CollectClient; cid: string }> {
    const ws = new CollectClient(t.url)
    const cid = id('vcid')
    assert.equal(codeOf(await ws.send({ id: id(), type: 'pageview', site: S, cid, url: `https://${S}/inbox` })), undefined)
    assert.equal(codeOf(await ws.send({ id: id(), type: 'presence', site: S, cid, state: 'reading', url: `https://${S}/inbox`, interval: 15 })), undefined)
    return { ws, cid }
  }

  const forgeries = (S: string, cid: string): Record<string, unknown>[] => [
    { id: id(), type: 'presence', site: S, cid, state: 'writing', url: `https://${S}/account/reset`, interval: 15 },
    { id: id(), type: 'presence', site: S, cid, state: 'idle' },
    { id: id(), type: 'pageview', site: S, cid, url: `https://${S}/elsewhere` },
    { id: id(), type: 'leave', site: S, cid },
  ]

  for (const [name, headers, opts] of [
    ['another socket, another address', { 'user-agent': CHROME_UA }, { localAddress: '127.0.0.2' }],
    ['another socket, same address, another browser', { 'user-agent': FIREFOX_UA }, {}],
  ] as const) {
    it(`refuses presence, pageview and leave for a victim's cid from ${name}`, async () => {
      const S = fresh()
      const v = await victim(S)
      const before = await live(t, S)
      const attacker = new CollectClient(t.url, headers, opts)
      for (const ev of forgeries(S, v.cid)) assert.equal(codeOf(await attacker.send(ev)), 'LS_ERR_NOT_OWNER', JSON.stringify(ev))
      // a page view refused for its own fault must not end the tab whose cid it names either
      assert.equal(codeOf(await attacker.send({ id: id(), type: 'pageview', site: S, cid: v.cid, url: 42 })), 'LS_ERR_INVALID_EVENT')
      assert.deepEqual(await live(t, S), before)
      // the tab did not move to the attacker's socket: closing it ends nothing
      attacker.close()
      await attacker.closed
      await sleep(50)
      assert.deepEqual(await live(t, S), before)
      // and the victim's own heartbeats still pass (no tombstone, rate budget untouched)
      for (let i = 0; i < 5; i++) assert.equal(codeOf(await v.ws.send({ id: id(), type: 'presence', site: S, cid: v.cid, state: 'writing' })), undefined)
      assert.equal((await live(t, S)).pages.find((p) => p.path === '/inbox')?.total, 1)
      v.ws.close()
      await v.ws.closed
      await until('victim gone', async () => ((await live(t, S)).counts as { total: number }).total === 0)
    })
  }

  for (const [name, address, ua] of [['another address', '127.0.0.2', CHROME_UA], ['another browser', '127.0.0.1', FIREFOX_UA]] as const) {
    it(`refuses the same forgeries over HTTP from ${name}, with the code in the ack and a header`, async () => {
      const S = fresh()
      const v = await victim(S)
      const before = await live(t, S)
      for (const ev of forgeries(S, v.cid)) {
        const r = await postFrom(t.url, ev, address, ua)
        assert.equal(r.status, 400, JSON.stringify(r.body)) // every event of the request was refused
        assert.equal(r.rejected, 'LS_ERR_NOT_OWNER')
        assert.equal(r.body.rejected[0]?.code, 'LS_ERR_NOT_OWNER')
      }
      assert.equal((await postFrom(t.url, { id: id(), type: 'pageview', site: S, cid: v.cid, url: 42 }, address, ua)).rejected, 'LS_ERR_INVALID_EVENT')
      assert.deepEqual(await live(t, S), before)
      assert.equal(codeOf(await v.ws.send({ id: id(), type: 'presence', site: S, cid: v.cid, state: 'idle' })), undefined)
      v.ws.close()
      await v.ws.closed
    })
  }

  it('refuses an HTTP-only tab\'s cid to anyone but its visitor', async () => {
    const S = fresh()
    const cid = id('hcid')
    const open = await postFrom(t.url, { id: id(), type: 'presence', site: S, cid, state: 'reading', url: `https://${S}/http-only`, interval: 15 }, '127.0.0.1', CHROME_UA)
    assert.equal(open.status, 202)
    const stranger = new CollectClient(t.url, { 'user-agent': CHROME_UA }, { localAddress: '127.0.0.2' })
    assert.equal(codeOf(await stranger.send({ id: id(), type: 'leave', site: S, cid })), 'LS_ERR_NOT_OWNER')
    assert.equal((await postFrom(t.url, { id: id(), type: 'leave', site: S, cid }, '127.0.0.2', CHROME_UA)).rejected, 'LS_ERR_NOT_OWNER')
    assert.equal((await live(t, S)).pages.find((p) => p.path === '/http-only')?.total, 1)
    stranger.close()
    // its visitor's own leave ends it
    assert.equal((await postFrom(t.url, { id: id(), type: 'leave', site: S, cid }, '127.0.0.1', CHROME_UA)).status, 202)
    assert.equal((await live(t, S)).pages.find((p) => p.path === '/http-only'), undefined)
  })

  it('a forged leave for a tab whose socket just closed does not lock its visitor out', async () => {
    const S = fresh()
    const v = await victim(S)
    v.ws.close()
    await v.ws.closed
    await until('tab ended', async () => ((await live(t, S)).counts as { total: number }).total === 0)
    // someone sends leave for the cid in the gap before the snippet comes back
    assert.equal((await postFrom(t.url, { id: id(), type: 'leave', site: S, cid: v.cid }, '127.0.0.2', CHROME_UA)).status, 202)
    // the snippet's next heartbeat (over HTTP while its socket reconnects) reopens the tab
    const back = await postFrom(t.url, { id: id(), type: 'presence', site: S, cid: v.cid, state: 'reading', url: `https://${S}/inbox`, interval: 15 }, '127.0.0.1', CHROME_UA)
    assert.equal(back.status, 202, JSON.stringify(back.body))
    assert.equal(((await live(t, S)).counts as { total: number }).total, 1)
    // while its own leave still holds back its own late heartbeat (the race the tombstone is for)
    assert.equal((await postFrom(t.url, { id: id(), type: 'leave', site: S, cid: v.cid }, '127.0.0.1', CHROME_UA)).status, 202)
    const late = await postFrom(t.url, { id: id(), type: 'presence', site: S, cid: v.cid, state: 'reading', url: `https://${S}/inbox` }, '127.0.0.1', CHROME_UA)
    assert.equal(late.rejected, 'LS_ERR_UNKNOWN_CONNECTION')
  })

  it('the visitor\'s own reconnect carries on: HTTP while the socket is down, then a new socket', async () => {
    const S = fresh()
    const v = await victim(S)
    // the socket dropped on the page's side: the snippet sends over HTTP, same address and browser
    const viaHttp = await postFrom(t.url, { id: id(), type: 'presence', site: S, cid: v.cid, state: 'writing', url: `https://${S}/inbox`, interval: 15 }, '127.0.0.1', CHROME_UA)
    assert.equal(viaHttp.status, 202, JSON.stringify(viaHttp.body))
    // the hub notices the old socket closing later: the tab now rides on HTTP and stays
    v.ws.close()
    await v.ws.closed
    await sleep(50)
    assert.equal(((await live(t, S)).counts as { writing: number }).writing, 1)
    // the snippet's new socket takes it over
    const again = new CollectClient(t.url)
    assert.equal(codeOf(await again.send({ id: id(), type: 'presence', site: S, cid: v.cid, state: 'reading', url: `https://${S}/inbox`, interval: 15 })), undefined)
    assert.equal(codeOf(await again.send({ id: id(), type: 'pageview', site: S, cid: v.cid, url: `https://${S}/next` })), undefined)
    assert.deepEqual((await live(t, S)).pages.map((p) => p.path), ['/next'])
    // and a second new socket of the same visitor too, while the first is still open (a half-open socket)
    const third = new CollectClient(t.url)
    assert.equal(codeOf(await third.send({ id: id(), type: 'presence', site: S, cid: v.cid, state: 'idle' })), undefined)
    again.close()
    await again.closed
    await sleep(50)
    assert.equal(((await live(t, S)).counts as { total: number }).total, 1, 'the tab moved to the newest socket')
    third.close()
    await third.closed
    await until('tab ended with its socket', async () => ((await live(t, S)).counts as { total: number }).total === 0)
  })

  it('no cid and no client event id reach a dashboard, /api/feed or /metrics', async () => {
    const site = 'leaks.test'
    const d = await dashboard(portOf(t.url), `?site=${site}`)
    await d.waitFor((m) => m.type === 'snapshot')
    const raw: string[] = []
    d.ws.on('message', (b) => raw.push(String(b)))
    const tab = new CollectClient(t.url)
    const cid = id('leakcid')
    const ids: string[] = []
    const send = async (ev: Record<string, unknown>): Promise<void> => {
      const eid = `${cid}${ids.length + 1}` // as the snippet made them: cid + counter
      ids.push(eid)
      assert.equal(codeOf(await tab.send({ id: eid, site, cid, ...ev })), undefined)
    }
    await send({ type: 'pageview', url: `https://${site}/a`, title: 'A' })
    await send({ type: 'presence', state: 'writing', url: `https://${site}/a`, interval: 15 })
    await send({ type: 'pageview', url: `https://${site}/b`, title: 'B' })
    await d.waitFor((m) => m.type === 'diff' && m.feed?.some((f) => f.title === 'B') === true)
    // a second dashboard's snapshot carries `recent` from the store
    const d2 = await dashboard(portOf(t.url), `?site=${site}`)
    const snap = await d2.waitFor((m) => m.type === 'snapshot' && m.recent.length === 2)
    tab.close()
    await d.waitFor((m) => m.type === 'diff' && m.events?.some((e) => e.op === 'leave') === true)
    const feed = await (await fetch(`${t.url}/api/feed?site=${site}`)).text()
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    const hello = await dashboard(portOf(t.url))
    await hello.waitFor((m) => m.type === 'hello')
    const seen = [...raw, JSON.stringify(snap), feed, metrics, JSON.stringify(hello.messages)]
    for (const text of seen) {
      assert.ok(!text.includes(cid), `a cid leaked: ${text.slice(0, 300)}`)
      for (const eid of ids) assert.ok(!text.includes(eid), `an event id leaked: ${eid}`)
    }
    // the diffs still say who joined, changed and left, by an opaque key, and the feed dedupes by id
    const events = raw.flatMap((r) => (JSON.parse(r) as { events?: { op: string; key: string }[] }).events ?? [])
    assert.deepEqual(events.map((e) => e.op), ['join', 'update', 'update', 'leave'])
    assert.equal(new Set(events.map((e) => e.key)).size, 1)
    const liveIds = raw.flatMap((r) => (JSON.parse(r) as { feed?: { id: string }[] }).feed ?? []).map((f) => f.id)
    assert.deepEqual(new Set(snap.type === 'snapshot' ? snap.recent.map((f) => f.id) : []), new Set(liveIds))
    d.close()
    d2.close()
    hello.close()
  })
})
