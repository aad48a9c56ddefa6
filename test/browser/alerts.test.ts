/**
 * Alerts and sharing in real Chromium against a real hub (issue 15.4, 15.5): a rule added through
 * the Alerts view's form is listed, fires when a visitor arrives over /collect, and its delivery to a
 * real receiver on loopback is listed with the state the API gives; the live badge is turned on and
 * drawn; a share link made there opens a read-only dashboard of that one site in a browser without
 * the token (Live and History only, no site list, no refused request), and stops working once revoked.
 * Screenshots go to $LIVESTATS_SCREENSHOTS when set. Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser } from 'playwright-core'
import { CHROME_UA, CollectClient, id, startHub, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { Receiver } from '../helpers/receiver'
import { until } from '../helpers/wait'

const SHOTS = process.env.LIVESTATS_SCREENSHOTS
const TOKEN = 'browser-alerts-token-0123456789'
const SITE = 'alerts.browser.test'

describe('Alerts view and share links in Chromium', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  let rx: Receiver
  const tabs: CollectClient[] = []
  const adminGet = async (p: string): Promise<Record<string, unknown>> =>
    (await (await fetch(`${t.url}${p}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as Record<string, unknown>

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub({ token: TOKEN, alerts: { intervalMs: 100, retryBaseMs: 50, retryMaxMs: 500 } })
    rx = await new Receiver().start()
    rx.failFirst = 1
  })
  after(async () => {
    for (const c of tabs) c.close()
    await browser?.close()
    await t?.stop()
    await rx?.stop()
  })

  it('adds a rule in the form, lists it, and lists its delivery; the badge and a share link open one site read-only', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1100 } })
    await ctx.addInitScript((tok) => sessionStorage.setItem('livestats.token', tok), TOKEN)
    const page = await ctx.newPage()
    await page.goto(`${t.url}/?site=${SITE}#alerts`)
    await page.locator('#alerts-h, #rules-h').first().waitFor()
    await page.locator('.alert-form select[name=kind]').selectOption('visitors')
    await page.locator('.alert-form input[name=name]').fill('Someone is reading')
    assert.equal(await page.locator('.alert-form input[name=site]').inputValue(), SITE)
    await page.locator('.alert-form input[name=threshold]').fill('0')
    await page.locator('.alert-form input[name=for]').fill('0')
    await page.locator('.alert-form input[name=webhook]').fill(rx.url)
    await page.locator('.alert-form select[name=format]').selectOption('slack')
    await page.getByRole('button', { name: 'Add rule' }).click()
    const row = page.locator('table.rules tbody tr')
    await row.first().waitFor()
    const cells = await row.first().locator('td').allInnerTexts()
    assert.deepEqual(cells.slice(0, 6).map((c) => c.replace(/\s+/g, ' ').trim()),
      ['Someone is reading visitors', SITE, 'visitors > 0', '0 s', `${new URL(rx.url).origin} slack`, 'OK'])
    const rules = (await adminGet('/api/alerts')).rules as { id: string; name: string; format: string }[]
    assert.deepEqual(rules.map((r) => [r.name, r.format]), [['Someone is reading', 'slack']])

    // a visitor arrives: the rule fires; the receiver refuses once, then takes it
    const c = new CollectClient(t.url, { 'user-agent': `${CHROME_UA} ${id()}` })
    tabs.push(c)
    await c.send({ id: id(), type: 'pageview', site: SITE, cid: id('cid'), url: `https://${SITE}/pricing` })
    await until('delivered', () => rx.accepted().length === 1, 15_000)
    const dRow = page.locator('table.deliveries tbody tr').first()
    await page.waitForFunction(() => document.querySelector('table.deliveries tbody tr .delivery-state')?.textContent === 'delivered', null, { timeout: 15_000 })
    const d = ((await adminGet('/api/alerts/deliveries')).deliveries as { attempts: number; state: string; status: string; lastStatus: number }[])[0]
    assert.deepEqual([d?.status, d?.state, d?.attempts, d?.lastStatus], ['firing', 'delivered', 2, 200])
    const dCells = (await dRow.locator('td').allInnerTexts()).map((x) => x.replace(/\s+/g, ' ').trim())
    assert.deepEqual(dCells.slice(1), [`Someone is reading 1 live visitor on ${SITE} (above 0)`, 'FIRING', 'DELIVERED', '2', 'HTTP 200', new URL(rx.url).origin])
    await page.waitForFunction(() => document.querySelector('table.rules tbody tr .alert-state')?.textContent === 'firing', null, { timeout: 10_000 })

    // the live badge: on, drawn from the hub
    await page.getByRole('button', { name: 'Turn on a public live badge' }).click()
    const img = page.locator('img.badge-img')
    await img.waitFor()
    await page.waitForFunction(() => (document.querySelector('img.badge-img') as HTMLImageElement | null)?.naturalWidth ?? 0 > 0)
    assert.match(await page.locator('pre.embed').innerText(), new RegExp(`<img src="${t.url}/badge/${SITE.replace(/\./g, '\\.')}\\.svg"`))
    const badge = await (await fetch(`${t.url}/badge/${SITE}.svg`)).text()
    assert.match(badge, />1 live</)

    // a share link for this site
    await page.getByRole('button', { name: 'Create a read-only share link' }).click()
    const link = page.locator('input.share-link')
    await page.waitForFunction(() => ((document.querySelector('input.share-link') as HTMLInputElement | null)?.value ?? '').includes('share='))
    const url = await link.inputValue()
    assert.match(url, new RegExp(`^${t.url}/\\?site=${SITE.replace(/\./g, '\\.')}&share=lss_[A-Za-z0-9_-]+#live$`))
    await page.locator('table.shares tbody tr').first().waitFor()
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/alerts-desktop.png`, fullPage: true })

    // the share link in a browser that has no token
    const guest = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const gp = await guest.newPage()
    const refused: string[] = []
    gp.on('response', (r) => { if (r.status() === 401 || r.status() === 403) refused.push(`${r.status()} ${r.url()}`) })
    await gp.goto(url)
    await gp.waitForFunction(() => document.querySelector('.tile-value[data-state="total"]')?.textContent === '1', null, { timeout: 15_000 })
    assert.equal((await gp.locator('#shared-site').innerText()).split('\n')[0], SITE)
    assert.deepEqual(await gp.locator('nav.tabs [role=tab]').allInnerTexts(), ['Live', 'History'])
    assert.equal(await gp.locator('select#site').count(), 0)
    await gp.locator('.pages tbody tr').first().waitFor()
    assert.match(await gp.locator('.pages tbody').innerText(), /\/pricing/)
    // the feed lists the page view, without the client address the admin sees
    await gp.locator('.feed tbody tr').first().waitFor()
    assert.match(await gp.locator('.feed tbody tr').first().innerText(), /\/pricing/)
    assert.equal(await gp.locator('.feed tbody tr td.ip').first().innerText(), '')
    if (SHOTS) await gp.screenshot({ path: `${SHOTS}/share-desktop.png` })
    await gp.locator('#tab-history').click()
    await gp.waitForFunction(() => document.querySelectorAll('#view-history .kpi').length > 0, null, { timeout: 15_000 })
    // read-only: no goal or funnel form to fill
    assert.equal(await gp.locator('.goal-form').isVisible(), false)
    assert.equal(await gp.getByRole('button', { name: 'New funnel' }).isVisible(), false)
    if (SHOTS) await gp.screenshot({ path: `${SHOTS}/share-history.png`, fullPage: true })
    // an #alerts or #services address shows Live: those views are not in a share link
    await gp.goto(url.replace('#live', '#alerts'))
    await gp.waitForFunction(() => document.querySelector('.tile-value[data-state="total"]')?.textContent === '1', null, { timeout: 15_000 })
    assert.equal(await gp.locator('#view-alerts').count(), 0)
    assert.deepEqual(refused, [])

    // revoked: the link stops working and says so
    await page.getByRole('button', { name: 'Revoke' }).click()
    await until('revoked', async () => ((await adminGet(`/api/shares?site=${SITE}`)).shares as unknown[]).length === 0)
    await gp.reload()
    await gp.getByText('This share link does not work').waitFor({ timeout: 15_000 })
    await ctx.close()
    await guest.close()
  })
})
