/**
 * Tracked services on the hub's `/metrics` (issue 15.3): per app and instance, CPU seconds, memory,
 * event-loop lag, bytes and DB rows as counters, running jobs, job durations and HTTP responses as
 * histograms, in Prometheus' base units (seconds, bytes).
 *
 * Counters are the hub's running totals since it started (`Proc.totals`): a hub restart is a counter
 * reset, which `rate()` handles. CPU seconds are the tracker's own total (`process.cpuTime`), sent by
 * trackers from this version on.
 *
 * Label cardinality is bounded three ways: only processes heard from in the last `METRICS_FRESH_MS`,
 * at most `METRICS_MAX_PROCESSES` of them (the most recently heard; the rest are counted in
 * `livestats_service_instances_omitted`), and per process the caps of the fold: `limits.maxJobNames`
 * job names and `limits.maxHttpRoutes` named routes (plus `(unmatched)` and `(other)` of each method),
 * later ones counted as `(other)`. Status classes are four, methods eight.
 *
 * `instance` is the tracked process's, not the hub's: scrape the hub with `honor_labels: true` (as
 * for a Pushgateway), else Prometheus renames it `exported_instance`. Job names are `job_name`, so
 * they never clash with the scrape job's `job` label.
 */
import { JOB_BUCKETS_MS, STATUS_CLASSES } from '../../protocol/limits'
import type { Gauge } from '../metrics'
import type { Proc } from './buckets'

/** Processes silent for longer than this leave `/metrics` (Prometheus then marks their series stale). */
export const METRICS_FRESH_MS = 5 * 60_000
/** Most processes on `/metrics`, the most recently heard first. */
export const METRICS_MAX_PROCESSES = 50

const LE = [...JOB_BUCKETS_MS.map((b) => String(b / 1000)), '+Inf']

type Labels = Record<string, string>
type Sample = Gauge['samples'][number]

/** `_bucket`, `_sum` and `_count` samples of a histogram kept in ms buckets (`JOB_BUCKETS_MS` + open end). */
function histogram(out: Sample[], labels: Labels, hist: readonly number[], sumMs: number, count: number): void {
  let cum = 0
  for (let i = 0; i < LE.length; i++) {
    cum += hist[i] ?? 0
    out.push({ suffix: '_bucket', labels: { ...labels, le: LE[i] as string }, value: cum })
  }
  out.push({ suffix: '_sum', labels, value: sumMs / 1000 })
  out.push({ suffix: '_count', labels, value: count })
}

/** The `/metrics` families of the tracked processes in `procs` (most recently seen first). */
export function serviceGauges(procs: readonly Proc[]): Gauge[] {
  const shown = procs.slice(0, METRICS_MAX_PROCESSES)
  const g = (name: string, type: Gauge['type'], help: string, samples: Sample[]): Gauge => ({ name, type, help, samples })
  const cpu: Sample[] = [], rss: Sample[] = [], heapUsed: Sample[] = [], heapTotal: Sample[] = [], lag: Sample[] = []
  const sent: Sample[] = [], received: Sample[] = [], read: Sample[] = [], written: Sample[] = [], running: Sample[] = []
  const jobDur: Sample[] = [], jobFailed: Sample[] = [], httpReq: Sample[] = [], httpDur: Sample[] = []
  for (const p of shown) {
    const l = { app: p.app, instance: p.instance }
    const t = p.totals
    sent.push({ labels: l, value: t.sent })
    received.push({ labels: l, value: t.received })
    read.push({ labels: l, value: t.read })
    written.push({ labels: l, value: t.written })
    const s = p.last
    if (s !== null) {
      if (s.cpuTime !== null) cpu.push({ labels: l, value: s.cpuTime })
      rss.push({ labels: l, value: s.rss })
      heapUsed.push({ labels: l, value: s.heapUsed })
      heapTotal.push({ labels: l, value: s.heapTotal })
      lag.push({ labels: l, value: s.lag / 1000 })
      running.push({ labels: l, value: s.runningCount })
    }
    for (const [job, j] of t.jobs) {
      const jl = { ...l, job_name: job }
      histogram(jobDur, jl, j.hist, j.sum, j.count)
      jobFailed.push({ labels: jl, value: j.failed })
    }
    for (const r of t.http.values()) {
      for (let i = 0; i < STATUS_CLASSES.length; i++) {
        httpReq.push({ labels: { ...l, method: r.method, route: r.route, status_class: STATUS_CLASSES[i] as string }, value: r.status[i] ?? 0 })
      }
      histogram(httpDur, { ...l, method: r.method, route: r.route }, r.hist, r.sum, r.requests)
    }
  }
  return [
    g('livestats_service_cpu_seconds_total', 'counter', 'CPU time (user + system) a tracked process used since it started, as its tracker reports it.', cpu),
    g('livestats_service_resident_memory_bytes', 'gauge', 'Resident set size of a tracked process at its latest sample.', rss),
    g('livestats_service_heap_used_bytes', 'gauge', 'V8 heap used by a tracked process at its latest sample.', heapUsed),
    g('livestats_service_heap_total_bytes', 'gauge', 'V8 heap allocated by a tracked process at its latest sample.', heapTotal),
    g('livestats_service_event_loop_lag_seconds', 'gauge', 'Event-loop delay p99 beyond the sampler period over the tracked process\'s latest interval.', lag),
    g('livestats_service_sent_bytes_total', 'counter', 'Bytes a tracked process counted as sent (t.bytes.sent), since the hub started.', sent),
    g('livestats_service_received_bytes_total', 'counter', 'Bytes a tracked process counted as received (t.bytes.received), since the hub started.', received),
    g('livestats_service_db_rows_read_total', 'counter', 'Database rows a tracked process counted as read, since the hub started.', read),
    g('livestats_service_db_rows_written_total', 'counter', 'Database rows a tracked process counted as written, since the hub started.', written),
    g('livestats_service_jobs_running', 'gauge', 'Jobs started and not stopped in a tracked process.', running),
    g('livestats_service_job_duration_seconds', 'histogram', 'Durations of finished jobs per job name (later names past limits.maxJobNames as "(other)"), since the hub started.', jobDur),
    g('livestats_service_jobs_failed_total', 'counter', 'Jobs stopped with an error, per job name, since the hub started.', jobFailed),
    g('livestats_service_http_requests_total', 'counter', 'HTTP responses of a tracked server (t.http) per method, route and status class, since the hub started.', httpReq),
    g('livestats_service_http_request_duration_seconds', 'histogram', 'HTTP response times of a tracked server per method and route, since the hub started.', httpDur),
    g('livestats_service_instances_omitted', 'gauge', `Tracked processes heard from in the last ${METRICS_FRESH_MS / 60_000} minutes but left off /metrics past the cap of ${METRICS_MAX_PROCESSES}.`,
      [{ value: Math.max(0, procs.length - shown.length) }]),
  ]
}
