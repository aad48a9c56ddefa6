/**
 * Issue 15.3: tracked services on the hub's `/metrics`. A real tracker (bytes, rows, jobs, and
 * `t.http` on a real server with Express-shaped routes) feeds a real hub; the text is checked line by
 * line, by `promtool check metrics`, and by a real Prometheus server that scrapes the hub on loopback
 * and answers queries for the service's series. Skipped naming what is missing (promtool, Prometheus),
 * failing instead under LIVESTATS_REQUIRE_SERVICES=1.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startHub, type TestHub } from './helpers/hub'
import { PROMETHEUS_PATH, PROMTOOL_PATH, prometheusMissing, promtoolMissing } from './helpers/services'
import { freePort, until } from './tracker.fakehub'
import { tracker } from '../src/tracker/index'

const quiet = { warn() {} }

/** A server whose routes are named as Express names them; `/slow` answers after 40 ms with a 503. */
async function service(): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/'
    if (url.startsWith('/api/users/')) {
      Object.assign(req, { baseUrl: '/api', route: { path: '/users/:id' } })
      res.end('{}')
    } else if (url === '/slow') {
      Object.assign(req, { baseUrl: '', route: { path: '/slow' } })
      setTimeout(() => { res.statusCode = 503; res.end() }, 40)
    } else {
      res.statusCode = 404
      res.end()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

async function get(url: string): Promise<void> {
  await (await fetch(url)).arrayBuffer()
}

/** `name{labels} value` lines of a family, as a map from the label text to the value. */
function series(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(name.length, i), Number(line.slice(i + 1)))
  }
  return out
}

