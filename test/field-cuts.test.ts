/**
 * Issue 9.2: an over-long text field is cut to its limit, at a character boundary, and the event
 * is stored; only an event that cannot be used at all is refused. On every transport (HTTP,
 * WebSocket, a tracker the hub dials, the tracker dialling the hub), and the live view agrees with
 * the store about which page views happened.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { WebSocketServer } from 'ws'
import { CollectClient, id, pageview, post, quiet, startHub, type TestHub } from './helpers/hub'
import { until } from './helpers/wait'
import { cutText, cutUrl } from '../src/protocol/cut'
import { dashboard } from '../src/dashboard'
import { tracker } from '../src/tracker'
import type { Ack } from '../src/protocol/messages'

const TEXT = 512
const URL_MAX = 2048
const SHORT = 200

interface Row {
  id: string
  type: string
  title: string | null
  path: string | null
  referrer: string | null
  ref_host: string | null
  name: string | null
  data: string | null
  language: string | null
}

/** The row as the store holds it: read from the hub's own SQLite file. */
function rowOf(t: TestHub, eventId: string): Row | undefined {
  const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
  try {
    return db.prepare('SELECT * FROM events WHERE id = ?').get(eventId) as Row | undefined
  } finally {
    db.close()
  }
}

/** No lone surrogate anywhere (a cut inside a pair would leave one at the end). */
function wellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)
}

function assertCutPrefix(got: string | null | undefined, sent: string, max: number): void {
  assert.ok(typeof got === 'string', 'field kept')
  assert.ok(got.length <= max, `cut to ${max}, got ${got.length}`)
  assert.ok(got.length >= max - 8, `cut near the limit, got ${got.length}`)
  assert.ok(sent.startsWith(got), 'a prefix of what was sent')
  assert.ok(wellFormed(got), 'no half of a surrogate pair')
}

type Transport = 'http' | 'ws'

/** Sends one frame and returns its ack (both transports answer the same ack). */
async function send(t: TestHub, via: Transport, frame: unknown): Promise<Ack & { header?: string | null }> {
  if (via === 'http') {
    const r = await post(t.url, frame)
    return { ...(r.body as unknown as Ack), header: r.headers.get('x-livestats-cut') }
  }
  const ws = new CollectClient(t.url)
  try {
    const reply = await ws.send(frame)
    assert.equal(reply.type, 'ack')
    return reply as Ack
  } finally {
    ws.close()
  }
}

describe('cutText / cutUrl: character boundaries', () => {
  it('never splits a surrogate pair, an emoji with its modifier, a flag or a letter with its accent', () => {
    const cases: [string, string][] = [
      ['surrogate pair at the cut', 'a'.repeat(511) + '😀'.repeat(5)],
      ['emoji with skin tone across the cut', 'a'.repeat(510) + '👍🏽' + 'b'.repeat(10)],
      ['flag across the cut', 'a'.repeat(509) + '🇩🇪' + 'b'.repeat(10)],
      ['ZWJ family across the cut', 'a'.repeat(505) + '👩‍👩‍👧‍👦' + 'b'],
      ['combining accent right after the cut', 'a'.repeat(511) + 'e\u0301' + 'b'],
      ['all emoji', '😀'.repeat(400)],
      ['CJK (one unit each)', '漢'.repeat(600)],
    ]
    for (const [what, s] of cases) {
      const c = cutText(s, TEXT)
      assert.ok(c.length <= TEXT && c.length >= TEXT - 12, `${what}: ${c.length}`)
      assert.ok(s.startsWith(c) && wellFormed(c), what)
      // the cut ends on a grapheme boundary: segmenting the prefix gives the same graphemes as the start of the whole
      const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' })
      const whole = [...seg.segment(s)].map((g) => g.segment)
      const part = [...seg.segment(c)].map((g) => g.segment)
      assert.deepEqual(part, whole.slice(0, part.length), `${what}: cut inside a grapheme`)
    }
    assert.equal(cutText('abc', 3), 'abc')
    assert.equal(cutText('ab😀', 3), 'ab')
    // a pile of combining marks longer than the window: cut between code points, still well formed
    const zalgo = 'x' + '\u0301'.repeat(1000)
    assert.equal(cutText(zalgo, TEXT).length, TEXT)
  })

  it('a URL cut does not end in half a percent escape', () => {
    const u = 'https://u.test/' + '%D8%B3'.repeat(400)
    const c = cutUrl(u, URL_MAX)
    assert.ok(c.length <= URL_MAX && u.startsWith(c))
    assert.doesNotThrow(() => decodeURI(c))
    assert.match(c, /%B3$/)
  })
})

