/**
 * `npm run demo` (issue 11 items 10 and 11): it starts a hub, two tracked services (one dials, one
 * is dialled) and simulated visitors; takes `serve`'s flags and variables; shows a believable site
 * (distinct titles, a spread over pages that Pages now shares with the feed, referrers, campaigns,
 * countries, a job that fails now and then for a plausible reason); a taken port is one line; and
 * Ctrl+C (SIGINT to the whole process group, as a terminal sends it) stops everything at once.
 */
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { until } from './helpers/wait'

const DEMO = join(__dirname, '..', 'demo', 'demo.js')
const SITE = 'paperlantern.example'
const dir = mkdtempSync(join(tmpdir(), 'livestats-demo-'))

interface Run { proc: ChildProcess; out: () => string; exited: Promise<number | null> }

function run(args: string[], env: Record<string, string> = {}): Run {
  // its own process group, so the test can send SIGINT to all of it as Ctrl+C in a terminal does
  const proc = spawn(process.execPath, [DEMO, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let out = ''
  proc.stdout?.on('data', (d) => (out += String(d)))
  proc.stderr?.on('data', (d) => (out += String(d)))
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)))
  return { proc, out: () => out, exited }
}

/** Processes of process group `pgid` other than its leader (Linux /proc): they outlive the leader if left running. */
function groupOf(pgid: number): number[] {
  const members: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === pgid) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // fields after "(comm)": state, ppid, pgrp
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) === pgid) members.push(Number(name))
    } catch { /* gone meanwhile */ }
  }
  return members
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function freePort(): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as net.AddressInfo).port
  await new Promise((r) => s.close(r))
  return port
}

async function get<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T
}

describe('npm run demo', () => {
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('10, 11. takes --port, shows a believable site and services, and Ctrl+C stops every process at once', { timeout: 90_000 }, async () => {
    const port = await freePort()
    const demo = run(['--port', String(port), '--db', join(dir, 'demo.db')])
    const base = `http://127.0.0.1:${port}`
    try {
      await until('the demo banner', () => /Press Ctrl\+C to stop/.test(demo.out()), 30_000)
      assert.match(demo.out(), new RegExp(`Dashboard: {2}http://127\\.0\\.0\\.1:${port}/`))
      const sites = await until('the site and both services', async () => {
        const r = await get<{ sites: { site: string }[] }>(`${base}/api/sites`)
        const names = r.sites.map((s) => s.site).sort()
        return names.length === 3 ? names : null
      }, 20_000)
      assert.deepEqual(sites, ['orders', SITE, 'reports'].sort())

      // a few rounds of people moving around
      await until('two dozen people on the site', async () => (await get<{ total: number }>(`${base}/api/live?site=${SITE}`)).total >= 18, 20_000)
      await new Promise((r) => setTimeout(r, 8000))
      const live = await get<{ total: number; reading: number; writing: number; idle: number }>(`${base}/api/live?site=${SITE}`)
      assert.equal(live.total, live.reading + live.writing + live.idle)
      const { pages } = await get<{ pages: { path: string; total: number }[] }>(`${base}/api/live/pages?site=${SITE}`)
      const { rows: feed } = await get<{ rows: { path: string | null; title: string | null }[] }>(`${base}/api/feed?site=${SITE}&limit=200`)
      // spread over pages: several pages, none holding most people; every page someone is on now is in the feed
      assert.ok(pages.length >= 5, `people on ${pages.length} pages: ${JSON.stringify(pages)}`)
      const top = Math.max(...pages.map((p) => p.total))
      assert.ok(top <= 0.5 * live.total, `at most half on one page: ${top} of ${live.total}`)
      const fed = new Set(feed.map((r) => r.path))
      for (const p of pages) assert.ok(fed.has(p.path), `${p.path} (Pages now) is in the feed`)
      // distinct titles, one per page
      const titles = new Map<string, string>()
      for (const r of feed) if (r.path !== null && r.title !== null) titles.set(r.path, r.title)
      assert.ok(new Set(titles.values()).size >= 6, `titles: ${[...titles.values()].join(' | ')}`)
      assert.equal(new Set(titles.values()).size, titles.size, 'each page its own title')
      assert.ok(![...titles.values()].some((t) => /demo page/i.test(t)))
      // referrers, campaigns, countries, custom events
      const top24 = async (dim: string): Promise<string[]> => (await get<{ rows: { value: string }[] }>(`${base}/api/top?site=${SITE}&range=1h&dim=${dim}&limit=50`)).rows.map((r) => r.value)
      assert.ok((await top24('referrer')).filter((v) => v !== '').length >= 3, `referrers: ${await top24('referrer')}`)
      assert.ok((await top24('utm_source')).filter((v) => v !== '').length >= 1, `campaign sources: ${await top24('utm_source')}`)
      const countries = (await top24('country')).filter((v) => v !== '')
      assert.ok(countries.length >= 4, `countries: ${countries}`)
      // services: both connected, jobs running, failures rare and with a plausible reason
      const procs = await until('both services with jobs', async () => {
        const r = await get<{ processes: { app: string; jobs: { name: string; count: number; failed: number; lastError: string | null }[] }[] }>(`${base}/api/processes?range=1h`)
        return r.processes.length >= 2 && r.processes.every((p) => p.jobs.length >= 2) ? r.processes : null
      }, 20_000)
      assert.deepEqual(procs.map((p) => p.app).sort(), ['orders', 'reports'])
      const jobs = procs.flatMap((p) => p.jobs)
      const count = jobs.reduce((n, j) => n + j.count, 0)
      const failed = jobs.reduce((n, j) => n + j.failed, 0)
      assert.ok(failed <= 0.1 * count, `failures are rare: ${failed} of ${count}`)
      for (const j of jobs) if (j.lastError !== null) assert.doesNotMatch(j.lastError, /card declined/i)

      // Ctrl+C: SIGINT to the process group; every process of the demo is gone within 3 s
      const pid = demo.proc.pid as number
      const kids = groupOf(pid)
      assert.equal(kids.length, 2, `two service processes: ${kids}`)
      const pressed = Date.now()
      process.kill(-pid, 'SIGINT')
      assert.equal(await demo.exited, 0, demo.out())
      await until('the services to stop', () => kids.every((k) => !alive(k)) && groupOf(pid).length === 0, 3000)
      const took = Date.now() - pressed
      assert.ok(took < 3000, `stopped in ${took} ms`)
      await assert.rejects(fetch(`${base}/healthz`), 'the hub is gone')
    } finally {
      if (demo.proc.exitCode === null) process.kill(-(demo.proc.pid as number), 'SIGKILL')
    }
  })

  it('10. takes LIVESTATS_PORT, and a taken port is one clear line, exit 1, nothing left running', { timeout: 60_000 }, async () => {
    const blocker = net.createServer()
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const demo = run([], { LIVESTATS_PORT: String(port), LIVESTATS_DB: join(dir, 'taken.db') })
      const code = await demo.exited
      assert.equal(code, 1, demo.out())
      const lines = demo.out().trim().split('\n')
      assert.equal(lines.length, 1, demo.out())
      assert.match(lines[0] ?? '', new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port N or LIVESTATS_PORT`))
      assert.doesNotMatch(demo.out(), /EADDRINUSE|\n\s+at /)
      assert.deepEqual(groupOf(demo.proc.pid as number), [], 'no service left running')
    } finally {
      blocker.close()
    }
  })
})
