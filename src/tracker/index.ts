/**
 * `tracker(config [, logger])`: seed 000's API for Node processes. Calls update in-process
 * aggregates only (nanoseconds); a timer flushes them as protocol events to the hub and to
 * dashboards that dial the tracker. Nothing here throws into the host application.
 *
 * Imports nothing from the hub, and from the protocol only what has no runtime dependency.
 */
import { settings } from './config'
import { TrackerCore } from './core'
import { NOOP_JOB, RunningJob } from './jobs'
import { byteCount, rowCount } from './inputs'
import { attachHttp } from './http'
import { Warner } from './warn'
import type { CloseResult, Tracker, TrackerConfig, TrackerJob, TrackerLogger } from './types'

export type { HttpOptions } from './http'
export { koaRoutes, ROUTE } from './http'
export type { CloseResult, Tracker, TrackerConfig, TrackerJob, TrackerLogger, TrackerStats } from './types'
export { percentile } from '../protocol/histogram'

/**
 * Starts tracking this Node process.
 * @param config `name` of the app, and `port` (dashboards dial it) and/or `hub` (it dials the hub)
 * @param logger where warnings go @default console
 * @example
 * const { tracker } = require('livestats')
 * const t = tracker({ port: 3001, name: 'test' })
 * t.bytes.sent(body)
 * const job1 = t.job.start('jobName')
 * // ... work ...
 * job1.stop()
 */
export function tracker(config?: TrackerConfig, logger: TrackerLogger = console): Tracker {
  const warn = new Warner(validLogger(logger))
  let core: TrackerCore
  try {
    core = new TrackerCore(settings(config, warn), warn)
  } catch (e) {
    warn.once('internal', `tracker could not start (${String(e)}); calls are ignored`)
    return inert()
  }
  const { counters: c, jobs, running } = core
  const internal = (where: string, e: unknown) => warn.once('internal', `internal error in ${where}: ${String(e)}`)
  const clock = running.now

  return {
    bytes: {
      sent(data) {
        try { c.sent += byteCount(data, warn) } catch (e) { internal('bytes.sent', e) }
      },
      received(data) {
        try { c.received += byteCount(data, warn) } catch (e) { internal('bytes.received', e) }
      },
    },
    database: {
      read(data) {
        try { c.read += rowCount(data, warn) } catch (e) { internal('database.read', e) }
      },
      written(data) {
        try { c.written += rowCount(data, warn) } catch (e) { internal('database.written', e) }
      },
    },
    job: {
      start(jobName, start) {
        try {
          let agg = typeof jobName === 'string' ? jobs.byName.get(jobName) : undefined
          if (agg === undefined) agg = jobs.resolve(jobName)
          let t0: number
          if (start === undefined) t0 = clock()
          else if (typeof start === 'number' && Number.isFinite(start)) t0 = start - (Date.now() - clock())
          else {
            warn.once('job-start', `job.start() takes a start time in ms since the epoch; got ${typeof start}, using now`)
            t0 = clock()
          }
          return new RunningJob(agg, t0, running)
        } catch (e) {
          internal('job.start', e)
          return NOOP_JOB
        }
      },
    },
    http(server, options) {
      try { attachHttp(server, options, core.http, warn, core.servers) } catch (e) { internal('http', e) }
    },
    flush() {
      core.flush()
    },
    close(options) {
      try {
        const t = options?.timeout
        return core.close(typeof t === 'number' && t >= 0 ? t : undefined).catch(() => failedClose)
      } catch (e) {
        internal('close', e)
        return Promise.resolve(failedClose)
      }
    },
    ready() {
      return core.ready()
    },
    isConnected() {
      try {
        return core.isConnected()
      } catch (e) {
        internal('isConnected', e)
        return false
      }
    },
    stats() {
      return core.stats()
    },
  }
}

const failedClose: CloseResult = Object.freeze({ delivered: false, pending: 0 })

function validLogger(logger: unknown): TrackerLogger {
  if (typeof logger === 'object' && logger !== null && typeof (logger as TrackerLogger).warn === 'function') {
    return logger as TrackerLogger
  }
  return console
}

/** What `tracker()` returns when it could not start: the same shape, doing nothing. */
function inert(): Tracker {
  const noop = () => {}
  return {
    bytes: { sent: noop, received: noop },
    database: { read: noop, written: noop },
    job: { start: (): TrackerJob => NOOP_JOB },
    http: noop,
    flush: noop,
    close: () => Promise.resolve({ delivered: true, pending: 0 }),
    ready: () => Promise.resolve({ port: null }),
    isConnected: () => false,
    stats: () => ({ buffered: 0, dropped: 0, hub: 'off', peers: 0, running: 0 }),
  }
}
