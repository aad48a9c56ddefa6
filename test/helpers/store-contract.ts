/**
 * The one contract every `Store` implementation passes. A backend joins with one line:
 *   storeContract('postgres', postgresBacking, { skip: await postgresMissing() })
 * Every test gets a fresh, empty backing; `open` may be called again after `close()` on the same
 * backing to test a restart.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { LivestatsError } from '../../src/protocol/errors'
import { FILTER_DIMENSIONS, type Filter, type FilterDimension } from '../../src/hub/store/filters'
import type { GoalSpec } from '../../src/hub/goals/spec'
import type { Bucket, Dimension, LiveSample, PageStint, ProcessMinute, Range, SessionRecord, Store, StoredEvent } from '../../src/hub/store/types'
import { Oracle } from './analytics-oracle'
import { funnelContract } from './funnel-contract'
import { prng } from './prng'
export { prng }


export interface Backing {
  /** A store on this backing, not yet initialised. */
  open(): Store | Promise<Store>
  /** Removes the backing (files, schema) once the test is over. */
  cleanup(): Promise<void>
}
export type MakeBacking = () => Promise<Backing>

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
/** A fixed UTC day, 10:00, so every bucket boundary is known. */
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0)

let seq = 0
/** A human pageview with every column set; override what the test is about. */
export function pageview(over: Partial<StoredEvent> = {}): StoredEvent {
  seq++
  return {
    id: `ev${String(seq).padStart(10, '0')}${Math.random().toString(36).slice(2, 8)}`,
    ts: T0, type: 'pageview', site: 'a.example', visitor: 'v1', cid: 'c1', host: 'a.example', path: '/',
    title: 'Home', referrer: null, refHost: null, utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null,
    browser: 'Firefox', os: 'Linux', device: 'desktop', bot: false, country: 'NL', region: 'North Holland', city: 'Amsterdam',
    screen: 1920, language: 'en', name: null, data: null, instance: null,
    ...over,
  }
}

/** A tracker event of app `api` (an app's name goes in `site`). */
export function processEvent(over: Partial<StoredEvent> = {}): StoredEvent {
  return {
    ...pageview({ type: 'job', site: 'api', instance: 'host:1', name: 'sync', data: '{"count":1}' }),
    visitor: null, cid: null, host: null, path: null, title: null, browser: null, os: null, device: null,
    country: null, screen: null, language: null,
    ...over,
  }
}

function sample(over: Partial<LiveSample>): LiveSample {
  return {
    site: 'a.example', minute: T0, totalMax: 0, totalMean: 0, readingMax: 0, readingMean: 0,
    writingMax: 0, writingMean: 0, idleMax: 0, idleMean: 0, ...over,
  }
}

async function badQuery(p: Promise<unknown>): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof LivestatsError && err.code === 'LS_ERR_BAD_QUERY')
}

