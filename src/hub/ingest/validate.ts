/**
 * Frame decoding and event validation. Validators are compiled once per hub from the protocol
 * schemas (TypeBox → JIT-compiled checks), so the per-event cost is a handful of comparisons.
 * Only an event that fails pays for more: its over-long descriptive fields are cut (`cut.ts`) and
 * it is checked again, and if it still fails, the error walk says why.
 */
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler'
import { ValueErrorType } from '@sinclair/typebox/errors'
import type { TSchema } from '@sinclair/typebox'
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import { PROTOCOL_VERSION, type Limits } from '../../protocol/limits'
import { buildSchemas, type LivestatsEvent } from '../../protocol/schema'
import { cutEvent } from './cut'

export interface Invalid {
  code: ErrorCode
  message: string
}

export interface Validator {
  /** Parses one frame into its events and optional `seq`; throws LivestatsError for frame-level faults. */
  decode(text: string): { seq: number | undefined; items: unknown[] }
  /**
   * Checks one event; returns it typed, or why not. Over-long descriptive fields are cut in place
   * (the value must be the caller's own, e.g. fresh from `JSON.parse`) and their JSON pointers
   * pushed to `cut`; `cut` is left as it was when nothing was cut or the event is refused.
   */
  check(value: unknown, cut?: string[]): LivestatsEvent | Invalid
}

export function createValidator(limits: Limits): Validator {
  const { types } = buildSchemas(limits)
  const checks = new Map<string, TypeCheck<TSchema>>()
  for (const [name, schema] of Object.entries(types)) checks.set(name, TypeCompiler.Compile(schema as TSchema))

  function decode(text: string): { seq: number | undefined; items: unknown[] } {
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw new LivestatsError('LS_ERR_INVALID_JSON')
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new LivestatsError('LS_ERR_NOT_AN_OBJECT')
    const obj = value as Record<string, unknown>
    if (typeof obj.type === 'string') return { seq: undefined, items: [obj] }
    if (!('events' in obj)) throw new LivestatsError('LS_ERR_NOT_AN_OBJECT', 'Payload has neither "type" nor "events"')
    if (obj.v !== PROTOCOL_VERSION) {
      throw new LivestatsError('LS_ERR_UNSUPPORTED_VERSION', `Batch "v" must be ${PROTOCOL_VERSION}, got ${JSON.stringify(obj.v)}`)
    }
    const seq = obj.seq
    if (seq !== undefined && (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0)) {
      throw new LivestatsError('LS_ERR_NOT_AN_OBJECT', '"seq" must be a non-negative integer')
    }
    const events = obj.events
    if (!Array.isArray(events)) throw new LivestatsError('LS_ERR_NOT_AN_OBJECT', '"events" must be an array')
    if (events.length === 0) throw new LivestatsError('LS_ERR_BATCH_EMPTY')
    if (events.length > limits.maxBatchEvents) {
      throw new LivestatsError('LS_ERR_BATCH_TOO_LARGE', `Batch holds ${events.length} events; the limit is ${limits.maxBatchEvents}`)
    }
    return { seq: seq as number | undefined, items: events }
  }

  function check(value: unknown, cut: string[] = []): LivestatsEvent | Invalid {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { code: 'LS_ERR_INVALID_EVENT', message: 'Event must be an object' }
    }
    const type = (value as { type?: unknown }).type
    const c = typeof type === 'string' ? checks.get(type) : undefined
    if (c === undefined) return { code: 'LS_ERR_UNKNOWN_TYPE', message: `Unknown event type ${JSON.stringify(type)}` }
    if (c.Check(value)) return value as LivestatsEvent
    const before = cut.length
    cutEvent(value as Record<string, unknown>, type as string, limits, cut)
    if (cut.length > before) {
      if (c.Check(value)) return value as LivestatsEvent
      cut.length = before // refused all the same: nothing to report as cut
    }
    const first = c.Errors(value).First()
    if (first === undefined) return { code: 'LS_ERR_INVALID_EVENT', message: 'Event does not match its schema' }
    const where = first.path || '/'
    if (first.type === ValueErrorType.StringMaxLength) {
      return { code: 'LS_ERR_FIELD_TOO_LONG', message: `${where}: ${first.message}` }
    }
    if (first.type === ValueErrorType.ObjectMaxProperties) {
      return { code: 'LS_ERR_TOO_MANY_PROPS', message: `${where}: ${first.message}` }
    }
    return { code: 'LS_ERR_INVALID_EVENT', message: `${where}: ${first.message}` }
  }

  return { decode, check }
}

export function isInvalid(v: LivestatsEvent | Invalid): v is Invalid {
  return 'code' in v && !('type' in v)
}
