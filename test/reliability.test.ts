/**
 * Delivery guarantees end to end: a hub killed with SIGKILL mid-stream loses no acknowledged
 * event, and a client that resends what was not acknowledged ends with every event stored once.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import WebSocket from 'ws'
import { startChildHub } from './helpers/child-hub'
import { CollectClient, CHROME_UA, post, startHub } from './helpers/hub'
import { createSqliteStore } from '../src/hub/store/sqlite'
import type { Ack } from '../src/protocol/messages'

const TOTAL = 50_000
const BATCH = 100
const WINDOW = 40

function makeEvents(prefix: string, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i.toString(36).padStart(8, '0')}`,
    type: 'pageview',
    site: 'rel.test',
    url: `https://rel.test/p/${i % 500}?utm_source=s${i % 7}`,
    title: `Page ${i % 500}`,
    referrer: 'https://ref.example/',
  }))
}

/**
 * A resending client: keeps every sent batch until its ack arrives; after a disconnect it
 * reconnects (to whatever URL `target()` says) and resends all of them before new ones.
 */
class ResendingClient {
  private unacked = new Map<number, string>()
  private nextSeq = 1
  private sent = 0
  acked = 0
  constructor(private readonly batches: string[][], private readonly target: () => string) {}

  /** Streams until `stopAt` batches are acked or the socket dies; resolves with the close reason. */
  run(onAck: (acked: number) => void): Promise<'done' | 'closed'> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.target().replace(/^http/, 'ws')}/collect`, { headers: { 'user-agent': CHROME_UA } })
      const pump = () => {
        while (ws.readyState === ws.OPEN && this.unacked.size < WINDOW && this.sent < this.batches.length) {
          const seq = this.nextSeq++
          const frame = `{"v":1,"seq":${seq},"events":[${(this.batches[this.sent] as string[]).join(',')}]}`
          this.sent++
          this.unacked.set(seq, frame)
          ws.send(frame)
        }
        if (this.sent === this.batches.length && this.unacked.size === 0) {
          ws.close()
          resolve('done')
        }
      }
      ws.on('open', () => {
        for (const frame of this.unacked.values()) ws.send(frame) // resend first
        pump()
      })
      ws.on('message', (d) => {
        const ack = JSON.parse(String(d)) as Ack
        assert.equal(ack.type, 'ack')
        assert.deepEqual(ack.rejected, [])
        if (ack.seq !== undefined && this.unacked.delete(ack.seq)) {
          this.acked++
          onAck(this.acked)
        }
        pump()
      })
      ws.on('error', () => {})
      ws.on('close', () => {
        if (this.sent < this.batches.length || this.unacked.size > 0) resolve('closed')
      })
    })
  }

  get pending(): number {
    return this.unacked.size
  }
}

describe('reliability: SIGKILL mid-stream, restart, resend', () => {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-rel-'))
  const db = join(dir, 'rel.db')
  after(() => rmSync(dir, { recursive: true, force: true }))

  it(`streams ${TOTAL} events, is killed, restarts, and stores every event exactly once`, { timeout: 180_000 }, async () => {
    const events = makeEvents('rel', TOTAL).map((e) => JSON.stringify(e))
    const batches: string[][] = []
    for (let i = 0; i < events.length; i += BATCH) batches.push(events.slice(i, i + BATCH))

    let hub = await startChildHub(['--port', '0', '--db', db])
    const client = new ResendingClient(batches, () => hub.url)
    let killedAt = -1
    const first = await client.run((acked) => {
      if (killedAt < 0 && acked >= batches.length * 0.4) {
        killedAt = acked
        hub.proc.kill('SIGKILL')
      }
    })
    assert.equal(first, 'closed')
    const death = await hub.exited
    assert.equal(death.signal, 'SIGKILL')
    assert.ok(killedAt > 0 && client.acked < batches.length, 'the hub died mid-stream')

    // acked before the kill must already be durable: count them in the file the dead hub left
    const afterKill = createSqliteStore(db)
    await afterKill.init()
    const durable = await afterKill.countEvents('rel.test')
    await afterKill.close()
    assert.ok(durable >= client.acked * BATCH, `${durable} rows on disk for ${client.acked * BATCH} acked events`)
    assert.ok(durable < TOTAL)

    hub = await startChildHub(['--port', '0', '--db', db])
    const second = await client.run(() => {})
    assert.equal(second, 'done')
    assert.equal(client.pending, 0)
    hub.proc.kill('SIGTERM')
    const exit = await hub.exited
    assert.equal(exit.code, 0, hub.output())

    const store = createSqliteStore(db)
    await store.init()
    assert.equal(await store.countEvents('rel.test'), TOTAL, '0 lost, 0 duplicated')
    const totals = await store.totals({ site: 'rel.test', from: Date.now() - 86_400_000, to: Date.now() + 60_000 })
    assert.equal(totals.pageviews, TOTAL, 'rollups count each event once')
    await store.close()
  })
})

describe('reliability: the same 10,000-event batch three times over both transports', () => {
  it('finds exactly 10,000 rows', { timeout: 120_000 }, async () => {
    const t = await startHub()
    try {
      const events = makeEvents('dup', 10_000)
      const batch = { v: 1, seq: 1, events }
      const ws = new CollectClient(t.url)
      const acks: Ack[] = []
      for (let i = 0; i < 3; i++) acks.push((await ws.send(batch)) as Ack)
      ws.close()
      const https = []
      for (let i = 0; i < 3; i++) https.push((await post(t.url, batch)).body)
      assert.deepEqual(acks.map((a) => [a.stored, a.duplicates]), [[10_000, 0], [0, 10_000], [0, 10_000]])
      assert.deepEqual(https.map((a) => [a.stored, a.duplicates]), [[0, 10_000], [0, 10_000], [0, 10_000]])
      assert.equal(await t.hub.store.countEvents('rel.test'), 10_000)
      const totals = await t.hub.store.totals({ site: 'rel.test', from: Date.now() - 3_600_000, to: Date.now() + 60_000 })
      assert.equal(totals.pageviews, 10_000)
    } finally {
      await t.stop()
    }
  })
})
