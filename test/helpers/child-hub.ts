/** Runs the real `livestats serve` command (bin/livestats.js on the built package) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'

export interface ChildHub {
  proc: ChildProcess
  url: string
  output: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function startChildHub(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildHub> {
  const bin = join(__dirname, '..', '..', 'bin', 'livestats.js')
  const proc = spawn(process.execPath, [bin, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout?.on('data', (d) => (out += String(d)))
  proc.stderr?.on('data', (d) => (out += String(d)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })))
  return new Promise((resolve, reject) => {
    // generous: on a loaded CI machine a cold start (tsx-free, but WAL recovery and the GeoIP file)
    // has taken over 15 s; a child that never gets ready is killed so the test runner can exit
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`hub did not start within 45 s:\n${out}`))
    }, 45_000)
    const check = () => {
      // the banner's Local line (when the Dashboard line names a public URL or another address) always works here
      const m = /Local:\s+(http:\/\/[^/\s]+)\//.exec(out) ?? /Dashboard:\s+(http:\/\/[^/\s]+)\//.exec(out)
      if (m?.[1] && out.includes('Snippet:')) {
        clearTimeout(timer)
        resolve({ proc, url: m[1], output: () => out, exited })
      }
    }
    proc.stdout?.on('data', check)
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`hub exited before ready:\n${out}`))
    })
  })
}
