/**
 * Issue 11 items 9 and 7 (dashboard side), in real Chromium against a real hub: a new install, and a
 * site that has sent nothing, show the snippet with a copy button, say why a page on localhost sends
 * nothing (data-allow-localhost), and wait for the first event, which turns the panel live when the
 * hub pushes it: no request is made while waiting.
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { Tab } from '../fixtures/dashboard/traffic'
import { sleep } from '../helpers/wait'

/** Requests the page makes from now on: when, and the path. */
function requests(page: Page): { at: number; path: string }[] {
  const seen: { at: number; path: string }[] = []
  page.on('request', (r) => { seen.push({ at: Date.now(), path: new URL(r.url()).pathname }) })
  return seen
}

describe('issue 11: onboarding on a new install', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const tabs: Tab[] = []

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
  })
  after(async () => {
    await Promise.all(tabs.map((x) => x.close()))
    await browser?.close()
    await t?.stop()
  })

  it('9, 7. a new install shows the snippet to copy, why localhost sends nothing, and turns live on the first event, pushed', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url })
    const page = await ctx.newPage()
    await page.goto(`${t.url}/`)
    const panel = page.locator('.onboarding')
    await panel.waitFor()
    assert.equal(await panel.getAttribute('data-state'), 'waiting')
    assert.match(await panel.locator('.onboard-status').innerText(), /Waiting for the first event/)
    // the snippet loads from this hub (a loopback hub: its own address, the one the banner prints)
    const snippet = `<script defer src="${t.url}/livestats.js"></script>`
    await page.waitForFunction((s) => document.querySelector('.snippet-main')?.textContent === s, snippet)
    const snippetJs = await fetch(`${t.url}/livestats.js`)
    assert.equal(snippetJs.status, 200, 'the snippet URL shown is served')
    // item 7: a page on localhost needs data-allow-localhost, and the panel says so with the tag to use
    const text = await panel.innerText()
    assert.match(text, /localhost/)
    assert.match(text, /data-allow-localhost/)
    assert.equal(await panel.locator('.snippet-local').textContent(), `<script defer data-allow-localhost src="${t.url}/livestats.js"></script>`)
    // copy
    await panel.getByRole('button', { name: 'Copy the snippet', exact: true }).click()
    await page.waitForFunction(() => document.querySelector('.snippet .copy')?.textContent === 'Copied')
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), snippet)

    // waiting asks the hub nothing: the first event is pushed
    const seen = requests(page)
    await sleep(2500)
    assert.equal(seen.length, 0, `no request while waiting: ${JSON.stringify(seen)}`)
    const tab = new Tab(t.url, 'first.example', 1)
    tabs.push(tab)
    const sent = Date.now()
    await tab.view('/welcome', { title: 'Welcome' })
    await page.waitForFunction(() => document.querySelector('.onboarding')?.getAttribute('data-state') === 'live', undefined, { timeout: 3000 })
    const took = Date.now() - sent
    assert.ok(took < 2000, `live ${took} ms after the first event`)
    assert.match(await panel.locator('.onboard-status').innerText(), /First event from first\.example/)
    // and the board shows the visitor the hub counts
    await page.waitForFunction(() => document.querySelector('.tile-value[data-state="total"]')?.textContent === '1')
    assert.equal((await t.hub.countStates('first.example')).total, 1)
    // the page asked for the new site's list and history only after the hub told it about the site
    assert.ok(seen.every((r) => r.at >= sent), `requests before the event: ${JSON.stringify(seen)}`)
    await panel.getByRole('button', { name: 'Hide' }).click()
    assert.equal(await panel.isHidden(), true)
    await ctx.close()
  })

  it('9. a named site with no data waits for its own first event; a site with data shows no panel', async () => {
    const page = await browser.newPage()
    await page.goto(`${t.url}/?site=later.example`)
    const panel = page.locator('.onboarding')
    await panel.waitFor()
    assert.match(await panel.locator('h2').innerText(), /No data from later\.example yet/)
    assert.equal(await panel.getAttribute('data-state'), 'waiting')
    // another site's event does not count for this one
    const other = new Tab(t.url, 'elsewhere.example', 2)
    tabs.push(other)
    await other.view('/')
    await sleep(800)
    assert.equal(await panel.getAttribute('data-state'), 'waiting')
    const tab = new Tab(t.url, 'later.example', 3)
    tabs.push(tab)
    await tab.view('/pricing')
    await page.waitForFunction(() => document.querySelector('.onboarding')?.getAttribute('data-state') === 'live', undefined, { timeout: 3000 })
    await page.goto(`${t.url}/?site=first.example`)
    await page.waitForFunction(() => document.querySelector('.tile-value[data-state="total"]')?.textContent === '1')
    await sleep(300)
    assert.equal(await page.locator('.onboarding').isHidden(), true, 'a site with data has no install panel')
    await page.close()
  })
})
