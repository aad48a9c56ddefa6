/**
 * Countries in the dashboard (issue 12.5), in real Chromium against a real hub behind a trusted
 * proxy: History lists countries with flag, name and ISO code, both the Countries panel and the page
 * footer carry the DB-IP notice and link, and the live feed shows the flag. Needs dist/dashboard
 * (`node scripts/test.mjs countries` builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { chromium, type Browser } from 'playwright-core'
import { pageview, post, startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { writeMmdb } from '../helpers/mmdb'

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const SHOTS = process.env.LIVESTATS_SCREENSHOTS

describe('dashboard countries in Chromium', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const site = 'countries.test'

  before(async () => {
    if (!existsSync('dist/dashboard/index.html')) {
      assert.equal(spawnSync(process.execPath, ['scripts/build-dashboard.mjs'], { stdio: 'inherit' }).status, 0)
    }
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub({ trustProxy: ['loopback'] })
    // 8.8.8.8 is US and 80.187.10.20 (Deutsche Telekom) DE in the bundled DB-IP Lite file
    for (const [ip, n] of [['8.8.8.8', 3], ['80.187.10.20', 2], ['81.2.69.142', 1]] as const) {
      for (let i = 0; i < n; i++) assert.equal((await post(t.url, pageview(site, `https://${site}/p${i}`), { 'x-forwarded-for': ip })).status, 202)
    }
    await t.hub.writer.drain()
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('History lists countries with flag, name and code, with the DB-IP notice under them and in the footer', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}#history`)
    const box = page.locator('.top-list', { hasText: 'Countries' })
    await box.locator('tbody tr', { hasText: 'Germany' }).waitFor()
    const rows = await box.locator('tbody tr').allInnerTexts()
    assert.equal(rows.length, 3)
    assert.match(rows[0] ?? '', /^🇺🇸 United States US\s+3$/)
    assert.match(rows[1] ?? '', /^🇩🇪 Germany DE\s+2$/)
    assert.match(rows[2] ?? '', /^🇬🇧 United Kingdom GB\s+1$/)
    // the flag is decoration for screen readers: the name says it
    assert.equal(await box.locator('tbody tr').first().locator('.flag').getAttribute('aria-hidden'), 'true')
    const note = box.locator('.note a')
    assert.equal(await note.innerText(), 'IP Geolocation by DB-IP')
    assert.equal(await note.getAttribute('href'), 'https://db-ip.com')
    // a country database: no region or city lists
    assert.equal(await page.locator('.top-list', { hasText: 'Regions' }).isHidden(), true)
    assert.equal(await page.locator('.top-list', { hasText: 'Cities' }).isHidden(), true)
    const foot = page.locator('footer a')
    assert.equal(await foot.innerText(), 'IP Geolocation by DB-IP')
    assert.equal(await foot.getAttribute('href'), 'https://db-ip.com')
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true })
      await box.screenshot({ path: `${SHOTS}/countries.png` })
    }
    await page.close()
  })

  it('the live feed shows the flag with the code', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=${site}`)
    await page.waitForSelector('.feed tbody tr')
    await post(t.url, pageview(site, `https://${site}/live`), { 'x-forwarded-for': '80.187.10.20' })
    await page.locator('.feed tbody tr', { hasText: '/live' }).waitFor()
    assert.match(await page.locator('.feed tbody tr', { hasText: '/live' }).innerText(), /🇩🇪 DE · Chrome/)
    await page.close()
  })
})

describe('dashboard with country lookups off', { skip: chromiumMissing() }, () => {
  it('shows no notice in the footer or under Countries', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    const t = await startHub({ geoip: 'off' })
    try {
      await post(t.url, pageview('off.test', 'https://off.test/'))
      await t.hub.writer.drain()
      const page = await browser.newPage()
      await page.goto(`${t.url}/?site=off.test#history`)
      const box = page.locator('.top-list', { hasText: 'Countries' })
      await box.getByText('No data in this range').waitFor()
      await page.locator('.top-list', { hasText: 'Top pages' }).locator('tbody tr', { hasText: '/' }).waitFor()
      assert.equal(await page.locator('footer a').count(), 0)
      assert.equal(await box.locator('.note a').count(), 0)
    } finally {
      await browser.close()
      await t.stop()
    }
  })
})

describe('dashboard with a city database', { skip: chromiumMissing() }, () => {
  it('lists regions and cities by name beside the countries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'livestats-city-'))
    const file = join(dir, 'dbip-city-lite.mmdb')
    writeFileSync(file, writeMmdb({
      '8.8.8.0/24': { country_code: 'US', state1: 'California', city: 'Mountain View' },
      '80.187.0.0/16': { country: { iso_code: 'DE' }, subdivisions: [{ names: { en: 'Bavaria' } }], city: { names: { en: 'Munich' } } },
    }))
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    const t = await startHub({ trustProxy: ['loopback'], geoip: file })
    try {
      for (const ip of ['8.8.8.8', '8.8.8.8', '80.187.10.20']) await post(t.url, pageview('city.test', 'https://city.test/'), { 'x-forwarded-for': ip })
      await t.hub.writer.drain()
      const page = await browser.newPage()
      await page.goto(`${t.url}/?site=city.test#history`)
      const regions = page.locator('.top-list', { hasText: 'Regions' })
      await regions.locator('tbody tr', { hasText: 'Bavaria' }).waitFor()
      assert.deepEqual((await regions.locator('tbody tr').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ')), ['California 2', 'Bavaria 1'])
      const cities = page.locator('.top-list', { hasText: 'Cities' })
      assert.deepEqual((await cities.locator('tbody tr').allInnerTexts()).map((r) => r.replace(/\s+/g, ' ')), ['Mountain View 2', 'Munich 1'])
      assert.match(await page.locator('.top-list', { hasText: 'Countries' }).locator('tbody tr').first().innerText(), /United States US\s+2/)
      if (SHOTS) await page.locator('.tops').screenshot({ path: `${SHOTS}/tops-city.png` })
      await page.close()
    } finally {
      await browser.close()
      await t.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
