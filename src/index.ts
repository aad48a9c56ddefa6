/**
 * Livestats public API.
 * @example
 * const { createHub, tracker, dashboard } = require('livestats')
 */
export { createHub, Hub, DASHBOARD_CSP, type ListenInfo } from './hub/hub'
export { resolveConfig, type HubInput, type HubOptions, type HubConfig, type Logger } from './hub/config'
export type { Store, StoredEvent } from './hub/store/types'
export * from './protocol'
