/**
 * What the store's visit and filter queries must answer, computed the slow, obvious way from the
 * list of events a test appended: sessionise each visitor's sorted page views, attribute custom
 * events, then count with plain loops. The contract suite compares every store with it on random
 * data and random filters (src/hub/store/filters.ts and visits.ts define the rules).
 */
import type { Filter } from '../../src/hub/store/filters'
import type { Bucket, Dimension, SeriesPoint, StoredEvent, TopRow, VisitTotals } from '../../src/hub/store/types'

const GAP = 30 * 60_000
const SIZE: Record<Bucket, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }
/** Filters a page view or custom event answers with its own value. */
const OWN = new Set(['page', 'country', 'region', 'city', 'browser', 'os', 'device'])
const VISIT_DIMS = new Set(['entry_page', 'exit_page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword'])

interface OVisit {
  site: string
  visitor: string
  views: StoredEvent[]
  events: StoredEvent[]
  start: number
  end: number
}

const lower = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase())

function test(value: string | null, f: Filter): boolean {
  // on a visit dimension, '' is "none": `referrer=` keeps the visits without one
  if (f.value === '' && f.op !== 'contains' && VISIT_DIMS.has(f.dim)) return (value === null) === (f.op === 'is')
  if (f.op === 'is') return value === f.value
  if (f.op === 'not') return value !== f.value
  return value !== null && lower(value).includes(lower(f.value))
}

function visitValue(v: OVisit, dim: string): string | null {
  const first = v.views[0] as StoredEvent
  switch (dim) {
    case 'entry_page': return first.path
    case 'exit_page': return (v.views[v.views.length - 1] as StoredEvent).path
    case 'referrer': return first.refHost
    case 'utm_source': return first.utmSource
    case 'utm_medium': return first.utmMedium
    case 'utm_campaign': return first.utmCampaign
    case 'utm_term': return first.utmTerm
    case 'keyword': return first.keyword
    case 'country': return first.country
    case 'region': return first.region
    case 'city': return first.city
    case 'browser': return first.browser
    case 'os': return first.os
    case 'device': return first.device
    default: throw new Error(dim)
  }
}

function own(e: StoredEvent, dim: string): string | null {
  switch (dim) {
    case 'page': return e.path
    case 'country': return e.country
    case 'region': return e.region
    case 'city': return e.city
    case 'browser': return e.browser
    case 'os': return e.os
    case 'device': return e.device
    case 'event': return e.name
    default: throw new Error(dim)
  }
}

export class Oracle {
  private readonly visits: OVisit[] = []
  private readonly visitOfView = new Map<StoredEvent, OVisit>()
  private readonly visitOfEvent = new Map<StoredEvent, OVisit | null>()

  constructor(events: readonly StoredEvent[]) {
    const human = events.filter((e) => !e.bot && e.visitor !== null && (e.type === 'pageview' || e.type === 'event'))
    const byVisitor = new Map<string, StoredEvent[]>()
    for (const e of human) {
      if (e.type !== 'pageview') continue
      const k = `${e.site}\0${e.visitor}`
      let l = byVisitor.get(k)
      if (l === undefined) byVisitor.set(k, (l = []))
      l.push(e)
    }
    for (const views of byVisitor.values()) {
      // equal times keep arrival order, as the store does (the later arrival is the exit)
      views.sort((a, b) => a.ts - b.ts)
      let cur: OVisit | null = null
      for (const e of views) {
        if (cur === null || e.ts - cur.end > GAP) {
          cur = { site: e.site, visitor: e.visitor as string, views: [], events: [], start: e.ts, end: e.ts }
          this.visits.push(cur)
        }
        cur.views.push(e)
        cur.end = e.ts
        this.visitOfView.set(e, cur)
      }
    }
    for (const e of human) {
      if (e.type !== 'event') continue
      let found: OVisit | null = null
      for (const v of this.visits) {
        if (v.site !== e.site || v.visitor !== e.visitor || e.ts < v.start - GAP || e.ts > v.end + GAP) continue
        if (found === null || v.start <= e.ts) found = v
      }
      this.visitOfEvent.set(e, found)
      found?.events.push(e)
    }
  }

  private visitMatches(v: OVisit, filters: readonly Filter[]): boolean {
    return filters.every((f) => {
      if (f.dim === 'page') return v.views.some((e) => test(e.path, f))
      if (f.dim === 'event') return v.events.some((e) => test(e.name, f))
      return test(visitValue(v, f.dim), f)
    })
  }

