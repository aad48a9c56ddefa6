/**
 * The packed batch the SQLite worker store hands its thread (src/hub/store/row-codec.ts): rows come
 * back exactly, a field repeated from the row before travels as one character, and a batch the
 * format cannot carry is refused (the store then sends it by structured clone).
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { packRows, unpackRows } from '../src/hub/store/row-codec'
import { pageview, processEvent } from './helpers/store-contract'

describe('row codec', () => {
  it('gives back every field of rows that repeat, change and drop fields from row to row', () => {
    const rows = [
      pageview({ ts: 1000, path: '/a', refHost: 'ref.example', utmSource: 'mail' }),
      pageview({ ts: 1000, path: '/b', refHost: 'ref.example', utmSource: null, screen: null }),
      pageview({ ts: 1001, path: '/b', visitor: 'v2', country: null, region: null, city: null, bot: true }),
      processEvent({ ts: 1001 }),
      pageview({ ts: 1002, type: 'event', name: 'signup', data: '{"plan":"pro"}', language: null }),
      pageview({ ts: 1002, type: 'event', name: 'signup', data: '{"plan":"pro"}', cid: null }),
    ]
    const packed = packRows(rows)
    assert.notEqual(packed, null)
    assert.deepEqual(unpackRows(packed as string), rows)
  })

  it('sends a field equal to the row before as one character', () => {
    const rows = Array.from({ length: 100 }, (_, i) => pageview({ id: `id${String(i).padStart(8, '0')}`, ts: 5000, path: `/p/${i}` }))
    const first = packRows(rows.slice(0, 1)) as string
    const all = packRows(rows) as string
    // each later row: its id (10) and path (4-5), 28 separators, one character for each repeated field
    // (21; null ones are empty): about 61, where the first row takes about 120
    const later = (all.length - first.length) / 99
    assert.ok(first.length > 110 && later < 70, `${first.length} characters, then ${later} a row`)
    assert.deepEqual(unpackRows(all), rows)
  })

  it('refuses a batch with a field it cannot carry', () => {
    assert.equal(packRows([pageview({ title: '' })]), null)
    assert.equal(packRows([pageview({ title: 'a\0b' })]), null)
    assert.equal(packRows([pageview(), pageview({ path: '\x01' })]), null)
    assert.notEqual(packRows([pageview({ title: 'a\x01b' })]), null)
  })
})