export function storeContract(name: string, makeBacking: MakeBacking, opts: { skip?: string | false } = {}): void {
  /** Runs `body` with an initialised store on a fresh backing, and cleans up whatever happens. */
  function withStore(body: (s: Store, b: Backing) => Promise<void>): () => Promise<void> {
    return async () => {
      const b = await makeBacking()
      const s = await b.open()
      try {
        await s.init()
        await body(s, b)
      } finally {
        await s.close()
        await b.cleanup()
      }
    }
  }
  const site = 'a.example'
  const hourOf = (t: number) => ({ site, from: t, to: t + HOUR })

  describe(`Store contract: ${name}`, { skip: opts.skip ?? false }, () => {
    it('init is idempotent', withStore(async (s) => {
      await s.init()
      await s.append([pageview()])
      await s.init()
      assert.equal(await s.countEvents(), 1)
      assert.deepEqual(await s.totals(hourOf(T0)), { pageviews: 1, visitors: 1 })
    }))

    it('stores a batch sent three times once, and counts the resends as duplicates', withStore(async (s) => {
      const batch = [pageview({ visitor: 'a' }), pageview({ visitor: 'b' }), pageview({ visitor: 'a' })]
      assert.deepEqual(await s.append(batch), { stored: 3, duplicates: 0, fresh: [true, true, true] })
      assert.deepEqual(await s.append(batch), { stored: 0, duplicates: 3, fresh: [false, false, false] })
      assert.deepEqual(await s.append(batch), { stored: 0, duplicates: 3, fresh: [false, false, false] })
      const mixed = [batch[0] as StoredEvent, pageview({ visitor: 'c' })]
      assert.deepEqual(await s.append(mixed), { stored: 1, duplicates: 1, fresh: [false, true] })
      assert.equal(await s.countEvents(), 4)
      assert.equal(await s.countEvents(site), 4)
      assert.deepEqual(await s.totals(hourOf(T0)), { pageviews: 4, visitors: 3 })
      const [point] = await s.series({ site, from: T0, to: T0 + MIN }, 'minute')
      assert.deepEqual(point, { t: T0, pageviews: 4, visitors: 3 })
    }))

    it('dedupes an id within its site or app only: the same id elsewhere is another event', withStore(async (s) => {
      // an id squatted on another site first: the victim's own event is still stored and counted
      const squat = pageview({ site: 'b.example', visitor: 'attacker' })
      assert.deepEqual(await s.append([squat]), { stored: 1, duplicates: 0, fresh: [true] })
      const real = pageview({ id: squat.id, visitor: 'victim' })
      assert.deepEqual(await s.append([real]), { stored: 1, duplicates: 0, fresh: [true] })
      // a tracker app named like the site holds a scope of its own, and so does the site against it
      const job = processEvent({ id: squat.id, site })
      assert.deepEqual(await s.append([job]), { stored: 1, duplicates: 0, fresh: [true] })
      const other = pageview({ site: 'api' })
      await s.append([processEvent({ id: other.id, site: 'api' })])
      assert.deepEqual(await s.append([other]), { stored: 1, duplicates: 0, fresh: [true] })
      // the type is part of the scope: a custom event does not squat a page view's id either
      assert.deepEqual(await s.append([pageview({ id: other.id, site: 'api', type: 'event', name: 'x' })]), { stored: 1, duplicates: 0, fresh: [true] })
      // within a scope, a resend is still a duplicate: web, tracker, and both in one batch
      assert.deepEqual(await s.append([real, job, { ...real }]), { stored: 0, duplicates: 3, fresh: [false, false, false] })
      const fresh = pageview({ visitor: 'c' })
      assert.deepEqual(await s.append([fresh, { ...fresh }]), { stored: 1, duplicates: 1, fresh: [true, false] })
      assert.equal(await s.countEvents(site), 3)
      assert.equal(await s.countEvents('b.example'), 1)
      assert.equal(await s.countEvents('api'), 3)
      assert.deepEqual(await s.totals(hourOf(T0)), { pageviews: 2, visitors: 2 })
      assert.deepEqual(await s.totals({ site: 'b.example', from: T0, to: T0 + HOUR }), { pageviews: 1, visitors: 1 })
    }))

    it('rolls pageviews and exact unique visitors up per minute, hour and day', withStore(async (s) => {
      await s.append([
        pageview({ visitor: 'a', ts: T0 + 1_000 }), pageview({ visitor: 'b', ts: T0 + 2_000 }),
        pageview({ visitor: 'a', ts: T0 + 3_000 }),
        pageview({ visitor: 'b', ts: T0 + MIN + 1 }), pageview({ visitor: 'c', ts: T0 + MIN + 2 }),
      ])
      // a later batch, same minute and visitor: one more pageview, no new visitor
      await s.append([pageview({ visitor: 'c', ts: T0 + MIN + 3 })])
      await s.append([pageview({ visitor: 'd', ts: T0 + HOUR + 5 }), pageview({ visitor: 'e', ts: T0 + DAY })])
      assert.deepEqual(await s.series({ site, from: T0, to: T0 + 3 * MIN }, 'minute'), [
        { t: T0, pageviews: 3, visitors: 2 },
        { t: T0 + MIN, pageviews: 3, visitors: 2 },
        { t: T0 + 2 * MIN, pageviews: 0, visitors: 0 },
      ])
      assert.deepEqual(await s.series({ site, from: T0, to: T0 + 2 * HOUR }, 'hour'), [
        { t: T0, pageviews: 6, visitors: 3 },
        { t: T0 + HOUR, pageviews: 1, visitors: 1 },
      ])
      const day = T0 - 10 * HOUR
      assert.deepEqual(await s.series({ site, from: day, to: day + 2 * DAY }, 'day'), [
        { t: day, pageviews: 7, visitors: 4 },
        { t: day + DAY, pageviews: 1, visitors: 1 },
      ])
      assert.deepEqual(await s.totals({ site, from: T0, to: T0 + 2 * HOUR }), { pageviews: 7, visitors: 4 })
      assert.deepEqual(await s.totals({ site, from: T0 + MIN, to: T0 + 2 * MIN }), { pageviews: 3, visitors: 2 })
      assert.deepEqual(await s.totals({ site: 'nobody.example', from: T0, to: T0 + DAY }), { pageviews: 0, visitors: 0 })
    }))

    it('recounts a closed bucket exactly when a late pageview arrives for it', withStore(async (s) => {
      await s.append([pageview({ visitor: 'a', ts: T0 + MIN }), pageview({ visitor: 'b', ts: T0 + 5 * MIN })])
      await s.append([pageview({ visitor: 'c', ts: T0 + 5 * MIN + 1 })])
      // minute 1 closed when minute 5 opened; 'a' again adds no visitor, 'z' adds one
      await s.append([pageview({ visitor: 'a', ts: T0 + MIN + 9 }), pageview({ visitor: 'z', ts: T0 + MIN + 10 })])
      await s.append([pageview({ visitor: 'c', ts: T0 + 5 * MIN + 2 })])
      const pts = await s.series({ site, from: T0 + MIN, to: T0 + 6 * MIN }, 'minute')
      assert.deepEqual(pts[0], { t: T0 + MIN, pageviews: 3, visitors: 2 })
      assert.deepEqual(pts[4], { t: T0 + 5 * MIN, pageviews: 3, visitors: 2 })
      assert.deepEqual(await s.series(hourOf(T0), 'hour'), [{ t: T0, pageviews: 6, visitors: 4 }])
    }))

    it('stores bots but leaves them out of every count, top list and the feed', withStore(async (s) => {
      const bot = { bot: true, visitor: 'crawler', browser: 'Googlebot', path: '/robots' }
      const r = await s.append([pageview({ visitor: 'a' }), pageview(bot), pageview({ ...bot, type: 'event', name: 'x' })])
      assert.equal(r.stored, 3)
      assert.equal(await s.countEvents(), 3)
      assert.deepEqual(await s.totals(hourOf(T0)), { pageviews: 1, visitors: 1 })
      assert.deepEqual(await s.series({ site, from: T0, to: T0 + MIN }, 'minute'), [{ t: T0, pageviews: 1, visitors: 1 }])
      assert.deepEqual(await s.top(hourOf(T0), 'browser', 10), [{ value: 'Firefox', pageviews: 1 }])
      assert.deepEqual(await s.top(hourOf(T0), 'page', 10), [{ value: '/', pageviews: 1 }])
      assert.deepEqual(await s.top(hourOf(T0), 'event', 10), [])
      assert.deepEqual((await s.feed(null, 10)).map((f) => f.browser), ['Firefox'])
      // ... but says how many page views it kept out as bots (not their custom events), per site and range
      assert.equal(await s.bots(hourOf(T0)), 1)
      await s.append([pageview({ ...bot, ts: T0 + 2 * HOUR }), pageview({ ...bot, site: 'b.example' })])
      assert.equal(await s.bots(hourOf(T0)), 1)
      assert.equal(await s.bots({ site, from: T0, to: T0 + DAY }), 2)
      assert.equal(await s.bots({ site: 'b.example', from: T0, to: T0 + DAY }), 1)
      assert.equal(await s.bots({ site: 'nobody.example', from: T0, to: T0 + DAY }), 0)
      // the span the totals count: a range ending inside a minute holds that minute's page views,
      // people's and bots' alike (a bot hit at the very ms the range ends was left out before)
      await s.append([pageview({ visitor: 'c', ts: T0 + 3 * HOUR + 20_000 }), pageview({ ...bot, ts: T0 + 3 * HOUR + 20_000 })])
      const ragged = { site, from: T0 + 3 * HOUR + 5_000, to: T0 + 3 * HOUR + 20_000 }
      assert.deepEqual(await s.totals(ragged), { pageviews: 1, visitors: 1 })
      assert.equal(await s.bots(ragged), 1)
    }))

    it('keeps counting visitors right across a restart', async () => {
      const b = await makeBacking()
      try {
        let s = await b.open()
        await s.init()
        await s.append([pageview({ visitor: 'a', ts: T0 + 10 }), pageview({ visitor: 'b', ts: T0 + 20 })])
        await s.close()
        s = await b.open()
        await s.init()
        await s.append([pageview({ visitor: 'a', ts: T0 + 30 }), pageview({ visitor: 'b', ts: T0 + 40 })])
        assert.deepEqual(await s.series({ site, from: T0, to: T0 + MIN }, 'minute'), [{ t: T0, pageviews: 4, visitors: 2 }])
        assert.deepEqual(await s.series(hourOf(T0), 'hour'), [{ t: T0, pageviews: 4, visitors: 2 }])
        await s.close()
        s = await b.open()
        await s.init()
        await s.append([pageview({ visitor: 'c', ts: T0 + 2 * MIN }), pageview({ visitor: 'a', ts: T0 + 2 * MIN })])
        assert.deepEqual(await s.series(hourOf(T0), 'hour'), [{ t: T0, pageviews: 6, visitors: 3 }])
        const day = T0 - 10 * HOUR
        assert.deepEqual(await s.series({ site, from: day, to: day + DAY }, 'day'), [{ t: day, pageviews: 6, visitors: 3 }])
        assert.equal(await s.countEvents(), 6)
        await s.close()
      } finally {
        await b.cleanup()
      }
    })

    it('ranks the top values of every dimension', withStore(async (s) => {
      const utm = { utmSource: 'news', utmMedium: 'email', utmCampaign: 'spring', utmTerm: 'Spring Boots', keyword: 'spring boots' }
      await s.append([
        // visit A lands from search.example with a campaign and reads on; B lands from search.example;
        // C lands from social.example with a keyword just before 11:00 and goes on after it
        pageview({ visitor: 'a', path: '/a', refHost: 'search.example', referrer: 'https://search.example/?q=1', ...utm }),
        pageview({ visitor: 'a', path: '/b', ts: T0 + 5 * MIN }),
        pageview({ visitor: 'b', path: '/a', refHost: 'search.example', browser: 'Chrome', os: 'macOS', device: 'mobile', country: 'DE', region: 'Bavaria', city: null }),
        pageview({ visitor: 'c', path: '/b', refHost: 'social.example', ts: T0 + HOUR - 1, keyword: 'spring boots' }),
        pageview({ visitor: 'c', path: '/c', ts: T0 + HOUR }),
        pageview({ type: 'event', name: 'signup', path: '/a' }),
        pageview({ type: 'event', name: 'signup' }),
        pageview({ type: 'event', name: 'download' }),
      ])
      const r = hourOf(T0)
      assert.deepEqual(await s.top(r, 'page', 10), [{ value: '/a', pageviews: 2 }, { value: '/b', pageviews: 2 }])
      assert.deepEqual(await s.top(r, 'page', 1), [{ value: '/a', pageviews: 2 }])
      // the source is the visit's: every page view of A and C counts for where their visit came from
      const visits = (value: string, n: number, bounces: number, pageviews: number, durationMs: number) => ({ value, pageviews, visits: n, bounces, durationMs })
      assert.deepEqual(await s.top(r, 'referrer', 10), [
        visits('search.example', 2, 1, 3, 5 * MIN), visits('social.example', 1, 0, 2, 1),
      ])
      assert.deepEqual(await s.top(r, 'utm_source', 10), [visits('news', 1, 0, 2, 5 * MIN)])
      assert.deepEqual(await s.top(r, 'utm_medium', 10), [visits('email', 1, 0, 2, 5 * MIN)])
      assert.deepEqual(await s.top(r, 'utm_campaign', 10), [visits('spring', 1, 0, 2, 5 * MIN)])
      assert.deepEqual(await s.top(r, 'utm_term', 10), [visits('Spring Boots', 1, 0, 2, 5 * MIN)])
      assert.deepEqual(await s.top(r, 'keyword', 10), [visits('spring boots', 2, 0, 4, 5 * MIN + 1)])
      assert.deepEqual(await s.top(r, 'browser', 10), [{ value: 'Firefox', pageviews: 3 }, { value: 'Chrome', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'os', 10), [{ value: 'Linux', pageviews: 3 }, { value: 'macOS', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'device', 10), [{ value: 'desktop', pageviews: 3 }, { value: 'mobile', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'event', 10), [{ value: 'signup', pageviews: 2 }, { value: 'download', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'country', 10), [{ value: 'NL', pageviews: 3 }, { value: 'DE', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'region', 10), [{ value: 'North Holland', pageviews: 3 }, { value: 'Bavaria', pageviews: 1 }])
      assert.deepEqual(await s.top(r, 'city', 10), [{ value: 'Amsterdam', pageviews: 3 }])
      // custom events are not pageviews
      assert.deepEqual(await s.totals(r), { pageviews: 4, visitors: 3 })
      assert.deepEqual(await s.top({ site, from: T0, to: T0 + 2 * HOUR }, 'page', 10), [
        { value: '/a', pageviews: 2 }, { value: '/b', pageviews: 2 }, { value: '/c', pageviews: 1 },
      ])
      assert.deepEqual(await s.top({ site: 'nobody.example', from: T0, to: T0 + HOUR }, 'page', 10), [])
      await badQuery(s.top(r, 'page', 0))
      await badQuery(s.top(r, 'toString' as Dimension, 10))
    }))

    it('zero-fills series in UTC buckets and refuses huge or inverted ranges', withStore(async (s) => {
      await s.append([pageview({ ts: T0 + 2 * MIN + 5 })])
      // an unaligned range covers every bucket it overlaps
      const pts = await s.series({ site, from: T0 + 30_000, to: T0 + 3 * MIN + 1 }, 'minute')
      assert.deepEqual(pts.map((p) => [p.t, p.pageviews]), [[T0, 0], [T0 + MIN, 0], [T0 + 2 * MIN, 1], [T0 + 3 * MIN, 0]])
      assert.equal((await s.series({ site: 'nobody.example', from: T0, to: T0 + DAY }, 'hour')).length, 24)
      assert.deepEqual(await s.series({ site, from: T0, to: T0 }, 'minute'), [])
      await badQuery(s.series({ site, from: T0, to: T0 + 200 * DAY }, 'minute'))
      await badQuery(s.series({ site, from: T0 + MIN, to: T0 }, 'minute'))
      await badQuery(s.series({ site, from: Number.NaN, to: T0 }, 'hour'))
      await badQuery(s.liveHistory({ site, from: T0, to: T0 + 200 * DAY }, 'minute'))
      await badQuery(s.series({ site, from: T0, to: T0 + DAY }, 'week' as Bucket))
    }))

    it('feeds human pageviews newest first, pages with before, filters by site', withStore(async (s) => {
      await s.append([
        pageview({ ts: T0 + 1, path: '/1' }), pageview({ ts: T0 + 3, path: '/3' }),
        pageview({ ts: T0 + 2, path: '/2', site: 'b.example' }), pageview({ ts: T0 + 4, path: '/4' }),
        pageview({ ts: T0 + 5, type: 'event', name: 'click', path: '/e' }),
        pageview({ ts: T0 + 6, type: 'leave', path: null }),
      ])
      assert.deepEqual((await s.feed(null, 10)).map((f) => f.path), ['/4', '/3', '/2', '/1'])
      const first = await s.feed(null, 2)
      assert.deepEqual(first.map((f) => f.path), ['/4', '/3'])
      const next = await s.feed(null, 2, first[first.length - 1]?.ts)
      assert.deepEqual(next.map((f) => f.path), ['/2', '/1'])
      assert.deepEqual((await s.feed(site, 10)).map((f) => f.path), ['/4', '/3', '/1'])
      assert.deepEqual((await s.feed('b.example', 10, T0 + 2)), [])
      const [row] = await s.feed('b.example', 1)
      assert.ok(row)
      assert.deepEqual(row, {
        id: row.id, ts: T0 + 2, site: 'b.example', path: '/2', host: 'a.example', title: 'Home', referrer: null,
        browser: 'Firefox', os: 'Linux', device: 'desktop', country: 'NL',
      })
    }))

    it('lists sites with their first and last event, process apps included', withStore(async (s) => {
      await s.append([pageview({ ts: T0 + 5 }), pageview({ ts: T0 + 1 }), pageview({ ts: T0 + 9, site: 'b.example' })])
      await s.append([pageview({ ts: T0 - 7 })])
      await s.append([{
        ...pageview({ ts: T0 + 3, type: 'process', site: 'api', instance: 'host:1', data: '{"cpu":3}' }),
        visitor: null, cid: null, host: null, path: null, title: null, browser: null, os: null, device: null,
      }])
      assert.deepEqual(await s.sites(), [
        { site, first: T0 - 7, last: T0 + 5 },
        { site: 'api', first: T0 + 3, last: T0 + 3 },
        { site: 'b.example', first: T0 + 9, last: T0 + 9 },
      ].sort((x, y) => (x.site < y.site ? -1 : 1)))
      assert.equal(await s.countEvents('api'), 1)
      assert.deepEqual(await s.totals({ site: 'api', from: T0, to: T0 + HOUR }), { pageviews: 0, visitors: 0 })
    }))

    it('prunes raw events older than a time and keeps the rollups', withStore(async (s) => {
      const old = Array.from({ length: 30 }, (_, i) => pageview({ ts: T0 + i, visitor: `v${i % 7}` }))
      await s.append([...old, pageview({ ts: T0 + DAY, visitor: 'new' })])
      await s.append([pageview({ ts: T0 + 5, type: 'event', name: 'old' })])
      assert.equal(await s.prune(T0 + HOUR), 31)
      assert.equal(await s.countEvents(), 1)
      assert.deepEqual(await s.series(hourOf(T0), 'hour'), [{ t: T0, pageviews: 30, visitors: 7 }])
      assert.deepEqual(await s.top(hourOf(T0), 'event', 10), [{ value: 'old', pageviews: 1 }])
      assert.equal((await s.feed(null, 10)).length, 1)
      // filtered queries read raw facts: none are left before the prune
      const page = [{ dim: 'page' as const, op: 'is' as const, value: '/' }]
      assert.deepEqual(await s.totals({ ...hourOf(T0), filters: page }), { pageviews: 0, visitors: 0 })
      assert.deepEqual(await s.totals({ site, from: T0 + DAY, to: T0 + DAY + HOUR, filters: page }), { pageviews: 1, visitors: 1 })
      assert.equal(await s.prune(T0 + HOUR), 0)
    }))

    it('prunes raw events of every type: human and bot page views and custom events, visitor-less ones, tracker events', withStore(async (s) => {
      const at = (t: number) => [
        pageview({ ts: t, visitor: 'a' }),
        pageview({ ts: t + 1, visitor: 'crawler', bot: true }),
        pageview({ ts: t + 2, type: 'event', name: 'signup', data: '{"plan":"pro"}' }),
        pageview({ ts: t + 3, type: 'event', name: 'crawl', visitor: 'crawler', bot: true }),
        // the store takes web events without a visitor (ingest always sets one); they count nowhere
        pageview({ ts: t + 4, visitor: null }),
        pageview({ ts: t + 5, type: 'event', name: 'anon', visitor: null }),
        ...(['bytes', 'db', 'job', 'process'] as const).map((type, i) => processEvent({ type, ts: t + 6 + i })),
      ]
      await s.append([...at(T0), ...at(T0 + DAY)])
      assert.equal(await s.countEvents(), 20)
      assert.equal(await s.prune(T0 + HOUR), 10)
      assert.equal(await s.countEvents(site), 6)
      assert.equal(await s.countEvents('api'), 4)
      // what is left is the later day's, and its custom event's property went nowhere
      assert.deepEqual(await s.eventTop(hourOf(T0), 'prop', 10), [])
      assert.deepEqual(await s.eventTop(hourOf(T0 + DAY), 'prop', 10), [{ value: 'plan', events: 1, visitors: 1 }])
      assert.equal(await s.bots(hourOf(T0)), 0)
      assert.equal(await s.bots(hourOf(T0 + DAY)), 1)
      assert.deepEqual((await s.feed(site, 10)).map((f) => f.ts), [T0 + DAY])
      assert.equal(await s.prune(T0 + HOUR), 0)
      assert.equal(await s.prune(T0 + 2 * DAY), 10)
      assert.equal(await s.countEvents(), 0)
    }))

    it('aggregates live minute samples to hours and days (max of max, mean of mean)', withStore(async (s) => {
      await s.appendLiveSamples([
        sample({ minute: T0, totalMax: 4, totalMean: 2, readingMax: 3, readingMean: 1, writingMax: 1, writingMean: 0.5 }),
        sample({ minute: T0 + MIN, totalMax: 9, totalMean: 4, readingMax: 2, readingMean: 3, idleMax: 7, idleMean: 6 }),
        sample({ minute: T0 + HOUR, totalMax: 1, totalMean: 1 }),
        sample({ minute: T0, site: 'b.example', totalMax: 100, totalMean: 100 }),
      ])
      // a resent minute replaces the first one
      await s.appendLiveSamples([sample({ minute: T0 + MIN, totalMax: 8, totalMean: 6, readingMax: 2, readingMean: 3, idleMax: 7, idleMean: 6 })])
      const minutes = await s.liveHistory({ site, from: T0, to: T0 + 2 * HOUR }, 'minute')
      assert.deepEqual(minutes.map((m) => [m.minute, m.totalMax]), [[T0, 4], [T0 + MIN, 8], [T0 + HOUR, 1]])
      assert.deepEqual(await s.liveHistory({ site, from: T0, to: T0 + 2 * HOUR }, 'hour'), [
        sample({ minute: T0, totalMax: 8, totalMean: 4, readingMax: 3, readingMean: 2, writingMax: 1, writingMean: 0.25, idleMax: 7, idleMean: 3 }),
        sample({ minute: T0 + HOUR, totalMax: 1, totalMean: 1 }),
      ])
      const day = T0 - 10 * HOUR
      const [d] = await s.liveHistory({ site, from: day, to: day + DAY }, 'day')
      assert.deepEqual([d?.minute, d?.totalMax, d?.totalMean], [day, 8, 3])
    }))

    it('appends sessions idempotently', withStore(async (s) => {
      const session = {
        id: 'session-0001', site, visitor: 'a', started: T0, ended: T0 + MIN, pageviews: 2, readingMs: 30_000,
        writingMs: 10_000, idleMs: 15_000, hiddenMs: 5_000, entry: '/', exit: '/b',
      }
      await s.appendSessions([session, { ...session, id: 'session-0002', entry: null, exit: null }])
      await s.appendSessions([session])
      await s.appendSessions([])
    }))

    it('keeps process minutes: a rewrite of the open minute replaces it, ranges are half-open, a restart keeps them', async () => {
      const b = await makeBacking()
      try {
        let s = await b.open()
        await s.init()
        const m = {
          app: 'api', instance: 'h:1', t: T0, sent: 1000, received: 200, read: 30, written: 4, jobs: 5, failed: 1,
          hist: [0, 2, 3], min: 1.5, max: 4.25, cpu: 12.5, rss: 50e6, heapUsed: 20e6, lag: 3.5, samples: 10,
          http: { requests: 7, status: [5, 1, 1, 0], sum: 70.5, min: 0.25, max: 30, hist: [1, 2, 0, 4] } as ProcessMinute['http'],
        }
        await s.appendProcessMinutes([m, { ...m, instance: 'h:2', min: null, jobs: 0, hist: [], http: null }])
        await s.appendProcessMinutes([{ ...m, sent: 5000, samples: 60 }, { ...m, t: T0 + MIN }])
        assert.deepEqual(await s.processMinutes(T0, T0 + MIN), [
          { ...m, sent: 5000, samples: 60 }, { ...m, instance: 'h:2', min: null, jobs: 0, hist: [], http: null },
        ].sort((x, y) => (x.instance < y.instance ? -1 : 1)))
        await s.close()
        s = await b.open()
        await s.init()
        const all = await s.processMinutes(T0 - MIN, T0 + 2 * MIN)
        assert.equal(all.length, 3)
        assert.deepEqual(all.map((r) => r.t), [T0, T0, T0 + MIN])
        await s.close()
      } finally {
        await b.cleanup()
      }
    })

    describe('visits', () => {
      const at = (h: number, m = 0) => T0 + (h - 10) * HOUR + m * MIN
      const visitsOf = (s: Store, from: number, to: number) => s.visitTotals({ site, from, to })
      /**
       * The hand-counted fixture (T0 is 2025-01-15 10:00 UTC), sent in three batches out of order,
       * one of them twice, with a bot between:
       *   A1  a 10:00 /, 10:20 /pricing, 10:50 /docs (exactly 30 min later: same visit)   3 pv, 50 min
       *   A2  a 11:30 /signup (40 min after 10:50)                                         bounce
       *   B1  b 10:05 /docs                                                                bounce
       *   C1  c 09:50 /blog, 10:15 /pricing (starts before 10:00)                          2 pv, 25 min
       *   D1  d 11:00 /x, 12:00 /y: two visits until 11:30 /z arrives and bridges them     3 pv, 60 min
       *   E1  e 23:50 /late, 00:10 next day /after (crosses midnight)                      2 pv, 20 min
       */
      async function fixture(s: Store): Promise<void> {
        await s.append([
          pageview({ visitor: 'a', ts: at(10), path: '/', refHost: 'search.example' }),
          pageview({ visitor: 'b', ts: at(10, 5), path: '/docs' }),
          pageview({ visitor: 'c', ts: at(10, 15), path: '/pricing' }),
          pageview({ visitor: 'a', ts: at(10, 20), path: '/pricing' }),
          pageview({ visitor: 'c', ts: at(9, 50), path: '/blog' }),
        ])
        const second = [
          pageview({ visitor: 'a', ts: at(11, 30), path: '/signup' }),
          pageview({ visitor: 'd', ts: at(12), path: '/y' }),
          pageview({ visitor: 'a', ts: at(10, 50), path: '/docs' }),
          pageview({ visitor: 'd', ts: at(11), path: '/x' }),
          pageview({ visitor: 'a', ts: at(10, 30), path: '/bot', bot: true }),
        ]
        await s.append(second)
        await s.append([pageview({ visitor: 'd', ts: at(11, 30), path: '/z' }), ...second])
        await s.append([pageview({ visitor: 'e', ts: at(24, 10), path: '/after' }), pageview({ visitor: 'e', ts: at(23, 50), path: '/late' })])
      }
      const visit = (visits: number, bounces: number, pageviews: number, durationMin: number) => ({
        visits, bounces, pageviews, durationMs: durationMin * MIN, engagedVisits: 0, engagedMs: 0, writingMs: 0,
      })

      it('counts visits, bounces, their page views and durations by where they start', withStore(async (s) => {
        await fixture(s)
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(2, 1, 4, 50), 'A1 and B1 start in 10:00-11:00; C1 started before')
        assert.deepEqual(await visitsOf(s, at(10), at(12)), visit(4, 2, 8, 110))
        assert.deepEqual(await visitsOf(s, at(9), at(10)), visit(1, 0, 2, 25), 'C1 with both its page views')
        assert.deepEqual(await visitsOf(s, at(11), at(11, 31)), visit(2, 1, 4, 60), 'D1 bridged into one, and A2')
        assert.deepEqual(await visitsOf(s, at(0), at(24)), visit(6, 2, 12, 155), 'the whole day (E1 started on it)')
        assert.deepEqual(await visitsOf(s, at(24), at(48)), visit(0, 0, 0, 0), 'E1 is not counted again the next day')
        assert.deepEqual(await visitsOf(s, at(23), at(25)), visit(1, 0, 2, 20))
        // an unaligned range is taken to whole minutes, like totals
        assert.deepEqual(await visitsOf(s, at(10) + 1, at(10, 5) + 1), visit(2, 1, 4, 50))
        assert.deepEqual(await s.visitTotals({ site: 'nobody.example', from: at(0), to: at(24) }), visit(0, 0, 0, 0))
        // page views stay counted by their own time: 10:00, 10:05, 10:15, 10:20, 10:50
        assert.equal((await s.totals({ site, from: at(10), to: at(11) })).pageviews, 5)
      }))

      it('ranks entry and exit pages by visits, with their bounces and durations', withStore(async (s) => {
        await fixture(s)
        const day = { site, from: at(0), to: at(24) }
        const one = (value: string, pageviews: number, bounces: number, min: number) => ({ value, pageviews, visits: 1, bounces, durationMs: min * MIN })
        assert.deepEqual(await s.top(day, 'entry_page', 10), [
          one('/', 3, 0, 50), one('/blog', 2, 0, 25), one('/docs', 1, 1, 0), one('/late', 2, 0, 20), one('/signup', 1, 1, 0), one('/x', 3, 0, 60),
        ])
        assert.deepEqual(await s.top(day, 'exit_page', 3), [
          { value: '/docs', pageviews: 4, visits: 2, bounces: 1, durationMs: 50 * MIN }, one('/after', 2, 0, 20), one('/pricing', 2, 0, 25),
        ])
        assert.deepEqual((await s.top({ site, from: at(10), to: at(11) }, 'entry_page', 10)).map((r) => r.value), ['/', '/docs'])
      }))

      it('lists the visits without a referrer as one row, "" (Direct / None), so the referrer list adds up to the visits, and filters by it', withStore(async (s) => {
        await fixture(s)
        const day = { site, from: at(0), to: at(24) }
        const row = (value: string, visits: number, bounces: number, pageviews: number, min: number) => ({ value, pageviews, visits, bounces, durationMs: min * MIN })
        // only A1 came from a referrer; A2, B1, C1, D1 and E1 came direct: 5 visits, 2 bounces, 1+1+2+3+2 page views, 25+60+20 min
        const direct = row('', 5, 2, 9, 105)
        const search = row('search.example', 1, 0, 3, 50)
        assert.deepEqual(await s.top(day, 'referrer', 10), [direct, search])
        assert.deepEqual(await s.top(day, 'referrer', 1), [direct])
        assert.deepEqual(await s.visitTotals(day), visit(6, 2, 12, 155), 'the rows add up to the visits')
        // 10:00-11:00: A1 (search) and B1 (direct) tie at one visit: '' ranks first, as it sorts first
        assert.deepEqual(await s.top({ site, from: at(10), to: at(11) }, 'referrer', 10), [row('', 1, 1, 1, 0), search])
        assert.deepEqual(await s.top({ site, from: at(10), to: at(11) }, 'referrer', 1), [row('', 1, 1, 1, 0)])
        assert.deepEqual(await s.top({ site, from: at(24), to: at(48) }, 'referrer', 10), [], 'no visits, no row')
        // the other visit dimensions list only the visits that have a value
        assert.deepEqual(await s.top(day, 'utm_source', 10), [])
        // filtered: the same row, counted from the filtered visits
        const f = (filters: Filter[]) => ({ ...day, filters })
        assert.deepEqual(await s.top(f([{ dim: 'page', op: 'is', value: '/docs' }]), 'referrer', 10), [row('', 1, 1, 1, 0), search], 'A1 and B1 saw /docs')
        assert.deepEqual(await s.top(f([{ dim: 'exit_page', op: 'is', value: '/pricing' }]), 'referrer', 10), [row('', 1, 0, 2, 25)])
        // `referrer` is '': the direct visits; is not '': the others
        const directOnly = f([{ dim: 'referrer', op: 'is', value: '' }])
        assert.deepEqual(await s.visitTotals(directOnly), visit(5, 2, 9, 105))
        assert.deepEqual(await s.top(directOnly, 'referrer', 10), [direct])
        assert.deepEqual(await s.top(directOnly, 'entry_page', 2), [row('/blog', 1, 0, 2, 25), row('/docs', 1, 1, 1, 0)])
        assert.equal((await s.totals(directOnly)).pageviews, 8, "their page views on the day (E1's 00:10 is the next)")
        const referred = f([{ dim: 'referrer', op: 'not', value: '' }])
        assert.deepEqual(await s.visitTotals(referred), visit(1, 0, 3, 50))
        assert.deepEqual(await s.top(referred, 'referrer', 10), [search])
        assert.equal((await s.totals(referred)).pageviews, 3)
      }))

      it('gives the same visits whatever the order and batching of the page views', withStore(async (s) => {
        const views: [string, number, string][] = [
          ['a', at(10), '/'], ['a', at(10, 20), '/pricing'], ['a', at(10, 50), '/docs'], ['a', at(11, 30), '/signup'],
          ['c', at(9, 50), '/blog'], ['c', at(10, 15), '/pricing'], ['d', at(11), '/x'], ['d', at(11, 30), '/z'], ['d', at(12), '/y'],
        ]
        // reversed, one page view per batch: every join is a late one
        for (const [visitor, ts, path] of [...views].reverse()) await s.append([pageview({ site: 'b.example', visitor, ts, path })])
        const sorted = { site: 'b.example', from: at(0), to: at(24) }
        assert.deepEqual(await s.visitTotals(sorted), visit(4, 1, 9, 50 + 25 + 60))
        assert.deepEqual((await s.top(sorted, 'entry_page', 10)).map((r) => [r.value, r.visits]), [['/', 1], ['/blog', 1], ['/signup', 1], ['/x', 1]])
        assert.deepEqual((await s.top(sorted, 'exit_page', 10)).map((r) => [r.value, r.visits]), [['/docs', 1], ['/pricing', 1], ['/signup', 1], ['/y', 1]])
      }))

      it('joins late page views of one batch to the visit an earlier one of the batch extended', withStore(async (s) => {
        const sec = (h: number, m: number, x: number) => at(h, m) + x * 1000
        // two visits 30.5 minutes apart; the first is not the visitor's latest, and stays open
        await s.append([pageview({ visitor: 'y', ts: at(10), path: '/a' }), pageview({ visitor: 'y', ts: sec(10, 30, 30), path: '/c' })])
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(2, 2, 2, 0))
        // 10:00:20 extends the first; 10:30:10 is then within 30 minutes of it (not of 10:00) and bridges both
        await s.append([pageview({ visitor: 'y', ts: sec(10, 0, 20), path: '/b' }), pageview({ visitor: 'y', ts: sec(10, 30, 10), path: '/d' })])
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(1, 0, 4, 30.5))
        assert.deepEqual(await s.top({ site, from: at(10), to: at(11) }, 'exit_page', 10), [
          { value: '/c', pageviews: 4, visits: 1, bounces: 0, durationMs: 30.5 * MIN },
        ])
      }))

      it('lets a late page view reopen, extend and bridge visits long since counted', withStore(async (s) => {
        await s.append([pageview({ visitor: 'x', ts: at(10), path: '/1' }), pageview({ visitor: 'x', ts: at(10, 50), path: '/3' })])
        // hours of other traffic later, both visits are settled
        for (let h = 12; h <= 20; h++) await s.append([pageview({ visitor: `o${h}`, ts: at(h), path: '/o' })])
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(2, 2, 2, 0))
        // a resent page view from 10:25 bridges them (25 minutes to each side)
        await s.append([pageview({ visitor: 'x', ts: at(10, 25), path: '/2' })])
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(1, 0, 3, 50))
        await s.append([pageview({ visitor: 'x', ts: at(9, 40), path: '/0' })])
        assert.deepEqual(await visitsOf(s, at(9), at(11)), visit(1, 0, 4, 70))
        assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(0, 0, 0, 0), 'it now starts at 09:40')
        assert.deepEqual(await s.top({ site, from: at(9), to: at(11) }, 'entry_page', 10), [
          { value: '/0', pageviews: 4, visits: 1, bounces: 0, durationMs: 70 * MIN },
        ])
        assert.deepEqual(await s.top({ site, from: at(9), to: at(11) }, 'exit_page', 10), [
          { value: '/3', pageviews: 4, visits: 1, bounces: 0, durationMs: 70 * MIN },
        ])
        assert.deepEqual(await visitsOf(s, at(0), at(24)), visit(10, 9, 13, 70))
      }))

      it('keeps joining visits after a restart, and prunes them with the raw events', async () => {
        const b = await makeBacking()
        try {
          let s = await b.open()
          await s.init()
          await s.append([pageview({ visitor: 'b', ts: at(10, 5), path: '/docs' })])
          await s.close()
          s = await b.open()
          await s.init()
          await s.append([pageview({ visitor: 'b', ts: at(10, 25), path: '/pricing' })])
          assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(1, 0, 2, 20))
          assert.deepEqual(await s.top({ site, from: at(10), to: at(11) }, 'exit_page', 10), [
            { value: '/pricing', pageviews: 2, visits: 1, bounces: 0, durationMs: 20 * MIN },
          ])
          await s.prune(at(12))
          // the rollups keep the visit; a page view after the prune starts a new one
          assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(1, 0, 2, 20))
          await s.append([pageview({ visitor: 'b', ts: at(10, 40), path: '/late' })])
          assert.deepEqual(await visitsOf(s, at(10), at(11)), visit(2, 1, 3, 20))
          await s.close()
        } finally {
          await b.cleanup()
        }
      })
    })

    describe('filters', () => {
      const pick = <T>(r: () => number, l: readonly T[]): T => l[Math.floor(r() * l.length)] as T
      const PATHS = ['/', '/a', '/b', '/pricing', '/Docs/Intro', '/docs/api']
      const REFS = [null, null, 'google.com', 'news.ycombinator.com', 'GitHub.com']
      const SOURCES = [null, null, 'newsletter', 'Twitter']
      const NAMES = ['signup', 'download', 'Play Video']
      /** Random visitors over six hours: page views 1-40 minutes apart, sources now and then, custom events. */
      function traffic(seed: number): StoredEvent[] {
        const r = prng(seed)
        const out: StoredEvent[] = []
        for (let v = 0; v < 30; v++) {
          const place = pick(r, [['DE', 'Bavaria', 'Munich'], ['NL', 'Utrecht', 'Utrecht'], ['US', null, null], [null, null, null]] as const)
          const agent = { visitor: `v${v}`, country: place[0], region: place[1], city: place[2], browser: pick(r, ['Chrome', 'Firefox', 'Safari']),
            os: pick(r, ['Linux', 'iOS', 'Windows']), device: pick(r, ['desktop', 'mobile']) }
          let ts = T0 + Math.floor(r() * 2 * HOUR) + v
          for (let i = 0, n = 1 + Math.floor(r() * 16); i < n; i++) {
            const src = r() < 0.4
            out.push(pageview({ ...agent, ts, path: pick(r, PATHS), refHost: src ? pick(r, REFS) : null, utmSource: src ? pick(r, SOURCES) : null,
              utmMedium: src && r() < 0.5 ? 'email' : null, utmCampaign: src && r() < 0.3 ? 'Spring' : null, utmTerm: src && r() < 0.3 ? 'Boots' : null,
              keyword: src && r() < 0.3 ? 'boots' : null }))
            if (r() < 0.15) out.push(pageview({ ...agent, type: 'event', ts: ts + 1000, name: pick(r, NAMES), path: pick(r, PATHS) }))
            ts += Math.floor((1 + r() * 39) * MIN) + 7
          }
          if (r() < 0.2) out.push(pageview({ ...agent, type: 'event', ts: ts + 5 * HOUR, name: 'late', path: '/' }))
        }
        out.push(pageview({ visitor: 'bot', bot: true, ts: T0 + HOUR, path: '/a', browser: 'Googlebot' }))
        return out.sort((a, b) => a.ts - b.ts)
      }
      /** Values each dimension is filtered by: stored ones, in other case, and one never stored. */
      const POOL: Record<FilterDimension, readonly string[]> = {
        page: PATHS, entry_page: PATHS, exit_page: PATHS, referrer: ['google.com', 'GitHub.com', 'nothing.example', ''],
        utm_source: ['newsletter', 'Twitter'], utm_medium: ['email'], utm_campaign: ['Spring', 'spring'], utm_term: ['Boots'],
        keyword: ['boots'], country: ['DE', 'NL', 'US'], region: ['Bavaria', 'Utrecht'], city: ['Munich', 'Utrecht'], browser: ['Chrome', 'Firefox', 'Safari'], os: ['Linux', 'iOS'],
        device: ['desktop', 'mobile'], event: [...NAMES, 'late'],
      }
      function randomFilters(r: () => number): Filter[] {
        const out: Filter[] = []
        for (let i = 0, n = Math.floor(r() * 4); i < n; i++) {
          const dim = pick(r, FILTER_DIMENSIONS)
          const op = pick(r, ['is', 'is', 'not', 'contains'] as const)
          const value = pick(r, POOL[dim])
          out.push({ dim, op, value: op === 'contains' ? pick(r, [value.slice(0, 2), value.slice(1).toUpperCase(), 'o', '/d']) || 'o' : value })
        }
        return out
      }
      const DIMS: Dimension[] = ['page', 'referrer', 'utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'keyword', 'browser', 'os',
        'device', 'country', 'region', 'city', 'event', 'entry_page', 'exit_page']

      it('answer every query as the rules say, with and without filters, on random traffic', withStore(async (s) => {
        const events = traffic(12)
        // batches of every size, in time order
        const r = prng(3)
        for (let i = 0; i < events.length;) {
          const n = 1 + Math.floor(r() * 40)
          await s.append(events.slice(i, i + n))
          i += n
        }
        const o = new Oracle(events)
        for (let k = 0; k < 60; k++) {
          const filters = k === 0 ? [] : randomFilters(r)
          const from = T0 - HOUR + Math.floor(r() * 3 * HOUR)
          const to = from + Math.floor((0.5 + r() * 5) * HOUR)
          const q = { site, from, to, filters }
          const what = JSON.stringify(filters)
          assert.deepEqual(await s.totals(q), o.totals(site, from, to, filters), `totals ${what}`)
          assert.deepEqual(await s.visitTotals(q), o.visitTotals(site, from, to, filters), `visitTotals ${what}`)
          assert.deepEqual(await s.series(q, 'hour'), o.series(site, from, to, 'hour', filters), `series ${what}`)
          for (const dim of DIMS) assert.deepEqual(await s.top(q, dim, 100), o.top(site, dim, from, to, 100, filters), `top ${dim} ${what}`)
        }
      }))

      it('answer each filter alone, of every dimension and operator, as the rules say', withStore(async (s) => {
        // besides the random visitors: twenty shop pages (a `contains` matching more stored values than
        // a query seeks one by one), and visits that enter and exit on `/` with and without another page between
        const shop = (visitor: string, at: number, paths: string[]): StoredEvent[] =>
          paths.map((path, i) => pageview({ visitor, ts: at + i * 2 * MIN, path, refHost: i === 0 ? 'google.com' : null, country: 'DE' }))
        const events = [
          ...traffic(7),
          ...Array.from({ length: 20 }, (_, i) => shop(`shop${i}`, T0 + i * 9 * MIN, [`/shop/item-${i}`, `/shop/item-${(i + 1) % 20}`])).flat(),
          ...shop('home-only', T0 + 20 * MIN, ['/', '/']), ...shop('home-and-back', T0 + 30 * MIN, ['/', '/a', '/']),
          ...shop('home-once', T0 + 40 * MIN, ['/']), ...shop('home-and-none', T0 + 50 * MIN, ['/', '/b']),
        ].sort((a, b) => a.ts - b.ts)
        for (let i = 0; i < events.length; i += 30) await s.append(events.slice(i, i + 30))
        const o = new Oracle(events)
        const ranges: [number, number, Bucket][] = [[T0 - HOUR, T0 + 9 * HOUR, 'hour'], [T0 + 17 * MIN, T0 + 2 * HOUR + 3 * MIN, 'minute']]
        for (const dim of FILTER_DIMENSIONS) {
          for (const op of ['is', 'not', 'contains'] as const) {
            const values = op === 'contains'
              ? (dim === 'page' ? ['SHOP', 'o'] : POOL[dim].slice(0, 2).map((v) => v.slice(1, 4)))
              : [...POOL[dim].slice(0, 2), ...(dim === 'page' ? ['/shop/item-3'] : []), ...(dim === 'referrer' ? [''] : [])]
            for (const value of values) {
              const filters: Filter[] = [{ dim, op, value }]
              const what = JSON.stringify(filters)
              for (const [from, to, bucket] of ranges) {
                const q = { site, from, to, filters }
                assert.deepEqual(await s.totals(q), o.totals(site, from, to, filters), `totals ${what}`)
                assert.deepEqual(await s.visitTotals(q), o.visitTotals(site, from, to, filters), `visitTotals ${what}`)
                assert.deepEqual(await s.series(q, bucket), o.series(site, from, to, bucket, filters), `series ${what}`)
                for (const d of DIMS) assert.deepEqual(await s.top(q, d, 100), o.top(site, d, from, to, 100, filters), `top ${d} ${what}`)
              }
            }
          }
        }
      }))

      it('give a History view (issue 12.6) whose every figure is what its own call gives, for each filter, unfiltered and on ragged ranges', withStore(async (s) => {
        const shop = (visitor: string, at: number, paths: string[]): StoredEvent[] =>
          paths.map((path, i) => pageview({ visitor, ts: at + i * 2 * MIN, path, refHost: i === 0 ? 'google.com' : null, country: 'DE' }))
        const events = [
          ...traffic(9),
          ...Array.from({ length: 20 }, (_, i) => shop(`shop${i}`, T0 + i * 9 * MIN, [`/shop/item-${i}`, `/shop/item-${(i + 1) % 20}`])).flat(),
          ...shop('home-only', T0 + 20 * MIN, ['/', '/']), ...shop('home-and-back', T0 + 30 * MIN, ['/', '/a', '/']),
        ].sort((a, b) => a.ts - b.ts)
        for (let i = 0; i < events.length; i += 30) await s.append(events.slice(i, i + 30))
        // engaged time and scroll depth on some page views, so the page list carries them
        await s.appendSessions(events.filter((e, i) => e.type === 'pageview' && !e.bot && i % 3 === 0).map((e, i) => ({
          id: `view-${i}`, site, visitor: e.visitor as string, started: e.ts, ended: e.ts + MIN, pageviews: 1, readingMs: 4000 + i, writingMs: i % 2 === 0 ? 0 : 700,
          idleMs: 0, hiddenMs: 0, entry: e.path, exit: e.path,
          pages: [{ path: e.path as string, at: e.ts, viewed: true, readingMs: 4000 + i, writingMs: i % 2 === 0 ? 0 : 700, idleMs: 0, hiddenMs: 0, ...(i % 4 === 0 ? { scroll: 30 + i } : {}) }],
        })))
        // minute-ragged (17 min past), hour-aligned, and one whose series, totals and lists all align differently
        const ranges: [number, number, Bucket][] = [
          [T0 + 17 * MIN + 5_000, T0 + 2 * HOUR + 3 * MIN, 'minute'], [T0 - HOUR, T0 + 9 * HOUR, 'hour'],
          [T0 + 41 * MIN, T0 + 5 * HOUR + 29 * MIN + 1, 'hour'], [T0 + 3 * MIN, T0 + 7 * HOUR, 'day'],
        ]
        const separately = async (q: Range, bucket: Bucket, limit: number) => ({
          series: await s.series(q, bucket), totals: await s.totals(q), visitTotals: await s.visitTotals(q), bots: await s.bots(q),
          tops: Object.fromEntries(await Promise.all(DIMS.map(async (d) => [d, await s.top(q, d, limit)] as const))),
          events: await s.eventTop(q, 'event', limit),
        })
        const cases: Filter[][] = [[]]
        for (const dim of FILTER_DIMENSIONS) {
          for (const op of ['is', 'not', 'contains'] as const) {
            const values = op === 'contains'
              ? (dim === 'page' ? ['SHOP', 'o'] : POOL[dim].slice(0, 1).map((v) => v.slice(1, 4)))
              : [...POOL[dim].slice(0, 1), ...(dim === 'page' ? ['/shop/item-3'] : [])]
            for (const value of values) cases.push([{ dim, op, value }])
          }
        }
        cases.push([{ dim: 'page', op: 'contains', value: 'shop' }, { dim: 'referrer', op: 'not', value: 'google.com' }, { dim: 'device', op: 'is', value: 'desktop' }])
        cases.push([{ dim: 'referrer', op: 'is', value: '' }], [{ dim: 'referrer', op: 'not', value: '' }, { dim: 'country', op: 'is', value: 'DE' }])
        let nonzero = 0
        for (const filters of cases) {
          for (const [k, [from, to, bucket]] of ranges.entries()) {
            const q = { site, from, to, filters }
            const limit = k === 2 ? 3 : 100
            const v = await s.view(q, { bucket, dims: DIMS, limit, events: true })
            const want = await separately(q, bucket, limit)
            assert.deepEqual(v, want, `view ${JSON.stringify(filters)} [${from}, ${to}) ${bucket}`)
            if (v.totals.pageviews > 0 && v.visitTotals.visits > 0) nonzero++
            // fewer lists read fewer columns (sqlite-view.ts): each subset gives the same figures
            for (const dims of [[], ['page', 'referrer'], ['utm_source', 'device', 'referrer'], ['keyword', 'exit_page', 'entry_page', 'region']] as Dimension[][]) {
              const part = await s.view(q, { bucket, dims, limit })
              assert.deepEqual(part, { ...want, tops: Object.fromEntries(dims.map((d) => [d, want.tops[d]])), events: null },
                `view of ${dims.join(', ')} ${JSON.stringify(filters)} [${from}, ${to}) ${bucket}`)
            }
          }
        }
        assert.ok(nonzero > cases.length, `most views count something (${nonzero})`)
        // only the lists asked for, once each
        const one = await s.view({ site, from: T0, to: T0 + 3 * HOUR, filters: [{ dim: 'country', op: 'is', value: 'DE' }] },
          { bucket: 'hour', dims: ['referrer', 'page', 'page'], limit: 10 })
        assert.deepEqual(Object.keys(one.tops).sort(), ['page', 'referrer'])
        assert.equal(one.events, null)
        assert.ok((one.tops.page ?? []).some((r) => r.engagedViews !== undefined), 'the page list carries engaged time')
        for (const filters of [[], [{ dim: 'country' as const, op: 'is' as const, value: 'DE' }]]) {
          const q = { site, from: T0, to: T0 + HOUR, filters }
          await badQuery(s.view(q, { bucket: 'hour', dims: ['page'], limit: 0 }))
          await badQuery(s.view(q, { bucket: 'hour', dims: ['nope' as Dimension], limit: 10 }))
          await badQuery(s.view(q, { bucket: 'week' as Bucket, dims: ['page'], limit: 10 }))
          await badQuery(s.view({ ...q, from: T0 + HOUR, to: T0 }, { bucket: 'hour', dims: ['page'], limit: 10 }))
        }
      }))

      it('give the same visits and page views filtered by nothing as the rollups give unfiltered', withStore(async (s) => {
        const events = traffic(5)
        // out of order: each batch reversed, so visits are joined late and bridged
        for (let i = 0; i < events.length; i += 25) await s.append(events.slice(i, i + 25).reverse())
        const all = (q: Range) => ({ ...q, filters: [{ dim: 'device' as const, op: 'not' as const, value: 'toaster' }] })
        for (const [from, to] of [[T0, T0 + 3 * HOUR], [T0 - HOUR, T0 + 9 * HOUR], [T0 + 17 * MIN, T0 + 2 * HOUR + 3 * MIN]] as const) {
          const q = { site, from, to }
          assert.deepEqual(await s.totals(all(q)), await s.totals(q))
          assert.deepEqual(await s.visitTotals(all(q)), await s.visitTotals(q))
          assert.deepEqual(await s.series(all(q), 'minute'), await s.series(q, 'minute'))
          for (const dim of DIMS) assert.deepEqual(await s.top(all(q), dim, 100), await s.top(q, dim, 100), dim)
        }
        const o = new Oracle(events)
        const q = { site, from: T0 - HOUR, to: T0 + 9 * HOUR }
        assert.deepEqual(await s.visitTotals(q), o.visitTotals(site, q.from, q.to, []))
        assert.deepEqual(await s.top(q, 'referrer', 100), o.top(site, 'referrer', q.from, q.to, 100, []))
      }))
    })

    describe('engaged time', () => {
      const stint = (path: string, at: number, readingMs: number, writingMs: number, more: Partial<PageStint> = {}): PageStint =>
        ({ path, at, viewed: true, readingMs, writingMs, idleMs: 0, hiddenMs: 0, ...more })
      const session = (id: string, visitor: string, pages: PageStint[]): SessionRecord => ({
        id, site, visitor, started: pages[0]?.at ?? T0, ended: T0 + HOUR, pageviews: pages.filter((p) => p.viewed).length,
        readingMs: pages.reduce((n, p) => n + p.readingMs, 0), writingMs: pages.reduce((n, p) => n + p.writingMs, 0), idleMs: 0,
        hiddenMs: 0, entry: pages[0]?.path ?? null, exit: pages[pages.length - 1]?.path ?? null, pages,
      })
      const sessions = [
        // a reads /a 30 s and writes 10 s, reads /b 20 s, then the URL moves to /c without a page view (5 s)
        session('s-a', 'a', [stint('/a', T0, 30_000, 10_000, { idleMs: 5_000 }), stint('/b', T0 + MIN, 20_000, 0),
          stint('/c', T0 + 90_000, 5_000, 0, { viewed: false })]),
        // b's tab stayed hidden: measured, engaged 0
        session('s-b', 'b', [stint('/a', T0 + 2 * MIN, 0, 0, { hiddenMs: 60_000 })]),
        // a stint whose page view was never stored counts nowhere per page
        session('s-x', 'x', [stint('/a', T0 + 3 * MIN, 9_000, 0)]),
      ]
      const views = () => [pageview({ visitor: 'a', ts: T0, path: '/a' }), pageview({ visitor: 'a', ts: T0 + MIN, path: '/b' }),
        pageview({ visitor: 'b', ts: T0 + 2 * MIN, path: '/a' })]
      const firefox = [{ dim: 'browser' as const, op: 'is' as const, value: 'Firefox' }]

      it('adds each page\'s reading and writing time to its page view and visit, once', withStore(async (s) => {
        await s.append(views())
        await s.appendSessions(sessions)
        await s.appendSessions(sessions) // a resend adds nothing
        const r = hourOf(T0)
        const pages = [
          { value: '/a', pageviews: 2, engagedViews: 2, engagedMs: 40_000, writingMs: 10_000 },
          { value: '/b', pageviews: 1, engagedViews: 1, engagedMs: 20_000, writingMs: 0 },
        ]
        assert.deepEqual(await s.top(r, 'page', 10), pages)
        assert.deepEqual(await s.top({ ...r, filters: firefox }, 'page', 10), pages)
        const visits = { visits: 2, bounces: 1, pageviews: 3, durationMs: MIN, engagedVisits: 2, engagedMs: 65_000, writingMs: 10_000 }
        assert.deepEqual(await s.visitTotals(r), visits)
        assert.deepEqual(await s.visitTotals({ ...r, filters: firefox }), visits)
        assert.deepEqual(await s.visitTotals({ ...r, filters: [{ dim: 'page', op: 'is', value: '/b' }] }),
          { visits: 1, bounces: 0, pageviews: 2, durationMs: MIN, engagedVisits: 1, engagedMs: 65_000, writingMs: 10_000 })
        assert.deepEqual(await s.top({ ...r, filters: [{ dim: 'page', op: 'is', value: '/b' }] }, 'page', 10), [pages[1]])
      }))

      it('moves engaged time with a visit that was already counted', withStore(async (s) => {
        await s.append(views())
        // hours later the visits are settled in the rollups; then the sessions arrive
        await s.append([pageview({ visitor: 'z', ts: T0 + 5 * HOUR, path: '/z' })])
        await s.appendSessions(sessions)
        const r = hourOf(T0)
        const visits = { visits: 2, bounces: 1, pageviews: 3, durationMs: MIN, engagedVisits: 2, engagedMs: 65_000, writingMs: 10_000 }
        assert.deepEqual(await s.visitTotals(r), visits)
        assert.deepEqual(await s.visitTotals({ ...r, filters: firefox }), visits)
      }))

      it('keeps each page view\'s deepest scroll once, and sums it per page like engaged time', withStore(async (s) => {
        await s.append(views())
        await s.appendSessions([
          session('s-a', 'a', [stint('/a', T0, 1_000, 0, { scroll: 40 }), stint('/b', T0 + MIN, 1_000, 0)]),
          session('s-b', 'b', [stint('/a', T0 + 2 * MIN, 1_000, 0, { scroll: 90 })]),
        ])
        // a's tab came back on another socket (a second session for the same page view): deeper
        // counts the difference, shallower nothing, and the resend of a session nothing at all
        await s.appendSessions([session('s-a2', 'a', [stint('/a', T0, 0, 0, { scroll: 60 })])])
        await s.appendSessions([session('s-a3', 'a', [stint('/a', T0, 0, 0, { scroll: 10 })])])
        await s.appendSessions([session('s-b', 'b', [stint('/a', T0 + 2 * MIN, 1_000, 0, { scroll: 90 })])])
        const r = hourOf(T0)
        const pages = [
          { value: '/a', pageviews: 2, engagedViews: 4, engagedMs: 2_000, writingMs: 0, scrollViews: 2, scrollSum: 150 },
          // no depth reported: no scroll fields
          { value: '/b', pageviews: 1, engagedViews: 1, engagedMs: 1_000, writingMs: 0 },
        ]
        assert.deepEqual(await s.top(r, 'page', 10), pages)
        assert.deepEqual((await s.top({ ...r, filters: firefox }, 'page', 10)).map(({ value, scrollViews, scrollSum }) => ({ value, scrollViews, scrollSum })),
          [{ value: '/a', scrollViews: 2, scrollSum: 150 }, { value: '/b', scrollViews: undefined, scrollSum: undefined }])
      }))
    })

    describe('custom event properties and goals (issue 13)', () => {
      // a: /pricing, /signup/one, Signup {plan: pro, seats: 2}; b: /pricing, Signup {plan: free};
      // c (DE): /blog/x, /blog/x/y, Download {file: a.pdf} and Signup {plan: pro} an hour later (a new visit's orphan: no page view)
      const events = () => [
        pageview({ visitor: 'a', path: '/pricing' }), pageview({ visitor: 'a', path: '/signup/one', ts: T0 + MIN }),
        pageview({ visitor: 'a', type: 'event', name: 'Signup', ts: T0 + 2 * MIN, data: JSON.stringify({ plan: 'pro', seats: 2 }) }),
        pageview({ visitor: 'b', path: '/pricing', ts: T0 + 3 * MIN }),
        pageview({ visitor: 'b', type: 'event', name: 'Signup', ts: T0 + 4 * MIN, data: JSON.stringify({ plan: 'free' }) }),
        pageview({ visitor: 'c', path: '/blog/x', ts: T0 + 5 * MIN, country: 'DE' }), pageview({ visitor: 'c', path: '/blog/x/y', ts: T0 + 6 * MIN, country: 'DE' }),
        pageview({ visitor: 'c', type: 'event', name: 'Download', ts: T0 + 7 * MIN, country: 'DE', data: JSON.stringify({ file: 'a.pdf' }) }),
        pageview({ visitor: 'c', type: 'event', name: 'Signup', ts: T0 + 50 * MIN, country: 'DE', data: JSON.stringify({ plan: 'pro' }) }),
        // a bot's event counts nowhere
        pageview({ visitor: 'z', type: 'event', name: 'Signup', ts: T0 + 8 * MIN, bot: true, data: JSON.stringify({ plan: 'pro' }) }),
      ]
      const row = (value: string, events: number, visitors: number) => ({ value, events, visitors })
      const prop = (key: string, op: 'is' | 'not' | 'contains', value: string) => ({ dim: 'prop' as const, key, op, value })

      it('ranks custom events, property keys and values with unique visitors', withStore(async (s) => {
        await s.append(events())
        const r = hourOf(T0)
        assert.deepEqual(await s.eventTop(r, 'event', 10), [row('Signup', 3, 3), row('Download', 1, 1)])
        assert.deepEqual(await s.eventTop(r, 'prop', 10), [row('plan', 3, 3), row('file', 1, 1), row('seats', 1, 1)])
        assert.deepEqual(await s.eventTop(r, 'prop:plan', 10), [row('pro', 2, 2), row('free', 1, 1)])
        assert.deepEqual(await s.eventTop(r, 'prop:seats', 10), [row('2', 1, 1)])
        assert.deepEqual(await s.eventTop(r, 'prop:none', 10), [])
        assert.deepEqual(await s.eventTop({ ...r, filters: [{ dim: 'country', op: 'is', value: 'DE' }] }, 'prop:plan', 10), [row('pro', 1, 1)])
        assert.deepEqual(await s.eventTop({ ...r, filters: [{ dim: 'event', op: 'is', value: 'Download' }] }, 'prop', 10), [row('file', 1, 1)])
        assert.deepEqual(await s.eventTop({ ...r, filters: [prop('plan', 'not', 'pro')] }, 'event', 10), [row('Download', 1, 1), row('Signup', 1, 1)])
        assert.deepEqual(await s.eventTop({ ...r, filters: [prop('file', 'contains', 'PDF')] }, 'event', 10), [row('Download', 1, 1)])
        assert.deepEqual(await s.eventTop({ site, from: T0 + 2 * HOUR, to: T0 + 3 * HOUR }, 'event', 10), [])
      }))

      it('filters page views and visits by their visit\'s event properties', withStore(async (s) => {
        await s.append(events())
        const r = { ...hourOf(T0), filters: [prop('plan', 'is', 'pro')] }
        // a's visit has the pro event; c's pro Signup, 44 min after c's last page view, fell in no visit
        assert.deepEqual(await s.totals(r), { pageviews: 2, visitors: 1 })
        assert.deepEqual(await s.top(r, 'page', 10), [{ value: '/pricing', pageviews: 1 }, { value: '/signup/one', pageviews: 1 }])
        assert.equal((await s.visitTotals(r)).visits, 1)
        assert.deepEqual((await s.series(r, 'hour'))[0], { t: T0, pageviews: 2, visitors: 1 })
        assert.deepEqual(await s.totals({ ...r, filters: [prop('plan', 'is', 'enterprise')] }), { pageviews: 0, visitors: 0 })
      }))

      it('counts goals: pages, patterns, events with properties, filtered', withStore(async (s) => {
        await s.append(events())
        const r = hourOf(T0)
        const goals: GoalSpec[] = [
          { kind: 'page' as const, page: '/pricing' }, { kind: 'page' as const, page: '/signup/*' },
          { kind: 'page' as const, page: '/blog/**' }, { kind: 'page' as const, page: '/blog/*' },
          { kind: 'event' as const, event: 'Signup' }, { kind: 'event' as const, event: 'Signup', props: { plan: 'pro' } },
          { kind: 'event' as const, event: 'Signup', props: { plan: 'pro', seats: '2' } }, { kind: 'page' as const, page: '/none' },
        ]
        const f = (visitors: number, conversions: number) => ({ visitors, conversions })
        assert.deepEqual(await s.conversions(r, goals), [f(2, 2), f(1, 1), f(1, 2), f(1, 1), f(3, 3), f(2, 2), f(1, 1), f(0, 0)])
        assert.deepEqual(await s.conversions({ ...r, filters: [{ dim: 'country', op: 'not', value: 'DE' }] }, goals),
          [f(2, 2), f(1, 1), f(0, 0), f(0, 0), f(2, 2), f(1, 1), f(1, 1), f(0, 0)])
        assert.deepEqual(await s.conversions({ ...r, filters: [prop('plan', 'is', 'free')] }, goals.slice(0, 1)), [f(1, 1)])
        assert.deepEqual(await s.conversions({ site: 'nowhere', from: T0, to: T0 + HOUR }, goals.slice(0, 2)), [f(0, 0), f(0, 0)])
      }))
    })

    funnelContract(withStore, pageview)

    it('keeps meta values: get, set, overwrite, list by prefix, delete', withStore(async (s) => {
      assert.equal(await s.getMeta('salt:2025-01-15'), null)
      await s.setMeta('salt:2025-01-15', 'x')
      await s.setMeta('salt:2025-01-15', 'y')
      await s.setMeta('salt:2025-01-16', 'z')
      await s.setMeta('token', 't')
      assert.equal(await s.getMeta('salt:2025-01-15'), 'y')
      assert.deepEqual(await s.listMeta('salt:'), [
        { key: 'salt:2025-01-15', value: 'y' }, { key: 'salt:2025-01-16', value: 'z' },
      ])
      assert.deepEqual(await s.listMeta('nothing'), [])
      await s.deleteMeta('salt:2025-01-15')
      await s.deleteMeta('absent')
      assert.equal(await s.getMeta('salt:2025-01-15'), null)
      assert.deepEqual((await s.listMeta('salt:')).map((m) => m.key), ['salt:2025-01-16'])
    }))
  })
}
