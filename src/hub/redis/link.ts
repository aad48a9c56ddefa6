/**
 * The connections a hub node keeps to Redis: one for commands and scripts, one for subscriptions
 * (a subscribed connection can run nothing else). Both reconnect on their own, every 100-500 ms.
 * Commands never wait in an offline queue: while Redis is unreachable a command fails at once, so
 * ingest and reads fall back to this node's own state instead of piling up.
 */
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { Redis } from 'ioredis'
import type { Logger } from '../config'
import { CHANGE_LUA, REAP_LUA } from './scripts'

export interface RedisLinkOptions {
  /** `redis://[user:pass@]host:port[/db]`. */
  url: string
  /** Prefix of every key and channel, so clusters (or test runs) can share one Redis. @default 'ls:' */
  prefix?: string
  /** A command that takes longer fails (and the node answers from its own state), ms. @default 2000 */
  commandTimeoutMs?: number
  /** @default console */
  logger?: Pick<Logger, 'warn' | 'error'>
}

/** The scripts, registered with `defineCommand` (EVALSHA, with EVAL after a Redis restart). */
export interface ScriptCommands {
  lsChange(...args: (string | number)[]): Promise<number>
  lsReap(...args: (string | number)[]): Promise<number>
}

/**
 * Emits `up` when both connections are ready and `down` when either closes.
 * @example
 * const link = new RedisLink({ url: 'redis://127.0.0.1:6379' })
 * link.on('up', () => …)
 */
export class RedisLink extends EventEmitter {
  readonly cmd: Redis
  readonly sub: Redis
  readonly prefix: string
  private wasUp = false
  private reported = false
  private closed = false
  private readonly logger: Pick<Logger, 'warn' | 'error'>

  constructor(opts: RedisLinkOptions) {
    super()
    this.prefix = opts.prefix ?? 'ls:'
    this.logger = opts.logger ?? console
    const common = {
      retryStrategy: (times: number): number => Math.min(100 * times, 500),
      connectTimeout: 2000,
      lazyConnect: false,
    }
    this.cmd = new Redis(opts.url, {
      ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: opts.commandTimeoutMs ?? 2000,
    })
    // queued subscriptions are sent once connected; ioredis subscribes again after a reconnect
    this.sub = new Redis(opts.url, { ...common, enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true })
    this.cmd.defineCommand('lsChange', { numberOfKeys: 10, lua: CHANGE_LUA })
    this.cmd.defineCommand('lsReap', { numberOfKeys: 9, lua: REAP_LUA })
    for (const r of [this.cmd, this.sub]) {
      r.on('ready', () => this.check())
      r.on('close', () => this.check())
      r.on('error', (err: Error) => {
        if (this.reported || this.closed) return
        this.reported = true
        this.logger.warn(`livestats: Redis unreachable (${err.message}); presence counts this node only until it returns`)
      })
    }
  }

  /** Both connections are ready. */
  get up(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready'
  }

  get scripts(): ScriptCommands {
    return this.cmd as unknown as ScriptCommands
  }

  private check(): void {
    const up = this.up
    if (up === this.wasUp || this.closed) return
    this.wasUp = up
    if (up) this.reported = false
    this.emit(up ? 'up' : 'down')
  }

  /**
   * Closes both connections: QUIT on a ready one (commands already sent are answered first, within
   * a second), at once on one that is not connected (a QUIT would wait in its offline queue for good).
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const quit = (r: Redis): Promise<unknown> => r.status !== 'ready' ? Promise.resolve()
      : Promise.race([r.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
    await Promise.allSettled([quit(this.cmd), quit(this.sub)])
    this.cmd.disconnect()
    this.sub.disconnect()
  }
}

/** A node identity, new for every incarnation (start, or after a fence): `host:pid:random`. */
export function newNodeId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(6).toString('base64url')}`
}
