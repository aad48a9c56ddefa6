/**
 * One contract for every `Presence`: the same checks run on memory presence and on Redis presence
 * (test/presence.contract.test.ts). Reads go through the async `Presence` API only, and messages
 * through the bus the backend publishes on, so a backend passes only if a dashboard would see the
 * same figures.
 */
import { before, describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { BusMessage, PresenceChange } from '../../src/hub/bus/messages'
import type { Presence } from '../../src/hub/presence/types'
import { cid, client, leave, pageview, presence } from './presence'

export const S = 'example.com'

export interface ContractPresence {
  p: Presence
  /** Messages published on `site:example.com`, in order. */
  messages: BusMessage[]
  /** Waits until every accepted change is readable and its message delivered. */
  settle(): Promise<void>
  close(): Promise<void>
}

const changes = (msgs: BusMessage[]): PresenceChange[] => msgs.filter((m): m is PresenceChange => m.type === 'presence')

/**
 * `missing` names a service the backend needs and cannot reach (each test is then skipped, naming
 * it); it throws under LIVESTATS_REQUIRE_SERVICES=1 (test/helpers/services.ts).
 */
export function presenceContract(name: string, make: () => Promise<ContractPresence>, missing: () => Promise<string | false> = async () => false): void {
  describe(`presence contract: ${name}`, () => {
    let why: string | false = false
    before(async () => {
      why = await missing()
    })
    async function run(ctx: TestContext, fn: (t: ContractPresence) => Promise<void>): Promise<void> {
      if (why !== false) return ctx.skip(why)
      const t = await make()
      try {
        await fn(t)
      } finally {
        await t.close()
      }
    }

    test('counts visitors by state, per site and per page', (ctx) => run(ctx, async ({ p, settle }) => {
      assert.equal(p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1')), null)
      assert.equal(p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2')), null)
      assert.equal(p.accept(pageview(S, cid(3), 'v3', '/b'), client('c3')), null)
      assert.equal(p.accept(presence(S, cid(2), 'v2', 'writing'), client('c2')), null)
      assert.equal(p.accept(presence(S, cid(3), 'v3', 'idle'), client('c3')), null)
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 3, reading: 1, writing: 1, idle: 1, hidden: 0 })
      assert.deepEqual(await p.pages(S), [
        { path: '/a', total: 2, reading: 1, writing: 1, idle: 0, hidden: 0 },
        { path: '/b', total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 },
      ])
      assert.deepEqual(await p.countStates('other.org'), { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })
      assert.deepEqual(await p.sites(), [S])
    }))

    test('a hidden visitor is idle and counted in hidden; total = reading + writing + idle', (ctx) => run(ctx, async ({ p, settle }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      p.accept(pageview(S, cid(2), 'v2', '/a'), client('c2'))
      p.accept(presence(S, cid(1), 'v1', 'hidden'), client('c1'))
      p.accept(presence(S, cid(2), 'v2', 'idle'), client('c2'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 2, reading: 0, writing: 0, idle: 2, hidden: 1 })
      p.accept(pageview(S, cid(3), 'v1', '/b'), client('c3'))
      p.accept(presence(S, cid(3), 'v1', 'idle'), client('c3'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 2, reading: 0, writing: 0, idle: 2, hidden: 0 })
    }))

    test('a visitor with three tabs counts once, in the state of the most active tab', (ctx) => run(ctx, async ({ p, settle }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      p.accept(pageview(S, cid(2), 'v1', '/a'), client('c2'))
      p.accept(pageview(S, cid(3), 'v1', '/b'), client('c3'))
      p.accept(presence(S, cid(1), 'v1', 'hidden'), client('c1'))
      p.accept(presence(S, cid(2), 'v1', 'idle'), client('c2'))
      p.accept(presence(S, cid(3), 'v1', 'writing'), client('c3'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
      assert.deepEqual(await p.pages(S), [
        { path: '/a', total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 },
        { path: '/b', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 },
      ])
      assert.equal((await p.snapshot(S)).connections, 3)
      p.connectionClosed('c3', client('c3'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 1, reading: 0, writing: 0, idle: 1, hidden: 0 })
      assert.deepEqual((await p.pages(S)).map((x) => x.path), ['/a'])
    }))

    test('a page change moves the visitor and publishes both pages', (ctx) => run(ctx, async ({ p, settle, messages }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      p.accept(presence(S, cid(1), 'v1', 'writing', '/b?x=1'), client('c1'))
      await settle()
      assert.deepEqual(await p.pages(S), [{ path: '/b', total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 }])
      const last = changes(messages).at(-1)
      assert.ok(last !== undefined)
      assert.equal(last.op, 'update')
      assert.deepEqual(last.from, { path: '/a', state: 'reading' })
      assert.deepEqual(last.pages.map((x) => [x.path, x.total]), [['/b', 1], ['/a', 0]])
      assert.deepEqual(last.counts, { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
    }))

    test('closing a WebSocket ends every tab it carried, each published as a leave', (ctx) => run(ctx, async ({ p, settle, messages }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('ws1'))
      p.accept(pageview(S, cid(2), 'v2', '/a'), client('ws1'))
      p.accept(pageview(S, cid(3), 'v3', '/a'), client('ws2'))
      p.connectionClosed('ws1', client('ws1'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
      const leaves = changes(messages).filter((m) => m.op === 'leave')
      assert.equal(leaves.length, 2)
      assert.ok(leaves.every((m) => m.reason === 'close'))
      assert.equal(leaves.at(-1)?.connections, 1)
    }))

    test('heartbeats that change nothing publish nothing', (ctx) => run(ctx, async ({ p, settle, messages }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      await settle()
      const before = changes(messages).length
      for (let i = 0; i < 5; i++) p.accept(presence(S, cid(1), 'v1', 'reading'), client('c1'))
      await settle()
      assert.equal(changes(messages).length, before)
    }))

    test('presence for an unknown connection is refused and changes nothing; a leave ends a tab', (ctx) => run(ctx, async ({ p, settle }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      assert.equal(p.accept(presence(S, cid(9), 'v9', 'writing'), client('c9')), 'LS_ERR_UNKNOWN_CONNECTION')
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
      assert.equal(p.accept(leave(S, cid(1), 'v1'), client('c1')), null)
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })
      assert.deepEqual(await p.pages(S), [])
      assert.deepEqual(await p.sites(), [])
    }))

    test('sites are isolated', (ctx) => run(ctx, async ({ p, settle }) => {
      p.accept(pageview(S, cid(1), 'v1', '/a'), client('c1'))
      p.accept(pageview('b.org', cid(1), 'v1', '/a'), client('c2'))
      p.accept(presence('b.org', cid(1), 'v1', 'writing'), client('c2'))
      await settle()
      assert.deepEqual(await p.countStates(S), { total: 1, reading: 1, writing: 0, idle: 0, hidden: 0 })
      assert.deepEqual(await p.countStates('b.org'), { total: 1, reading: 0, writing: 1, idle: 0, hidden: 0 })
      assert.deepEqual((await p.sites()).sort(), ['b.org', S])
    }))

    test('every change is published with a strictly increasing seq; a snapshot carries the last one', (ctx) => run(ctx, async ({ p, settle, messages }) => {
      for (let i = 1; i <= 6; i++) p.accept(pageview(S, cid(i), `v${i % 3}`, `/p${i % 2}`), client(`c${i}`))
      p.accept(presence(S, cid(2), 'v2', 'writing'), client('c2'))
      p.connectionClosed('c1', client('c1'))
      await settle()
      const seqs = changes(messages).map((m) => m.seq)
      assert.equal(seqs.length, 8)
      for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `seq ${seqs.join(',')}`)
      const snap = await p.snapshot(S)
      assert.equal(snap.seq, seqs.at(-1))
      assert.equal(snap.connections, 5)
      assert.deepEqual(snap.counts, await p.countStates(S))
      assert.deepEqual(snap.counts, changes(messages).at(-1)?.counts)
      assert.equal(snap.partial, undefined)
      assert.equal(p.scope, name === 'memory' ? 'node' : 'cluster')
      assert.equal(p.partial, false)
    }))

    test('random changes: counts equal a recount of the open tabs', (ctx) => run(ctx, async ({ p, settle }) => {
      const open = new Map<string, { visitor: string; path: string; state: 'reading' | 'writing' | 'idle' | 'hidden'; conn: string }>()
      const states = ['reading', 'writing', 'idle', 'hidden'] as const
      let seed = 7
      const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) % n)
      for (let i = 0; i < 400; i++) {
        const r = rnd(10)
        const id = cid(rnd(40))
        const t = open.get(id)
        if (t === undefined) {
          const tab = { visitor: `v${rnd(12)}`, path: `/p${rnd(5)}`, state: 'reading' as const, conn: `ws-${id}` }
          if (p.accept(pageview(S, id, tab.visitor, tab.path), client(tab.conn)) === null) open.set(id, tab)
        } else if (r < 2) {
          p.connectionClosed(t.conn, client(t.conn))
          open.delete(id)
        } else {
          const state = states[rnd(4)] as (typeof states)[number]
          const path = r < 5 ? `/p${rnd(5)}` : t.path
          if (p.accept(presence(S, id, t.visitor, state, path === t.path ? undefined : path), client(t.conn)) === null) {
            t.state = state
            t.path = path
          }
        }
      }
      await settle()
      const rank = { writing: 0, reading: 1, idle: 2, hidden: 3 }
      const best = new Map<string, number>()
      for (const t of open.values()) best.set(t.visitor, Math.min(best.get(t.visitor) ?? 9, rank[t.state]))
      const by = [0, 0, 0, 0]
      for (const s of best.values()) by[s] = (by[s] as number) + 1
      assert.deepEqual(await p.countStates(S), {
        total: best.size, writing: by[0], reading: by[1], idle: (by[2] as number) + (by[3] as number), hidden: by[3],
      })
      assert.equal((await p.snapshot(S)).connections, open.size)
    }))
  })
}
