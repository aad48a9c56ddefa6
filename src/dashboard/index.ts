/**
 * `dashboard(config [, logger])`: seed 000's entry point. Starts a hub with the dashboard on
 * `config.port` and dials every tracker URL in `config.urls`, redialling when one goes away.
 */
import { createHub, type Hub } from '../hub/hub'
import type { HubInput, Logger } from '../hub/config'
import { TrackerDialer } from '../hub/ingest/dial'
import { LivestatsError } from '../protocol/errors'

export interface DashboardConfig extends HubInput {
  /** Port of the dashboard and hub. @default 3000 */
  port?: number
  /** Tracker WebSocket servers to dial, e.g. `['ws://localhost:3001']`. @default [] */
  urls?: string[]
  /**
   * Accepted for seed compatibility only: Livestats has no MongoDB store. It warns once and uses
   * `store` (SQLite by default).
   */
  mongoUrl?: string
}

export interface DashboardHandle {
  hub: Hub
  /** Resolves once the hub listens: the dashboard URL. */
  ready: Promise<string>
  /** Each dialled tracker and whether it is connected. */
  trackers(): { url: string; connected: boolean; since: number }[]
  close(): Promise<void>
}

/**
 * @example
 * const { dashboard } = require('livestats')
 * dashboard({ port: 3000, urls: ['ws://localhost:3001', 'ws://localhost:3002'] })
 */
export function dashboard(config: DashboardConfig = {}, logger: Logger = console): DashboardHandle {
  const { urls = [], mongoUrl, ...hubOptions } = config
  if (mongoUrl !== undefined) {
    logger.warn(
      'livestats: mongoUrl is ignored: Livestats does not store in MongoDB. ' +
        `Events go to ${hubOptions.store ?? hubOptions.db ?? './livestats.db'} instead (set "store" to choose).`,
    )
  }
  const hub = createHub({ port: 3000, logger, ...hubOptions })
  const dialers = urls.map((u, i) => new TrackerDialer(u, hub.config, hub.ingest, hub.metrics, hub.ingest.listeners, i))
  hub.closers.push(() => { for (const d of dialers) d.stop() })
  const ready = hub.listen().then((info) => {
    for (const d of dialers) d.start()
    logger.info(`livestats: dashboard on ${info.url}/`)
    return `${info.url}/`
  })
  // a caller that never awaits `ready` still hears why the hub did not start: in one line when it is
  // one of ours (a taken port says which, and what to do), with the stack when it is not
  ready.catch((err: unknown) => {
    if (err instanceof LivestatsError) logger.error(`livestats: dashboard failed to start: ${err.message}`)
    else logger.error('livestats: dashboard failed to start', err)
  })
  return {
    hub,
    ready,
    trackers: () => dialers.map((d) => ({ url: d.url, connected: d.state.connected, since: d.state.since })),
    close: () => hub.close(),
  }
}
