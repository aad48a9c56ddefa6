/**
 * History on a read-only share link, in real Chromium against a real hub with a token (issue 15.5
 * with issue 13's goals and funnels): a site with goals and a funnel shows them with the figures
 * the API gives, without the forms, the remove buttons or New funnel / Delete, whose writes the hub
 * would refuse; a site with none shows a neutral empty text, not prompts to add one. No request the
 * page makes is refused. The screenshot goes to $LIVESTATS_SCREENSHOTS/share-history-desktop.png when
 * set. Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'

const SHOTS = process.env.LIVESTATS_SCREENSHOTS
const TOKEN = 'browser-share-history-token-0123456789'
const WITH = 'shared-goals.browser.test'
const WITHOUT = 'shared-plain.browser.test'
const MIN = 60_000

describe('History on a share link in Chromium: goals and funnels read-only', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const links = new Map<string, string>()
  const admin = async (method: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`${t.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const out = (await res.json()) as Record<string, unknown>
    assert.equal(res.status, 201, JSON.stringify(out))
    return out
  }

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub({ token: TOKEN })
    const base = Date.now() - 3 * 60 * MIN
    const rows = []
    // WITH: 8 visitors see /; 4 go on to /pricing, 2 of those sign up. WITHOUT: 3 visitors see /
    for (let i = 0; i < 8; i++) {
      const who = { site: WITH, visitor: `w${i}` }
      const ts = base + i * 5 * MIN
      rows.push(pageview({ ...who, ts, path: '/' }))
      if (i % 2 === 0) rows.push(pageview({ ...who, ts: ts + MIN, path: '/pricing' }))
      if (i % 4 === 0) rows.push(pageview({ ...who, ts: ts + 2 * MIN, type: 'event', name: 'Signup', data: '{"plan":"pro"}' }))
    }
    for (let i = 0; i < 3; i++) rows.push(pageview({ site: WITHOUT, visitor: `p${i}`, ts: base + i * MIN, path: '/' }))
    await t.hub.store.append(rows)
    await admin('POST', '/api/goals', { site: WITH, page: '/pricing' })
    await admin('POST', '/api/goals', { site: WITH, event: 'Signup', name: 'Signups' })
    await admin('POST', '/api/funnels', { site: WITH, name: 'Pricing to signup', steps: [{ page: '/' }, { page: '/pricing' }, { event: 'Signup' }] })
    for (const site of [WITH, WITHOUT]) links.set(site, (await admin('POST', '/api/shares', { site })).token as string)
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  /** A browser without the admin token opening `site`'s share link at History; collects refused requests. */
  async function open(site: string, refused: string[]): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    const page = await ctx.newPage()
    page.on('pageerror', (e) => console.error('pageerror', e))
    page.on('response', (r) => { if (r.status() === 401 || r.status() === 403) refused.push(`${r.status()} ${r.url()}`) })
    await page.goto(`${t.url}/?site=${site}&share=${links.get(site) ?? ''}#history`)
    await page.waitForFunction(() => document.querySelectorAll('#view-history .kpi-value[data-kpi="visitors"]').length > 0 &&
      document.querySelector('#view-history .kpi-value[data-kpi="visitors"]')?.textContent !== '–', null, { timeout: 15_000 })
    return page
  }

  /** What would write: the goal form, remove buttons, the funnel form, New funnel, Delete. */
  async function writeControls(page: Page): Promise<number> {
    const forms = await page.locator('.goal-form, .goals td.remove, .goals button[aria-label^="Remove goal"], .funnel-form').count()
    return forms + await page.getByRole('button', { name: /^(New funnel|Delete|Add goal)$/ }).count()
  }

  it('shows the goals and the funnel with the API\'s figures, and nothing that writes', async () => {
    const refused: string[] = []
    const page = await open(WITH, refused)
    await page.waitForFunction(() => document.querySelectorAll('.goals tr[data-goal]').length === 2)
    await page.waitForFunction(() => document.querySelectorAll('.funnels tr[data-step]').length === 3, null, { timeout: 15_000 })

    const share = { authorization: `Bearer ${links.get(WITH) ?? ''}` }
    const conv = (await (await fetch(`${t.url}/api/conversions?site=${WITH}&range=24h`, { headers: share })).json()) as { goals: { name: string; visitors: number; conversions: number; rate: number }[] }
    assert.deepEqual(conv.goals.map((g) => [g.name, g.visitors, g.conversions, g.rate]), [['Visit /pricing', 4, 4, 0.5], ['Signups', 2, 2, 0.25]])
    const shown = await page.locator('.goals tr[data-goal]').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) =>
      (td.querySelector('.goal-name') ?? td).textContent?.trim() ?? '')))
    assert.deepEqual(shown, conv.goals.map((g) => [g.name, String(g.visitors), `${Math.round(g.rate * 100)}%`, String(g.conversions)]))
    assert.deepEqual(await page.locator('.goals thead th').allTextContents(), ['Goal', 'Visitors', 'Rate', 'Conversions'])

    const funnel = await page.locator('.funnels tr[data-step]').evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) =>
      (td.querySelector('.step-label') ?? td).textContent?.trim() ?? '')))
    assert.deepEqual(funnel, [['1. Visit /', '8', '–', '–'], ['2. Visit /pricing', '4', '50%', '4'], ['3. Signup', '2', '50%', '2']])
    assert.equal(await page.locator('#funnel-pick').isVisible(), true)

    assert.equal(await writeControls(page), 0)
    assert.deepEqual(refused, [])
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/share-history-desktop.png`, fullPage: true })
    await page.context().close()
  })

  it('says plainly that a site has no goals or funnels, without prompts to add them', async () => {
    const refused: string[] = []
    const page = await open(WITHOUT, refused)
    await page.locator('.goals tbody td', { hasText: 'No goals are set for this site.' }).waitFor()
    await page.locator('.funnels [role=status]', { hasText: 'No funnels are set for this site.' }).waitFor()
    const text = await page.locator('.goals, .funnels').allInnerTexts()
    assert.doesNotMatch(text.join('\n'), /add a page|below|New funnel|defines one/i)
    assert.equal(await writeControls(page), 0)
    assert.deepEqual(refused, [])
    await page.context().close()

    // the admin's own History still offers both
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    await ctx.addInitScript((tok) => sessionStorage.setItem('livestats.token', tok), TOKEN)
    const own = await ctx.newPage()
    await own.goto(`${t.url}/?site=${WITHOUT}#history`)
    await own.locator('.goals tbody td', { hasText: 'No goals yet: add a page' }).waitFor({ timeout: 15_000 })
    await own.getByRole('button', { name: 'New funnel' }).waitFor()
    assert.equal(await own.locator('.goal-form').isVisible(), true)
    await ctx.close()
  })
})
