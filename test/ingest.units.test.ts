/** Units of ingest that carry privacy promises: IP masking, proxy trust, and daily visitor salts. */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { clientIp, makeTrust, maskIp } from '../src/hub/ingest/client-ip'
import { VisitorHasher } from '../src/hub/ingest/visitor'
import { pageParts, referrerHost } from '../src/hub/ingest/enrich'
import { saltFile } from '../src/hub/ingest/salt-file'
import { LivestatsError } from '../src/protocol/errors'

const DAY = 86_400_000

describe('IP masking and proxy trust', () => {
  it('masks the last IPv4 octet and the last 80 bits of IPv6', () => {
    assert.equal(maskIp('203.0.113.77'), '203.0.113.0')
    assert.equal(maskIp('2001:db8:85a3:1234:5678:8a2e:370:7334'), '2001:db8:85a3::')
    assert.equal(maskIp('2001:db8::1'), '2001:db8:0::')
    assert.equal(maskIp('::1'), '0:0:0::')
    assert.equal(maskIp('not an ip'), '0.0.0.0')
  })

  it('believes X-Forwarded-For only from a trusted proxy, read from the right', () => {
    const none = makeTrust([])
    assert.equal(clientIp('10.0.0.5', '198.51.100.1', none), '10.0.0.5')
    const loop = makeTrust(['loopback'])
    assert.equal(clientIp('127.0.0.1', '198.51.100.1, 192.0.2.9', loop), '192.0.2.9')
    assert.equal(clientIp('::ffff:127.0.0.1', '192.0.2.9', loop), '192.0.2.9')
    const two = makeTrust(['127.0.0.1', '10.0.0.2'])
    // client → 10.0.0.2 (trusted) → 127.0.0.1 (trusted): the first untrusted from the right is the client
    assert.equal(clientIp('127.0.0.1', '203.0.113.50, 10.0.0.2', two), '203.0.113.50')
    assert.equal(clientIp('127.0.0.1', 'garbage, 10.0.0.2', two), '10.0.0.2')
    assert.equal(clientIp('192.0.2.1', '203.0.113.50', two), '192.0.2.1', 'an untrusted peer cannot forward')
  })
})

describe('page and referrer parts', () => {
  it('splits host, path and UTM; keeps an external referrer host only', () => {
    assert.deepEqual(pageParts('https://a.test/x/y?utm_source=s&utm_medium=m&utm_campaign=c#h'),
      { host: 'a.test', path: '/x/y', utmSource: 's', utmMedium: 'm', utmCampaign: 'c', utmTerm: null, keyword: null })
    assert.deepEqual(pageParts('/relative?q=1'), { host: null, path: '/relative', utmSource: null, utmMedium: null, utmCampaign: null, utmTerm: null, keyword: null })
    assert.equal(referrerHost('https://www.other.test/p', 'a.test'), 'other.test')
    assert.equal(referrerHost('https://a.test/p', 'a.test'), null)
    assert.equal(referrerHost('javascript:alert(1)', 'a.test'), null)
  })
})

describe('visitor ids under daily salts', () => {
  it('are stable within a day, change across days, and no salt older than yesterday is kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-salt-'))
    const file = join(dir, 's.db.key')
    try {
      const h = new VisitorHasher(saltFile(file))
      const day0 = Date.UTC(2026, 0, 10, 12)
      await h.rotate(day0)
      const a = h.hash('site.test', '203.0.113.7', 'UA')
      assert.equal(h.hash('site.test', '203.0.113.7', 'UA'), a)
      assert.notEqual(h.hash('other.test', '203.0.113.7', 'UA'), a, 'sites get different ids')
      assert.notEqual(h.hash('site.test', '203.0.113.8', 'UA'), a)
      assert.ok(!a.includes('203'), 'the id does not carry the IP')

      // a second hasher on the same key file (a restart) keeps today's salt
      const again = new VisitorHasher(saltFile(file))
      await again.rotate(day0 + 3_600_000)
      assert.equal(again.hash('site.test', '203.0.113.7', 'UA'), a)

      assert.equal(h.stale(day0 + DAY), true)
      await h.rotate(day0 + DAY)
      assert.notEqual(h.hash('site.test', '203.0.113.7', 'UA'), a, 'a new day, a new id')
      await h.rotate(day0 + 2 * DAY)
      const salts = [...(await saltFile(file).load()).keys()].sort()
      assert.deepEqual(salts, ['2026-01-11', '2026-01-12'], 'salts older than yesterday are deleted')
      assert.equal(statSync(file).mode & 0o777, 0o600)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses a damaged key file with LS_ERR_CONFIG instead of starting new salts silently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-salt-'))
    const file = join(dir, 'bad.key')
    try {
      for (const text of ['not json', '{"salts":[]}', '{"salts":{"2026-01-10":"short"}}', '{}']) {
        writeFileSync(file, text)
        await assert.rejects(new VisitorHasher(saltFile(file)).rotate(),
          (err: unknown) => err instanceof LivestatsError && err.code === 'LS_ERR_CONFIG' && err.message.includes(file))
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
