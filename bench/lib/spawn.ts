/** Starts a bench server child (bench/lib/servers.ts) and reads its port; `stop()` ends it. */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export interface BenchServer {
  port: number
  proc: ChildProcess
  /** Resident set size of the server process, bytes (from /proc). */
  rss(): number
  /** CPU time used by the server so far, ms (user + system, from /proc). */
  cpuMs(): number
  /** CPU time of the server's main thread (the event loop) so far, ms. */
  mainCpuMs(): number
  stop(): Promise<void>
}

/**
 * @param servers the servers script to run: another checkout's `bench/lib/servers.ts` runs that
 *   checkout's hub (a before/after comparison in one run). @default this checkout's
 */
export function startServer(kind: string, extraArgs: string[] = [], servers = join(__dirname, 'servers.ts')): Promise<BenchServer> {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...extraArgs, servers, kind], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (d) => {
      out += String(d)
      const m = /READY (\d+)/.exec(out)
      if (m) resolve(handle(proc, Number(m[1])))
    })
    proc.on('exit', (code) => reject(new Error(`${kind} exited early (${code})`)))
  })
}

import { readFileSync } from 'node:fs'

const TICK = 100 // USER_HZ on Linux

/** utime + stime of a /proc stat file, ms. */
function statMs(file: string): number {
  const f = readFileSync(file, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK
}

function handle(proc: ChildProcess, port: number): BenchServer {
  return {
    port,
    proc,
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))
      return m ? Number(m[1]) * 1024 : 0
    },
    cpuMs() {
      return statMs(`/proc/${proc.pid}/stat`)
    },
    mainCpuMs() {
      return statMs(`/proc/${proc.pid}/task/${proc.pid}/stat`)
    },
    stop() {
      return new Promise((resolve) => {
        proc.removeAllListeners('exit')
        proc.once('exit', () => resolve())
        proc.kill('SIGTERM')
      })
    },
  }
}
