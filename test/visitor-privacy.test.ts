/**
 * Issue 10 item 5: raw IPs cannot be recovered from what the hub keeps on disk. Before, the day's
 * salt (in `meta`), the masked IP (`a.b.c.0`) and the visitor hash (HMAC of site, IP, user agent)
 * sat side by side in the database: 256 guesses per user agent gave every IP back. Real hubs on
 * temp files; the attack reads the database files only, as someone holding a copy would.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createHub, type Hub } from '../src/hub/hub'
import { migrate } from '../src/hub/store/sqlite-schema'
import { optionsFromEnv, resolveConfig } from '../src/hub/config'
import { CHROME_UA, pageview, post, quiet } from './helpers/hub'

const SITE = 'private.test'
const UAS = [CHROME_UA, 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15']
/** Four visitors: an IP and a user agent each. */
const VISITORS = [
  { ip: '203.0.113.77', ua: UAS[0] as string },
  { ip: '198.51.100.4', ua: UAS[1] as string },
  { ip: '192.0.2.201', ua: UAS[0] as string },
  { ip: '100.64.9.18', ua: UAS[1] as string },
]
const masked = (ip: string): string => ip.replace(/\.\d+$/, '.0')
const DAY = 86_400_000
const dayKey = (t: number): string => new Date(t).toISOString().slice(0, 10)

function visitorHash(salt: Buffer, site: string, ip: string, ua: string): string {
  return createHmac('sha256', salt).update(site).update('\0').update(ip).update('\0').update(ua).digest('base64url').slice(0, 22)
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'livestats-privacy-'))
}

async function openHub(dir: string): Promise<{ hub: Hub; url: string }> {
  const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), logger: quiet, trustProxy: ['loopback'] })
  const { url } = await hub.listen()
  return { hub, url }
}

async function visit(url: string, v: { ip: string; ua: string }, path = '/'): Promise<void> {
  const r = await post(url, pageview(SITE, `https://${SITE}${path}`), { 'x-forwarded-for': v.ip, 'user-agent': v.ua })
  assert.equal(r.status, 202)
}

/** The database files (not the key file), copied as a backup or a leak would take them. */
function copyDatabase(from: string): string {
  const to = tempDir()
  for (const f of readdirSync(from)) if (f.startsWith('hub.db') && !f.endsWith('.key')) copyFileSync(join(from, f), join(to, f))
  return to
}

interface Loot {
  salts: Buffer[]
  maskedIps: string[]
  hashes: string[]
}

/**
 * What the attacker finds in database files: the visitor hashes, every salt-like value (any 64 hex
 * digits in the raw bytes, `meta` or free space alike) and every masked IPv4 (from an `ip` column
 * if there is one, and anywhere in the raw bytes).
 */
function loot(dir: string): Loot {
  const raw = readdirSync(dir).filter((f) => f.startsWith('hub.db')).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n')
  const salts = new Set(raw.match(/[0-9a-f]{64}/g) ?? [])
  const ips = new Set(raw.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.0\b/g) ?? [])
  const db = new Database(join(dir, 'hub.db'), { readonly: true, fileMustExist: true })
  try {
    for (const { value } of db.prepare('SELECT value FROM meta').all() as { value: string }[]) if (/^[0-9a-f]{64}$/.test(value)) salts.add(value)
    const cols = (db.prepare('PRAGMA table_info(events)').all() as { name: string }[]).map((c) => c.name)
    if (cols.includes('ip')) {
      for (const { ip } of db.prepare('SELECT DISTINCT ip FROM events WHERE ip IS NOT NULL').all() as { ip: string }[]) ips.add(ip)
    }
    const hashes = (db.prepare('SELECT DISTINCT visitor FROM events WHERE visitor IS NOT NULL').all() as { visitor: string }[]).map((r) => r.visitor)
    return { salts: [...salts].map((s) => Buffer.from(s, 'hex')), maskedIps: [...ips], hashes }
  } finally {
    db.close()
  }
}

/** The attack of issue 10: for each salt, masked IP and user agent, try the 256 last octets. Returns the IPs found. */
function recover(l: Loot): string[] {
  const want = new Set(l.hashes)
  const found = new Set<string>()
  for (const salt of l.salts) {
    for (const m of l.maskedIps) {
      const prefix = m.slice(0, -1)
      for (const ua of UAS) {
        for (let o = 0; o < 256; o++) {
          const ip = prefix + o
          if (want.has(visitorHash(salt, SITE, ip, ua))) found.add(ip)
        }
      }
    }
  }
  return [...found].sort()
}

