/**
 * Livestats public API.
 * @example
 * const { tracker, dashboard, createHub } = require('livestats')
 */
export { createHub, Hub, DASHBOARD_CSP, type ListenInfo } from './hub/hub'
export { resolveConfig, type HubInput, type HubOptions, type HubConfig, type Logger } from './hub/config'
export { dashboard, type DashboardConfig, type DashboardHandle } from './dashboard'
export { tracker, koaRoutes } from './tracker'
export type { Tracker, TrackerConfig, TrackerJob, TrackerLogger, HttpOptions } from './tracker'
export type { Store, StoredEvent } from './hub/store/types'
export * from './protocol'
