/**
 * Engaged time from presence (issue 12.2), end to end: a tab on a real /collect socket views two
 * pages and writes, reads and hides; when it leaves, its session's per-page time reaches the stored
 * page views and their visit, and /api/top and /api/totals report it. The clock is mocked so every
 * millisecond is known.
 */
import { describe, it, mock } from 'node:test'
import assert from 'node:assert/strict'
import { CollectClient, id, startHub } from './helpers/hub'
import { until } from './helpers/wait'

const SITE = 'engaged.test'

describe('engaged time from presence', () => {
  it('gives each page view its reading and writing time, and each visit the sum', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.UTC(2025, 4, 5, 10) })
    const t = await startHub()
    try {
      const ws = new CollectClient(t.url)
      const cid = 'tab0000000001'
      const send = async (ev: Record<string, unknown>) => {
        const r = await ws.send({ id: id(), site: SITE, cid, ...ev })
        assert.equal(r.type, 'ack', JSON.stringify(r))
      }
      await send({ type: 'pageview', url: `https://${SITE}/a` })
      await send({ type: 'presence', state: 'writing', url: `https://${SITE}/a` })
      mock.timers.tick(6_000)
      await send({ type: 'presence', state: 'reading' })
      mock.timers.tick(4_000)
      await send({ type: 'pageview', url: `https://${SITE}/b` })
      mock.timers.tick(5_000)
      await send({ type: 'presence', state: 'hidden' })
      mock.timers.tick(3_000)
      await send({ type: 'leave' })
      // a second visitor with no snippet time: a visit, not measured
      const other = new CollectClient(t.url, { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' })
      assert.equal((await other.send({ id: id(), site: SITE, type: 'pageview', url: `https://${SITE}/a` })).type, 'ack')
      const q = `site=${SITE}&from=2025-05-05T00:00:00Z&to=2025-05-06T00:00:00Z`
      const totals = await until('the session is stored', async () => {
        const b = (await (await fetch(`${t.url}/api/totals?${q}`)).json()) as Record<string, unknown>
        return b.engagedVisits === 1 ? b : null
      })
      // /a: 6 s writing + 4 s reading; /b: 5 s reading, then 3 s hidden (not engaged)
      assert.deepEqual([totals.visits, totals.engagedVisits, totals.engagedMs, totals.writingShare], [2, 1, 15_000, 6 / 15])
      const top = (await (await fetch(`${t.url}/api/top?${q}&dim=page`)).json()) as { rows: unknown[] }
      assert.deepEqual(top.rows, [
        { value: '/a', pageviews: 2, engagedViews: 1, engagedMs: 10_000, writingShare: 0.6 },
        { value: '/b', pageviews: 1, engagedViews: 1, engagedMs: 5_000, writingShare: 0 },
      ])
      // filtered, from the page view rows: the same figures
      const chrome = (await (await fetch(`${t.url}/api/top?${q}&dim=page&page=/b`)).json()) as { rows: unknown[] }
      assert.deepEqual(chrome.rows, [{ value: '/b', pageviews: 1, engagedViews: 1, engagedMs: 5_000, writingShare: 0 }])
      const visit = (await (await fetch(`${t.url}/api/totals?${q}&page=/b`)).json()) as Record<string, unknown>
      assert.deepEqual([visit.visits, visit.engagedMs, visit.writingShare], [1, 15_000, 6 / 15])
      ws.close()
      other.close()
    } finally {
      await t.stop()
      mock.timers.reset()
    }
  })
})