describe('no raw IP can be recovered from the database files', () => {
  it('the attack of issue 10 (salt + masked IP + hash, 256 guesses per agent) recovers nothing, while running and after close', async () => {
    const dir = tempDir()
    const copies: string[] = []
    const { hub, url } = await openHub(dir)
    try {
      for (const v of VISITORS) await visit(url, v)
      await hub.writer.drain()
      copies.push(copyDatabase(dir)) // taken from a running hub: database, WAL and shared memory
      const live = loot(copies[0] as string)
      assert.equal(live.hashes.length, 4, 'the visitor hashes are there to attack')
      assert.deepEqual(recover(live), [])
      assert.deepEqual(live.maskedIps, [], 'no masked IP anywhere in the files')
      await hub.close()
      copies.push(copyDatabase(dir))
      const after = loot(copies[1] as string)
      assert.deepEqual([after.salts.length, after.maskedIps.length, recover(after)], [0, 0, []])

      // the attack works once salt and masked IPs are in hand: the key file and the addresses are what it lacks
      const key = JSON.parse(readFileSync(join(dir, 'hub.db.key'), 'utf8')) as { salts: Record<string, string> }
      const armed = { ...after, salts: Object.values(key.salts).map((s) => Buffer.from(s, 'hex')), maskedIps: VISITORS.map((v) => masked(v.ip)) }
      assert.deepEqual(recover(armed), VISITORS.map((v) => v.ip).sort())
      // every file the hub keeps, the key file included, is free of the addresses themselves
      for (const f of readdirSync(dir)) {
        const bytes = readFileSync(join(dir, f)).toString('latin1')
        for (const v of VISITORS) {
          assert.ok(!bytes.includes(v.ip), `${f} holds ${v.ip}`)
          assert.ok(!bytes.includes(masked(v.ip)), `${f} holds ${masked(v.ip)}`)
        }
      }
      assert.equal(statSync(join(dir, 'hub.db.key')).mode & 0o777, 0o600)
    } finally {
      await hub.close()
      for (const d of [dir, ...copies]) rmSync(d, { recursive: true, force: true })
    }
  })

  it('a database an older Livestats left (salts in meta, masked IPs) is cleaned on start, and its visitors still count once', async () => {
    const dir = tempDir()
    const file = join(dir, 'hub.db')
    const now = Date.now()
    const today = Buffer.alloc(32, 7)
    const yesterday = Buffer.alloc(32, 9)
    const first = VISITORS[0] as { ip: string; ua: string }
    const oldHash = visitorHash(today, SITE, first.ip, first.ua)
    const old = new Database(file)
    old.pragma('journal_mode = WAL')
    migrate(old, 5) // the schema Livestats had before this change
    const meta = old.prepare('INSERT INTO meta (key, value) VALUES (?, ?)')
    meta.run(`salt:${dayKey(now)}`, today.toString('hex'))
    meta.run(`salt:${dayKey(now - DAY)}`, yesterday.toString('hex'))
    meta.run(`salt:${dayKey(now - 5 * DAY)}`, Buffer.alloc(32, 3).toString('hex'))
    const insert = old.prepare(`INSERT INTO events (id, ts, type, site, visitor, host, path, bot, ip)
      VALUES (?, ?, 'pageview', ?, ?, ?, '/', 0, ?)`)
    // the old hub stored visitor 0 with today's salt, and plenty of rows with masked IPs
    insert.run('legacy-0000', now - 1000, SITE, oldHash, SITE, masked(first.ip))
    for (let i = 1; i < 300; i++) insert.run(`legacy-${String(i).padStart(4, '0')}`, now - 1000 + i, SITE, `v${i}`, SITE, `10.9.${i % 200}.0`)
    // every append of that hub wrote its site's row (schema 1); the upgrade's visit and fact back-fills find the site by it
    old.prepare('INSERT INTO sites (name, first, last) VALUES (?, ?, ?)').run(SITE, now - 1000, now - 701)
    old.close()
    assert.equal(recover(loot(dir)).includes(first.ip), true, 'the old file gives the IP away')
    const copies: string[] = []
    const { hub, url } = await openHub(dir)
    try {
      const key = JSON.parse(readFileSync(`${file}.key`, 'utf8')) as { salts: Record<string, string> }
      assert.deepEqual(key.salts, { [dayKey(now)]: today.toString('hex'), [dayKey(now - DAY)]: yesterday.toString('hex') })
      assert.deepEqual(await hub.store.listMeta('salt:'), [], 'no salt left in the store')
      // visitor 0 again today: the same id as before the upgrade, so still one visitor
      await visit(url, first, '/again')
      await visit(url, VISITORS[1] as { ip: string; ua: string })
      await hub.writer.drain()
      // distinct visitors over the raw events (the rows above were written without rollups): 299
      // others, visitor 0 once whichever salt's id it came with, and visitor 1
      const day = now - (now % DAY)
      const totals = await hub.store.totals({ site: SITE, from: day, to: day + DAY - 60_000 })
      assert.equal(totals.visitors, 299 + 1 + 1)
      copies.push(copyDatabase(dir))
      await hub.close()
      copies.push(copyDatabase(dir))
      for (const c of copies) {
        const l = loot(c)
        assert.deepEqual([l.salts.length, l.maskedIps.length, recover(l)], [0, 0, []], `from ${c}`)
        const cols = new Database(join(c, 'hub.db'), { readonly: true })
        assert.ok(!(cols.prepare('PRAGMA table_info(events)').all() as { name: string }[]).some((col) => col.name === 'ip'))
        cols.close()
      }
    } finally {
      await hub.close()
      for (const d of [dir, ...copies]) rmSync(d, { recursive: true, force: true })
    }
  })
})

