/**
 * Countries (issue 12.5): looked up at ingest from the client IP in an offline MaxMind DB file, the
 * bundled DB-IP Lite one by default; behind a trusted proxy the forwarded address is the one looked
 * up; the raw IP never reaches the disk; `geoip` names another file or turns lookups off; a file the
 * hub cannot use stops it with LS_ERR_CONFIG.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHub } from '../src/hub/hub'
import { optionsFromEnv, resolveConfig } from '../src/hub/config'
import { LivestatsError } from '../src/protocol/errors'
import { CHROME_UA, CollectClient, pageview, post, quiet, startHub, type TestHub } from './helpers/hub'
import { writeMmdb } from './helpers/mmdb'

const DBIP = { text: 'IP Geolocation by DB-IP', url: 'https://db-ip.com' }

async function top(t: TestHub, site: string, dim = 'country'): Promise<{ rows: { value: string; pageviews: number }[]; attribution?: unknown }> {
  const res = await fetch(`${t.url}/api/top?site=${site}&dim=${dim}&range=1h`)
  assert.equal(res.status, 200)
  return (await res.json()) as { rows: { value: string; pageviews: number }[]; attribution?: unknown }
}

async function countryOfLast(t: TestHub, site: string): Promise<string | null | undefined> {
  await t.hub.writer.drain()
  return (await t.hub.store.feed(site, 1))[0]?.country
}

describe('countries: the bundled DB-IP Lite database, behind a trusted proxy', () => {
  let t: TestHub
  before(async () => { t = await startHub({ trustProxy: ['loopback'] }) })
  after(async () => { await t.stop() })

  it('looks up the forwarded client address: 8.8.8.8 is US, Deutsche Telekom and Hetzner (IPv6) are DE', async () => {
    assert.equal((await post(t.url, pageview('geo.test', 'https://geo.test/a'), { 'x-forwarded-for': '8.8.8.8' })).status, 202)
    assert.equal(await countryOfLast(t, 'geo.test'), 'US')
    await post(t.url, pageview('geo.test', 'https://geo.test/b'), { 'x-forwarded-for': '80.187.123.45' })
    assert.equal(await countryOfLast(t, 'geo.test'), 'DE')
    await post(t.url, pageview('geo.test', 'https://geo.test/c'), { 'x-forwarded-for': '2a01:4f8:c17::5' })
    assert.equal(await countryOfLast(t, 'geo.test'), 'DE')
  })

  it('/api/top?dim=country counts ISO codes and carries the licence notice', async () => {
    const body = await top(t, 'geo.test')
    assert.deepEqual(body.rows, [{ value: 'DE', pageviews: 2 }, { value: 'US', pageviews: 1 }])
    assert.deepEqual(body.attribution, DBIP)
    assert.equal('attribution' in (await top(t, 'geo.test', 'page')), false, 'other dimensions carry no notice')
  })

  it('the leftmost X-Forwarded-For entry is not believed: the first untrusted hop from the right is looked up', async () => {
    await post(t.url, pageview('geo2.test', 'https://geo2.test/'), { 'x-forwarded-for': '8.8.8.8, 80.187.10.20' })
    assert.equal(await countryOfLast(t, 'geo2.test'), 'DE')
  })

  it('one keep-alive socket whose forwarded address changes gets each address\'s country', async () => {
    for (const [ip, cc] of [['8.8.8.8', 'US'], ['80.187.10.20', 'DE'], ['81.2.69.142', 'GB'], ['8.8.8.8', 'US']] as const) {
      await post(t.url, pageview('geo3.test', 'https://geo3.test/'), { 'x-forwarded-for': ip })
      assert.equal(await countryOfLast(t, 'geo3.test'), cc, ip)
    }
  })

  it('WebSocket: the upgrade request\'s forwarded address gives the connection its country', async () => {
    const c = new CollectClient(t.url, { 'user-agent': CHROME_UA, 'x-forwarded-for': '80.187.10.20' })
    const ack = await c.send({ v: 1, seq: 1, events: [pageview('geo4.test', 'https://geo4.test/ws')] })
    assert.equal(ack.type, 'ack')
    c.close()
    assert.equal(await countryOfLast(t, 'geo4.test'), 'DE')
  })

  it('a private address has no country and no country row', async () => {
    await post(t.url, pageview('geo5.test', 'https://geo5.test/'), { 'x-forwarded-for': '10.1.2.3' })
    assert.equal(await countryOfLast(t, 'geo5.test'), null)
    assert.deepEqual((await top(t, 'geo5.test')).rows, [])
  })

  it('the database file and its WAL never hold the raw IPs that were looked up', async () => {
    await t.hub.writer.drain()
    const bytes = readFileSync(join(t.dir, 'hub.db')).toString('latin1') + readFileSync(join(t.dir, 'hub.db-wal')).toString('latin1')
    for (const raw of ['8.8.8.8', '80.187.123.45', '80.187.10.20', '81.2.69.142', '2a01:4f8:c17::5']) {
      assert.ok(!bytes.includes(raw), `${raw} is on disk`)
    }
    assert.ok(!bytes.includes('80.187.123.0'), 'nor the masked IP (issue 10.5)')
  })
})

describe('countries without a trusted proxy', () => {
  let t: TestHub
  before(async () => { t = await startHub() })
  after(async () => { await t.stop() })

  it('X-Forwarded-For from an untrusted peer is ignored: the socket address (loopback) has no country', async () => {
    await post(t.url, pageview('np.test', 'https://np.test/'), { 'x-forwarded-for': '8.8.8.8' })
    assert.equal(await countryOfLast(t, 'np.test'), null)
  })
})

describe('geoip option', () => {
  const dir = mkdtempSync(join(tmpdir(), 'livestats-geo-'))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('off: no lookups, no country, no notice (also from LIVESTATS_GEOIP)', async () => {
    assert.equal(resolveConfig(optionsFromEnv({ LIVESTATS_GEOIP: 'off' })).geoip, null)
    const t = await startHub({ trustProxy: ['loopback'], geoip: 'off' })
    try {
      assert.equal(t.hub.geo.source, null)
      assert.deepEqual(await (await fetch(`${t.url}/api/geo`)).json(), { enabled: false, type: null, built: null, cities: false, attribution: null })
      await post(t.url, pageview('off.test', 'https://off.test/'), { 'x-forwarded-for': '8.8.8.8' })
      assert.equal(await countryOfLast(t, 'off.test'), null)
      const body = await top(t, 'off.test')
      assert.deepEqual(body.rows, [])
      assert.equal(body.attribution, null)
    } finally {
      await t.stop()
    }
  })

  it('the default is the bundled DB-IP Lite country file', () => {
    assert.match(resolveConfig({}).geoip ?? '', /@ip-location-db[/\\]dbip-country-mmdb[/\\]dbip-country\.mmdb$/)
  })

  it('reads a newer file the operator points to instead (ip-location-db layout); a relative path resolves', async () => {
    const file = join(dir, 'dbip-country-2027-01.mmdb')
    writeFileSync(file, writeMmdb({ '8.8.8.0/24': { country_code: 'FR' }, '80.187.0.0/16': { country_code: 'at' } }))
    const t = await startHub({ trustProxy: ['loopback'], geoip: file })
    try {
      assert.equal(t.hub.geo.source?.file, file)
      await post(t.url, pageview('new.test', 'https://new.test/'), { 'x-forwarded-for': '8.8.8.8' })
      assert.equal(await countryOfLast(t, 'new.test'), 'FR')
      await post(t.url, pageview('new.test', 'https://new.test/'), { 'x-forwarded-for': '80.187.10.20' })
      assert.equal(await countryOfLast(t, 'new.test'), 'AT', 'codes are upper-cased')
      await post(t.url, pageview('new.test', 'https://new.test/'), { 'x-forwarded-for': '81.2.69.142' })
      assert.equal(await countryOfLast(t, 'new.test'), null, 'not in the file')
      assert.deepEqual((await top(t, 'new.test')).attribution, DBIP, 'a DB-IP file by its name')
    } finally {
      await t.stop()
    }
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      assert.equal(resolveConfig({ geoip: 'dbip-country-2027-01.mmdb' }).geoip, file)
    } finally {
      process.chdir(cwd)
    }
  })

  it('reads MaxMind\'s record layout, and names MaxMind in the notice for a GeoLite2 file', async () => {
    const file = join(dir, 'GeoLite2-Country.mmdb')
    writeFileSync(file, writeMmdb({ '8.8.8.0/24': { country: { iso_code: 'US', names: { en: 'United States' } } } },
      { databaseType: 'GeoLite2-Country' }))
    const t = await startHub({ trustProxy: ['loopback'], geoip: file })
    try {
      await post(t.url, pageview('mm.test', 'https://mm.test/'), { 'x-forwarded-for': '8.8.8.8' })
      assert.equal(await countryOfLast(t, 'mm.test'), 'US')
      const { attribution } = await top(t, 'mm.test')
      assert.match((attribution as { text: string }).text, /GeoLite2 data created by MaxMind/)
    } finally {
      await t.stop()
    }
  })

  it('a city database fills regions and cities too, in either record layout; /api/geo says so', async () => {
    const file = join(dir, 'dbip-city-lite-2027-01.mmdb')
    writeFileSync(file, writeMmdb({
      // ip-location-db's flat layout
      '8.8.8.0/24': { country_code: 'US', state1: 'California', city: 'Mountain View', latitude: 37.4, longitude: -122.1 },
      '81.2.69.0/24': { country_code: 'GB', state1: 'England', city: 'London' },
      // MaxMind's (and DB-IP's own downloads'), with other languages beside English
      '80.187.0.0/16': {
        country: { iso_code: 'DE', names: { en: 'Germany', de: 'Deutschland' } },
        subdivisions: [{ iso_code: 'BY', names: { en: 'Bavaria', de: 'Bayern' } }],
        city: { names: { en: 'Munich', de: 'München' } },
      },
      // a country with no finer location; a name with control characters and one far too long
      '2a01:4f8::/32': { country_code: 'DE' },
      '1.1.1.0/24': { country_code: 'AU', state1: 'New\u0000South\tWales', city: `${'x'.repeat(99)}🇩🇪 and more` },
    }, { databaseType: 'DBIP-City-Lite' }))
    const t = await startHub({ trustProxy: ['loopback'], geoip: file })
    try {
      const geo = (await (await fetch(`${t.url}/api/geo`)).json()) as Record<string, unknown>
      assert.deepEqual({ ...geo, built: typeof geo.built }, { enabled: true, type: 'DBIP-City-Lite', built: 'number', cities: true, attribution: DBIP })
      for (const ip of ['8.8.8.8', '8.8.8.9', '81.2.69.142', '80.187.10.20', '2a01:4f8:c17::5', '1.1.1.1']) {
        await post(t.url, pageview('city.test', 'https://city.test/'), { 'x-forwarded-for': ip })
      }
      await t.hub.writer.drain()
      assert.deepEqual((await top(t, 'city.test')).rows, [
        { value: 'DE', pageviews: 2 }, { value: 'US', pageviews: 2 }, { value: 'AU', pageviews: 1 }, { value: 'GB', pageviews: 1 },
      ])
      const regions = await top(t, 'city.test', 'region')
      assert.deepEqual(regions.rows, [
        { value: 'California', pageviews: 2 }, { value: 'Bavaria', pageviews: 1 }, { value: 'England', pageviews: 1 },
        { value: 'New South Wales', pageviews: 1 },
      ])
      assert.deepEqual(regions.attribution, DBIP)
      assert.deepEqual((await top(t, 'city.test', 'city')).rows, [
        { value: 'Mountain View', pageviews: 2 }, { value: 'London', pageviews: 1 }, { value: 'Munich', pageviews: 1 },
        { value: 'x'.repeat(99), pageviews: 1 }, // cut before the flag's pair, not inside it
      ])
    } finally {
      await t.stop()
    }
  })

  it('the bundled country database fills no regions or cities', async () => {
    const t = await startHub({ trustProxy: ['loopback'] })
    try {
      const geo = (await (await fetch(`${t.url}/api/geo`)).json()) as Record<string, unknown>
      assert.equal(geo.cities, false)
      assert.equal(geo.type, 'country ipvAll')
      await post(t.url, pageview('cc.test', 'https://cc.test/'), { 'x-forwarded-for': '8.8.8.8' })
      await t.hub.writer.drain()
      assert.deepEqual((await top(t, 'cc.test', 'region')).rows, [])
      assert.deepEqual((await top(t, 'cc.test', 'city')).rows, [])
      assert.deepEqual((await top(t, 'cc.test')).rows, [{ value: 'US', pageviews: 1 }])
    } finally {
      await t.stop()
    }
  })

  const bundled = resolveConfig({}).geoip ?? ''
  const cases: [string, () => string, RegExp][] = [
    ['a missing file', () => join(dir, 'nope.mmdb'), /geoip: cannot read .*nope\.mmdb \(ENOENT\)/],
    ['a directory', () => dir, /geoip: cannot read .* \(EISDIR\)/],
    ['an empty file', () => file('empty.mmdb', Buffer.alloc(0)), /not a readable MaxMind DB/],
    ['a text file', () => file('notes.mmdb', Buffer.from('country,US\n'.repeat(100))), /not a readable MaxMind DB/],
    ['the bundled database cut short', () => file('cut.mmdb', readFileSync(bundled).subarray(0, 1 << 20)), /not a readable MaxMind DB/],
    ['an ASN database (no locations)', () => file('asn.mmdb', writeMmdb({ '8.8.8.0/24': { autonomous_system_number: 15169 } })),
      /holds no locations \(its record for 8\.8\.8\.8 has autonomous_system_number\)/],
  ]
  function file(name: string, bytes: Buffer): string {
    writeFileSync(join(dir, name), bytes)
    return join(dir, name)
  }
  for (const [what, make, message] of cases) {
    it(`${what} stops the hub with LS_ERR_CONFIG`, () => {
      const path = make()
      assert.throws(() => createHub({ port: 0, store: join(dir, 'x.db'), logger: quiet, geoip: path }), (err: unknown) => {
        assert.ok(err instanceof LivestatsError)
        assert.equal(err.code, 'LS_ERR_CONFIG')
        assert.match(err.message, message)
        return true
      })
    })
  }

  it('a geoip that is not a string is refused', () => {
    assert.throws(() => resolveConfig({ geoip: 42 }), /geoip must be a \.mmdb file path or "off"/)
  })
})
