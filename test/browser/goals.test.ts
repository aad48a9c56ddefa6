/**
 * Goals, custom events and their properties in History, in real Chromium against a real hub
 * (issue 13.1, 13.2): the custom events list shows events and unique visitors under those headers,
 * the properties panel lists a key's values (another key picked from the select), clicking a value
 * filters by it; the Goals panel adds page and event goals through the form (a bad one says why),
 * shows the figures /api/conversions answers for the same query, and removes a goal; a goal reached
 * right now is named on the live feed. Needs dist/dashboard (npm test builds it first).
 */
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startHub, post, type TestHub } from '../helpers/hub'
import { ARGS, buildIfMissing } from '../helpers/browser'
import { CHROMIUM_PATH, chromiumMissing } from '../helpers/services'
import { pageview } from '../helpers/store-contract'

const SITE = 'goals.browser.test'
const MIN = 60_000

/** A list's rows as [value, figures…] text. */
async function rows(page: Page, selector: string): Promise<string[][]> {
  return page.locator(`${selector} tbody tr`).evaluateAll((trs) => trs.map((tr) =>
    Array.from(tr.querySelectorAll('td')).map((td) => (td.querySelector('.row-filter, .goal-name')?.textContent ?? td.textContent ?? '').trim())))
}

describe('Goals and custom event properties in Chromium against a real hub', { skip: chromiumMissing() }, () => {
  let browser: Browser
  let t: TestHub
  const api = async (route: string, q = ''): Promise<Record<string, unknown>> =>
    (await (await fetch(`${t.url}/api/${route}?site=${SITE}&range=24h${q}`)).json()) as Record<string, unknown>

  before(async () => {
    buildIfMissing()
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
    t = await startHub()
    const base = Date.now() - 4 * 60 * MIN
    const rows = []
    for (let v = 0; v < 12; v++) {
      const who = { site: SITE, visitor: `v${v}`, country: v % 3 === 0 ? 'DE' : 'NL' }
      const ts = base + v * 10 * MIN
      rows.push(pageview({ ...who, ts, path: '/' }))
      if (v % 2 === 0) rows.push(pageview({ ...who, ts: ts + MIN, path: '/pricing' }))
      if (v % 4 === 0) {
        rows.push(pageview({ ...who, ts: ts + 2 * MIN, path: `/signup/step-${v}` }))
        rows.push(pageview({ ...who, ts: ts + 3 * MIN, type: 'event', name: 'Signup', data: JSON.stringify({ plan: v % 8 === 0 ? 'pro' : 'free', seats: v }) }))
      }
      if (v % 3 === 1) rows.push(pageview({ ...who, ts: ts + 4 * MIN, type: 'event', name: 'Download', data: JSON.stringify({ file: `f${v % 2}.pdf` }) }))
    }
    await t.hub.store.append(rows)
  })
  after(async () => {
    await browser?.close()
    await t?.stop()
  })

  it('lists custom events with events and visitors, and a property\'s values; a value filters', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}#history`)
    const events = '.top-list[data-dim="event"]'
    await page.locator(`${events} .row-filter`, { hasText: 'Signup' }).waitFor()
    assert.deepEqual(await page.locator(`${events} thead th`).allTextContents(), ['Event', 'Events', 'Visitors'])
    const apiEvents = (await api('top', '&dim=event')).rows as { value: string; events: number; visitors: number }[]
    assert.deepEqual(apiEvents, [{ value: 'Download', events: 4, visitors: 4 }, { value: 'Signup', events: 3, visitors: 3 }])
    assert.deepEqual(await rows(page, events), apiEvents.map((r) => [r.value, String(r.events), String(r.visitors)]))

    // properties: keys from the API, the first one's values shown; another key picked
    const props = '.top-list[data-dim="prop"]'
    const keys = ((await api('top', '&dim=prop')).rows as { value: string }[]).map((r) => r.value)
    assert.deepEqual(keys, ['file', 'plan', 'seats'])
    assert.deepEqual(await page.locator('#prop-key option').allTextContents(), keys)
    await page.waitForFunction(() => document.querySelectorAll('.top-list[data-dim="prop"] tbody .row-filter').length > 0)
    assert.deepEqual(await rows(page, props), [['f0.pdf', '2', '2'], ['f1.pdf', '2', '2']])
    await page.selectOption('#prop-key', 'plan')
    await page.locator(`${props} .row-filter`, { hasText: 'pro' }).waitFor()
    const plan = (await api('top', '&dim=prop:plan')).rows as { value: string; events: number; visitors: number }[]
    assert.deepEqual(plan, [{ value: 'pro', events: 2, visitors: 2 }, { value: 'free', events: 1, visitors: 1 }])
    assert.deepEqual(await rows(page, props), plan.map((r) => [r.value, String(r.events), String(r.visitors)]))

    // a value is a filter like any other: a chip, in the URL, on every figure
    await page.locator(`${props} .row-filter`, { hasText: 'pro' }).click()
    await page.locator('.chips .chip', { hasText: 'Property plan is pro' }).waitFor()
    assert.match(decodeURIComponent(page.url()), /prop:plan=pro/)
    const totals = await api('totals', '&prop:plan=pro')
    await page.waitForFunction((n) => document.querySelector('.kpi-value[data-kpi="visitors"]')?.textContent === n, String(totals.visitors))
    assert.equal(totals.visitors, 2)
    await page.waitForFunction(() => document.querySelectorAll('.top-list[data-dim="event"] tbody tr').length === 1)
    assert.deepEqual(await rows(page, events), [['Signup', '2', '2']])
    await page.close()
  })

  it('adds goals through the form, shows their figures as /api/conversions does, refuses a bad one, removes one', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}#history`)
    const goals = '.goals'
    await page.locator(goals, { hasText: 'No goals yet' }).waitFor()

    await page.fill('#goal-target', '/pricing')
    await page.getByRole('button', { name: 'Add goal' }).click()
    await page.locator(`${goals} .goal-name`, { hasText: 'Visit /pricing' }).waitFor()

    await page.fill('#goal-target', '/signup/*')
    await page.fill('#goal-name', 'Signup steps')
    await page.getByRole('button', { name: 'Add goal' }).click()
    await page.locator(`${goals} .goal-name`, { hasText: 'Signup steps' }).waitFor()

    await page.selectOption('#goal-kind', 'event')
    await page.fill('#goal-target', 'Signup')
    await page.fill('#goal-props', 'plan=pro')
    await page.getByRole('button', { name: 'Add goal' }).click()
    await page.locator(`${goals} .goal-name`, { hasText: 'Signup (plan: pro)' }).waitFor()

    // the server's reason for a bad goal is shown
    await page.selectOption('#goal-kind', 'page')
    await page.fill('#goal-target', 'pricing')
    await page.getByRole('button', { name: 'Add goal' }).click()
    await page.locator(goals, { hasText: /Could not add the goal: .*starting with \// }).waitFor()

    const conv = (await api('conversions')) as { visitors: number; goals: { id: string; name: string; visitors: number; conversions: number; rate: number }[] }
    assert.equal(conv.visitors, 12)
    assert.deepEqual(conv.goals.map((g) => [g.name, g.visitors, g.conversions]), [['Visit /pricing', 6, 6], ['Signup steps', 3, 3], ['Signup (plan: pro)', 2, 2]])
    const shown = await rows(page, goals)
    assert.deepEqual(shown.map((r) => r.slice(0, 4)), conv.goals.map((g) => [g.name, String(g.visitors), `${Math.round(g.rate * 100)}%`, String(g.conversions)]))
    assert.deepEqual(shown.map((r) => r.slice(0, 4)), [['Visit /pricing', '6', '50%', '6'], ['Signup steps', '3', '25%', '3'], ['Signup (plan: pro)', '2', '17%', '2']])

    // filtered like every figure: visitors from Germany (v0, v3, v6, v9)
    await page.goto(`${t.url}/?site=${SITE}&country=DE#history`)
    const de = (await api('conversions', '&country=DE')) as typeof conv
    await page.waitForFunction((n) => document.querySelector('.goals tr[data-goal] td[data-figure="visitors"]')?.textContent === n, String(de.goals[0]?.visitors))
    assert.deepEqual((await rows(page, goals)).map((r) => r.slice(0, 4)),
      de.goals.map((g) => [g.name, String(g.visitors), `${Math.round(g.rate * 100)}%`, String(g.conversions)]))
    assert.deepEqual(de.goals.map((g) => g.visitors), [2, 1, 1])

    await page.getByRole('button', { name: 'Remove goal Signup steps' }).click()
    await page.locator(`${goals} .goal-name`, { hasText: 'Signup steps' }).waitFor({ state: 'detached' })
    assert.deepEqual(((await api('goals')).goals as { name: string }[]).map((g) => g.name), ['Visit /pricing', 'Signup (plan: pro)'])
    await page.close()
  })

  it('names a goal reached right now on the live feed', async () => {
    const made = await fetch(`${t.url}/api/goals`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ site: SITE, page: '/thanks/**', name: 'Thanked' }) })
    assert.equal(made.status, 201)
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => console.error('pageerror', e))
    await page.goto(`${t.url}/?site=${SITE}`)
    await page.locator('.feed').waitFor()
    // the snapshot's recent page views carry the page goals they match
    await page.locator('.feed .goal', { hasText: 'Goal: Visit /pricing' }).first().waitFor({ timeout: 10_000 })
    // wait for the live channel's snapshot before sending
    await page.waitForFunction(() => document.querySelector('.feed tbody tr') !== null || document.querySelector('.feed .empty') !== null)
    await new Promise((r) => setTimeout(r, 500))
    const send = (ev: Record<string, unknown>) => post(t.url, { id: `b${Math.random().toString(36).slice(2)}`, site: SITE, ...ev })
    assert.equal((await send({ type: 'pageview', url: `https://${SITE}/thanks/for/buying` })).status, 202)
    assert.equal((await send({ type: 'event', name: 'Signup', url: `https://${SITE}/join`, props: { plan: 'pro' } })).status, 202)
    const thanked = page.locator('.feed tbody tr', { hasText: '/thanks/for/buying' })
    await thanked.waitFor({ timeout: 10_000 })
    assert.match(await thanked.innerText(), /Goal: Thanked/)
    const ev = page.locator('.feed tbody tr', { hasText: 'Event: Signup' })
    await ev.waitFor({ timeout: 10_000 })
    assert.match(await ev.innerText(), /Goal: Signup \(plan: pro\)/)
    await page.close()
  })
})