describe('the salts\' key file', () => {
  it('is created 0600 whatever the umask, and a looser one is narrowed on start', async () => {
    const dir = tempDir()
    const umask = process.umask(0)
    try {
      const { hub } = await openHub(dir)
      await hub.close()
      const key = join(dir, 'hub.db.key')
      assert.equal(statSync(key).mode & 0o777, 0o600)
      chmodSync(key, 0o644)
      const again = await openHub(dir)
      await again.hub.close()
      assert.equal(statSync(key).mode & 0o777, 0o600)
      assert.equal(existsSync(`${key}.tmp-${process.pid}`), false)
    } finally {
      process.umask(umask)
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('keeps visitor counts exact across a restart within the day', async () => {
    const dir = tempDir()
    let h = await openHub(dir)
    try {
      await visit(h.url, VISITORS[0] as { ip: string; ua: string })
      await visit(h.url, VISITORS[1] as { ip: string; ua: string })
      await h.hub.close()
      h = await openHub(dir)
      await visit(h.url, VISITORS[0] as { ip: string; ua: string }, '/b')
      await visit(h.url, VISITORS[1] as { ip: string; ua: string }, '/b')
      await visit(h.url, VISITORS[2] as { ip: string; ua: string })
      await h.hub.writer.drain()
      const now = Date.now()
      const day = now - (now % DAY)
      assert.deepEqual(await h.hub.store.totals({ site: SITE, from: day, to: day + DAY }), { pageviews: 5, visitors: 3 })
    } finally {
      await h.hub.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('sits beside the database unless --key-file / LIVESTATS_KEY_FILE / keyFile puts it elsewhere', async () => {
    assert.equal(resolveConfig({ store: '/var/lib/ls/a.db' }).keyFile, '/var/lib/ls/a.db.key')
    assert.equal(resolveConfig({ store: 'sqlite:/var/lib/ls/a.db' }).keyFile, '/var/lib/ls/a.db.key')
    assert.equal(resolveConfig({}).keyFile, './livestats.db.key')
    assert.equal(resolveConfig({ store: ':memory:' }).keyFile, null, 'an in-memory store keeps its salts in memory')
    assert.equal(resolveConfig(optionsFromEnv({ LIVESTATS_KEY_FILE: '/run/secrets/ls.key' })).keyFile, '/run/secrets/ls.key')
    const dir = tempDir()
    try {
      const keyFile = join(dir, 'elsewhere', 'salts.key')
      mkdirSync(join(dir, 'elsewhere'))
      const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), keyFile, logger: quiet })
      await hub.listen()
      await hub.close()
      assert.equal(statSync(keyFile).mode & 0o777, 0o600)
      assert.equal(existsSync(join(dir, 'hub.db.key')), false)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('a damaged key file stops the start with LS_ERR_CONFIG rather than counting everyone again', async () => {
    const dir = tempDir()
    try {
      writeFileSync(join(dir, 'hub.db.key'), '{"salts":')
      const hub = createHub({ port: 0, host: '127.0.0.1', store: join(dir, 'hub.db'), logger: quiet })
      await assert.rejects(hub.listen(), (err: unknown) => (err as { code?: string }).code === 'LS_ERR_CONFIG')
      await hub.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
