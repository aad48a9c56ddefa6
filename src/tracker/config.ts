/**
 * Turns `tracker(config)` into settings, once, at construction: the only place the tracker reads
 * the environment. Bad values get one warning and the default; nothing here throws.
 */
import os from 'node:os'
import { DEFAULT_LIMITS } from '../protocol/limits'
import { collectUrl } from './hub-client'
import { cutText } from '../protocol/cut'
import type { TrackerConfig } from './types'
import type { Warner } from './warn'

export interface Settings {
  app: string
  instance: string
  host: string
  pid: number
  port: number | null
  bindHost: string | undefined
  hubUrl: string | null
  token: string | undefined
  interval: number
  buffer: number
  maxJobNames: number
  maxHttpRoutes: number
  closeTimeout: number
  handleSignals: boolean
  maxRunning: number
}

export const DEFAULTS = Object.freeze({
  interval: 1000,
  buffer: 20_000,
  maxJobNames: DEFAULT_LIMITS.maxJobNames,
  maxHttpRoutes: DEFAULT_LIMITS.maxHttpRoutes,
  closeTimeout: 5000,
  /** Running jobs tracked individually; past it they are only counted. */
  maxTrackedRunning: 10_000,
})

const SHORT = DEFAULT_LIMITS.maxShortLength

export function settings(input: unknown, warn: Warner, env: NodeJS.ProcessEnv = process.env): Settings {
  const c: TrackerConfig = typeof input === 'object' && input !== null ? (input as TrackerConfig) : {}
  if (c !== input) warn.once('config', 'tracker(config) expects an object such as { name, port } or { name, hub }')
  const bad = (key: string, why: string) => warn.once('config', `config.${key} ${why}; using the default`, key)

  const int = (key: keyof TrackerConfig, def: number, min: number, max: number): number => {
    const v = c[key]
    if (v === undefined) return def
    if (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max) return v
    bad(key, `must be an integer from ${min} to ${max}`)
    return def
  }

  let app = 'node'
  if (typeof c.name === 'string' && c.name !== '') app = cutText(c.name, SHORT)
  else if (c.name !== undefined) bad('name', 'must be a non-empty string')
  else warn.once('config', 'config.name is not set: this process is shown as "node"', 'name')

  const host = os.hostname() || 'localhost'
  let instance = cutText(`${host}:${process.pid}`, SHORT)
  if (typeof c.instance === 'string' && c.instance !== '') instance = cutText(c.instance, SHORT)

  let port: number | null = null
  if (c.port !== undefined) port = int('port', -1, 0, 65535)
  if (port === -1) port = null

  let hubUrl: string | null = null
  const rawHub = c.hub ?? env.LIVESTATS_HUB
  if (typeof rawHub === 'string' && rawHub !== '') {
    try {
      hubUrl = collectUrl(rawHub)
    } catch (e) {
      warn.once('config', `hub URL "${rawHub}" is not a ws://, wss://, http:// or https:// URL (${String(e)}); not dialling a hub`, 'hub')
    }
  }
  if (port === null && hubUrl === null) {
    warn.once('config', 'neither config.port nor config.hub (or LIVESTATS_HUB) is set: calls are counted but sent nowhere', 'none')
  }
  const token = typeof c.token === 'string' && c.token !== '' ? c.token : env.LIVESTATS_TOKEN || undefined

  return {
    app,
    instance,
    host: cutText(host, SHORT),
    pid: process.pid,
    port,
    bindHost: typeof c.host === 'string' && c.host !== '' ? c.host : undefined,
    hubUrl,
    token,
    interval: int('interval', DEFAULTS.interval, 1, 3_600_000),
    buffer: int('buffer', DEFAULTS.buffer, 1, 10_000_000),
    maxJobNames: int('maxJobNames', DEFAULTS.maxJobNames, 1, 100_000),
    maxHttpRoutes: int('maxHttpRoutes', DEFAULTS.maxHttpRoutes, 1, 100_000),
    closeTimeout: int('closeTimeout', DEFAULTS.closeTimeout, 0, 3_600_000),
    handleSignals: c.handleSignals !== false,
    maxRunning: DEFAULTS.maxTrackedRunning,
  }
}
