/**
 * Cluster ingest (issue 14.6), side by side in one run, on real `livestats serve` processes:
 * WebSocket batches of 50 page views, acked after commit, into one hub on SQLite and into three hubs
 * on one PostgreSQL (with Redis presence), the connections spread over the nodes as a load balancer
 * would; rounds alternate between the sides. Hub CPU per event (all hub processes) and PostgreSQL's
 * CPU per event (every postgres process on the machine) come from /proc. Presence and fan-out across
 * nodes are measured in bench/cluster.ts.
 *
 *   node scripts/build.mjs && node --import tsx bench/cluster-ingest.ts [seconds=5] [--rounds=2]
 *
 * Needs PostgreSQL (LIVESTATS_TEST_POSTGRES, default postgres://postgres@127.0.0.1:5432/test) and
 * Redis (LIVESTATS_TEST_REDIS, default redis://127.0.0.1:6379); each run uses its own schema and key
 * prefix and removes them after.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import WebSocket from 'ws'
import pg from 'pg'
import { Redis } from 'ioredis'
import { pageviewFrames } from './lib/frames'

const args = process.argv.slice(2)
const SECONDS = Number(args.find((a) => !a.startsWith('--')) ?? 5)
const ROUNDS = Number(args.find((a) => a.startsWith('--rounds='))?.slice(9) ?? 2)
const PG = process.env.LIVESTATS_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'
const REDIS = process.env.LIVESTATS_TEST_REDIS ?? 'redis://127.0.0.1:6379'
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
const CONNS = 12
const WINDOW = 8
const BATCH = 50

interface Node { proc: ChildProcess; port: number; url: string }

function startNode(argv: string[], env: Record<string, string> = {}): Promise<Node> {
  const proc = spawn(process.execPath, [join(__dirname, '..', 'bin', 'livestats.js'), 'serve', '--host', '127.0.0.1', '--port', '0', '--geoip', 'off', ...argv],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  return new Promise((resolve, reject) => {
    const on = (d: Buffer): void => {
      out += String(d)
      const m = /Local:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(out) ?? /Dashboard:\s+http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)
      if (m?.[1] && out.includes('Snippet:')) resolve({ proc, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` })
    }
    proc.stdout?.on('data', on)
    proc.stderr?.on('data', (d) => (out += String(d)))
    proc.on('exit', (code) => reject(new Error(`hub exited (${code}):\n${out}`)))
  })
}

const TICK = 100
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(f[11]) + Number(f[12])) * 1000) / TICK
}
/** CPU of every PostgreSQL process (backends, WAL writer, checkpointer), ms. */
function postgresCpuMs(): number {
  let sum = 0
  for (const p of readdirProc()) {
    try {
      if (readFileSync(`/proc/${p}/comm`, 'utf8').trim().startsWith('postgres')) sum += cpuMs(p)
    } catch { /* gone */ }
  }
  return sum
}
function readdirProc(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
}

const frame = pageviewFrames('c', BATCH)

async function ingest(nodes: Node[], withPg: boolean): Promise<{ rate: number; hubCpuUs: number; pgCpuUs: number }> {
  let acked = 0
  let measuring = false
  const socks: WebSocket[] = []
  await Promise.all(Array.from({ length: CONNS }, (_, i) => new Promise<void>((resolve) => {
    const n = nodes[i % nodes.length] as Node
    const ws = new WebSocket(`ws://127.0.0.1:${n.port}/collect`, { headers: { 'user-agent': UA }, perMessageDeflate: false })
    socks.push(ws)
    ws.on('open', () => { for (let k = 0; k < WINDOW; k++) ws.send(frame()); resolve() })
    ws.on('message', () => { if (measuring) acked += BATCH; ws.send(frame()) })
  })))
  await new Promise((r) => setTimeout(r, 1000))
  measuring = true
  const cpu0 = nodes.reduce((s, n) => s + cpuMs(n.proc.pid as number), 0)
  const pg0 = withPg ? postgresCpuMs() : 0
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const rate = acked / ((performance.now() - t0) / 1000)
  const hubCpuUs = ((nodes.reduce((s, n) => s + cpuMs(n.proc.pid as number), 0) - cpu0) * 1000) / Math.max(1, acked)
  const pgCpuUs = withPg ? ((postgresCpuMs() - pg0) * 1000) / Math.max(1, acked) : 0
  for (const s of socks) s.terminate()
  await new Promise((r) => setTimeout(r, 500))
  return { rate, hubCpuUs, pgCpuUs }
}

async function main(): Promise<void> {
  const tag = randomBytes(4).toString('hex')
  const schema = `ls_bench_${tag}`
  const prefix = `lsb${tag}:`
  const dir = mkdtempSync(join(tmpdir(), 'ls-cluster-bench-'))
  const pgUrl = new URL(PG)
  pgUrl.searchParams.set('schema', schema)
  const clusterArgs = ['--store', pgUrl.toString(), '--redis', REDIS]
  const env = { LIVESTATS_REDIS_PREFIX: prefix }

  const single = await startNode(['--store', join(dir, 'hub.db')])
  const first = await startNode(clusterArgs, env)
  const cluster = [first, ...(await Promise.all([startNode(clusterArgs, env), startNode(clusterArgs, env)]))]
  console.log(`ingest: ${CONNS} WebSocket connections, ${WINDOW} frames of ${BATCH} page views in flight each, ${SECONDS} s per round`)
  for (let r = 0; r < ROUNDS; r++) {
    const a = await ingest([single], false)
    const b = await ingest(cluster, true)
    console.log(`round ${r + 1}: 1 hub on SQLite ${a.rate.toFixed(0)} ev/s (hub CPU ${a.hubCpuUs.toFixed(1)} µs/ev) | 3 hubs on PostgreSQL ${b.rate.toFixed(0)} ev/s (hubs ${b.hubCpuUs.toFixed(1)} µs/ev + PostgreSQL ${b.pgCpuUs.toFixed(1)} µs/ev) | ratio ${(b.rate / a.rate).toFixed(2)}`)
  }

  for (const n of [single, ...cluster]) n.proc.kill('SIGKILL')
  const c = new pg.Client({ connectionString: PG })
  await c.connect()
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await c.end()
  const rd = new Redis(REDIS)
  const keys = await rd.keys(`${prefix}*`)
  if (keys.length) await rd.del(...keys)
  rd.disconnect()
  rmSync(dir, { recursive: true, force: true })
}

void main().catch((e) => { console.error(e); process.exit(1) })
