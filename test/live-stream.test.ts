import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { IncomingMessage } from 'node:http'
import type { WebSocket } from 'ws'
import { LiveClient } from '../src/hub/live/client'
import { SiteStream } from '../src/hub/live/stream'
import { DEFAULT_LIVE_LIMITS } from '../src/hub/live/limits'
import type { PresenceChange } from '../src/hub/bus/messages'
import type { DiffMessage } from '../src/hub/live/protocol'

/** A socket stand-in that records when each frame left the stream. */
function fakeClient(): { client: LiveClient; sent: { at: number; msg: DiffMessage }[] } {
  const sent: { at: number; msg: DiffMessage }[] = []
  const ws = { bufferedAmount: 0, readyState: 1, OPEN: 1, send: (f: string) => sent.push({ at: performance.now(), msg: JSON.parse(f) as DiffMessage }) }
  const client = new LiveClient(ws as unknown as WebSocket, {} as IncomingMessage, DEFAULT_LIVE_LIMITS, () => {})
  client.beginSync()
  client.endSync('{"type":"snapshot"}', 0)
  sent.length = 0
  return { client, sent }
}

function change(seq: number, total: number): PresenceChange {
  return {
    type: 'presence', site: 's', seq, at: Date.now(), op: 'join', cid: `c${seq}`, key: `k${seq}`, visitor: `v${seq}`, path: '/', state: 'reading',
    counts: { total, reading: total, writing: 0, idle: 0, hidden: 0 }, pages: [{ path: '/', total, reading: total, writing: 0, idle: 0, hidden: 0 }], connections: total,
  }
}

test('the stream sends the first change at once, then at most one diff per 25 ms, with the latest counts', async () => {
  const stream = new SiteStream('s', DEFAULT_LIVE_LIMITS)
  const { client, sent } = fakeClient()
  stream.clients.add(client)
  const t0 = performance.now()
  stream.add(change(1, 1))
  await Promise.resolve()
  assert.equal(sent.length, 1, 'first change goes out in a microtask')
  assert.ok((sent[0]?.at ?? Infinity) - t0 < 20, 'and at once')
  let seq = 1
  const until = performance.now() + 200
  while (performance.now() < until) {
    stream.add(change(++seq, seq))
    await new Promise((r) => setTimeout(r, 1))
  }
  await new Promise((r) => setTimeout(r, 40))
  for (let k = 1; k < sent.length; k++) {
    const gap = (sent[k]?.at ?? 0) - (sent[k - 1]?.at ?? 0)
    assert.ok(gap >= 25, `diffs ${gap.toFixed(1)} ms apart`)
  }
  assert.ok(sent.length <= 10, `${sent.length} diffs in 200 ms`)
  assert.equal(sent.at(-1)?.msg.counts?.total, seq)
  assert.equal(sent.reduce((n, s) => n + (s.msg.events?.length ?? 0), 0), seq)
  stream.close()
})

test('a diff older than the client\'s snapshot is not sent', () => {
  const { client, sent } = fakeClient()
  client.beginSync()
  client.endSync('{"type":"snapshot"}', 10)
  sent.length = 0
  client.deliver('{"type":"diff","seq":9}', 9)
  client.deliver('{"type":"diff","seq":0}', 0)
  client.deliver('{"type":"diff","seq":11}', 11)
  assert.deepEqual(sent.map((s) => s.msg.seq), [0, 11])
})

test('the stream encodes each diff once and hands every dashboard the same bytes, as a text frame', async () => {
  const stream = new SiteStream('s', DEFAULT_LIVE_LIMITS)
  const frames: { data: unknown; opts: unknown }[] = []
  for (let i = 0; i < 3; i++) {
    const ws = { bufferedAmount: 0, readyState: 1, OPEN: 1, send: (data: unknown, opts: unknown) => frames.push({ data, opts }) }
    const client = new LiveClient(ws as unknown as WebSocket, {} as IncomingMessage, DEFAULT_LIVE_LIMITS, () => {})
    client.beginSync()
    client.endSync('{"type":"snapshot"}', 0)
    frames.length = 0
    stream.clients.add(client)
  }
  stream.add(change(1, 1))
  await Promise.resolve()
  assert.equal(frames.length, 3)
  assert.ok(Buffer.isBuffer(frames[0]?.data))
  assert.ok(frames.every((f) => f.data === frames[0]?.data), 'one Buffer for every dashboard')
  assert.deepEqual(frames[0]?.opts, { binary: false })
  assert.equal((JSON.parse(String(frames[0]?.data)) as DiffMessage).counts?.total, 1)
  stream.close()
})
