import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LiveView } from '../src/hub/live/view'
import type { ServerMessage } from '../src/hub/live/protocol'
import { cid, client, pageview, presence } from './helpers/presence'
import { dashboard, rig, sleep } from './helpers/live'

const S = 'example.com'
const LONG = `/${'x'.repeat(1500)}`

test('a slow dashboard never holds up ingest or others, and gets a fresh snapshot once it drains', async (t) => {
  // every change listed in each diff, so the volume overflows the kernel's socket buffers too
  const r = await rig({ limits: { maxBufferedBytes: 64 * 1024, lowWaterBytes: 1024, maxEventsPerDiff: 1000 } })
  t.after(() => r.close())
  const fast = await dashboard(r.port, `?site=${S}`)
  const slow = await dashboard(r.port, `?site=${S}`)
  t.after(() => { fast.close(); slow.close() })
  await fast.waitFor((m) => m.type === 'snapshot')
  await slow.waitFor((m) => m.type === 'snapshot')
  slow.socket?.pause() // the slow dashboard stops reading: the kernel buffers fill, then ws's queue grows

  // about 40 MB of diffs: 20 rounds of 500 changes on long paths, from 2000 visitors, each at their own address
  const at = (i: number): { ipRaw: string } => ({ ipRaw: `10.0.${i >> 8}.${i & 255}` })
  let n = 0
  const ingestTimes: number[] = []
  for (let round = 0; round < 20; round++) {
    const t0 = performance.now()
    for (let k = 0; k < 500; k++, n++) {
      const i = n % 2000
      if (n < 2000) r.presence.accept(pageview(S, cid(i), `v${i}`, `${LONG}${i % 50}`), client(`c${i}`, at(i)))
      else r.presence.accept(presence(S, cid(i), `v${i}`, n % 3 === 0 ? 'writing' : 'reading', `${LONG}${n % 40}`), client(`c${i}`, at(i)))
    }
    ingestTimes.push(performance.now() - t0)
    await sleep(30)
  }
  await sleep(200)
  const truth = r.presence.countsOf(S)
  const fastView = new LiveView()
  for (const m of fast.messages) fastView.apply(m)
  assert.deepEqual(fastView.counts, truth, 'the fast dashboard kept up')
  const slowBeforeResume = slow.messages.length

  slow.socket?.resume()
  const isResnapshot = (m: ServerMessage): boolean => m.type === 'snapshot' && slow.messages.indexOf(m) > 0
  await slow.waitFor(isResnapshot, 5000)
  await sleep(100)
  const slowView = new LiveView()
  for (const m of slow.messages) slowView.apply(m)
  assert.deepEqual(slowView.counts, truth, 'the slow dashboard caught up through a snapshot')
  assert.equal(slowView.pages.size, r.presence.pagesOf(S).length)
  const slowDiffs = slow.messages.filter((m) => m.type === 'diff').length
  const fastDiffs = fast.messages.filter((m) => m.type === 'diff').length
  assert.ok(slowDiffs < fastDiffs, `slow got ${slowDiffs} diffs, fast ${fastDiffs}: the slow one's were dropped`)
  assert.ok(slowBeforeResume >= 1)
  // accepts never wait on a socket (sends happen after, in the stream flush): a loose bound that only catches a regression
  const worst = Math.max(...ingestTimes)
  assert.ok(worst < 2000, `500 accepts took up to ${worst.toFixed(1)} ms`)
})
