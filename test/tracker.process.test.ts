import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { FakeHub, freePort, until } from './tracker.fakehub'

const ENTRY = path.resolve(__dirname, '../src/tracker/index.ts')
const dir = mkdtempSync(path.join(os.tmpdir(), 'livestats-tracker-'))

interface Run {
  code: number | null
  signal: NodeJS.Signals | null
  out: string
  /** From the child's first line of output (its startup excluded) to its exit. */
  ms: number
}

/** Runs `body` in a child Node process with `tracker` imported; resolves when it exits. */
function child(name: string, body: string, onStdout?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<Run> {
  const file = path.join(dir, `${name}.mjs`)
  writeFileSync(file, `import { tracker } from ${JSON.stringify(ENTRY)}\n${body}\n`)
  let t0 = 0
  const p = spawn(process.execPath, ['--import', 'tsx', file], { cwd: path.resolve(__dirname, '..') })
  let out = ''
  p.stdout.on('data', (d: Buffer) => {
    if (t0 === 0) t0 = Date.now()
    out += String(d)
    for (const line of String(d).split('\n')) if (line) onStdout?.(line, (s) => p.kill(s))
  })
  p.stderr.on('data', (d: Buffer) => (out += String(d)))
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000)
  return new Promise((resolve) => p.on('exit', (code, signal) => {
    clearTimeout(timer)
    resolve({ code, signal, out, ms: Date.now() - t0 })
  }))
}

describe('tracker and the host process', () => {
  it('never keeps the process alive: a dead hub and an open port server, and it still exits', async () => {
    const port = await freePort()
    const r = await child('alive', `
      const t = tracker({ name: 'alive', hub: 'ws://127.0.0.1:${port}', port: 0, host: '127.0.0.1', interval: 50 }, { warn() {} })
      t.bytes.sent('x'); t.job.start('never-stopped')
      await t.ready()
      console.log('started')`)
    assert.equal(r.code, 0, r.out)
    assert.match(r.out, /started/)
    assert.ok(r.ms < 2000, `exited ${r.ms} ms after its last line`)
  })

  it('flushes at beforeExit when the script ends by itself', async () => {
    const hub = await new FakeHub().start()
    const r = await child('exit', `
      const t = tracker({ name: 'short-job', hub: '${hub.url}', interval: 60000 })
      t.database.written([1, 2, 3])
      t.job.start('migrate', Date.now() - 1500).stop()`)
    assert.equal(r.code, 0, r.out)
    assert.equal(hub.ofType('db')[0]?.written, 3)
    assert.equal(hub.ofType('job')[0]?.name, 'migrate')
    assert.ok((hub.ofType('job')[0]?.sum ?? 0) >= 1500)
    await hub.stop()
  })

  it('on SIGTERM with no app listener: flushes, then dies by SIGTERM as Node would', async () => {
    const hub = await new FakeHub().start()
    const r = await child('term', `
      const t = tracker({ name: 'term', hub: '${hub.url}', interval: 60000 })
      setInterval(() => {}, 1000) // a server that would run forever
      const wait = setInterval(() => { if (t.stats().hub === 'open') { clearInterval(wait); t.bytes.sent(42); console.log('ready') } }, 5)`,
      (line, kill) => { if (line === 'ready') kill('SIGTERM') })
    assert.equal(r.signal, 'SIGTERM', r.out)
    assert.equal(hub.ofType('bytes')[0]?.sent, 42)
    await hub.stop()
  })

  it("on SIGTERM with the app's own listener: flushes and leaves the exit to the app", async () => {
    const hub = await new FakeHub().start()
    const r = await child('term-app', `
      const t = tracker({ name: 'term-app', hub: '${hub.url}', interval: 60000 })
      process.on('SIGTERM', () => { console.log('app handler'); setTimeout(() => { console.log('app exits'); process.exit(7) }, 300) })
      setInterval(() => {}, 1000)
      const wait = setInterval(() => { if (t.stats().hub === 'open') { clearInterval(wait); t.job.start('req').stop(); console.log('ready') } }, 5)`,
      (line, kill) => { if (line === 'ready') kill('SIGTERM') })
    assert.equal(r.code, 7, r.out)
    assert.match(r.out, /app handler[\s\S]*app exits/)
    await until(() => hub.ofType('job').length === 1)
    await hub.stop()
  })
})