  private viewMatches(e: StoredEvent, filters: readonly Filter[]): boolean {
    const v = this.visitOfView.get(e) as OVisit
    return filters.every((f) => {
      if (OWN.has(f.dim)) return test(own(e, f.dim), f)
      if (f.dim === 'event') return v.events.some((x) => test(x.name, f))
      return test(visitValue(v, f.dim), f)
    })
  }

  private eventMatches(e: StoredEvent, filters: readonly Filter[]): boolean {
    const v = this.visitOfEvent.get(e) ?? null
    return filters.every((f) => {
      if (OWN.has(f.dim) || f.dim === 'event') return test(own(e, f.dim), f)
      return v !== null && test(visitValue(v, f.dim), f)
    })
  }

  private views(site: string, from: number, to: number, filters: readonly Filter[]): StoredEvent[] {
    const out: StoredEvent[] = []
    for (const [e] of this.visitOfView) if (e.site === site && e.ts >= from && e.ts < to && this.viewMatches(e, filters)) out.push(e)
    return out
  }

  totals(site: string, from: number, to: number, filters: readonly Filter[]): { pageviews: number; visitors: number } {
    const [f, t] = [floor(from, 60_000), ceil(to, 60_000)]
    const v = this.views(site, f, t, filters)
    return { pageviews: v.length, visitors: new Set(v.map((e) => e.visitor)).size }
  }

  series(site: string, from: number, to: number, bucket: Bucket, filters: readonly Filter[]): SeriesPoint[] {
    const size = SIZE[bucket]
    const [f, t] = [floor(from, size), ceil(to, size)]
    const out: SeriesPoint[] = []
    for (let b = f; b < t; b += size) {
      const v = this.views(site, b, b + size, filters)
      out.push({ t: b, pageviews: v.length, visitors: new Set(v.map((e) => e.visitor)).size })
    }
    return out
  }

  visitTotals(site: string, from: number, to: number, filters: readonly Filter[]): VisitTotals {
    const [f, t] = [floor(from, 60_000), ceil(to, 60_000)]
    const s: VisitTotals = { visits: 0, bounces: 0, pageviews: 0, durationMs: 0, engagedVisits: 0, engagedMs: 0, writingMs: 0 }
    for (const v of this.visits) {
      if (v.site !== site || v.start < f || v.start >= t || !this.visitMatches(v, filters)) continue
      s.visits++
      if (v.views.length === 1) s.bounces++
      s.pageviews += v.views.length
      s.durationMs += v.end - v.start
    }
    return s
  }

  top(site: string, dim: Dimension, from: number, to: number, limit: number, filters: readonly Filter[]): TopRow[] {
    const [f, t] = [floor(from, 3_600_000), ceil(to, 3_600_000)]
    const rows = new Map<string, TopRow>()
    const row = (value: string): TopRow => {
      let r = rows.get(value)
      if (r === undefined) rows.set(value, (r = VISIT_DIMS.has(dim) ? { value, pageviews: 0, visits: 0, bounces: 0, durationMs: 0 } : { value, pageviews: 0 }))
      return r
    }
    if (VISIT_DIMS.has(dim)) {
      for (const v of this.visits) {
        if (v.site !== site || v.start < f || v.start >= t || !this.visitMatches(v, filters)) continue
        // the referrer list has a row of the visits without one ('', "Direct / None")
        const value = visitValue(v, dim) ?? (dim === 'referrer' ? '' : null)
        if (value === null) continue
        const r = row(value)
        r.visits = (r.visits ?? 0) + 1
        if (v.views.length === 1) r.bounces = (r.bounces ?? 0) + 1
        r.pageviews += v.views.length
        r.durationMs = (r.durationMs ?? 0) + v.end - v.start
      }
    } else if (dim === 'event') {
      for (const [e] of this.visitOfEvent) {
        if (e.site !== site || e.ts < f || e.ts >= t || e.name === null || !this.eventMatches(e, filters)) continue
        row(e.name).pageviews++
      }
    } else {
      for (const e of this.views(site, f, t, filters)) {
        const value = own(e, dim)
        if (value !== null) row(value).pageviews++
      }
    }
    const n = (r: TopRow): number => (VISIT_DIMS.has(dim) ? r.visits ?? 0 : r.pageviews)
    return [...rows.values()].sort((a, b) => n(b) - n(a) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, limit)
  }
}

function floor(t: number, size: number): number {
  return t - (((t % size) + size) % size)
}
function ceil(t: number, size: number): number {
  const f = floor(t, size)
  return f === t ? t : f + size
}
