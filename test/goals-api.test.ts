/**
 * Goal definitions over the HTTP API (issue 13.2): create, list, delete; bad input is
 * LS_ERR_INVALID_GOAL naming what is wrong; the read check (token, or Host on a hub without one)
 * covers every method, and writes from a browser must come from an allowed Origin as JSON.
 * Goals survive a restart (they live in the store).
 */
import { describe, it, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { startHub, type TestHub } from './helpers/hub'
import { createHub } from '../src/hub/hub'
import { quiet } from './helpers/hub'
import { join } from 'node:path'
import http from 'node:http'

const SITE = 'goals.test'

async function call(t: { url: string }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${t.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>), code: res.headers.get('x-livestats-error') }
}

describe('goal definitions: /api/goals', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(() => t.stop())

  it('creates, lists (oldest first) and deletes goals of a site', async () => {
    const a = await call(t, 'POST', '/api/goals', { site: SITE, page: '/pricing' })
    assert.equal(a.status, 201, JSON.stringify(a.body))
    assert.equal(a.body?.kind, 'page')
    assert.equal(a.body?.page, '/pricing')
    assert.equal(a.body?.name, 'Visit /pricing')
    assert.equal(a.body?.site, SITE)
    assert.match(String(a.body?.id), /^[A-Za-z0-9_-]{12}$/)
    const b = await call(t, 'POST', '/api/goals', { site: SITE, name: 'Pro signups', event: 'Signup', props: { plan: 'pro', seats: 2 } })
    assert.equal(b.status, 201)
    assert.deepEqual(b.body?.props, { plan: 'pro', seats: '2' })
    assert.equal(b.body?.name, 'Pro signups')
    await call(t, 'POST', '/api/goals', { site: 'other.test', event: 'Signup' })

    const list = await call(t, 'GET', `/api/goals?site=${SITE}`)
    assert.equal(list.status, 200)
    const goals = list.body?.goals as Record<string, unknown>[]
    assert.deepEqual(goals.map((g) => g.name), ['Visit /pricing', 'Pro signups'])
    assert.deepEqual(goals[1], b.body)

    const del = await call(t, 'DELETE', `/api/goals?site=${SITE}&id=${String(a.body?.id)}`)
    assert.equal(del.status, 204)
    const again = await call(t, 'DELETE', `/api/goals?site=${SITE}&id=${String(a.body?.id)}`)
    assert.equal(again.status, 404)
    assert.equal(again.code, 'LS_ERR_NOT_FOUND')
    // another site's id does not delete it
    const other = (await call(t, 'GET', '/api/goals?site=other.test')).body?.goals as { id: string }[]
    assert.equal((await call(t, 'DELETE', `/api/goals?site=${SITE}&id=${other[0]?.id}`)).status, 404)
    assert.deepEqual(((await call(t, 'GET', `/api/goals?site=${SITE}`)).body?.goals as { name: string }[]).map((g) => g.name), ['Pro signups'])
  })

  it('refuses bad goals with LS_ERR_INVALID_GOAL', async () => {
    const bad: [unknown, RegExp][] = [
      [{ site: SITE }, /exactly one of/],
      [{ site: SITE, page: '/a', event: 'x' }, /exactly one of/],
      [{ site: SITE, page: 'pricing' }, /starting with \//],
      [{ site: SITE, event: '' }, /custom event name/],
      [{ site: SITE, event: 'x', props: { a: { b: 1 } } }, /text, a number or a boolean/],
      [{ site: SITE, page: '/a', props: { a: '1' } }, /event goals only/],
      [{ site: SITE, page: '/a', colour: 'red' }, /unknown goal field/],
      [{ site: SITE, page: '/a', name: '' }, /name/],
      [{ page: '/a' }, /site/],
      [[1, 2], /JSON object/],
      ['{not json', /not JSON/],
    ]
    for (const [body, message] of bad) {
      const r = await call(t, 'POST', '/api/goals', body)
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.code, 'LS_ERR_INVALID_GOAL', JSON.stringify(body))
      assert.match(String(r.body?.message), message, JSON.stringify(body))
    }
    assert.equal((await call(t, 'GET', '/api/goals')).code, 'LS_ERR_BAD_QUERY')
  })

  it('takes writes only as JSON and only from the hub\'s own pages', async () => {
    const form = await call(t, 'POST', '/api/goals', undefined, { 'content-type': 'text/plain' })
    assert.equal(form.status, 415)
    const plain = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ site: SITE, page: '/x' }) })
    assert.equal(plain.status, 415)
    const cross = await call(t, 'POST', '/api/goals', { site: SITE, page: '/x' }, { origin: 'https://evil.example' })
    assert.equal(cross.status, 403)
    assert.equal(cross.code, 'LS_ERR_ORIGIN_FORBIDDEN')
    const crossDel = await call(t, 'DELETE', `/api/goals?site=${SITE}&id=x`, undefined, { origin: 'https://evil.example' })
    assert.equal(crossDel.code, 'LS_ERR_ORIGIN_FORBIDDEN')
    const own = await call(t, 'POST', '/api/goals', { site: SITE, page: '/own' }, { origin: t.url })
    assert.equal(own.status, 201)
    // DNS rebinding: a Host that is not the hub's
    for (const method of ['GET', 'POST', 'DELETE']) {
      const code = await new Promise<unknown>((resolve, reject) => {
        const u = new URL(t.url)
        const req = http.request({ host: u.hostname, port: u.port, method, path: `/api/goals?site=${SITE}&id=x`,
          headers: { host: 'attacker.example', 'content-type': 'application/json' } }, (res) => {
          res.resume()
          resolve(res.headers['x-livestats-error'])
        })
        req.on('error', reject)
        req.end(method === 'POST' ? JSON.stringify({ site: SITE, page: '/x' }) : undefined)
      })
      assert.equal(code, 'LS_ERR_HOST_FORBIDDEN', method)
    }
    assert.deepEqual(((await call(t, 'GET', `/api/goals?site=${SITE}`)).body?.goals as { page?: string }[]).flatMap((g) => g.page ?? []), ['/own'])
  })
})

describe('goal definitions with a token, across a restart', () => {
  it('needs the token for every method, and keeps goals in the store', async () => {
    const t = await startHub({ token: 'sekret-goals-token-123' })
    const auth = { authorization: 'Bearer sekret-goals-token-123' }
    try {
      assert.equal((await call(t, 'GET', `/api/goals?site=${SITE}`)).code, 'LS_ERR_UNAUTHORIZED')
      assert.equal((await call(t, 'POST', '/api/goals', { site: SITE, page: '/a' })).code, 'LS_ERR_UNAUTHORIZED')
      assert.equal((await call(t, 'DELETE', `/api/goals?site=${SITE}&id=x`)).code, 'LS_ERR_UNAUTHORIZED')
      const made = await call(t, 'POST', '/api/goals', { site: SITE, page: '/blog/**' }, auth)
      assert.equal(made.status, 201)
      await t.hub.close()
      const again = createHub({ port: 0, host: '127.0.0.1', store: join(t.dir, 'hub.db'), logger: quiet, token: 'sekret-goals-token-123' })
      const { url } = await again.listen()
      try {
        const list = await call({ url }, 'GET', `/api/goals?site=${SITE}`, undefined, auth)
        assert.deepEqual(list.body?.goals, [made.body])
      } finally {
        await again.close()
      }
    } finally {
      await t.stop()
    }
  })
})
