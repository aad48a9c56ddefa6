/** `npm run demo` starts a hub, two tracked services (one dials, one is dialled) and simulated visitors. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

describe('demo/demo.js', () => {
  it('runs: the site and both services report to the hub', { timeout: 40_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-demo-'))
    const port = 20_000 + Math.floor(Math.random() * 20_000)
    const proc = spawn(process.execPath, [join(__dirname, '..', 'demo', 'demo.js')], {
      env: { ...process.env, PORT: String(port), REPORTS_PORT: String(port + 1), LIVESTATS_DB: join(dir, 'demo.db') },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    proc.stdout.on('data', (d) => (out += String(d)))
    proc.stderr.on('data', (d) => (out += String(d)))
    try {
      let sites: string[] = []
      const end = Date.now() + 30_000
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 500))
        try {
          const r = (await (await fetch(`http://127.0.0.1:${port}/api/sites`)).json()) as { sites: { site: string }[] }
          sites = r.sites.map((s) => s.site).sort()
          if (sites.length === 3) break
        } catch { /* not up yet */ }
      }
      assert.deepEqual(sites, ['demo.livestats.test', 'orders', 'reports'], out)
      assert.match(out, /Dashboard: http:\/\/127\.0\.0\.1:\d+\//)
    } finally {
      proc.kill('SIGTERM')
      await new Promise((r) => proc.once('exit', r))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
