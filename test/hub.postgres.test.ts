/**
 * The hub on PostgreSQL end to end: `livestats serve --store postgres://…` (the real command) and
 * LIVESTATS_STORE take events over /collect and answer /api from PostgreSQL; /healthz names the
 * store. With PostgreSQL cut away (a TCP proxy in front of the shared server, cut and restored, so
 * nobody else's database goes down), no batch is acknowledged, the hub stays up and says why, and
 * the sources' resends after PostgreSQL returns are stored once.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { startChildHub } from './helpers/child-hub'
import { CollectClient, post, postFrom, quiet, startHub, type TestHub } from './helpers/hub'
import { dropSchema, POSTGRES_URL, schemaUrl, testSchema } from './helpers/postgres'
import { postgresMissingSync } from './helpers/services'
import { startTcpProxy } from './helpers/tcp-proxy'
import type { Ack, ErrorReply } from '../src/protocol/messages'
import { tracker } from '../src/tracker/index'
import pg from 'pg'

const SITE = 'pg.example'
const skip = postgresMissingSync()
let n = 0
const pv = (path: string) => ({ id: `pghub${process.pid.toString(36)}x${(++n).toString(36).padStart(6, '0')}`, type: 'pageview', site: SITE, url: `https://${SITE}${path}` })

async function getJson(base: string, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${base}${path}`)
  assert.equal(res.status, 200, `${path}: ${res.status}`)
  return (await res.json()) as Record<string, unknown>
}

function totals(base: string): Promise<Record<string, unknown>> {
  const now = Date.now()
  return getJson(base, `/api/totals?site=${SITE}&from=${now - 3_600_000}&to=${now + 60_000}`)
}

describe('hub on PostgreSQL', { skip }, () => {
  const schemas: string[] = []
  // the visitor salts' key file (not in the store): a temp directory, never the working directory
  const dir = mkdtempSync(join(tmpdir(), 'livestats-pg-hub-'))
  after(async () => {
    for (const s of schemas) await dropSchema(s)
    rmSync(dir, { recursive: true, force: true })
  })

  it('livestats serve --store postgres://… takes /collect and answers /api and /healthz from PostgreSQL', async () => {
    const schema = testSchema()
    schemas.push(schema)
    const hub = await startChildHub(['--port', '0', '--store', schemaUrl(schema), '--key-file', join(dir, 'a.key')])
    try {
      assert.match(hub.output(), /store: postgres:\/\//)
      const health = await getJson(hub.url, '/healthz')
      assert.equal(health.store, 'postgres')
      const events = [pv('/'), pv('/pricing'), pv('/')]
      const r = await post(hub.url, { v: 1, events })
      assert.equal(r.status, 202, JSON.stringify(r.body))
      assert.equal(r.body.stored, 3)
      // a resend of the same batch is acknowledged and stored once
      const resend = await post(hub.url, { v: 1, events })
      assert.equal(resend.status, 202)
      assert.equal(resend.body.duplicates, 3)
      const t = await totals(hub.url)
      assert.equal(t.pageviews, 3)
      assert.equal(t.visitors, 1)
      assert.equal(t.visits, 1)
      const top = await getJson(hub.url, `/api/top?site=${SITE}&dim=page&from=${Date.now() - 3_600_000}&to=${Date.now() + 60_000}`)
      assert.deepEqual((top.rows as { value: string; pageviews: number }[]).map((x) => [x.value, x.pageviews]), [['/', 2], ['/pricing', 1]])
    } finally {
      hub.proc.kill('SIGTERM')
      await hub.exited
    }
    // LIVESTATS_STORE does the same, and a second start on the same schema keeps what was stored
    const again = await startChildHub(['--port', '0'], { LIVESTATS_STORE: schemaUrl(schema), LIVESTATS_DB: '', LIVESTATS_KEY_FILE: join(dir, 'a.key') })
    try {
      assert.equal((await getJson(again.url, '/healthz')).store, 'postgres')
      assert.equal((await totals(again.url)).pageviews, 3)
    } finally {
      again.proc.kill('SIGTERM')
      await again.exited
    }
  })

  it('PostgreSQL cut away: no acks, the hub stays up, and resends after it returns are stored once', async () => {
    const schema = testSchema()
    schemas.push(schema)
    const pgUrl = new URL(POSTGRES_URL)
    const proxy = await startTcpProxy([{ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) }])
    const through = new URL(schemaUrl(schema))
    through.port = String(proxy.port)
    let t: TestHub | null = null
    try {
      t = await startHub({ store: through.toString(), logger: quiet, keyFile: join(dir, 'b.key') })
      const base = t.url
      const before = [pv('/a'), pv('/b')]
      assert.equal((await post(base, { v: 1, events: before })).status, 202)

      proxy.cut()
      // HTTP: refused with the store's code, nothing acknowledged
      const down = [pv('/c'), pv('/d'), pv('/e')]
      const r = await post(base, { v: 1, events: down })
      assert.equal(r.status, 503)
      assert.equal(r.body.code, 'LS_ERR_STORE_UNAVAILABLE')
      // WebSocket (the snippet's and tracker's transport): an error reply for the frame, no ack
      const ws = new CollectClient(base)
      const wsDown = [pv('/f'), pv('/g')]
      const reply = (await ws.send({ v: 1, seq: 1, events: wsDown })) as Ack | ErrorReply
      assert.equal(reply.type, 'error')
      assert.equal((reply as ErrorReply).code, 'LS_ERR_STORE_UNAVAILABLE')
      // the hub itself is fine: health and the live view answer
      assert.equal((await getJson(base, '/healthz')).status, 'ok')
      // reads that need PostgreSQL fail with a status, not a crash
      const read = await fetch(`${base}/api/totals?site=${SITE}&from=0&to=1`)
      assert.equal(read.status, 503)
      assert.equal(((await read.json()) as { code: string }).code, 'LS_ERR_STORE_UNAVAILABLE')

      proxy.restore()
      // the sources resend what was not acknowledged (and the HTTP source resends twice)
      assert.equal((await post(base, { v: 1, events: down })).status, 202)
      assert.equal((await post(base, { v: 1, events: down })).status, 202)
      const ack = (await ws.send({ v: 1, seq: 2, events: wsDown })) as Ack
      assert.equal(ack.type, 'ack')
      ws.close()
      const tot = await totals(base)
      assert.equal(tot.pageviews, before.length + down.length + wsDown.length)
      assert.equal(await t.hub.store.countEvents(SITE), before.length + down.length + wsDown.length)
    } finally {
      await t?.stop()
      await proxy.close()
    }
  })

  it('two hubs on one PostgreSQL: resends to both at once are stored once, and each answers with both hubs\' figures', async () => {
    const schema = testSchema()
    schemas.push(schema)
    const key = join(dir, 'shared.key')
    // one key file for both (the visitor salts): a visitor hashes the same on either hub
    const a = await startHub({ store: schemaUrl(schema), logger: quiet, keyFile: key })
    const b = await startHub({ store: schemaUrl(schema), logger: quiet, keyFile: key })
    try {
      // 6 visitors (client addresses), 4 page views each, every batch sent to both hubs at the same moment
      const sends: Promise<{ status: number }>[] = []
      for (let round = 0; round < 4; round++) {
        for (let v = 1; v <= 6; v++) {
          const events = [pv(`/r${round}`)]
          sends.push(postFrom(a.url, { v: 1, events }, `127.0.0.${v + 10}`), postFrom(b.url, { v: 1, events }, `127.0.0.${v + 10}`))
        }
      }
      for (const r of await Promise.all(sends)) assert.equal(r.status, 202)
      const [ta, tb] = await Promise.all([totals(a.url), totals(b.url)])
      for (const t of [ta, tb]) {
        assert.equal(t.pageviews, 24)
        assert.equal(t.visitors, 6)
        assert.equal(t.visits, 6)
      }
      // the same figures from either hub (the range's own from/to differ by the ms each was asked at)
      assert.deepEqual({ ...ta, from: 0, to: 0 }, { ...tb, from: 0, to: 0 })
      assert.equal(await a.hub.store.countEvents(SITE), 24)
    } finally {
      await a.stop()
      await b.stop()
    }
  })

  it('the Node tracker keeps its jobs through a PostgreSQL outage and they are stored once after', async () => {
    const schema = testSchema()
    schemas.push(schema)
    const pgUrl = new URL(POSTGRES_URL)
    const proxy = await startTcpProxy([{ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) }])
    const through = new URL(schemaUrl(schema))
    through.port = String(proxy.port)
    let t: TestHub | null = null
    const warnings: string[] = []
    try {
      t = await startHub({ store: through.toString(), logger: quiet, keyFile: join(dir, 'c.key') })
      const tr = tracker({ name: 'pg-app', hub: t.url, interval: 100, handleSignals: false }, { warn: (m: string) => warnings.push(m) })
      let done = 0
      const work = async (ms: number): Promise<void> => {
        for (const end = Date.now() + ms; Date.now() < end;) {
          tr.job.start('sync').stop()
          done++
          await new Promise((r) => setTimeout(r, 20))
        }
      }
      await work(500)
      proxy.cut()
      await work(3000)
      assert.ok(tr.stats().buffered > 0, 'the tracker holds what the hub could not store')
      proxy.restore()
      await work(500)
      const closed = await tr.close({ timeout: 30_000 })
      assert.equal(closed.pending, 0)
      assert.ok(warnings.some((w) => w.includes('LS_ERR_STORE_UNAVAILABLE')), warnings.join('\n'))
      const c = new pg.Client({ connectionString: POSTGRES_URL })
      await c.connect()
      try {
        const r = await c.query<{ n: string; rows: string }>(`SELECT coalesce(sum((data::json->>'count')::int), 0) AS n, count(*) AS rows
          FROM "${schema}".events WHERE site = 'pg-app' AND type = 'job'`)
        assert.equal(Number(r.rows[0]?.n), done, 'every job counted once')
      } finally {
        await c.end()
      }
    } finally {
      await t?.stop()
      await proxy.close()
    }
  })
})

describe('store configuration', () => {
  it('takes postgres:// URLs (checked at start), sqlite paths and plain "sqlite", and hides a password in logs', async () => {
    const { resolveConfig, redactStoreUrl } = await import('../src/hub/config')
    const { parseServeArgs } = await import('../src/cli')
    assert.equal(resolveConfig({ store: 'postgres://db.internal/ls?schema=site_a' }).storeUrl, 'postgres://db.internal/ls?schema=site_a')
    assert.equal(resolveConfig({ store: 'sqlite' }).storeUrl, 'sqlite:./livestats.db')
    assert.equal(resolveConfig({ store: './x.db' }).storeUrl, 'sqlite:./x.db')
    assert.equal(resolveConfig({}).storeUrl, 'sqlite:./livestats.db')
    assert.throws(() => resolveConfig({ store: 'postgres://db.internal/ls?schema=a;drop' }), /schema "a;drop" must be a plain SQL name/)
    assert.throws(() => resolveConfig({ store: 'postgres://' }), /needs a host|valid postgres/)
    assert.equal(redactStoreUrl('postgres://ls:secret@db.internal/ls'), 'postgres://ls:***@db.internal/ls')
    assert.equal(parseServeArgs(['--store', 'postgres://h/d'], {}).options.store, 'postgres://h/d')
    assert.equal(parseServeArgs([], { LIVESTATS_STORE: 'postgres://h/d' }).options.store, 'postgres://h/d')
  })
})
