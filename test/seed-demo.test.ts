/**
 * Issue 9.7: the original package's demo (seed 000) runs on Livestats as it is written:
 * test/fixtures/seed-000/demo.js, in a child process, against the built package. The test finds,
 * through the hub's own API, the app, its job (running, then finished) and the counts the demo
 * reported, and `GET /ping` answers `pong` as the original dashboard did.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { dashboard as liveDashboard } from './helpers/live'
import { quiet, startHub } from './helpers/hub'
import { until } from './helpers/wait'
import { dashboard } from '../src/dashboard'
import { tracker } from '../src/tracker'
import type { ProcessSeries } from '../src/hub/api/process'
import type { ServerMessage } from '../src/hub/live/protocol'
import type { ProcessView } from '../src/hub/presence/types'

/** A port free now (the demo takes fixed ports, as the seed's does). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

/** Totals over a series' minutes: each point is a rate over the part of its minute that passed by `to`. */
function totals(p: ProcessSeries, to: number): { sent: number; received: number; read: number; written: number } {
  const sum = { sent: 0, received: 0, read: 0, written: 0 }
  for (const pt of p.points) {
    const secs = Math.max(1, Math.min(60_000, to - pt.t) / 1000)
    sum.sent += pt.sentPerSec * secs
    sum.received += pt.receivedPerSec * secs
    sum.read += pt.readPerSec * secs
    sum.written += pt.writtenPerSec * secs
  }
  return { sent: Math.round(sum.sent), received: Math.round(sum.received), read: Math.round(sum.read), written: Math.round(sum.written) }
}