describe('tracked services on /metrics', () => {
  let t: TestHub
  let text = ''
  const app = `shop-${process.pid}`
  before(async () => {
    t = await startHub()
    const { server, url } = await service()
    const tr = tracker({ name: app, instance: 'web-1', hub: t.url, interval: 60_000, handleSignals: false }, quiet)
    tr.http(server)
    for (let i = 0; i < 6; i++) await get(`${url}/api/users/${i}`)
    await get(`${url}/slow`)
    await get(`${url}/wp-login.php?secret=1`)
    tr.bytes.sent(1500)
    tr.bytes.received(300)
    tr.database.read(42)
    tr.database.written(7)
    tr.job.start('resize').stop()
    tr.job.start('resize').stop(new Error('bad image'))
    tr.job.start('never-ends')
    tr.flush()
    await until(() => tr.stats().buffered === 0)
    text = await (await fetch(`${t.url}/metrics`)).text()
    await tr.close()
    server.close()
  })
  after(async () => { await t.stop() })

  it('counters, gauges and histograms per app and instance, in base units', () => {
    const l = `app="${app}",instance="web-1"`
    assert.equal(series(text, 'livestats_service_sent_bytes_total').get(`{${l}}`), 1500)
    assert.equal(series(text, 'livestats_service_received_bytes_total').get(`{${l}}`), 300)
    assert.equal(series(text, 'livestats_service_db_rows_read_total').get(`{${l}}`), 42)
    assert.equal(series(text, 'livestats_service_db_rows_written_total').get(`{${l}}`), 7)
    // the final sample of close() may have come after the one read here: running 1 either way
    assert.equal(series(text, 'livestats_service_jobs_running').get(`{${l}}`), 1)
    assert.ok((series(text, 'livestats_service_resident_memory_bytes').get(`{${l}}`) ?? 0) > 1e6)
    assert.ok((series(text, 'livestats_service_cpu_seconds_total').get(`{${l}}`) ?? 0) > 0)
    assert.ok(series(text, 'livestats_service_event_loop_lag_seconds').has(`{${l}}`))
    assert.equal(series(text, 'livestats_service_job_duration_seconds_count').get(`{${l},job_name="resize"}`), 2)
    assert.equal(series(text, 'livestats_service_job_duration_seconds_bucket').get(`{${l},job_name="resize",le="+Inf"}`), 2)
    assert.equal(series(text, 'livestats_service_jobs_failed_total').get(`{${l},job_name="resize"}`), 1)
    const req = series(text, 'livestats_service_http_requests_total')
    assert.equal(req.get(`{${l},method="GET",route="/api/users/:id",status_class="2xx"}`), 6)
    assert.equal(req.get(`{${l},method="GET",route="/api/users/:id",status_class="5xx"}`), 0)
    assert.equal(req.get(`{${l},method="GET",route="/slow",status_class="5xx"}`), 1)
    assert.equal(req.get(`{${l},method="GET",route="(unmatched)",status_class="4xx"}`), 1)
    assert.ok(!text.includes('wp-login'), 'a raw URL became a label')
    const dur = series(text, 'livestats_service_http_request_duration_seconds_bucket')
    // the 40 ms response is above the 0.025 s bound and within 0.05 s... or later on a loaded machine
    assert.equal(dur.get(`{${l},method="GET",route="/slow",le="0.025"}`), 0)
    assert.equal(dur.get(`{${l},method="GET",route="/slow",le="+Inf"}`), 1)
    assert.ok((series(text, 'livestats_service_http_request_duration_seconds_sum').get(`{${l},method="GET",route="/slow"}`) ?? 0) >= 0.035)
    assert.match(text, /# TYPE livestats_service_http_request_duration_seconds histogram\n/)
    assert.match(text, /# HELP livestats_service_http_requests_total .+\n# TYPE livestats_service_http_requests_total counter\n/)
    assert.equal(series(text, 'livestats_service_instances_omitted').get(''), 0)
  })

  it('promtool check metrics finds nothing to say about the whole /metrics', { skip: promtoolMissing() }, () => {
    const r = spawnSync(PROMTOOL_PATH, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '')
  })
})

describe('a real Prometheus scrapes the hub', { skip: prometheusMissing() }, () => {
  let t: TestHub
  let prom: ChildProcess | null = null
  let dir = ''
  let log = ''
  before(async () => { t = await startHub() })
  after(async () => {
    if (prom !== null && prom.exitCode === null) {
      const gone = new Promise((r) => prom?.once('exit', r))
      prom.kill('SIGTERM')
      await gone
    }
    await t.stop()
    if (dir !== '') rmSync(dir, { recursive: true, force: true })
  })

  it("queries the tracked service's HTTP and job series through Prometheus's HTTP API", async () => {
    const app = `scraped-${process.pid}`
    const { server, url } = await service()
    const tr = tracker({ name: app, instance: 'w1', hub: t.url, interval: 200, handleSignals: false }, quiet)
    tr.http(server)
    for (let i = 0; i < 5; i++) await get(`${url}/api/users/${i}`)
    tr.job.start('sync').stop()
    tr.flush()
    await until(() => tr.stats().buffered === 0)

    dir = mkdtempSync(join(tmpdir(), 'livestats-prom-'))
    const hub = new URL(t.url)
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: livestats',
      '    metrics_path: /metrics',
      // the hub exports other processes' series: their `instance` label is theirs, not the hub's (as for a Pushgateway)
      '    honor_labels: true',
      `    static_configs: [{ targets: ['${hub.host}'] }]`,
      '',
    ].join('\n'))
    const port = await freePort()
    prom = spawn(PROMETHEUS_PATH, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    prom.stderr?.on('data', (d: Buffer) => { log += d.toString() })
    const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`)
        const body = (await res.json()) as { status: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } }
        return body.status === 'success' ? body.data?.result ?? [] : []
      } catch {
        return [] // not listening yet
      }
    }
    const q = `livestats_service_http_requests_total{app="${app}",status_class="2xx"}`
    let result: Awaited<ReturnType<typeof query>> = []
    const deadline = Date.now() + 60_000
    while (result.length === 0 && Date.now() < deadline) {
      assert.equal(prom.exitCode, null, `prometheus exited: ${log}`)
      result = await query(q)
      if (result.length === 0) await new Promise((r) => setTimeout(r, 500))
    }
    assert.equal(result.length, 1, `no series for ${q} within 60 s; prometheus said: ${log}`)
    const [r] = result
    assert.deepEqual([r?.metric.instance, r?.metric.route, r?.metric.method, r?.metric.job, r?.value[1]], ['w1', '/api/users/:id', 'GET', 'livestats', '5'])
    const jobs = await query(`livestats_service_job_duration_seconds_count{app="${app}",job_name="sync"}`)
    assert.equal(jobs[0]?.value[1], '1')
    const up = await query(`up{job="livestats"}`)
    assert.equal(up[0]?.value[1], '1')
    await tr.close()
    server.close()
  })
})
