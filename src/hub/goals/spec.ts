/**
 * What a goal (and a funnel step) is, independent of any store: a page, given as an exact path or a
 * wildcard pattern, or a custom event, by name and optionally by properties. Stores turn a spec into
 * a query with `compilePage` (match it against their distinct stored paths, then select by those)
 * and `matchesEvent`; the API parses client input with `parseGoalSpec`.
 *
 * Page patterns follow the wildcard rule users know from Plausible's goals and filters: `*` stands
 * for any run of characters within one path segment (never `/`), `**` for any run including `/`.
 * `/blog/*` matches `/blog/a` but not `/blog/a/b`; `/blog/**` matches both; `/docs/**\/intro` matches
 * `/docs/x/y/intro`. Without a `*` a page goal matches that path exactly. Hash routes are paths like
 * any other (`/app/#/pricing`, see src/protocol/page.ts).
 */
import { LivestatsError } from '../../protocol/errors'
import { DEFAULT_LIMITS } from '../../protocol/limits'

/** A page goal: `page` is an exact path or a wildcard pattern (see above); starts with `/`. */
export interface PageGoalSpec {
  kind: 'page'
  page: string
}

/**
 * A custom event goal: the event's `name` exactly (case-sensitive, as sent); with `props`, only the
 * events whose properties have each of those keys with that value (values compared as text, so
 * `{ plan: '2' }` matches a property sent as the number 2).
 */
export interface EventGoalSpec {
  kind: 'event'
  event: string
  props?: Readonly<Record<string, string>>
}

export type GoalSpec = PageGoalSpec | EventGoalSpec

/** Longest page pattern, UTF-16 units (the longest stored URL). */
export const MAX_GOAL_PAGE = DEFAULT_LIMITS.maxUrlLength
/** Most property matches in one event goal. */
export const MAX_GOAL_PROPS = 10

function invalid(message: string): never {
  throw new LivestatsError('LS_ERR_INVALID_GOAL', message)
}

/**
 * Checks client input (JSON from the API) and returns a clean spec: `{ page: '/pricing' }`,
 * `{ event: 'Signup' }` or `{ event: 'Signup', props: { plan: 'pro' } }`; `kind` may be given or is
 * inferred. Property values may be strings, numbers or booleans; they are kept as text.
 * @throws LivestatsError `LS_ERR_INVALID_GOAL` (400) naming what is wrong.
 * @example parseGoalSpec({ page: '/blog/**' }) // { kind: 'page', page: '/blog/**' }
 */
export function parseGoalSpec(input: unknown): GoalSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) invalid('a goal is an object with `page` or `event`')
  const o = input as Record<string, unknown>
  const hasPage = o.page !== undefined
  const hasEvent = o.event !== undefined
  if (hasPage === hasEvent) invalid('a goal names exactly one of `page` and `event`')
  if (o.kind !== undefined && o.kind !== (hasPage ? 'page' : 'event')) invalid('`kind` does not match the goal')
  for (const k of Object.keys(o)) {
    if (!['kind', 'page', 'event', 'props'].includes(k)) invalid(`unknown goal field \`${k}\``)
  }
  if (hasPage) {
    if (o.props !== undefined) invalid('`props` belongs to event goals only')
    const page = o.page
    if (typeof page !== 'string' || !page.startsWith('/')) invalid('`page` is a path or pattern starting with /')
    if (page.length > MAX_GOAL_PAGE) invalid(`\`page\` is longer than ${MAX_GOAL_PAGE} characters`)
    return { kind: 'page', page }
  }
  const event = o.event
  if (typeof event !== 'string' || event.length === 0 || event.length > DEFAULT_LIMITS.maxTextLength) {
    invalid(`\`event\` is a custom event name of 1 to ${DEFAULT_LIMITS.maxTextLength} characters`)
  }
  if (o.props === undefined) return { kind: 'event', event }
  if (typeof o.props !== 'object' || o.props === null || Array.isArray(o.props)) invalid('`props` is an object of key: value')
  const entries = Object.entries(o.props as Record<string, unknown>)
  if (entries.length === 0) return { kind: 'event', event }
  if (entries.length > MAX_GOAL_PROPS) invalid(`at most ${MAX_GOAL_PROPS} property matches`)
  const props: Record<string, string> = {}
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > DEFAULT_LIMITS.maxShortLength) invalid('a property key is 1 to 200 characters')
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') invalid(`property \`${k}\` must be text, a number or a boolean`)
    props[k] = String(v)
  }
  return { kind: 'event', event, props }
}

/**
 * A test for stored paths from a page pattern: exact comparison without `*`, else a regular
 * expression anchored at both ends (`**` → any run, `*` → any run without `/`).
 */
export function compilePage(page: string): (path: string) => boolean {
  if (!page.includes('*')) return (path) => path === page
  let src = ''
  for (let i = 0; i < page.length; i++) {
    const c = page[i] as string
    if (c === '*') {
      if (page[i + 1] === '*') { src += '.*'; i++ } else src += '[^/]*'
    } else src += c.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')
  }
  const re = new RegExp(`^${src}$`, 's')
  return (path) => re.test(path)
}

/** True when a custom event `name` with properties `props` (as sent: text, numbers, booleans) reaches the goal. */
export function matchesEvent(spec: EventGoalSpec, name: string, props: Readonly<Record<string, unknown>> | null | undefined): boolean {
  if (name !== spec.event) return false
  if (spec.props === undefined) return true
  for (const [k, v] of Object.entries(spec.props)) {
    const got = props?.[k]
    if (got === undefined || got === null || String(got) !== v) return false
  }
  return true
}

/** The name a goal shows under when none is given: `Visit /pricing`, `Signup`, `Signup (plan: pro)`. */
export function goalLabel(spec: GoalSpec): string {
  if (spec.kind === 'page') return `Visit ${spec.page}`
  if (spec.props === undefined) return spec.event
  return `${spec.event} (${Object.entries(spec.props).map(([k, v]) => `${k}: ${v}`).join(', ')})`
}
