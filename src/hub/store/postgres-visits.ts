/**
 * Visits on PostgreSQL, inside one append transaction. The transaction first takes an advisory
 * lock per (site, visitor) of its page views (sorted, so two writers never wait on each other in
 * a circle), so while it runs no other writer touches those visitors' visits: it reads the visits
 * near its page views, joins them in memory exactly as visits.ts says (the same code the SQLite
 * store runs, so N writers give the visits one writer gives), writes the rows it changed, and
 * moves each changed visit's figures in the rollups (old figures out, new ones in).
 *
 * Unlike SQLite there is no open/closed split: the rollups always hold every visit, so reads never
 * look at the visits table and no writer needs memory of another's visits.
 */
import type { PoolClient } from 'pg'
import { VisitDeltas, join, touches, visitOf, VISIT_GAP_MS, type Visit } from './visits'
import type { StoredEvent } from './types'

export const VISIT_SELECT = `id, visitor, start_ms AS start, end_ms AS "end", pageviews, entry, exit, ref_host AS "refHost",
  utm_source AS "utmSource", utm_medium AS "utmMedium", utm_campaign AS "utmCampaign", utm_term AS "utmTerm", keyword,
  country, region, city, browser, os, device, engaged_n AS "engagedN", engaged_ms AS "engagedMs", writing_ms AS "writingMs"`

/** A visit as loaded (`was`: its figures before this transaction, null when new) and what happened to it. */
interface Slot {
  v: Visit
  was: Visit | null
  changed: boolean
  deleted: boolean
}

/** Site names of one transaction as small numbers, for `VisitDeltas` (which keys sites by number). */
export class SiteIndex {
  readonly names: string[] = []
  private readonly ids = new Map<string, number>()

  of(name: string): number {
    let id = this.ids.get(name)
    if (id === undefined) {
      id = this.names.length
      this.names.push(name)
      this.ids.set(name, id)
    }
    return id
  }
}

export class VisitBook {
  /** site\0visitor → that visitor's visits near the transaction's page views, by start. */
  private readonly slots = new Map<string, Slot[]>()

  constructor(private readonly sites: SiteIndex, readonly deltas: VisitDeltas) {}

  /** Reads the visits that fresh page views `views` (human, with a visitor) can touch. */
  async load(c: PoolClient, views: readonly StoredEvent[]): Promise<void> {
    const bySite = new Map<string, { visitors: Set<string>; min: number; max: number }>()
    for (const e of views) {
      let s = bySite.get(e.site)
      if (s === undefined) bySite.set(e.site, (s = { visitors: new Set(), min: e.ts, max: e.ts }))
      s.visitors.add(e.visitor ?? '')
      if (e.ts < s.min) s.min = e.ts
      if (e.ts > s.max) s.max = e.ts
    }
    for (const [site, s] of bySite) {
      // a visit touches a page view when it ends at most a gap before it and starts at most a gap after it
      const r = await c.query<Visit>(`SELECT ${VISIT_SELECT} FROM visits WHERE site = $1 AND visitor = ANY($2)
        AND end_ms >= $3 AND start_ms <= $4 ORDER BY start_ms`, [site, [...s.visitors], s.min - VISIT_GAP_MS, s.max + VISIT_GAP_MS])
      for (const v of r.rows) this.list(site, v.visitor).push({ v, was: { ...v }, changed: false, deleted: false })
    }
  }

  private list(site: string, visitor: string): Slot[] {
    const k = `${site}\0${visitor}`
    let l = this.slots.get(k)
    if (l === undefined) this.slots.set(k, (l = []))
    return l
  }

  /** Joins one fresh human page view (in arrival order, as SqliteVisits.pageview does). */
  pageview(e: StoredEvent): void {
    const l = this.list(e.site, e.visitor ?? '')
    let into: Slot | null = null
    let other: Slot | null = null
    for (const s of l) {
      if (s.deleted || !touches(s.v, e.ts)) continue
      if (into === null) into = s
      else if (other === null) other = s
    }
    if (into === null) {
      const v = visitOf(e)
      l.push({ v, was: null, changed: true, deleted: false })
      l.sort((a, b) => a.v.start - b.v.start)
      return
    }
    join(into.v, e, other?.v ?? null)
    into.changed = true
    if (other !== null) other.deleted = true
    l.sort((a, b) => a.v.start - b.v.start)
  }

