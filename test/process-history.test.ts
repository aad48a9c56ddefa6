/** The Services history (per-process minute series) is written to the store and read back after a restart. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHub } from '../src/hub/hub'
import { tracker } from '../src/tracker'
import { quiet } from './helpers/hub'
import { until } from './helpers/wait'

interface Series { processes: { app: string; points: { sentPerSec: number; jobs: number; failed: number }[] }[] }

async function sentBytes(url: string): Promise<{ sent: number; jobs: number; failed: number }> {
  const r = (await (await fetch(`${url}/api/processes?range=1h&app=hist-app`)).json()) as Series
  let sent = 0, jobs = 0, failed = 0
  for (const p of r.processes) for (const pt of p.points) {
    // points carry per-second rates over the minute (or over the part of it that has passed)
    sent += pt.sentPerSec
    jobs += pt.jobs
    failed += pt.failed
  }
  return { sent, jobs, failed }
}

describe('process history across a hub restart', () => {
  it('keeps the minute series of a tracked process', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-proc-'))
    const db = join(dir, 'p.db')
    try {
      const hub1 = createHub({ port: 0, store: db, logger: quiet })
      const { url } = await hub1.listen()
      const t = tracker({ name: 'hist-app', hub: url, interval: 100 }, quiet)
      t.bytes.sent(Buffer.alloc(6000))
      const job = t.job.start('import')
      job.stop(new Error('boom'))
      t.job.start('export').stop()
      await until('the hub to fold the flush', async () => (await sentBytes(url)).jobs === 2, 5000)
      const before = await sentBytes(url)
      assert.equal(before.failed, 1)
      await t.close()
      await hub1.close()

      const hub2 = createHub({ port: 0, store: db, logger: quiet })
      const second = await hub2.listen()
      const after = await sentBytes(second.url)
      assert.equal(after.jobs, 2, 'jobs of the minute came back from the store')
      assert.equal(after.failed, 1)
      assert.ok(after.sent > 0, 'bytes of the minute came back from the store')
      await hub2.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
