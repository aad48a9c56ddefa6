// The goal and funnel step rule (src/hub/goals/spec.ts): parsing client input and matching paths and events.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { compilePage, goalLabel, matchesEvent, parseGoalSpec } from '../src/hub/goals/spec'
import { LivestatsError } from '../src/protocol/errors'

test('page patterns: * stays within a segment, ** crosses them, no * is exact', () => {
  const cases: [string, string, boolean][] = [
    ['/pricing', '/pricing', true], ['/pricing', '/pricing/', false], ['/pricing', '/Pricing', false],
    ['/blog/*', '/blog/a', true], ['/blog/*', '/blog/', true], ['/blog/*', '/blog/a/b', false], ['/blog/*', '/blog', false],
    ['/blog/**', '/blog/a/b', true], ['/blog/**', '/blog/', true], ['/docs/**/intro', '/docs/x/y/intro', true],
    ['/docs/**/intro', '/docs/intro', false], ['/*/edit', '/42/edit', true], ['/*/edit', '/a/42/edit', false],
    ['/a.b', '/axb', false], ['/a.b*', '/a.bc', true], ['/(x)+[y]', '/(x)+[y]', true], ['/p?q=*', '/p?q=1', true],
    ['/app/#/*', '/app/#/pricing', true], ['/**', '/anything/at/all', true], ['/x*', '/x\ny', true],
  ]
  for (const [pattern, path, want] of cases) assert.equal(compilePage(pattern)(path), want, `${pattern} vs ${path}`)
})

test('parseGoalSpec accepts page and event goals and refuses the rest with LS_ERR_INVALID_GOAL', () => {
  assert.deepEqual(parseGoalSpec({ page: '/blog/**' }), { kind: 'page', page: '/blog/**' })
  assert.deepEqual(parseGoalSpec({ kind: 'event', event: 'Signup' }), { kind: 'event', event: 'Signup' })
  assert.deepEqual(parseGoalSpec({ event: 'Signup', props: { plan: 'pro', seats: 2, trial: false } }),
    { kind: 'event', event: 'Signup', props: { plan: 'pro', seats: '2', trial: 'false' } })
  assert.deepEqual(parseGoalSpec({ event: 'Signup', props: {} }), { kind: 'event', event: 'Signup' })
  const bad: unknown[] = [
    null, 'x', [], {}, { page: '/a', event: 'b' }, { page: 'pricing' }, { page: 3 }, { page: '/' + 'a'.repeat(3000) },
    { event: '' }, { event: 'x'.repeat(600) }, { event: 'a', props: [] }, { event: 'a', props: { k: {} } },
    { page: '/a', props: { k: 'v' } }, { kind: 'page', event: 'a' }, { page: '/a', extra: 1 },
    { event: 'a', props: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'])) },
  ]
  for (const b of bad) {
    assert.throws(() => parseGoalSpec(b), (e: unknown) => e instanceof LivestatsError && e.code === 'LS_ERR_INVALID_GOAL' && e.status === 400, JSON.stringify(b))
  }
})

test('event goals match the name exactly and each property as text', () => {
  const g = parseGoalSpec({ event: 'Signup', props: { plan: 'pro', seats: 2 } })
  assert.equal(g.kind, 'event')
  if (g.kind !== 'event') return
  assert.equal(matchesEvent(g, 'Signup', { plan: 'pro', seats: 2, extra: 'x' }), true)
  assert.equal(matchesEvent(g, 'Signup', { plan: 'pro', seats: '2' }), true)
  assert.equal(matchesEvent(g, 'Signup', { plan: 'pro' }), false)
  assert.equal(matchesEvent(g, 'signup', { plan: 'pro', seats: 2 }), false)
  assert.equal(matchesEvent(g, 'Signup', null), false)
  assert.equal(matchesEvent({ kind: 'event', event: 'Signup' }, 'Signup', undefined), true)
  assert.equal(goalLabel(g), 'Signup (plan: pro, seats: 2)')
  assert.equal(goalLabel({ kind: 'page', page: '/pricing' }), 'Visit /pricing')
})
