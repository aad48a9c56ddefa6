/**
 * Funnels in the API: saved definitions per site (`/api/funnels`: list, create, delete), kept in
 * the store's meta table under `funnel:<site>:<id>`, and results (`/api/funnel`) for a saved funnel
 * (`id=`) or for steps given in the query (`steps=` JSON). goals/funnel.ts says what is counted.
 */
import { randomBytes } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'
import { readJson } from '../http/json-body'
import { json } from '../http/reply'
import type { Router } from '../http/router'
import { MAX_FUNNEL_STEPS, parseFunnelSteps, type FunnelStepCount } from '../goals/funnel'
import type { GoalRegistry } from '../goals/registry'
import { goalLabel, type GoalSpec } from '../goals/spec'
import type { Store } from '../store/types'
import { writeRefusal } from './goals'
import * as p from './params'

/** A saved funnel as the API lists it. */
export interface FunnelDef {
  id: string
  site: string
  name: string
  steps: GoalSpec[]
  /** What each step shows as: the saved goal's name for a `{ goal }` step, else `goalLabel`. */
  labels: string[]
  /** When it was saved, ms since epoch. */
  created: number
}

/** Most funnels per site. */
export const MAX_FUNNELS = 100
/** Longest funnel name, UTF-16 units. */
export const MAX_FUNNEL_NAME = 200
/** Largest create request body, bytes. */
const MAX_BODY = 16 * 1024

/** One step of an answer: its figures, and the conversion and drop-off that follow from them. */
export interface FunnelStepFigures extends FunnelStepCount {
  goal: GoalSpec
  label: string
  /** Visitors of this step / visitors of the step before, 0–1 (1 for step 1); null when the step before had none. */
  conversion: number | null
  /** Visitors of this step / visitors of step 1, 0–1; null when step 1 had none. */
  conversionFromStart: number | null
  /** Visitors of the step before who did not reach this one (0 for step 1). */
  dropoff: number
}

/**
 * Conversion and drop-off per step, by visitors.
 * @example stepFigures(steps, [{ visits: 10, visitors: 8 }, { visits: 4, visitors: 4 }])[1].conversion // 0.5
 */
export function stepFigures(steps: readonly GoalSpec[], counts: readonly FunnelStepCount[], labels: readonly string[] = []): FunnelStepFigures[] {
  const first = counts[0]?.visitors ?? 0
  return steps.map((goal, i) => {
    const c = counts[i] ?? { visits: 0, visitors: 0 }
    const before = i === 0 ? c.visitors : (counts[i - 1]?.visitors ?? 0)
    return {
      goal, label: labels[i] ?? goalLabel(goal), visitors: c.visitors, visits: c.visits,
      conversion: before === 0 ? null : c.visitors / before,
      conversionFromStart: first === 0 ? null : c.visitors / first,
      dropoff: before - c.visitors,
    }
  })
}

function bad(message: string): never {
  throw new LivestatsError('LS_ERR_BAD_QUERY', message)
}

/** The meta key prefix of a site's funnels (the site encoded, so `a` never lists `a:b`'s). */
function prefix(site: string): string {
  return `funnel:${encodeURIComponent(site)}:`
}

/**
 * Steps from client input: goal specs, or `{ "goal": "<id>" }` naming one of the site's saved goals
 * (/api/goals), which the funnel then keeps as that goal's spec and name.
 * @throws LivestatsError `LS_ERR_INVALID_GOAL` naming the step.
 */
export async function resolveSteps(input: unknown, site: string, goals: GoalRegistry): Promise<{ steps: GoalSpec[]; labels: string[] }> {
  if (!Array.isArray(input) || input.length > MAX_FUNNEL_STEPS) return { steps: parseFunnelSteps(input), labels: [] }
  const named = new Map<number, string>()
  let saved: Awaited<ReturnType<GoalRegistry['list']>> | null = null
  const specs: unknown[] = []
  for (const [i, s] of input.entries()) {
    const ref = typeof s === 'object' && s !== null && !Array.isArray(s) && 'goal' in s ? (s as { goal: unknown }).goal : undefined
    if (ref === undefined) {
      specs.push(s)
      continue
    }
    if (typeof ref !== 'string' || Object.keys(s as object).length !== 1) {
      throw new LivestatsError('LS_ERR_INVALID_GOAL', `step ${i + 1}: a saved goal is { "goal": "<id>" } and nothing else`)
    }
    saved ??= await goals.list(site)
    const g = saved.find((x) => x.id === ref)
    if (g === undefined) throw new LivestatsError('LS_ERR_INVALID_GOAL', `step ${i + 1}: ${site} has no goal ${ref}`)
    specs.push(g.kind === 'page' ? { page: g.page } : { event: g.event, props: g.props })
    named.set(i, g.name)
  }
  const steps = parseFunnelSteps(specs)
  return { steps, labels: steps.map((st, i) => named.get(i) ?? goalLabel(st)) }
}

