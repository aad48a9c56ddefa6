/**
 * Issue 10 item 4, event-id squatting: an id stored by someone on another site (or as another
 * source) must not turn a source's own event into a "duplicate", and the tracker's ids cannot be
 * guessed. Real hub on a temp SQLite file, both transports.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { CollectClient, post, startHub, type TestHub } from './helpers/hub'
import { FakeHub, until } from './tracker.fakehub'
import { tracker } from '../src/tracker/index'
import { trackerEventId } from '../src/tracker/ids'
import { eventId } from '../src/protocol/ids'
import type { Ack } from '../src/protocol/messages'

const UUIDV7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let n = 0
/** A tab id as the snippet made it before issue 10: time digits plus random digits. */
function snippetCid(): string {
  return `${Date.now()}${String(++n).padStart(4, '0')}${Math.random().toString().slice(2, 12)}`
}

type Send = (t: TestHub, body: unknown) => Promise<Ack>

const http: Send = async (t, body) => {
  const r = await post(t.url, body)
  assert.equal(r.status, 202, JSON.stringify(r.body))
  return r.body as unknown as Ack
}

const ws: Send = async (t, body) => {
  const c = new CollectClient(t.url)
  try {
    const reply = await c.send(body)
    assert.equal(reply.type, 'ack', JSON.stringify(reply))
    return reply as Ack
  } finally {
    c.close()
  }
}

const TRANSPORTS: [string, Send][] = [['HTTP', http], ['WebSocket', ws]]

describe('event ids: nobody enters another source\'s dedupe scope', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  for (const [victimName, victim] of TRANSPORTS) {
    for (const [attackerName, attacker] of TRANSPORTS) {
      it(`an id squatted on another site over ${attackerName} does not swallow the victim's page view over ${victimName}`, async () => {
        const cid = snippetCid()
        const squatted = `${cid}3`
        const evil = await attacker(t, { id: squatted, type: 'pageview', site: 'evil.test', cid, url: 'https://evil.test/' })
        assert.equal(evil.stored, 1)
        const real = { id: squatted, type: 'pageview', site: 'victim.test', cid, url: 'https://victim.test/checkout' }
        const ack = await victim(t, real)
        assert.deepEqual([ack.stored, ack.duplicates, ack.rejected], [1, 0, []])
        // the victim's own resend stays idempotent, on either transport
        for (const [, resend] of TRANSPORTS) {
          const again = await resend(t, real)
          assert.deepEqual([again.stored, again.duplicates], [0, 1])
        }
        const feed = await t.hub.store.feed('victim.test', 100)
        assert.equal(feed.filter((f) => f.id === squatted).length, 1, 'stored once on the victim site')
        assert.equal(feed.find((f) => f.id === squatted)?.path, '/checkout')
      })
    }

    it(`over ${victimName}, a tracker event cannot squat a web id and a web event cannot squat a tracker id`, async () => {
      const cid = snippetCid()
      const webId = `${cid}1`
      const procId = `${cid}9`
      // the attacker sends a tracker event whose app is named like the site, and a page view on the app's name
      await victim(t, { id: webId, type: 'bytes', app: 'shop.test', instance: 'x:1', sent: 1, received: 1 })
      await victim(t, { id: procId, type: 'pageview', site: 'api', url: 'https://api/' })
      const page = await victim(t, { id: webId, type: 'pageview', site: 'shop.test', cid, url: 'https://shop.test/' })
      assert.deepEqual([page.stored, page.duplicates], [1, 0])
      const proc = await victim(t, { id: procId, type: 'bytes', app: 'api', instance: 'h:1', sent: 5, received: 0 })
      assert.deepEqual([proc.stored, proc.duplicates], [1, 0])
      const resent = await victim(t, { v: 1, events: [
        { id: webId, type: 'pageview', site: 'shop.test', cid, url: 'https://shop.test/' },
        { id: procId, type: 'bytes', app: 'api', instance: 'h:1', sent: 5, received: 0 },
      ] })
      assert.deepEqual([resent.stored, resent.duplicates], [0, 2])
    })
  }
})

describe('event ids made by the tracker', () => {
  it('are UUIDv7: random bits from node:crypto, the time in front, all distinct', () => {
    const now = Date.UTC(2026, 0, 2, 3, 4, 5, 6)
    const ids = Array.from({ length: 5000 }, () => trackerEventId(now))
    for (const id of ids) assert.match(id, UUIDV7)
    assert.equal(new Set(ids).size, ids.length)
    const hex = (id: string) => id.replace(/-/g, '')
    assert.equal(parseInt(hex(ids[0] as string).slice(0, 12), 16), now)
    // 74 random bits: every random hex digit takes many values across the ids
    for (const pos of [13, 14, 15, 17, 18, 19, 20, 31]) {
      assert.ok(new Set(ids.map((id) => hex(id)[pos])).size >= 12, `digit ${pos} looks random`)
    }
    // ordered by time
    assert.ok(trackerEventId(now) < trackerEventId(now + 1))
    assert.match(eventId(), UUIDV7)
  })

  it('a real tracker stamps every event it sends with a distinct UUIDv7', async () => {
    const hub = await new FakeHub().start()
    const t = tracker({ name: 'ids', hub: hub.url, interval: 60_000, handleSignals: false }, { warn() {} })
    try {
      for (let i = 0; i < 20; i++) {
        t.bytes.sent(10)
        t.job.start(`job${i % 3}`).stop()
        t.flush()
      }
      await until(() => hub.ofType('process').length === 20)
      const all = [...hub.events.values()]
      assert.ok(all.length >= 60)
      for (const e of all) assert.match(e.id, UUIDV7)
      assert.equal(new Set(all.map((e) => e.id)).size, all.length)
    } finally {
      await t.close()
      await hub.stop()
    }
  })
})
