/**
 * Protocol v1: one TypeBox schema per message. The schemas drive validation in the hub and
 * the TypeScript types every source uses. Lengths come from `Limits`, so a hub with other
 * limits builds its own schemas once at start (see `buildSchemas`).
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { DEFAULT_LIMITS, HTTP_METHODS, STATES, type Limits } from './limits'

const ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$'
/** Longest custom property key, in UTF-16 code units. */
export const PROP_KEY_MAX = 64
/** Longest `language` tag (BCP 47 tags in use are far shorter). */
export const LANGUAGE_MAX = 35

export function buildSchemas(limits: Limits = DEFAULT_LIMITS) {
  const short = (opts: { minLength?: number } = {}) =>
    Type.String({ minLength: opts.minLength ?? 1, maxLength: limits.maxShortLength })
  const url = () => Type.String({ minLength: 1, maxLength: limits.maxUrlLength })
  const text = () => Type.String({ maxLength: limits.maxTextLength })
  const count = () => Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  const ms = () => Type.Number({ minimum: 0, maximum: 1e15 })
  /**
   * The deepest point of the page view seen so far: the bottom of the window as a percent of the
   * page's height (livestats-extras.js with `data-scroll`); the hub keeps the maximum per page view.
   */
  const scroll = () => Type.Integer({ minimum: 0, maximum: 100 })

  const base = {
    /** Client-made unique id (UUIDv7 or similar): a resent event is stored once. */
    id: Type.String({ pattern: ID_PATTERN }),
  }
  const web = {
    ...base,
    /** Site name; the snippet uses the page's hostname unless `data-site` says otherwise. */
    site: short(),
    /** Connection (tab) id, made by the snippet once per page load. */
    cid: Type.Optional(Type.String({ pattern: ID_PATTERN })),
  }
  const proc = {
    ...base,
    /** Application name (`tracker({ name })`). */
    app: short(),
    /** Process instance, e.g. `host:pid`. */
    instance: short(),
    /** Client time (ms since epoch) of the sample; clamped by the hub to the last 24 h. */
    at: Type.Optional(ms()),
  }

  const pageview = Type.Object(
    {
      ...web,
      type: Type.Literal('pageview'),
      url: url(),
      referrer: Type.Optional(Type.String({ maxLength: limits.maxUrlLength })),
      title: Type.Optional(text()),
      screen: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
      language: Type.Optional(Type.String({ maxLength: LANGUAGE_MAX })),
    },
    { additionalProperties: false },
  )
  const presence = Type.Object(
    {
      ...web,
      type: Type.Literal('presence'),
      state: Type.Union(STATES.map((s) => Type.Literal(s))),
      url: Type.Optional(url()),
      /** The client's heartbeat interval in seconds: two missed ones end an HTTP-only connection. */
      interval: Type.Optional(Type.Number({ minimum: 1, maximum: 3600 })),
      scroll: Type.Optional(scroll()),
    },
    { additionalProperties: false },
  )
  const leave = Type.Object({ ...web, type: Type.Literal('leave'), scroll: Type.Optional(scroll()) }, { additionalProperties: false })
  const event = Type.Object(
    {
      ...web,
      type: Type.Literal('event'),
      name: Type.String({ minLength: 1, maxLength: limits.maxShortLength }),
      url: Type.Optional(url()),
      props: Type.Optional(
        // a key pattern with additionalProperties false: without it the key's length goes unchecked
        Type.Record(
          Type.String({ pattern: `^[\\s\\S]{0,${PROP_KEY_MAX}}$` }),
          Type.Union([Type.String({ maxLength: limits.maxTextLength }), Type.Number(), Type.Boolean()]),
          { maxProperties: limits.maxProps, additionalProperties: false },
        ),
      ),
    },
    { additionalProperties: false },
  )
  const bytes = Type.Object(
    { ...proc, type: Type.Literal('bytes'), sent: count(), received: count() },
    { additionalProperties: false },
  )
  const db = Type.Object(
    { ...proc, type: Type.Literal('db'), read: count(), written: count() },
    { additionalProperties: false },
  )
  const job = Type.Object(
    {
      ...proc,
      type: Type.Literal('job'),
      /** Job name; the tracker folds names past its cap into `(other)`. */
      name: short(),
      /** Jobs of this name finished in the interval, failed ones included. */
      count: count(),
      failed: count(),
      /** Sum, min and max of their durations, ms. */
      sum: ms(),
      min: ms(),
      max: ms(),
      /** Counts per bucket of `JOB_BUCKETS_MS`, plus one open-ended bucket at the end. */
      hist: Type.Array(count(), { maxItems: 64 }),
      /** Last error message seen in the interval. */
      error: Type.Optional(text()),
    },
    { additionalProperties: false },
  )
  const runningJob = Type.Object(
    { name: short(), started: ms() },
    { additionalProperties: false },
  )
  const httpRoute = Type.Object(
    {
      /** One of HTTP_METHODS. */
      method: Type.Union(HTTP_METHODS.map((m) => Type.Literal(m))),
      /** The route as the framework names it (`/users/:id`), `(unmatched)` or `(other)`; never a raw URL. */
      route: short(),
      /** Responses finished in the interval. */
      count: count(),
      /** Of them, per status class: 2xx (and below), 3xx, 4xx, 5xx (and above). */
      status: Type.Array(count(), { minItems: 4, maxItems: 4 }),
      /** Sum, min and max of their response times, ms. */
      sum: ms(),
      min: ms(),
      max: ms(),
      /** Counts per bucket of `JOB_BUCKETS_MS`, plus one open-ended bucket at the end. */
      hist: Type.Array(count(), { maxItems: 64 }),
    },
    { additionalProperties: false },
  )
  const process = Type.Object(
    {
      ...proc,
      type: Type.Literal('process'),
      pid: Type.Integer({ minimum: 0 }),
      host: short(),
      /** CPU use over the interval, percent of one core. */
      cpu: Type.Number({ minimum: 0, maximum: 100_000 }),
      rss: count(),
      heapUsed: count(),
      heapTotal: count(),
      /** Event-loop lag over the interval, ms (p99 of the sampler). */
      lag: Type.Number({ minimum: 0, maximum: 1e9 }),
      uptime: Type.Number({ minimum: 0 }),
      /** Jobs started and not yet stopped, oldest first (capped). */
      running: Type.Array(runningJob, { maxItems: limits.maxRunningJobs }),
      runningCount: count(),
      /** Samples the tracker dropped while its buffer was full. */
      dropped: Type.Optional(count()),
      /** CPU time (user + system) since the process started, seconds (a counter; optional, newer trackers send it). */
      cpuTime: Type.Optional(Type.Number({ minimum: 0, maximum: 1e12 })),
      /** HTTP responses finished in the interval, per method and route (`t.http(server)`); absent when none. */
      http: Type.Optional(Type.Array(httpRoute, { maxItems: limits.maxHttpRoutes + 2 * HTTP_METHODS.length })),
    },
    { additionalProperties: false },
  )
  const types = { pageview, presence, leave, event, bytes, db, job, process }
  return { types, limits }
}

