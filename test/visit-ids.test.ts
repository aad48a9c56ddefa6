import assert from 'node:assert/strict'
import { test } from 'node:test'
import { VisitIds } from '../src/hub/store/visit-ids'

test('VisitIds: members of a close range answer from a count table, ids outside it are no members', () => {
  const ids = new VisitIds([105, 100, 105])
  ids.add(101)
  const t = ids.lookup()
  assert.ok(t.counts !== null)
  assert.equal(t.base, 100)
  assert.equal(ids.count(105), 2)
  assert.equal(ids.count(101), 1)
  for (const [id, member] of [[99, false], [100, true], [101, true], [102, false], [105, true], [106, false], [-5, false], [100.5, false], [Number.NaN, false]] as const) {
    assert.equal(ids.has(id), member, String(id))
  }
})

test('VisitIds: ids spread wider than the byte table fall back to a Map with the same answers', () => {
  const far = 2 ** 40
  const ids = new VisitIds([1, far])
  const t = ids.lookup()
  assert.equal(t.counts, null)
  ids.add(far)
  assert.ok(ids.has(1) && ids.has(far) && !ids.has(2) && !ids.has(far - 1))
  assert.equal(ids.count(far), 2)
})

test('VisitIds: an id added after a lookup is a member of the next one; an empty set has none', () => {
  const ids = new VisitIds()
  assert.equal(ids.has(7), false)
  ids.add(7)
  assert.equal(ids.has(7), true)
  assert.equal(ids.size, 1)
})
