/**
 * The goals of each site: defined through `/api/goals` (or the dashboard), kept in the store's
 * key/value table under `goal:<site>:<id>` (one JSON value per goal, so no new store method and
 * every backend keeps them), and held in memory so ingest can tell, per page view or custom event,
 * which goals it reaches (the live feed's "Goal: …") without asking the store.
 *
 * A hub reads the definitions at start and again every `REFRESH_MS`, so in a cluster a goal made
 * on one node reaches the others' live feeds within that time (figures read the store, at once).
 */
import { randomBytes } from 'node:crypto'
import { LivestatsError } from '../../protocol/errors'
import { DEFAULT_LIMITS } from '../../protocol/limits'
import type { Store, StoredEvent } from '../store/types'
import { compilePage, goalLabel, matchesEvent, parseGoalSpec, type GoalSpec } from './spec'

/** A stored goal: its spec (`kind` and `page`, or `event` with optional `props`) and how it shows. */
export type Goal = GoalSpec & {
  /** Made by the hub: 12 URL-safe characters. */
  id: string
  site: string
  /** What the dashboard and the feed call it: given, or `goalLabel(spec)`. */
  name: string
  /** When it was made, ms since epoch. */
  created: number
}

/** Most goals per site. */
export const MAX_GOALS = 100
/** Longest goal name, UTF-16 units. */
export const MAX_GOAL_NAME = DEFAULT_LIMITS.maxShortLength
/** How often a hub reads the definitions again (other nodes of a cluster may have changed them), ms. */
export const REFRESH_MS = 30_000

const PREFIX = 'goal:'
/** What `reached` answers for the usual event, which reaches no goal: no allocation per event. */
const NONE: readonly string[] = Object.freeze([])

function keyOf(site: string, id?: string): string {
  return `${PREFIX}${encodeURIComponent(site)}:${id ?? ''}`
}

/** What matching needs of an event: a stored row, or a feed row read back (`name`, `data` null). */
export type GoalProbe = Pick<StoredEvent, 'type' | 'site' | 'path' | 'name' | 'data'>

interface Compiled {
  goal: Goal
  test: (e: GoalProbe) => boolean
}

function compile(goal: Goal): Compiled {
  if (goal.kind === 'page') {
    const path = compilePage(goal.page)
    return { goal, test: (e) => e.type === 'pageview' && e.path !== null && path(e.path) }
  }
  const spec = goal
  return {
    goal,
    test: (e) => e.type === 'event' && e.name === spec.event && (spec.props === undefined || matchesEvent(spec, e.name, parseProps(e.data))),
  }
}

function parseProps(data: string | null): Record<string, unknown> | null {
  if (data === null) return null
  try {
    const v: unknown = JSON.parse(data)
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function invalid(message: string): never {
  throw new LivestatsError('LS_ERR_INVALID_GOAL', message)
}

/** Reads a stored value back; null for one that is not a goal (never thrown: a bad row must not stop the hub). */
function revive(value: string): Goal | null {
  try {
    const o = JSON.parse(value) as Record<string, unknown>
    const { id, site, name, created, kind: _kind, ...rest } = o
    if (typeof id !== 'string' || typeof site !== 'string' || typeof name !== 'string' || typeof created !== 'number') return null
    return { ...parseGoalSpec(rest), id, site, name, created }
  } catch {
    return null
  }
}

export class GoalRegistry {
  private bySite = new Map<string, Compiled[]>()

  constructor(private readonly store: Store) {}

  /** Reads every site's goals from the store (at start, and every REFRESH_MS). */
  async load(): Promise<void> {
    const next = new Map<string, Compiled[]>()
    for (const { value } of await this.store.listMeta(PREFIX)) {
      const g = revive(value)
      if (g === null) continue
      let list = next.get(g.site)
      if (list === undefined) next.set(g.site, (list = []))
      list.push(compile(g))
    }
    for (const list of next.values()) list.sort((a, b) => a.goal.created - b.goal.created || (a.goal.id < b.goal.id ? -1 : 1))
    this.bySite = next
  }

  /** The site's goals, oldest first, as the store holds them now. */
  async list(site: string): Promise<Goal[]> {
    const out: Goal[] = []
    for (const { value } of await this.store.listMeta(keyOf(site))) {
      const g = revive(value)
      if (g !== null && g.site === site) out.push(g)
    }
    return out.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
  }

  /**
   * Checks `input` (`{ page }` or `{ event, props? }`, and an optional `name`) and stores a new goal.
   * @throws LivestatsError `LS_ERR_INVALID_GOAL` for a bad spec or name, or past MAX_GOALS on the site.
   */
  async create(site: string, input: unknown, now: number = Date.now()): Promise<Goal> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) invalid('a goal is an object with `page` or `event`')
    const { name, site: _site, ...rest } = input as Record<string, unknown>
    const spec = parseGoalSpec(rest)
    if (name !== undefined && name !== null && (typeof name !== 'string' || name.trim() === '' || name.length > MAX_GOAL_NAME)) {
      invalid(`\`name\` is text of 1 to ${MAX_GOAL_NAME} characters`)
    }
    const existing = await this.list(site)
    if (existing.length >= MAX_GOALS) invalid(`a site has at most ${MAX_GOALS} goals`)
    const goal: Goal = { ...spec, id: randomBytes(9).toString('base64url'), site, name: typeof name === 'string' ? name.trim() : goalLabel(spec), created: now }
    await this.store.setMeta(keyOf(site, goal.id), JSON.stringify(goal))
    await this.load()
    return goal
  }

  /** Deletes a goal; false when the site has no goal with that id. */
  async remove(site: string, id: string): Promise<boolean> {
    const key = keyOf(site, id)
    if (id === '' || (await this.store.getMeta(key)) === null) return false
    await this.store.deleteMeta(key)
    await this.load()
    return true
  }

  /** Names of the goals a freshly stored page view or custom event reaches (in memory; empty for most). */
  reached(e: GoalProbe): readonly string[] {
    const list = this.bySite.get(e.site)
    if (list === undefined) return NONE
    let out: string[] | null = null
    for (const c of list) if (c.test(e)) (out ??= []).push(c.goal.name)
    return out ?? NONE
  }
}
