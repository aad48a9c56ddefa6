/**
 * The funnel part of the store contract (goals/funnel.ts states the rules): one hand-counted
 * fixture with steps out of order, repeated steps, two visits of one visitor, visits crossing
 * both edges of the range, a bot, and filters. Every number below was counted by hand from the
 * visit table in the comment.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { GoalSpec } from '../../src/hub/goals/spec'
import type { Range, Store, StoredEvent } from '../../src/hub/store/types'

const MIN = 60_000
const T0 = Date.UTC(2025, 0, 15, 10, 0, 0)
const site = 'a.example'

type Make = (over: Partial<StoredEvent>) => StoredEvent

/**
 * The visits (minutes from T0; range [T0, T0 + 120)):
 *   v1  0 /   1 /pricing  2 /signup  3 Signup{plan:pro}            → steps 1 2 3
 *   v2  5 /signup  6 /pricing                                       → 1 (step 2 came before step 1)
 *   v3  10 /signup  11 /pricing  12 /signup  13 Signup{plan:free}   → 1 2 (step 2 again, later)
 *   v4  20 /pricing  21 Signup{plan:pro}  22 /pricing  23 /blog  24 /signup → 1 2 (the event came before /signup)
 *   v5  30 /pricing; then 65 /pricing 66 /signup 67 Signup{plan:pro} (a second visit: 35 min later) → 1; 1 2 3
 *   v6  −10 /pricing  5 /signup  6 Signup{plan:pro}                 → none (started before the range)
 *   v7  110 /pricing (from google.com)  125 /signup  126 Signup{plan:pro, n:2} → 1 2 3 (ends after the range)
 *   v8  125 /pricing  126 /signup                                   → none (started after the range)
 *   v9  40 /pricing  41 /signup (Chrome)                            → 1 2
 *   bot 50 /pricing  51 /signup                                     → none
 */
function fixture(make: Make): StoredEvent[] {
  const pv = (visitor: string, m: number, path: string, more: Partial<StoredEvent> = {}) =>
    make({ visitor, ts: T0 + m * MIN, path, ...more })
  const ev = (visitor: string, m: number, props: Record<string, unknown>) =>
    make({ visitor, ts: T0 + m * MIN, type: 'event', name: 'Signup', path: '/signup', data: JSON.stringify(props) })
  const chrome = { browser: 'Chrome' }
  return [
    pv('v1', 0, '/'), pv('v1', 1, '/pricing'), pv('v1', 2, '/signup'), ev('v1', 3, { plan: 'pro' }),
    pv('v2', 5, '/signup'), pv('v2', 6, '/pricing'),
    pv('v3', 10, '/signup'), pv('v3', 11, '/pricing'), pv('v3', 12, '/signup'), ev('v3', 13, { plan: 'free' }),
    pv('v4', 20, '/pricing'), ev('v4', 21, { plan: 'pro' }), pv('v4', 22, '/pricing'), pv('v4', 23, '/blog'), pv('v4', 24, '/signup'),
    pv('v5', 30, '/pricing'), pv('v5', 65, '/pricing'), pv('v5', 66, '/signup'), ev('v5', 67, { plan: 'pro' }),
    pv('v6', -10, '/pricing'), pv('v6', 5, '/signup'), ev('v6', 6, { plan: 'pro' }),
    pv('v7', 110, '/pricing', { refHost: 'google.com', referrer: 'https://google.com/' }), pv('v7', 125, '/signup'),
    ev('v7', 126, { plan: 'pro', n: 2 }),
    pv('v8', 125, '/pricing'), pv('v8', 126, '/signup'),
    pv('v9', 40, '/pricing', chrome), pv('v9', 41, '/signup', chrome),
    pv('bot', 50, '/pricing', { bot: true }), pv('bot', 51, '/signup', { bot: true }),
  ].sort((a, b) => a.ts - b.ts)
}

const pricing: GoalSpec = { kind: 'page', page: '/pricing' }
const signupPage: GoalSpec = { kind: 'page', page: '/signup' }
const signupPro: GoalSpec = { kind: 'event', event: 'Signup', props: { plan: 'pro' } }
const signup: GoalSpec = { kind: 'event', event: 'Signup' }
const F1 = [pricing, signupPage, signupPro]