/** The saved funnels of a site, oldest first. */
export async function listFunnels(store: Store, site: string): Promise<FunnelDef[]> {
  const rows = await store.listMeta(prefix(site))
  return rows.map((r) => JSON.parse(r.value) as FunnelDef).sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
}

/**
 * `originAllowed` refuses writes a page of another origin sent (the read check passes a browser on
 * loopback whatever page it shows); a POST must also be JSON, which no plain form can send
 * (`writeRefusal`, as for goals).
 */
export function funnelRoutes(router: Router, store: Store, goals: GoalRegistry, originAllowed: (req: IncomingMessage) => boolean): void {
  // a share link reads its site's funnels (GET only: share/scope.ts refuses its writes)
  const read = { auth: true, share: 'site' } as const
  const writable = (req: IncomingMessage): void => {
    const no = writeRefusal(req, originAllowed)
    if (no !== null) throw no
  }

  router.on('GET', '/api/funnels', async (_req, res, url) => {
    const site = p.site(url.searchParams)
    json(res, 200, { site, funnels: await listFunnels(store, site) })
  }, read)

  router.on('POST', '/api/funnels', async (req, res) => {
    writable(req)
    const body = await readJson(req, MAX_BODY, () => new LivestatsError('LS_ERR_BAD_QUERY', 'the body must be JSON: { "site": ..., "name": ..., "steps": [...] }'))
    if (typeof body !== 'object' || body === null || Array.isArray(body)) bad('the body is an object: { "site", "name", "steps" }')
    const o = body as Record<string, unknown>
    if (typeof o.site !== 'string' || o.site === '' || o.site.length > 253) bad('site is required')
    const { steps, labels } = await resolveSteps(o.steps, o.site, goals)
    const name = o.name === undefined ? labels.join(' → ') : o.name
    if (typeof name !== 'string' || name.trim() === '' || name.length > MAX_FUNNEL_NAME) bad(`name is text of 1 to ${MAX_FUNNEL_NAME} characters`)
    const have = await store.listMeta(prefix(o.site))
    if (have.length >= MAX_FUNNELS) bad(`a site has at most ${MAX_FUNNELS} funnels: delete one first`)
    const def: FunnelDef = { id: randomBytes(6).toString('base64url'), site: o.site, name: name.trim(), steps, labels, created: Date.now() }
    await store.setMeta(prefix(def.site) + def.id, JSON.stringify(def))
    json(res, 201, { funnel: def })
  }, read)

  router.on('DELETE', '/api/funnels', async (req, res, url) => {
    writable(req)
    const site = p.site(url.searchParams)
    const id = url.searchParams.get('id') ?? bad('id is required')
    const key = prefix(site) + id
    if ((await store.getMeta(key)) === null) throw new LivestatsError('LS_ERR_NOT_FOUND', `${site} has no funnel ${id}`)
    await store.deleteMeta(key)
    res.writeHead(204, { 'cache-control': 'no-store' })
    res.end()
  }, read)

  router.on('GET', '/api/funnel', async (_req, res, url) => {
    const q = url.searchParams
    const r = p.range(q)
    const id = q.get('id')
    const given = q.get('steps')
    if ((id === null) === (given === null)) bad('give a saved funnel (id=) or its steps (steps=[...] as JSON), not both')
    let def: Pick<FunnelDef, 'steps' | 'labels'> & Partial<FunnelDef>
    if (id !== null) {
      const raw = await store.getMeta(prefix(r.site) + id)
      if (raw === null) throw new LivestatsError('LS_ERR_NOT_FOUND', `${r.site} has no funnel ${id}`)
      def = JSON.parse(raw) as FunnelDef
    } else {
      let parsed: unknown
      try {
        parsed = JSON.parse(given as string)
      } catch {
        bad('steps must be a JSON list of goals: [{"page":"/pricing"},{"event":"Signup"}]')
      }
      def = await resolveSteps(parsed, r.site, goals)
    }
    const counts = await store.funnel(r, def.steps)
    json(res, 200, {
      site: r.site, from: r.from, to: r.to, id: def.id ?? null, name: def.name ?? null, steps: stepFigures(def.steps, counts, def.labels ?? []),
    })
  }, read)
}
