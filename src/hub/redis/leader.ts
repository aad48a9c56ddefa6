/**
 * One node of a cluster does a job at a time (alert evaluation): a lease in Redis, `<prefix>leader:<job>`,
 * held by the node that set it and renewed by it each round. Another node takes it over once it
 * lapses (its holder died or was cut off), so the job moves within one lease. Without this every hub
 * would evaluate every alert rule and each alert would be sent once per hub.
 */
import { randomBytes } from 'node:crypto'
import type { RedisLink } from './link'

// Renew when this node holds the lease, take it when nobody does; 1 when this node holds it after the call.
const HOLD_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

/**
 * A function that answers, each time it is called, whether this node holds the lease of `job` for
 * the next `ttlMs` (renewing or taking it). When Redis cannot be reached it answers false: a node
 * cut off from the cluster sees its own visitors only, and alerts judged on that would be wrong.
 */
export function redisLeader(link: RedisLink, job: string): (ttlMs: number) => Promise<boolean> {
  const me = `${process.pid}:${randomBytes(6).toString('hex')}`
  const key = `${link.prefix}leader:${job}`
  return async (ttlMs) => {
    try {
      return (await link.cmd.eval(HOLD_LUA, 1, key, me, String(Math.max(1, Math.round(ttlMs))))) === 1
    } catch {
      return false
    }
  }
}