/** Per step [visits, visitors]. */
const counts = (...steps: [number, number][]) => steps.map(([visits, visitors]) => ({ visits, visitors }))

export function funnelContract(withStore: (body: (s: Store) => Promise<void>) => () => Promise<void>, make: Make): void {
  const range: Range = { site, from: T0, to: T0 + 120 * MIN }

  describe('funnels', () => {
    it('counts visits and visitors per step in order, once per visit, within the range (hand-counted)', withStore(async (s) => {
      await s.append(fixture(make))
      // step 1: v1 v2 v3 v4 v5 (twice) v7 v9; step 2: v1 v3 v4 v5 v7 v9; step 3: v1 v5 v7
      assert.deepEqual(await s.funnel(range, F1), counts([8, 7], [6, 6], [3, 3]))
      // repeated step: two /pricing views in one visit (v4 only; v5's two are in two visits)
      assert.deepEqual(await s.funnel(range, [pricing, pricing]), counts([8, 7], [1, 1]))
      // an event step first: Signup, then /signup after it (v4 alone)
      assert.deepEqual(await s.funnel(range, [signup, signupPage]), counts([5, 5], [1, 1]))
      // patterns: / then any /sign* page
      assert.deepEqual(await s.funnel(range, [{ kind: 'page', page: '/' }, { kind: 'page', page: '/sign*' }]), counts([1, 1], [1, 1]))
      // any page view, then Signup{plan:pro} after it (v4's came after its first /pricing)
      assert.deepEqual(await s.funnel(range, [{ kind: 'page', page: '/**' }, signupPro]), counts([8, 7], [4, 4]))
      // property values compare as text: n sent as the number 2
      assert.deepEqual(await s.funnel(range, [pricing, { kind: 'event', event: 'Signup', props: { n: '2' } }]), counts([8, 7], [1, 1]))
    }))

    it('counts a visit by where it started: the whole visit or none of it', withStore(async (s) => {
      await s.append(fixture(make))
      // [T0 − 15 min, T0 + 15 min): v1, v2, v3 and v6 (which started at −10)
      assert.deepEqual(await s.funnel({ site, from: T0 - 15 * MIN, to: T0 + 15 * MIN }, F1), counts([4, 4], [3, 3], [2, 2]))
      // [T0 + 100, T0 + 130): v7 (its later steps after the end count) and v8
      assert.deepEqual(await s.funnel({ site, from: T0 + 100 * MIN, to: T0 + 130 * MIN }, F1), counts([2, 2], [2, 2], [1, 1]))
      assert.deepEqual(await s.funnel({ site: 'nowhere.example', ...{ from: range.from, to: range.to } }, F1), counts([0, 0], [0, 0], [0, 0]))
      assert.deepEqual(await s.funnel(range, [{ kind: 'page', page: '/never' }, signupPage]), counts([0, 0], [0, 0]))
    }))

    it('applies every filter to the visits, never to the steps', withStore(async (s) => {
      await s.append(fixture(make))
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'browser', op: 'is', value: 'Chrome' }] }, F1), counts([1, 1], [1, 1], [0, 0]))
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'browser', op: 'not', value: 'Chrome' }] }, F1), counts([7, 6], [5, 5], [3, 3]))
      // a page filter keeps visits with a /blog page view, and the funnel still sees all of v4
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'page', op: 'is', value: '/blog' }] }, F1), counts([1, 1], [1, 1], [0, 0]))
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'referrer', op: 'is', value: 'google.com' }] }, F1), counts([1, 1], [1, 1], [1, 1]))
      // visits with a Signup event: v1 v3 v4 v5's second v7
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'event', op: 'is', value: 'Signup' }] }, F1), counts([5, 5], [5, 5], [3, 3]))
      assert.deepEqual(await s.funnel({ ...range, filters: [{ dim: 'entry_page', op: 'is', value: '/signup' }] }, F1), counts([2, 2], [1, 1], [0, 0]))
    }))

    it('gives the same answer when the events arrive in reverse order', withStore(async (s) => {
      for (const e of fixture(make).reverse()) await s.append([e])
      assert.deepEqual(await s.funnel(range, F1), counts([8, 7], [6, 6], [3, 3]))
      assert.deepEqual(await s.funnel(range, [signup, signupPage]), counts([5, 5], [1, 1]))
    }))
  })
}
