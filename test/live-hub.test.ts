import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { CollectClient, id, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { LiveView } from '../src/hub/live/view'
import type { Ack, ErrorReply } from '../src/protocol/messages'

const S = 'a.test'
const portOf = (url: string): number => Number(new URL(url).port)
const ackOf = (m: Ack | ErrorReply): Ack => {
  assert.equal(m.type, 'ack')
  return m as Ack
}

describe('live presence wired into the hub', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('a tab over /collect shows on /live, /api/live, /api/live/pages, /metrics and hub.countStates', async () => {
    const d = await dashboard(portOf(t.url), `?site=${S}`)
    await d.waitFor((m) => m.type === 'snapshot')
    const tab = new CollectClient(t.url)
    const cid = id('cid')
    assert.deepEqual(ackOf(await tab.send({ id: id(), type: 'pageview', site: S, cid, url: `https://${S}/docs?q=1`, title: 'Docs' })).rejected, [])
    assert.deepEqual(ackOf(await tab.send({ id: id(), type: 'presence', site: S, cid, state: 'writing' })).rejected, [])
    await d.waitFor((m) => m.type === 'diff' && m.counts?.writing === 1)
    const view = new LiveView()
    for (const m of d.messages) view.apply(m)
    assert.deepEqual(view.counts, { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
    assert.equal(view.feed[0]?.title, 'Docs')

    const live = await (await fetch(`${t.url}/api/live?site=${S}`)).json()
    assert.deepEqual(live, { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
    const pages = await (await fetch(`${t.url}/api/live/pages?site=${S}`)).json()
    assert.deepEqual(pages, { site: S, pages: [{ path: '/docs', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 }] })
    assert.equal((await fetch(`${t.url}/api/live`)).status, 400)
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    assert.match(metrics, /livestats_live_visitors\{site="a.test",state="writing"\} 1/)
    assert.match(metrics, /livestats_live_dashboards 1/)
    assert.deepEqual(await t.hub.countStates(S), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })

    const closedAt = performance.now()
    tab.close()
    await d.waitFor((m) => m.type === 'diff' && m.events?.some((e) => e.op === 'leave') === true, 1000)
    assert.ok(performance.now() - closedAt < 1000)
    assert.deepEqual(await t.hub.countStates(S), { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })
    d.close()
  })

  it('total = reading + writing + idle on /api/live, /api/live/pages, /metrics and hub.countStates, hidden tabs counted as idle', async () => {
    const site = 'sum.test'
    const tabs = ['reading', 'writing', 'idle', 'hidden', 'hidden'].map((state, i) => ({ state, c: new CollectClient(t.url, { 'user-agent': `Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0.0.${i}` }), cid: id('cid') }))
    for (const [i, x] of tabs.entries()) {
      ackOf(await x.c.send({ id: id(), type: 'pageview', site, cid: x.cid, url: `https://${site}/${i % 2 === 0 ? 'a' : 'b'}` }))
      if (x.state !== 'reading') ackOf(await x.c.send({ id: id(), type: 'presence', site, cid: x.cid, state: x.state }))
    }
    const want = { total: 5, reading: 1, writing: 1, idle: 3, hidden: 2 }
    assert.deepEqual(await t.hub.countStates(site), want)
    assert.deepEqual(await (await fetch(`${t.url}/api/live?site=${site}`)).json(), want)
    const { pages } = await (await fetch(`${t.url}/api/live/pages?site=${site}`)).json() as { pages: { total: number; reading: number; writing: number; idle: number }[] }
    for (const p of pages) assert.equal(p.total, p.reading + p.writing + p.idle, JSON.stringify(p))
    assert.equal(pages.reduce((n, p) => n + p.total, 0), 5)
    const metrics = await (await fetch(`${t.url}/metrics`)).text()
    const gauge = (state: string): number => Number(new RegExp(`livestats_live_visitors\\{site="${site}",state="${state}"\\} (\\d+)`).exec(metrics)?.[1])
    assert.deepEqual({ total: gauge('total'), reading: gauge('reading'), writing: gauge('writing'), idle: gauge('idle'), hidden: gauge('hidden') }, want)
    for (const x of tabs) x.c.close()
  })

  it('every dashboard hears of a site that gets its first live visitor, once', async () => {
    const d = await dashboard(portOf(t.url), `?site=${S}`)
    await d.waitFor((m) => m.type === 'snapshot')
    const tab = new CollectClient(t.url)
    const site = 'brand-new.test'
    await tab.send({ id: id(), type: 'pageview', site, cid: id('cid'), url: `https://${site}/` })
    const seen = await d.waitFor((m) => m.type === 'site', 1000)
    assert.deepEqual({ ...seen, at: 0 }, { type: 'site', site, at: 0 })
    // a second tab on the same site is not news
    await tab.send({ id: id(), type: 'pageview', site, cid: id('cid'), url: `https://${site}/b` })
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(d.messages.filter((m) => m.type === 'site').length, 1)
    tab.close()
    d.close()
  })

  it('presence for an unknown connection is refused in the ack and not stored or counted', async () => {
    const tab = new CollectClient(t.url)
    const ack = ackOf(await tab.send({ id: id(), type: 'presence', site: S, cid: id('cid'), state: 'reading' }))
    assert.equal(ack.rejected[0]?.code, 'LS_ERR_UNKNOWN_CONNECTION')
    assert.equal((await t.hub.countStates(S)).total, 0)
    tab.close()
  })
})

describe('live channel behind the hub token', () => {
  let t: TestHub
  before(async () => { t = await startHub({ auth: 'on', token: 'a-very-secret-token-123' }) })
  after(async () => { await t.stop() })

  it('refuses /live and /api/live without the token', async () => {
    await assert.rejects(dashboard(portOf(t.url), `?site=${S}`), /HTTP 401/)
    assert.equal((await fetch(`${t.url}/api/live?site=${S}`)).status, 401)
    const d = await dashboard(portOf(t.url), `?site=${S}&token=a-very-secret-token-123`)
    await d.waitFor((m) => m.type === 'snapshot')
    d.close()
  })
})
