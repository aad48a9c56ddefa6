/**
 * What each rule kind measures now: from live presence (visitors, processes and their jobs) and,
 * for spikes, from the stored per-minute rollups (`store.series`).
 */
import type { Presence, ProcessView } from '../presence/types'
import type { Store } from '../store/types'
import type { AlertRule } from './rules'

const WEEK = 7 * 86_400_000

export interface Reading {
  /** Whether the rule's condition holds now. */
  active: boolean
  /** The measured figure (visitors, ratio, seconds, percent, ms); null when there is none (a spike over a week with no traffic). */
  value: number | null
  /** One line for people, e.g. `3 visitors on example.com (below 5)`. */
  summary: string
}

export interface EvalContext {
  presence: Pick<Presence, 'countStates' | 'pages' | 'processes'>
  store: Pick<Store, 'series'>
  now: number
  /** Read once per evaluation round, shared by the process rules. */
  processes: () => Promise<ProcessView[]>
}

const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d

async function ofApp(ctx: EvalContext, app: string): Promise<ProcessView[]> {
  return (await ctx.processes()).filter((p) => p.app === app)
}

export async function evaluate(r: AlertRule, ctx: EvalContext): Promise<Reading> {
  switch (r.kind) {
    case 'visitors': {
      const site = r.site ?? ''
      const n = r.page === null
        ? (await ctx.presence.countStates(site)).total
        : (await ctx.presence.pages(site)).find((p) => p.path === r.page)?.total ?? 0
      const active = r.op === 'above' ? n > r.threshold : n < r.threshold
      return { active, value: n, summary: `${n} live visitor${n === 1 ? '' : 's'} on ${site}${r.page ?? ''} (${r.op} ${r.threshold})` }
    }
    case 'spike': {
      const site = r.site ?? ''
      const span = r.windowMin * 60_000
      const sum = async (to: number): Promise<number> =>
        (await ctx.store.series({ site, from: to - span, to }, 'minute')).reduce((a, p) => a + p.pageviews, 0)
      const [cur, prev] = await Promise.all([sum(ctx.now), sum(ctx.now - WEEK)])
      const ratio = prev === 0 ? null : cur / prev
      const active = cur >= r.minCount && (prev === 0 || cur >= r.threshold * prev)
      const vs = prev === 0 ? 'none the same time a week before' : `${round(ratio ?? 0)}× the ${prev} of a week before`
      return { active, value: ratio === null ? null : round(ratio), summary: `${cur} page views on ${site} in ${r.windowMin} min: ${vs} (spike at ${r.threshold}×)` }
    }
    case 'stuck': {
      let oldest = 0
      let name = ''
      for (const p of await ofApp(ctx, r.app ?? '')) {
        for (const j of p.running) {
          if (r.job !== null && j.name !== r.job) continue
          const age = Math.max(0, ctx.now - j.started) / 1000
          if (age > oldest) {
            oldest = age
            name = `${j.name} on ${p.instance}`
          }
        }
      }
      const s = Math.round(oldest)
      return { active: oldest > r.threshold, value: s, summary: oldest > 0 ? `job ${name} of ${r.app} running for ${s} s (stuck past ${r.threshold} s)` : `no job of ${r.app} running past ${r.threshold} s` }
    }
    case 'down': {
      const n = (await ofApp(ctx, r.app ?? '')).length
      return { active: n === 0, value: n, summary: n === 0 ? `no process of ${r.app} linked to the hub` : `${n} process${n === 1 ? '' : 'es'} of ${r.app} linked` }
    }
    case 'failed': {
      let finished = 0
      let failed = 0
      for (const p of await ofApp(ctx, r.app ?? '')) {
        finished += p.rates?.finished ?? 0
        failed += p.rates?.failed ?? 0
      }
      const pct = finished === 0 ? 0 : (failed / finished) * 100
      return {
        active: finished >= r.minCount && pct > r.threshold, value: round(pct, 1),
        summary: `${failed} of ${finished} jobs of ${r.app} failed in the last minute (${round(pct, 1)} %, alert above ${r.threshold} %)`,
      }
    }
    case 'lag': {
      let worst = 0
      let where = ''
      for (const p of await ofApp(ctx, r.app ?? '')) {
        if (p.metrics.lag > worst) {
          worst = p.metrics.lag
          where = p.instance
        }
      }
      return { active: worst > r.threshold, value: round(worst, 1), summary: `event-loop lag of ${r.app}${where ? ` (${where})` : ''}: ${round(worst, 1)} ms (alert above ${r.threshold} ms)` }
    }
  }
}
