/**
 * Idle hub: time from spawn to "ready" and RSS once ready, side by side with a bare node:http
 * server started the same way (the floor any Node server pays).
 * Usage: node --import tsx bench/idle.ts [runs=5]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const RUNS = Number(process.argv[2] ?? 5)
const root = join(__dirname, '..')

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

function measure(args: string[], ready: RegExp): Promise<{ ms: number; rss: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    const p = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    let seen = false
    p.stdout.on('data', (d) => {
      out += String(d)
      if (seen || !ready.test(out)) return
      seen = true
      const ms = performance.now() - t0
      // let the start-up garbage settle before reading RSS
      setTimeout(() => {
        const r = rss(p.pid as number)
        p.kill('SIGTERM')
        resolve({ ms, rss: r })
      }, 1000)
    })
    p.on('error', reject)
  })
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-idle-'))
  const hub: { ms: number; rss: number }[] = []
  const bare: { ms: number; rss: number }[] = []
  for (let i = 0; i < RUNS; i++) {
    hub.push(await measure(['bin/livestats.js', 'serve', '--port', '0', '--db', join(dir, `idle${i}.db`)], /Snippet:/))
    bare.push(await measure(['-e', "require('http').createServer((q,s)=>s.end()).listen(0,()=>console.log('READY'))"], /READY/))
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const out = {
    date: new Date().toISOString(),
    hubStartMs: Math.round(med(hub.map((x) => x.ms))),
    bareStartMs: Math.round(med(bare.map((x) => x.ms))),
    hubRssMB: +(med(hub.map((x) => x.rss)) / 1048576).toFixed(1),
    bareRssMB: +(med(bare.map((x) => x.rss)) / 1048576).toFixed(1),
  }
  console.log(JSON.stringify(out))
}
void main()
