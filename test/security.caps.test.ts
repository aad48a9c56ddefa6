/**
 * Issue 10.6: live state fed by open ingest is bounded. Each cap, hit through a real hub over the
 * transports a flood would use, answers its own code and counts on /metrics
 * (`livestats_limit_hits_total{limit}` and, for refusals, `livestats_events_rejected_total{code}`);
 * the per-address budget holds against a new `cid` per message; the client's heartbeat interval is
 * shortened to the cap; /metrics names only the top sites.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { CollectClient, id, postFrom, startHub, type TestHub } from './helpers/hub'
import { dashboard } from './helpers/live'
import { sleep, until } from './helpers/wait'
import type { HubCaps } from '../src/hub/caps'
import { ipGroup } from '../src/hub/ingest/client-ip'
import { resolveConfig } from '../src/hub/config'
import type { Ack, ErrorReply } from '../src/protocol/messages'

const codeOf = (m: Ack | ErrorReply): string | undefined => (m as Ack).rejected[0]?.code

/** A presence that opens a tab (what the snippet sends when it connects). */
function tab(site: string, cid = id('cid'), path = '/', interval = 15): Record<string, unknown> {
  return { id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}${path}`, interval }
}

async function metric(t: TestHub, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${t.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? 0 : Number(line.split(' ')[1])
}

async function total(t: TestHub, site: string): Promise<number> {
  return ((await (await fetch(`${t.url}/api/live?site=${site}`)).json()) as { total: number }).total
}

async function withHub(caps: Partial<HubCaps>, fn: (t: TestHub) => Promise<void>): Promise<void> {
  const t = await startHub({ caps })
  try {
    await fn(t)
  } finally {
    await t.stop()
  }
}

/** Asserts the cap's refusal code and both counters moved by `n`. */
async function counted(t: TestHub, limit: string, code: string | null, n: number): Promise<void> {
  assert.equal(await metric(t, 'livestats_limit_hits_total', `limit="${limit}"`), n, `limit_hits{${limit}}`)
  if (code !== null) assert.equal(await metric(t, 'livestats_events_rejected_total', `code="${code}"`), n, `rejected{${code}}`)
}

describe('caps on live state', () => {
  it('sites: a tab on one site too many is refused LS_ERR_TOO_MANY_SITES; a page view there is stored but not live', () =>
    withHub({ maxSites: 3 }, async (t) => {
      for (let i = 0; i < 3; i++) assert.equal((await postFrom(t.url, tab(`s${i}.test`))).status, 202)
      const r = await postFrom(t.url, tab('s3.test'))
      assert.equal(r.rejected, 'LS_ERR_TOO_MANY_SITES')
      assert.equal(r.body.rejected[0]?.code, 'LS_ERR_TOO_MANY_SITES')
      await counted(t, 'sites', 'LS_ERR_TOO_MANY_SITES', 1)
      const pv = await postFrom(t.url, { id: id(), type: 'pageview', site: 's4.test', cid: id('cid'), url: 'https://s4.test/' })
      assert.equal(pv.status, 202)
      assert.equal(pv.body.stored, 1)
      assert.equal(await total(t, 's4.test'), 0)
      assert.equal(await metric(t, 'livestats_limit_hits_total', 'limit="sites"'), 2, 'the page view counts as a hit too')
      const hello = await dashboard(Number(new URL(t.url).port))
      const h = await hello.waitFor((m) => m.type === 'hello')
      assert.ok(h.type === 'hello' && h.sites.length === 3)
      hello.close()
    }))

  it('tabs per site, tabs on the hub, tabs per client address: each its own code', () =>
    withHub({ maxTabsPerSite: 3, maxTabs: 5, maxTabsPerIp: 4 }, async (t) => {
      const from2 = '127.0.0.2'
      for (let i = 0; i < 3; i++) assert.equal((await postFrom(t.url, tab('a.test'), from2)).status, 202)
      assert.equal((await postFrom(t.url, tab('a.test'), from2)).rejected, 'LS_ERR_TOO_MANY_SITE_TABS')
      await counted(t, 'site_tabs', 'LS_ERR_TOO_MANY_SITE_TABS', 1)
      // 127.0.0.2 holds 3; one more on another site is its 4th, then its address is full
      assert.equal((await postFrom(t.url, tab('b.test'), from2)).status, 202)
      assert.equal((await postFrom(t.url, tab('b.test'), from2)).rejected, 'LS_ERR_TOO_MANY_IP_TABS')
      await counted(t, 'ip_tabs', 'LS_ERR_TOO_MANY_IP_TABS', 1)
      // another address still gets in, up to the hub's 5
      assert.equal((await postFrom(t.url, tab('b.test'), '127.0.0.3')).status, 202)
      assert.equal((await postFrom(t.url, tab('c.test'), '127.0.0.4')).rejected, 'LS_ERR_TOO_MANY_TABS')
      await counted(t, 'tabs', 'LS_ERR_TOO_MANY_TABS', 1)
      // a tab that leaves makes room again
      const ws = new CollectClient(t.url, undefined, { localAddress: '127.0.0.3' })
      await ws.open()
      ws.close()
      const cid = id('cid')
      assert.equal(codeOf(await new CollectClient(t.url, undefined, { localAddress: '127.0.0.5' }).send(tab('c.test', cid))), 'LS_ERR_TOO_MANY_TABS')
    }))

  it('a tab\'s own heartbeats and a leave are never refused by a full hub', () =>
    withHub({ maxTabs: 2 }, async (t) => {
      const ws = new CollectClient(t.url)
      const cid = id('cid')
      assert.equal(codeOf(await ws.send(tab('a.test', cid))), undefined)
      assert.equal(codeOf(await ws.send(tab('a.test'))), undefined)
      assert.equal(codeOf(await ws.send(tab('a.test'))), 'LS_ERR_TOO_MANY_TABS')
      assert.equal(codeOf(await ws.send({ id: id(), type: 'presence', site: 'a.test', cid, state: 'writing' })), undefined)
      assert.equal(codeOf(await ws.send({ id: id(), type: 'leave', site: 'a.test', cid })), undefined)
      assert.equal(codeOf(await ws.send(tab('a.test'))), undefined, 'its leave made room')
      ws.close()
    }))

  it('pages per site: pages past the cap are counted under (other), never refused', () =>
    withHub({ maxPagesPerSite: 2 }, async (t) => {
      for (const p of ['/a', '/b', '/c', '/d']) assert.equal((await postFrom(t.url, tab('p.test', id('cid'), p))).status, 202)
      const { pages } = await (await fetch(`${t.url}/api/live/pages?site=p.test`)).json() as { pages: { path: string; total: number }[] }
      assert.deepEqual(pages.map((p) => [p.path, p.total]).sort(), [['(other)', 1], ['/a', 1], ['/b', 1]])
      // one visitor with four tabs: the site's figures stay exact
      assert.equal(await total(t, 'p.test'), 1)
      assert.match(await (await fetch(`${t.url}/metrics`)).text(), /livestats_live_connections\{site="p\.test"\} 4\n/)
      await counted(t, 'pages', null, 2)
    }))

  it('processes: a process past the cap is refused LS_ERR_TOO_MANY_PROCESSES', () =>
    withHub({ maxProcesses: 2 }, async (t) => {
      const proc = (instance: string): Record<string, unknown> => ({
        id: id(), type: 'process', app: 'api', instance, pid: 1, host: 'h', cpu: 1, rss: 1, heapUsed: 1, heapTotal: 1, lag: 0, uptime: 1,
        running: [], runningCount: 0,
      })
      assert.equal((await postFrom(t.url, proc('h:1'))).status, 202)
      assert.equal((await postFrom(t.url, proc('h:2'))).status, 202)
      assert.equal((await postFrom(t.url, proc('h:3'))).rejected, 'LS_ERR_TOO_MANY_PROCESSES')
      assert.equal((await postFrom(t.url, proc('h:1'))).status, 202, 'a listed process goes on')
      await counted(t, 'processes', 'LS_ERR_TOO_MANY_PROCESSES', 1)
    }))
})

describe('a budget per client address, not only per tab', () => {
  it('a new cid per message, in one batch, over HTTP and WebSocket, is held to the address\'s budget', () =>
    withHub({ ipRateBurst: 10, ipRatePerSecond: 1, maxTabsPerIp: 1000 }, async (t) => {
      const batch = { v: 1, events: Array.from({ length: 15 }, (_, i) => tab(`r${i}.test`)) }
      const r = await postFrom(t.url, batch)
      assert.equal(r.status, 202)
      assert.equal(r.body.rejected.length, 5)
      assert.ok(r.body.rejected.every((x) => x.code === 'LS_ERR_IP_RATE_LIMITED'))
      assert.deepEqual(r.body.rejected.map((x) => x.i), [10, 11, 12, 13, 14])
      // one event per request and per socket does not get past it either
      assert.equal((await postFrom(t.url, tab('x.test'))).rejected, 'LS_ERR_IP_RATE_LIMITED')
      const ws = new CollectClient(t.url)
      assert.equal(codeOf(await ws.send(tab('y.test'))), 'LS_ERR_IP_RATE_LIMITED')
      // leaves and page views spend it too
      assert.equal(codeOf(await ws.send({ id: id(), type: 'leave', site: 'y.test', cid: id('cid') })), 'LS_ERR_IP_RATE_LIMITED')
      ws.close()
      await counted(t, 'ip_rate', 'LS_ERR_IP_RATE_LIMITED', 8)
      // another address has its own budget
      assert.equal((await postFrom(t.url, tab('z.test'), '127.0.0.2')).status, 202)
      // and the budget refills
      await sleep(1100)
      assert.equal((await postFrom(t.url, tab('x.test'))).status, 202)
    }))

  it('an IPv6 /64 is one address; another /64 is another', () => {
    assert.equal(ipGroup('2001:db8:1:2:aaaa::1'), ipGroup('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'))
    assert.equal(ipGroup('2001:db8:1:2::'), '2001:db8:1:2::/64')
    assert.notEqual(ipGroup('2001:db8:1:2::1'), ipGroup('2001:db8:1:3::1'))
    assert.equal(ipGroup('::1'), '0:0:0:0::/64')
    assert.equal(ipGroup('203.0.113.9'), '203.0.113.9')
  })
})

describe('the heartbeat interval a client asks for is capped', () => {
  it('interval 3600 on an HTTP-only tab is shortened to the cap: the silent tab leaves after two of those', () =>
    withHub({ maxIntervalSeconds: 1 }, async (t) => {
      assert.equal((await postFrom(t.url, tab('i.test', id('cid'), '/', 3600))).status, 202)
      assert.equal(await total(t, 'i.test'), 1)
      await counted(t, 'interval', null, 1)
      // 2 missed heartbeats of 1 s + 1 s of grace, then the next sweep: not 2 hours
      await until('the silent tab expired', async () => (await total(t, 'i.test')) === 0, 5000)
    }))
})

describe('/metrics names only the top sites', () => {
  it('sites past metricsSites are summed under site="(other)"', () =>
    withHub({ metricsSites: 2 }, async (t) => {
      // site k gets k+1 tabs, each its own visitor (its own user agent)
      for (let k = 0; k < 5; k++) {
        for (let j = 0; j <= k; j++) {
          const r = await postFrom(t.url, tab(`m${k}.test`), '127.0.0.1', `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.${k}.${j} Safari/537.36`)
          assert.equal(r.status, 202)
        }
      }
      const text = await (await fetch(`${t.url}/metrics`)).text()
      const sites = new Set([...text.matchAll(/livestats_live_visitors\{site="([^"]+)"/g)].map((m) => m[1]))
      assert.deepEqual([...sites].sort(), ['(other)', 'm3.test', 'm4.test'])
      assert.match(text, /livestats_live_visitors\{site="\(other\)",state="total"\} 6\n/)
      assert.match(text, /livestats_live_connections\{site="\(other\)"\} 6\n/)
      assert.match(text, /livestats_live_sites 5\n/)
      assert.match(text, /livestats_live_tabs 15\n/)
    }))
})

describe('configuration', () => {
  it('caps are validated once, with a plain message', () => {
    assert.throws(() => resolveConfig({ caps: { maxSites: 0 } }), /caps\.maxSites must be an integer/)
    assert.throws(() => resolveConfig({ caps: { maxSitez: 3 } as unknown as Partial<HubCaps> }), /unknown cap "maxSitez"/)
    assert.equal(resolveConfig({}).caps.maxTabs, 100_000)
    assert.equal(resolveConfig({ caps: { maxTabs: 7 } }).caps.maxTabs, 7)
    // as a flag or LIVESTATS_CAPS: name=value,…
    assert.deepEqual({ ...resolveConfig({ caps: 'maxTabsPerIp=5000, idleMs=120000' }).caps }, { ...resolveConfig({}).caps, maxTabsPerIp: 5000, idleMs: 120_000 })
    assert.throws(() => resolveConfig({ caps: 'maxSites' }), /caps entry "maxSites" must be name=value/)
  })
})