describe("seed 000's demo.js", () => {
  it('runs as written: isConnected() turns true, and the app, its job and the counts reach the hub', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-seed-demo-'))
    const port = await freePort()
    const trackerPort = await freePort()
    const proc = spawn(process.execPath, [join(__dirname, 'fixtures', 'seed-000', 'demo.js')], {
      cwd: dir, // the dashboard's default store, ./livestats.db, lands here
      env: { ...process.env, PORT: String(port), TRACKER_PORT: String(trackerPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    proc.stdout.on('data', (d) => (out += String(d)))
    proc.stderr.on('data', (d) => (out += String(d)))
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    const base = `http://127.0.0.1:${port}`
    try {
      // GET /ping answers pong, as the original dashboard did
      const ping = await until('the dashboard to answer /ping', async () => {
        try {
          const r = await fetch(`${base}/ping`)
          return r.status === 200 ? { type: r.headers.get('content-type'), body: await r.text() } : null
        } catch {
          return null
        }
      }, 20_000)
      assert.equal(ping.body, 'pong')
      assert.match(ping.type ?? '', /^text\/plain/)

      // the demo polls isConnected() until the dashboard has dialled its tracker, then sends
      await until('the demo to see isConnected() true', () => out.includes('demo: connected'), 20_000)
      assert.doesNotMatch(out, /TypeError|is not a function/)

      // while its job runs, the live view lists it under the app
      const live = await liveDashboard(port, '?site=test')
      try {
        const running = (m: ServerMessage): ProcessView | undefined => {
          const list = 'processes' in m ? m.processes : undefined
          return list?.find((p) => p.app === 'test' && p.running.some((j) => j.name === 'demo job'))
        }
        const m = await live.waitFor((msg) => running(msg) !== undefined, 10_000)
        const view = running(m) as ProcessView
        assert.equal(view.runningCount, 1)
      } finally {
        live.close()
      }

      // ten seconds later the job is finished, and /api/processes has it with the demo's counts
      const series = await until('the finished job in /api/processes', async () => {
        const r = (await (await fetch(`${base}/api/processes?range=1h&app=test`)).json()) as { to: number; processes: ProcessSeries[] }
        const p = r.processes[0]
        return p !== undefined && p.jobs.some((j) => j.name === 'demo job' && j.count === 1) ? { p, to: r.to } : null
      }, 25_000)
      assert.ok(out.includes('demo: job stopped'), out)
      const job = series.p.jobs.find((j) => j.name === 'demo job')
      assert.equal(job?.failed, 0)
      assert.ok((job?.max ?? 0) >= 9_000 && (job?.max ?? 0) <= 15_000, `the job ran about ten seconds: ${job?.max} ms`)
      // bytes.sent({ p: 'p' }) counts the JSON of the object: {"p":"p"} is 9 bytes
      assert.deepEqual(totals(series.p, series.to), { sent: 9, received: 9, read: 20, written: 25 })
      assert.equal(series.p.app, 'test')

      // the app is one of the hub's sites, and its events are stored
      const sites = (await (await fetch(`${base}/api/sites`)).json()) as { sites: { site: string }[] }
      assert.ok(sites.sites.some((s) => s.site === 'test'), JSON.stringify(sites))
      assert.match(out, /mongoUrl is ignored/)
    } finally {
      proc.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('isConnected(), GET /ping and bytes of an object', () => {
  const base = { interval: 60_000, handleSignals: false }

  it('isConnected() follows the hub link: false before it opens and after the hub is gone', async () => {
    const t = await startHub()
    const tr = tracker({ ...base, name: 'conn', hub: t.url }, { warn() {} })
    try {
      assert.equal(tr.isConnected(), false, 'not yet dialled')
      await until('the hub link', () => tr.isConnected(), 5000)
      await t.stop()
      await until('the link to drop', () => !tr.isConnected(), 5000)
    } finally {
      await tr.close({ timeout: 100 })
    }
  })

  it('isConnected() follows dashboards dialling the port: true while one is connected', async () => {
    const tr = tracker({ ...base, name: 'dialled', port: 0, host: '127.0.0.1' }, { warn() {} })
    const { port } = await tr.ready()
    assert.equal(tr.isConnected(), false, 'a server with no dashboard')
    const dir = mkdtempSync(join(tmpdir(), 'livestats-conn-'))
    const d = dashboard({ port: 0, host: '127.0.0.1', store: join(dir, 'd.db'), urls: [`ws://127.0.0.1:${port}`] }, quiet)
    try {
      await d.ready
      await until('the dashboard to dial', () => tr.isConnected(), 10_000)
      await d.close()
      await until('the dashboard to be gone', () => !tr.isConnected(), 5000)
    } finally {
      await d.close()
      await tr.close({ timeout: 100 })
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('an inert tracker (bad config) answers false, never throws', () => {
    const tr = tracker({ name: 'x', port: 'not a port' as unknown as number, handleSignals: false }, { warn() {} })
    assert.equal(typeof tr.isConnected(), 'boolean')
  })

  it('GET /ping answers pong without the token on a hub that guards reads', async () => {
    const t = await startHub({ auth: 'on' })
    try {
      const r = await fetch(`${t.url}/ping`)
      assert.equal(r.status, 200)
      assert.equal(await r.text(), 'pong')
      assert.equal((await fetch(`${t.url}/api/sites`)).status, 401)
    } finally {
      await t.stop()
    }
  })

  it('bytes.sent counts an object or an array by its JSON, the rest as documented', async () => {
    const t = await startHub()
    const tr = tracker({ ...base, name: 'objects', hub: t.url }, { warn() {} })
    try {
      const cyclic: Record<string, unknown> = {}
      cyclic.self = cyclic
      tr.bytes.sent({ p: 'p' }) // {"p":"p"}: 9
      tr.bytes.sent([1, 2]) // [1,2]: 5
      tr.bytes.sent({ é: 'ü' }) // {"é":"ü"}: 11 UTF-8 bytes
      tr.bytes.sent(cyclic) // not JSON: 0
      tr.bytes.received({ toString: () => 'abc' }) // its own toString: 3
      tr.flush()
      assert.deepEqual(await tr.close(), { delivered: true, pending: 0 })
      const db = new Database(join(t.dir, 'hub.db'), { readonly: true })
      const row = db.prepare("SELECT data FROM events WHERE type = 'bytes' AND site = 'objects'").get() as { data: string }
      db.close()
      const data = JSON.parse(row.data) as { sent: number; received: number }
      assert.deepEqual([data.sent, data.received], [9 + 5 + 11, 3])
    } finally {
      await t.stop()
    }
  })
})
