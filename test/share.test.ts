/**
 * Sharing (issue 15.5): the public live badge and read-only share links. The share token is checked
 * over every route the hub has (router.list()), every method each takes, and the /live channel.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { CHROME_UA, CollectClient, id, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { until } from './helpers/wait'
import { Badges, badgeSvg } from '../src/hub/share/badge'
import { ShareTokens } from '../src/hub/share/tokens'
import { AlertEngine, DEFAULT_ALERTS } from '../src/hub/alerts/engine'

const TOKEN = 'share-admin-token-0123456789'
const A = 'shared.test'
const B = 'private.test'

async function call(t: TestHub, method: string, p: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; code: string | null; text: string; headers: Headers }> {
  const res = await fetch(`${t.url}${p}`, { method, headers, body })
  const text = await res.text()
  return { status: res.status, code: res.headers.get('x-livestats-error'), text, headers: res.headers }
}
const admin = { authorization: `Bearer ${TOKEN}` }

async function tab(t: TestHub, site: string, p = '/'): Promise<CollectClient> {
  const c = new CollectClient(t.url, { 'user-agent': `${CHROME_UA} tab/${id()}` })
  assert.equal((await c.send({ id: id(), type: 'pageview', site, cid: id('cid'), url: `https://${site}${p}` })).type, 'ack')
  return c
}

describe('the live badge', () => {
  let t: TestHub
  before(async () => { t = await startHub({ token: TOKEN }) })
  after(() => t.stop())

  it('is off until the operator enables it: 404 LS_ERR_BADGE_OFF, with or without the token', async () => {
    for (const h of [{}, admin]) {
      const r = await call(t, 'GET', `/badge/${A}.svg`, h)
      assert.equal(r.status, 404)
      assert.equal(r.code, 'LS_ERR_BADGE_OFF')
    }
    assert.equal((await call(t, 'PUT', `/api/badges?site=${A}`)).code, 'LS_ERR_UNAUTHORIZED')
  })

  it('once enabled, answers anyone (no token, any Host) with the live count as SVG, cached 5 s', async () => {
    assert.equal((await call(t, 'PUT', `/api/badges?site=${A}`, admin)).status, 204)
    assert.deepEqual(JSON.parse((await call(t, 'GET', '/api/badges', admin)).text), { sites: [A] })
    const c1 = await tab(t, A)
    const c2 = await tab(t, A, '/b')
    const r = await call(t, 'GET', `/badge/${A}.svg`, { host: 'readme.attacker.example' })
    assert.equal(r.status, 200)
    assert.equal(r.headers.get('content-type'), 'image/svg+xml; charset=utf-8')
    assert.equal(r.headers.get('cache-control'), 'public, max-age=5')
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff')
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/)
    assert.match(r.text, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    assert.match(r.text, /<title>shared\.test: 2 live visitors<\/title>/)
    assert.match(r.text, />2 live<\/text>/)
    assert.equal((await call(t, 'HEAD', `/badge/${A}.svg`)).status, 200)
    c1.close()
    c2.close()
    // the hub's cache holds the figure for 5 s, then it follows the visitors
    await until('the badge shows 0', async () => /<title>shared\.test: 0 live visitors<\/title>/.test((await call(t, 'GET', `/badge/${A}.svg`)).text), 15_000)
    // another site stays off
    assert.equal((await call(t, 'GET', `/badge/${B}.svg`)).code, 'LS_ERR_BADGE_OFF')
    assert.equal((await call(t, 'DELETE', `/api/badges?site=${A}`, admin)).status, 204)
    assert.equal((await call(t, 'GET', `/badge/${A}.svg`)).code, 'LS_ERR_BADGE_OFF')
  })

  it('escapes the site name: no markup can be injected into the SVG', async () => {
    const evil = `<script>alert(1)</script>"'&<a href="javascript:x">\u0001.test`
    assert.equal((await call(t, 'PUT', `/api/badges?site=${encodeURIComponent(evil)}`, admin)).status, 400, 'a control character is not a site')
    const site = evil.replace('\u0001', '')
    assert.equal((await call(t, 'PUT', `/api/badges?site=${encodeURIComponent(site)}`, admin)).status, 204)
    const r = await call(t, 'GET', `/badge/${encodeURIComponent(site)}.svg`)
    assert.equal(r.status, 200)
    const tags = [...r.text.matchAll(/<\/?([a-zA-Z]+)/g)].map((m) => m[1])
    assert.deepEqual([...new Set(tags)].sort(), ['g', 'rect', 'svg', 'text', 'title'])
    assert.ok(r.text.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;'))
    assert.doesNotMatch(r.text, /javascript:x"/)
  })

  it('caches one rendering per site for 5 s (the count is asked once)', async () => {
    let asked = 0
    const b = new Badges({ async setMeta() {}, async listMeta() { return [] }, async deleteMeta() {} }, async () => ++asked)
    await b.enable('x.test')
    assert.equal(await b.svg('x.test', 1000), badgeSvg('x.test', 1))
    assert.equal(await b.svg('x.test', 5999), badgeSvg('x.test', 1))
    assert.equal(await b.svg('x.test', 6000), badgeSvg('x.test', 2))
    assert.equal(asked, 2)
  })
})

describe('share links', () => {
  let t: TestHub
  let share: { id: string; site: string; token: string; label: string | null }
  before(async () => {
    t = await startHub({ token: TOKEN })
    const r = await call(t, 'POST', '/api/shares', { ...admin, 'content-type': 'application/json' }, JSON.stringify({ site: A, label: 'for the team' }))
    assert.equal(r.status, 201, r.text)
    share = JSON.parse(r.text) as typeof share
  })
  after(() => t.stop())

  it('are made with the admin token; the token is shown once and stored as its SHA-256', async () => {
    assert.match(share.token, /^lss_[A-Za-z0-9_-]{32}$/)
    assert.deepEqual([share.site, share.label], [A, 'for the team'])
    const list = JSON.parse((await call(t, 'GET', '/api/shares', admin)).text) as { shares: Record<string, unknown>[] }
    assert.deepEqual(list.shares.map((s) => Object.keys(s).sort()), [['created', 'id', 'label', 'site']])
    const stored = await t.hub.store.getMeta(`share:${share.id}`)
    assert.ok(stored !== null && !stored.includes(share.token))
    assert.equal((JSON.parse(stored) as { hash: string }).hash, createHash('sha256').update(share.token).digest('hex'))
    const anon = await call(t, 'POST', '/api/shares', { 'content-type': 'application/json' }, JSON.stringify({ site: B }))
    assert.equal(anon.code, 'LS_ERR_UNAUTHORIZED')
    const bad = await call(t, 'POST', '/api/shares', { ...admin, 'content-type': 'application/json' }, JSON.stringify({}))
    assert.equal(bad.code, 'LS_ERR_INVALID_SHARE')
  })

  it('read their site\'s GET routes and nothing else, over every route and method of the hub', async () => {
    const c = await tab(t, A)
    const auth = { authorization: `Bearer ${share.token}` }
    const routes = t.hub.router.list()
    assert.ok(routes.length >= 20, `${routes.length} routes`)
    let granted = 0
    let refused = 0
    for (const r of routes) {
      const methods = new Set([...r.methods.filter((m) => m !== '*'), 'GET', 'POST', 'PUT', 'DELETE'])
      for (const m of methods) {
        const body = m === 'GET' || m === 'HEAD' ? undefined : '{}'
        const headers = body === undefined ? auth : { ...auth, 'content-type': 'application/json' }
        const own = await call(t, m, `${r.path}?site=${A}`, headers, body)
        if (!r.auth) {
          // public routes (ingest, health): the share token changes nothing
          const none = await call(t, m, `${r.path}?site=${A}`, body === undefined ? {} : { 'content-type': 'application/json' }, body)
          assert.equal(own.status, none.status, `${m} ${r.path}`)
          continue
        }
        if (!r.methods.includes(m) && !r.methods.includes('*') && !(m === 'HEAD' && r.methods.includes('GET'))) {
          assert.equal(own.code, 'LS_ERR_METHOD_NOT_ALLOWED', `${m} ${r.path}`)
          continue
        }
        const readable = r.share !== null && (m === 'GET' || m === 'HEAD')
        if (readable) {
          // past the read check: 200, or 400 where the route wants more than ?site= (a funnel's steps)
          assert.ok(own.status === 200 || (own.status === 400 && own.code === 'LS_ERR_BAD_QUERY'), `${m} ${r.path}?site=${A}: ${own.status} ${own.text}`)
          granted++
        } else {
          assert.equal(own.status, 403, `${m} ${r.path}: ${own.text}`)
          assert.equal(own.code, 'LS_ERR_SHARE_FORBIDDEN', `${m} ${r.path}`)
          refused++
        }
        if (r.share === 'site') {
          for (const q of [`?site=${B}`, '', `?site=${A}&site=${B}`, `?site=${B}&site=${A}`, `?site=${A.toUpperCase()}`]) {
            const other = await call(t, m, `${r.path}${q}`, headers, body)
            assert.equal(other.code, 'LS_ERR_SHARE_FORBIDDEN', `${m} ${r.path}${q}`)
            refused++
          }
        }
      }
    }
    // the admin routes are among those refused
    for (const p of ['/api/alerts', '/api/alerts/deliveries', '/api/shares', '/api/badges', '/api/sites', '/api/processes', '/metrics', '/api/setup']) {
      assert.ok(routes.some((r) => r.path === p), p)
      assert.equal((await call(t, 'GET', p, auth)).code, 'LS_ERR_SHARE_FORBIDDEN', p)
    }
    assert.ok(granted >= 9 && refused > 50, `${granted} granted, ${refused} refused`)
    // the token as ?token= (what /live uses) is scoped the same way
    assert.equal((await call(t, 'GET', `/api/live?site=${A}&token=${share.token}`)).status, 200)
    assert.equal((await call(t, 'GET', `/api/live?site=${B}&token=${share.token}`)).code, 'LS_ERR_SHARE_FORBIDDEN')
    c.close()
  })

  it('open /live for their site alone, without processes or other sites\' names', async () => {
    const port = Number(new URL(t.url).port)
    // a process on the hub, which the admin's dashboard sees
    const proc = new CollectClient(`${t.url}`, { 'user-agent': CHROME_UA, authorization: `Bearer ${TOKEN}` })
    const ack = await proc.send({ id: id(), type: 'process', app: 'billing', instance: 'h:1', pid: 1, host: 'box', cpu: 1, rss: 1e6, heapUsed: 1e6, heapTotal: 2e6, lag: 1, uptime: 10, running: [], runningCount: 0 })
    assert.deepEqual((ack as { rejected: unknown[] }).rejected, [])
    const mine = await dashboard(port, `?site=${A}&token=${share.token}`)
    const adm = await dashboard(port, `?site=${A}&token=${TOKEN}`)
    const snap = await mine.waitFor((m) => m.type === 'snapshot') as { processes: unknown[]; site: string }
    assert.equal(snap.site, A)
    assert.deepEqual(snap.processes, [])
    assert.equal(((await adm.waitFor((m) => m.type === 'snapshot')) as { processes: unknown[] }).processes.length, 1)
    // a process sample and a new site: the admin hears both, the share link neither
    await proc.send({ id: id(), type: 'process', app: 'billing', instance: 'h:1', pid: 1, host: 'box', cpu: 2, rss: 1e6, heapUsed: 1e6, heapTotal: 2e6, lag: 1, uptime: 11, running: [], runningCount: 0 })
    const other = await tab(t, 'brand-new.test')
    const visitor = await tab(t, A, '/live-now')
    await adm.waitFor((m) => m.type === 'site')
    await adm.waitFor((m) => m.type === 'diff' && 'processes' in m)
    await mine.waitFor((m) => m.type === 'diff' && (m as { counts?: { total: number } }).counts?.total === 1)
    await adm.waitFor((m) => m.type === 'diff' && (m as { counts?: { total: number } }).counts?.total === 1)
    assert.ok(mine.messages.every((m) => m.type !== 'site' && !('processes' in m && m.type === 'diff')), JSON.stringify(mine.messages))
    assert.doesNotMatch(JSON.stringify(mine.messages), /billing|brand-new/)
    // the feed: the admin sees the masked client address, the share link none
    await mine.waitFor((m) => m.type === 'diff' && (m as { feed?: unknown[] }).feed !== undefined)
    await adm.waitFor((m) => m.type === 'diff' && (m as { feed?: unknown[] }).feed !== undefined)
    const feedIps = (d: typeof mine): (string | null)[] => d.messages.flatMap((m) => m.type === 'diff' ? (m.feed ?? []).map((f) => f.ip) : m.type === 'snapshot' ? m.recent.map((f) => f.ip) : [])
    assert.ok(feedIps(mine).length > 0 && feedIps(mine).every((ip) => ip === null), JSON.stringify(feedIps(mine)))
    assert.ok(feedIps(adm).some((ip) => ip === '127.0.0.0'), JSON.stringify(feedIps(adm)))
    // another site by subscribe: refused, the stream stays on its own site
    mine.ws.send(JSON.stringify({ type: 'subscribe', site: B }))
    await mine.waitFor((m) => m.type === 'error' && m.code === 'LS_ERR_SHARE_FORBIDDEN')
    // another site, or none, at connect
    await assert.rejects(dashboard(port, `?site=${B}&token=${share.token}`), /HTTP 403/)
    // no site: no hello with every site's name
    await assert.rejects(dashboard(port, `?token=${share.token}`), /HTTP 403/)
    // revoked: the open socket closes, the token reads nothing more
    const closed = new Promise<number>((r) => mine.ws.once('close', (code) => r(code)))
    assert.equal((await call(t, 'DELETE', `/api/shares?id=${share.id}`, admin)).status, 204)
    assert.equal(await closed, 4401)
    assert.equal((await call(t, 'GET', `/api/live?site=${A}`, { authorization: `Bearer ${share.token}` })).code, 'LS_ERR_UNAUTHORIZED')
    assert.equal((await call(t, 'DELETE', `/api/shares?id=${share.id}`, admin)).code, 'LS_ERR_SHARE_NOT_FOUND')
    assert.equal(await t.hub.store.getMeta(`share:${share.id}`), null)
    adm.close()
    for (const x of [proc, other, visitor]) x.close()
  })

  it('survive a restart (loaded from the store) and stay scoped on a hub without a token', async () => {
    const open = await startHub()
    try {
      const r = await call(open, 'POST', '/api/shares', { 'content-type': 'application/json' }, JSON.stringify({ site: A }))
      const s = JSON.parse(r.text) as { token: string }
      assert.equal((await call(open, 'GET', `/api/sites`)).status, 200)
      assert.equal((await call(open, 'GET', `/api/sites`, { authorization: `Bearer ${s.token}` })).code, 'LS_ERR_SHARE_FORBIDDEN')
      assert.equal((await call(open, 'GET', `/api/totals?site=${A}`, { authorization: `Bearer ${s.token}` })).status, 200)
    } finally {
      await open.stop()
    }
  })
})

describe('another hub of a cluster (the same store) follows on its next read', () => {
  it('share links made and revoked elsewhere, badges and alert rules, without losing its own changes made while it reads', async () => {
    const t = await startHub()
    try {
      const store = t.hub.store
      const here = new ShareTokens(store)
      const there = new ShareTokens(store)
      await Promise.all([here.load(), there.load()])
      const { share, token } = await here.create(A, null)
      assert.equal(there.lookup(token), null)
      await there.load()
      assert.equal(there.lookup(token)?.site, A)
      await here.revoke(share.id)
      assert.equal(there.lookup(token)?.site, A, 'until it reads again')
      await there.load()
      assert.equal(there.lookup(token), null)
      // a link revoked here while this hub reads stays revoked; one made here while it reads stays
      const a = await there.create(A, null)
      const reading = there.load()
      await there.revoke(a.share.id)
      const b = await there.create(B, null)
      await reading
      assert.equal(there.lookup(a.token), null)
      assert.equal(there.lookup(b.token)?.site, B)

      const count = async (): Promise<number> => 0
      const b1 = new Badges(store, count)
      const b2 = new Badges(store, count)
      await b1.enable(A)
      await b2.load()
      assert.deepEqual(b2.list(), [A])
      await b1.disable(A)
      await b2.load()
      assert.deepEqual(b2.list(), [])

      const presence = { countStates: t.hub.live.presence.countStates.bind(t.hub.live.presence), pages: t.hub.live.presence.pages.bind(t.hub.live.presence), processes: t.hub.live.presence.processes.bind(t.hub.live.presence) }
      const e1 = new AlertEngine({ store, presence, settings: DEFAULT_ALERTS, logger: { info() {}, warn() {}, error() {} } })
      const e2 = new AlertEngine({ store, presence, settings: DEFAULT_ALERTS, logger: { info() {}, warn() {}, error() {} } })
      const r = await e1.create({ kind: 'down', app: 'x', webhook: 'http://127.0.0.1:9/h', enabled: false })
      await e2.load()
      assert.deepEqual(e2.list().map((x) => x.id), [r.id])
      await e1.update(r.id, { for: 5 })
      await e2.load()
      assert.equal(e2.get(r.id).forSec, 5)
      await e1.remove(r.id)
      await e2.load()
      assert.deepEqual(e2.list(), [])
      await Promise.all([e1.close(), e2.close()])
    } finally {
      await t.stop()
    }
  })
})