export type Schemas = ReturnType<typeof buildSchemas>
type T = Schemas['types']

export type PageviewEvent = Static<T['pageview']>
export type PresenceEvent = Static<T['presence']>
export type LeaveEvent = Static<T['leave']>
export type CustomEvent = Static<T['event']>
export type BytesEvent = Static<T['bytes']>
export type DbEvent = Static<T['db']>
export type JobEvent = Static<T['job']>
export type ProcessEvent = Static<T['process']>
/** One method + route's responses in a `process` event's `http`. */
export type HttpRouteSample = NonNullable<ProcessEvent['http']>[number]

export type WebEvent = PageviewEvent | PresenceEvent | LeaveEvent | CustomEvent
export type ProcessSideEvent = BytesEvent | DbEvent | JobEvent | ProcessEvent
export type LivestatsEvent = WebEvent | ProcessSideEvent
export type EventType = LivestatsEvent['type']

export const EVENT_TYPES: readonly EventType[] = [
  'pageview', 'presence', 'leave', 'event', 'bytes', 'db', 'job', 'process',
]
export const WEB_TYPES: ReadonlySet<string> = new Set(['pageview', 'presence', 'leave', 'event'])

/** Schema of a given type, for tools that want the JSON Schema (docs, other languages). */
export function schemaOf(schemas: Schemas, type: EventType): TSchema {
  return schemas.types[type]
}