describe('over-long fields are cut and the event stored, on both transports', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  for (const via of ['http', 'ws'] as const) {
    it(`${via}: a 770-character title`, async () => {
      const title = 'T'.repeat(700) + '😀'.repeat(35)
      const ev = pageview('cut.test', 'https://cut.test/long-title', { title })
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      assert.deepEqual(ack.rejected, [])
      assert.deepEqual(ack.cut, [{ i: 0, id: ev.id, fields: ['/title'] }])
      if (via === 'http') assert.equal(ack.header, '/title')
      assertCutPrefix(rowOf(t, ev.id as string)?.title, title, TEXT)
    })

    it(`${via}: an emoji right at the title's cut point`, async () => {
      const title = 'a'.repeat(511) + '😀' + 'z'.repeat(50)
      const ev = pageview('cut.test', 'https://cut.test/emoji', { title })
      assert.equal((await send(t, via, ev)).stored, 1)
      assert.equal(rowOf(t, ev.id as string)?.title, 'a'.repeat(511))
    })

    it(`${via}: a 2,100-character referrer keeps its host`, async () => {
      const referrer = `https://ref.example/${'r'.repeat(2080)}`
      const ev = pageview('cut.test', 'https://cut.test/ref', { referrer })
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      assert.deepEqual(ack.cut?.[0]?.fields, ['/referrer'])
      const row = rowOf(t, ev.id as string)
      assertCutPrefix(row?.referrer, referrer, URL_MAX)
      assert.equal(row?.ref_host, 'ref.example')
    })

    it(`${via}: a 3,000-character URL is stored on its (cut) path`, async () => {
      const url = `https://cut.test/${'p'.repeat(3000)}`
      const ev = pageview('cut.test', url)
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      assert.deepEqual(ack.cut?.[0]?.fields, ['/url'])
      const row = rowOf(t, ev.id as string)
      assert.ok(row?.path?.startsWith('/ppp') && row.path.length <= URL_MAX)
    })

    it(`${via}: a custom event with a 600-character prop value, a long key, a long name and 30 props`, async () => {
      const props: Record<string, string | number> = { plan: 'v'.repeat(590) + '🇩🇪'.repeat(5), ['k'.repeat(100)]: 1 }
      for (let i = 0; i < 30; i++) props[`p${i}`] = i
      const name = 'signup-' + 'n'.repeat(300)
      const ev = { id: id(), type: 'event', site: 'cut.test', name, url: 'https://cut.test/', props }
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      assert.deepEqual(ack.cut?.[0]?.fields.sort(), ['/name', '/props', '/props/plan'])
      const row = rowOf(t, ev.id)
      assertCutPrefix(row?.name, name, SHORT)
      const stored = JSON.parse(row?.data ?? '{}') as Record<string, unknown>
      assert.equal(Object.keys(stored).length, 25, 'the first 25 props are kept')
      assert.deepEqual(Object.keys(stored).slice(0, 3), ['plan', 'k'.repeat(64), 'p0'])
      assertCutPrefix(stored.plan as string, props.plan as string, TEXT)
      assert.equal(stored.p22, 22)
      assert.equal(stored.p23, undefined)
    })

    it(`${via}: a job event with a long name and error text (a tracker that does not cut)`, async () => {
      const name = 'job-' + 'j'.repeat(400)
      const error = 'Error: ' + 'e'.repeat(1000)
      const ev = {
        id: id(), type: 'job', app: 'cut-app', instance: 'h:1', name, count: 1, failed: 1, sum: 5, min: 5, max: 5,
        hist: [0, 0, 1], error,
      }
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      assert.deepEqual(ack.cut?.[0]?.fields, ['/name', '/error'])
      const row = rowOf(t, ev.id)
      assertCutPrefix(row?.name, name, SHORT)
      assertCutPrefix((JSON.parse(row?.data ?? '{}') as { error: string }).error, error, TEXT)
    })

    it(`${via}: a process event listing 150 running jobs with long names`, async () => {
      const running = Array.from({ length: 150 }, (_, i) => ({ name: `r${i}-${'x'.repeat(300)}`, started: 1000 + i }))
      const ev = {
        id: id(), type: 'process', app: 'cut-app', instance: 'h:2', pid: 2, host: 'h', cpu: 1, rss: 1, heapUsed: 1,
        heapTotal: 1, lag: 1, uptime: 1, running, runningCount: 150,
      }
      const ack = await send(t, via, ev)
      assert.equal(ack.stored, 1)
      const data = JSON.parse(rowOf(t, ev.id)?.data ?? '{}') as { running: { name: string }[]; runningCount: number }
      assert.equal(data.running.length, 100)
      assert.equal(data.runningCount, 150)
      assert.ok(data.running.every((j) => j.name.length === SHORT))
    })

    it(`${via}: a batch mixing good, cut and refused events`, async () => {
      const events = [
        pageview('cut.test', 'https://cut.test/good'),
        pageview('cut.test', 'https://cut.test/cut', { title: 'x'.repeat(900) }),
        { id: id(), type: 'purchase', site: 'cut.test' },
        pageview('s'.repeat(300), 'https://cut.test/'),
        { id: id(), type: 'event', site: 'cut.test', name: 'e', props: { v: 'y'.repeat(600) } },
        pageview('cut.test', 'https://cut.test/bad', { screen: 'wide', title: 'x'.repeat(900) }),
        { type: 'pageview', site: 'cut.test', url: 'https://cut.test/no-id', title: 'x'.repeat(900) },
      ]
      const ack = await send(t, via, { v: 1, seq: 3, events })
      assert.equal(ack.stored, 3)
      assert.deepEqual(ack.rejected.map((r) => [r.i, r.code]), [
        [2, 'LS_ERR_UNKNOWN_TYPE'], [3, 'LS_ERR_FIELD_TOO_LONG'], [5, 'LS_ERR_INVALID_EVENT'], [6, 'LS_ERR_INVALID_EVENT'],
      ])
      assert.deepEqual(ack.cut?.map((c) => [c.i, c.fields]), [[1, ['/title']], [4, ['/props/v']]])
      for (const i of [0, 1, 4]) assert.ok(rowOf(t, (events[i] as { id: string }).id), `event ${i} stored`)
      for (const i of [2, 3, 5]) assert.equal(rowOf(t, (events[i] as { id: string }).id), undefined, `event ${i} not stored`)
    })
  }

  it('/metrics counts the cut events', async () => {
    const m = await (await fetch(`${t.url}/metrics`)).text()
    const n = Number(/livestats_events_cut_total (\d+)/.exec(m)?.[1])
    assert.ok(n >= 16, `cut events counted: ${n}`)
  })

  it('a field of the wrong type is still refused, not cut', async () => {
    const r = await post(t.url, pageview('cut.test', 'https://cut.test/', { title: 42 }))
    assert.equal(r.status, 400)
    assert.equal((r.body.rejected as { code: string }[])[0]?.code, 'LS_ERR_INVALID_EVENT')
  })
})