  /** Writes the changed visits and feeds their old and new figures to the deltas. */
  async write(c: PoolClient): Promise<void> {
    const fresh: { site: string; v: Visit }[] = []
    const updated: Visit[] = []
    const gone: number[] = []
    for (const [k, l] of this.slots) {
      const site = k.slice(0, k.indexOf('\0'))
      const sid = this.sites.of(site)
      for (const s of l) {
        if (!s.changed && !s.deleted) continue
        if (s.was !== null) this.deltas.remove(sid, s.was)
        if (s.deleted) {
          if (s.was !== null) gone.push(s.v.id)
          continue
        }
        this.deltas.add(sid, s.v)
        if (s.was === null) fresh.push({ site, v: s.v })
        else updated.push(s.v)
      }
    }
    if (gone.length > 0) await c.query('DELETE FROM visits WHERE id = ANY($1::bigint[])', [gone.sort((a, b) => a - b)])
    if (updated.length > 0) {
      updated.sort((a, b) => a.id - b.id)
      await c.query(`UPDATE visits AS v SET start_ms = u.s, end_ms = u.e, pageviews = u.n, entry = u.entry, exit = u.exit,
        ref_host = u.ref, utm_source = u.us, utm_medium = u.um, utm_campaign = u.uc, utm_term = u.ut, keyword = u.kw,
        engaged_n = u.en, engaged_ms = u.em, writing_ms = u.wm
        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[],
          $9::text[], $10::text[], $11::text[], $12::text[], $13::int[], $14::bigint[], $15::bigint[])
          AS u(id, s, e, n, entry, exit, ref, us, um, uc, ut, kw, en, em, wm)
        WHERE v.id = u.id`, [
        updated.map((v) => v.id), updated.map((v) => v.start), updated.map((v) => v.end), updated.map((v) => v.pageviews),
        updated.map((v) => v.entry), updated.map((v) => v.exit), updated.map((v) => v.refHost), updated.map((v) => v.utmSource),
        updated.map((v) => v.utmMedium), updated.map((v) => v.utmCampaign), updated.map((v) => v.utmTerm),
        updated.map((v) => v.keyword), updated.map((v) => v.engagedN), updated.map((v) => v.engagedMs), updated.map((v) => v.writingMs),
      ])
    }
    if (fresh.length > 0) await insertVisits(c, fresh)
  }
}

async function insertVisits(c: PoolClient, rows: { site: string; v: Visit }[]): Promise<void> {
  const col = <T>(f: (v: Visit) => T): T[] => rows.map((r) => f(r.v))
  await c.query(`INSERT INTO visits (site, visitor, start_ms, end_ms, pageviews, entry, exit, ref_host, utm_source, utm_medium,
    utm_campaign, utm_term, keyword, country, region, city, browser, os, device, engaged_n, engaged_ms, writing_ms)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[],
      $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[],
      $18::text[], $19::text[], $20::int[], $21::bigint[], $22::bigint[])`, [
    rows.map((r) => r.site), col((v) => v.visitor), col((v) => v.start), col((v) => v.end), col((v) => v.pageviews),
    col((v) => v.entry), col((v) => v.exit), col((v) => v.refHost), col((v) => v.utmSource), col((v) => v.utmMedium),
    col((v) => v.utmCampaign), col((v) => v.utmTerm), col((v) => v.keyword), col((v) => v.country), col((v) => v.region),
    col((v) => v.city), col((v) => v.browser), col((v) => v.os), col((v) => v.device), col((v) => v.engagedN),
    col((v) => v.engagedMs), col((v) => v.writingMs),
  ])
}

/**
 * The visit a custom event or a presence stint at `ts` belongs to (filters.ts): of its visitor's
 * visits that start at most a gap after it and end at most a gap before it, the one that started
 * at or before it, else the other. Reads under the caller's visitor lock.
 */
export async function visitAt(c: PoolClient, site: string, visitor: string, ts: number): Promise<Visit | null> {
  const r = await c.query<Visit>(`SELECT ${VISIT_SELECT} FROM visits WHERE site = $1 AND visitor = $2 AND end_ms >= $3
    AND start_ms <= $4 ORDER BY (start_ms <= $5) DESC, start_ms DESC LIMIT 1`, [site, visitor, ts - VISIT_GAP_MS, ts + VISIT_GAP_MS, ts])
  return r.rows[0] ?? null
}
