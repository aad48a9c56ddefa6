/** Seed 000's `dashboard({ port, mongoUrl, urls })` with real trackers dialled over WebSocket. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dashboard } from '../src/dashboard'
import { tracker } from '../src/tracker'

async function until(what: string, fn: () => Promise<boolean> | boolean, ms = 8000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('dashboard(config) as seed 000 writes it', () => {
  it('warns once about mongoUrl, dials trackers, stores what they send, and redials a tracker that comes back', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-dash-'))
    const warnings: string[] = []
    const logger = { info() {}, warn: (m: string) => warnings.push(m), error() {} }
    const quiet = { info() {}, warn() {}, error() {}, debug() {} }
    const t1 = tracker({ port: 0, name: 'alpha', interval: 100 }, quiet)
    const port1 = (await t1.ready()).port
    const d = dashboard({ port: 0, mongoUrl: 'mongodb://yourUrl', urls: [`ws://127.0.0.1:${port1}`], store: join(dir, 'd.db') }, logger)
    try {
      const url = await d.ready
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/)
      assert.equal(warnings.filter((w) => w.includes('mongoUrl')).length, 1)
      t1.bytes.sent('héllo')
      t1.database.read([1, 2, 3])
      const job = t1.job.start('import')
      job.stop()
      await until('the tracker to be dialled', () => d.trackers()[0]?.connected === true)
      await until('bytes from alpha', async () => (await d.hub.store.countEvents('alpha')) >= 3)
      const feed = await d.hub.store.countEvents('alpha')
      assert.ok(feed >= 3)
      await t1.close()
      await until('the dialer to notice', () => d.trackers()[0]?.connected === false)
      const t2 = tracker({ port: port1 ?? 0, name: 'alpha', interval: 100 }, quiet)
      await until('the tracker to be redialled', () => d.trackers()[0]?.connected === true, 15_000)
      await t2.close()
    } finally {
      await d.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