describe('a hub with lower limits cuts to its own limits', () => {
  it('maxTextLength 40', async () => {
    const t = await startHub({ limits: { maxTextLength: 40 } })
    try {
      const ev = pageview('low.test', 'https://low.test/', { title: 'é'.repeat(39) + '😀😀' })
      assert.equal((await post(t.url, ev)).body.stored, 1)
      assert.equal(rowOf(t, ev.id as string)?.title, 'é'.repeat(39))
    } finally {
      await t.stop()
    }
  })
})

describe('trackers: cut before sending, and cut by the hub on the dialled transport', () => {
  it('tracker → hub: a 300-character job name with an emoji at the cut and a 1,000-character error arrive cut', async () => {
    const t = await startHub()
    const tr = tracker({ name: 'cut-svc', hub: t.url, interval: 60_000, handleSignals: false }, { warn() {} })
    try {
      const name = 'n'.repeat(199) + '😀' + 'tail'.repeat(30)
      tr.job.start(name).stop(new Error('boom ' + 'e'.repeat(1000)))
      tr.flush()
      assert.deepEqual(await tr.close(), { delivered: true, pending: 0 })
      const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
      const row = db.prepare("SELECT name, data FROM events WHERE type = 'job'").get() as { name: string; data: string }
      db.close()
      assert.equal(row.name, 'n'.repeat(199))
      const err = (JSON.parse(row.data) as { error: string }).error
      assert.ok(err.startsWith('Error: boom eee') && err.length <= TEXT)
      const procs = (await (await fetch(`${t.url}/api/processes?range=1h&app=cut-svc`)).json()) as { processes: { jobs: { name: string }[] }[] }
      assert.equal(procs.processes[0]?.jobs[0]?.name, 'n'.repeat(199))
    } finally {
      await t.stop()
    }
  })

  it('hub dials a tracker that sends over-long fields: they are cut and acked as cut', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
    await new Promise((r) => wss.once('listening', r))
    const port = (wss.address() as { port: number }).port
    const acks: Ack[] = []
    const jobId = id()
    wss.on('connection', (ws) => {
      ws.on('message', (d) => acks.push(JSON.parse(String(d)) as Ack))
      ws.send(JSON.stringify({ v: 1, seq: 1, events: [{
        id: jobId, type: 'job', app: 'dialled-cut', instance: 'h:9', name: 'd'.repeat(250), count: 1, failed: 1,
        sum: 1, min: 1, max: 1, hist: [1], error: 'x'.repeat(700),
      }] }))
    })
    const dir = mkdtempSync(join(tmpdir(), 'livestats-cut-'))
    const d = dashboard({ port: 0, host: '127.0.0.1', store: join(dir, 'd.db'), urls: [`ws://127.0.0.1:${port}`] }, quiet)
    try {
      await d.ready
      await until('the ack from the hub', () => acks.length > 0, 10_000)
      assert.equal(acks[0]?.stored, 1)
      assert.deepEqual(acks[0]?.cut, [{ i: 0, id: jobId, fields: ['/name', '/error'] }])
    } finally {
      await d.close()
      for (const c of wss.clients) c.terminate()
      wss.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the live view and the store agree on which page views happened', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  const live = async (site: string): Promise<{ total: number; pages: string[] }> => {
    const c = (await (await fetch(`${t.url}/api/live?site=${site}`)).json()) as { total: number }
    const p = (await (await fetch(`${t.url}/api/live/pages?site=${site}`)).json()) as { pages: { path: string }[] }
    return { total: c.total, pages: p.pages.map((x) => x.path) }
  }

  for (const via of ['http', 'ws'] as const) {
    it(`${via}: the snippet's pageview with a 770-character title, then its heartbeat: stored once, live once`, async () => {
      const site = `agree-${via}.test`
      const cid = id('c')
      const ws = via === 'ws' ? new CollectClient(t.url) : null
      const frame = async (f: unknown): Promise<Ack> => (ws ? ((await ws.send(f)) as Ack) : ((await post(t.url, f)).body as unknown as Ack))
      try {
        const pv = pageview(site, `https://${site}/long`, { cid, title: 'L'.repeat(770) })
        assert.equal((await frame(pv)).stored, 1)
        await frame({ id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}/long`, interval: 15 })
        assert.deepEqual(await live(site), { total: 1, pages: ['/long'] })
        assert.equal(await t.hub.store.countEvents(site), 1)
      } finally {
        ws?.close()
      }
    })

    it(`${via}: a pageview that is refused is not live either, even when its heartbeats carry the URL`, async () => {
      const site = `refused-${via}.test`
      const cid = id('c')
      const ws = via === 'ws' ? new CollectClient(t.url) : null
      const frame = async (f: unknown): Promise<Ack> => (ws ? ((await ws.send(f)) as Ack) : ((await post(t.url, f)).body as unknown as Ack))
      try {
        const bad = pageview(site, `https://${site}/a`, { cid, screen: 'wide' })
        assert.equal((await frame(bad)).rejected[0]?.code, 'LS_ERR_INVALID_EVENT')
        const hb = await frame({ id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}/a`, interval: 15 })
        assert.equal(hb.rejected[0]?.code, 'LS_ERR_UNKNOWN_CONNECTION')
        assert.deepEqual(await live(site), { total: 0, pages: [] })
        assert.equal(await t.hub.store.countEvents(site), 0)
        // its next page view is stored, and from then on it is live
        assert.equal((await frame(pageview(site, `https://${site}/b`, { cid }))).stored, 1)
        const hb2 = await frame({ id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}/b`, interval: 15 })
        assert.deepEqual(hb2.rejected, [])
        assert.deepEqual(await live(site), { total: 1, pages: ['/b'] })
        assert.equal(await t.hub.store.countEvents(site), 1)
        // a live tab whose next page view is refused leaves the live view
        assert.equal((await frame(pageview('x'.repeat(300), `https://${site}/c`, { cid }))).rejected.length, 1)
        assert.equal((await frame(pageview(site, `https://${site}/c`, { cid, screen: -1 }))).rejected.length, 1)
        assert.deepEqual(await live(site), { total: 0, pages: [] })
        assert.equal(await t.hub.store.countEvents(site), 1)
      } finally {
        ws?.close()
      }
    })
  }

  it('a page view whose commit fails (store away) stays live but is not in the feed; its resend is stored and fed once', async () => {
    const site = 'fail.test'
    const cid = id('c')
    const feed: string[] = []
    const unsubscribe = t.hub.live.bus.subscribe(`site:${site}`, (m) => {
      if (m.type === 'pageview') feed.push(m.id)
    })
    // the one fault injection here: SQLite cannot be made to fail a commit on demand
    const store = t.hub.store
    const append = store.append.bind(store)
    store.append = () => Promise.reject(new Error('disk full'))
    const ws = new CollectClient(t.url)
    try {
      const pv = pageview(site, `https://${site}/x`, { cid })
      const reply = await ws.send(pv)
      assert.equal(reply.type, 'error')
      assert.equal((reply as { code: string }).code, 'LS_ERR_STORE_UNAVAILABLE')
      // the visitor is still on the page: presence keeps counting, heartbeats are accepted
      const hb = (await ws.send({ id: id(), type: 'presence', site, cid, state: 'reading', url: `https://${site}/x` })) as Ack
      assert.deepEqual(hb.rejected, [])
      assert.deepEqual(await live(site), { total: 1, pages: ['/x'] })
      await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual(feed, [])
      assert.equal(await t.hub.store.countEvents(site), 0)
      store.append = append
      assert.equal(((await ws.send(pv)) as Ack).stored, 1)
      assert.deepEqual(await live(site), { total: 1, pages: ['/x'] })
      assert.equal(await t.hub.store.countEvents(site), 1)
      await until('the feed to list it', () => feed.length === 1)
      // a second resend is a duplicate: stored once, fed once
      assert.equal(((await ws.send(pv)) as Ack).duplicates, 1)
      await new Promise((r) => setTimeout(r, 100))
      assert.deepEqual(feed, [pv.id])
    } finally {
      store.append = append
      unsubscribe()
      ws.close()
    }
  })
})
