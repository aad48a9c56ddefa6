/**
 * Dashboard main-thread cost under load (issue 6 target: < 100 ms of scripting per second):
 * a real hub, N live visitors on /collect WebSockets (default 1,000), R page views per second
 * (default 100, each a visitor moving to another page, so the board, pages, and feed all change),
 * plus state changes; the dashboard's live view open in Chromium. Reads CDP Performance metrics
 * (ScriptDuration, TaskDuration, LayoutDuration, RecalcStyleDuration) over the measuring window.
 *
 * node --import tsx bench/dashboard.ts [visitors=1000] [pageviews/s=100] [seconds=10]
 */
import { chromium } from 'playwright-core'
import { startHub } from '../test/helpers/hub'
import { CHROMIUM_PATH } from '../test/helpers/services'
import { PAGES, REFS, Tab, type State } from '../test/fixtures/dashboard/traffic'

const N = Number(process.argv[2] ?? 1000)
const RATE = Number(process.argv[3] ?? 100)
const SECONDS = Number(process.argv[4] ?? 10)
const SITE = 'bench.test'
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

async function main(): Promise<void> {
  const t = await startHub()
  const tabs: Tab[] = []
  for (let i = 0; i < N; i++) {
    const tab = new Tab(t.url, SITE, i)
    tabs.push(tab)
    void tab.view(`${PAGES[i % PAGES.length]}/${i % 40}`, { title: `Page ${i % 40}`, referrer: REFS[i % REFS.length] })
  }
  const until = Date.now() + 30_000
  while ((await t.hub.countStates(SITE)).total < N && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
  console.log(`live visitors: ${(await t.hub.countStates(SITE)).total}`)

  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS })
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
  await page.goto(`${t.url}/?site=${SITE}#live`)
  await page.waitForSelector('.status-live', { state: 'attached' })

  // load: RATE page views per second spread over 10 ms ticks, and as many state changes
  let k = 0
  let sent = 0
  const states: State[] = ['reading', 'writing', 'idle', 'reading']
  const start = Date.now()
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - start) / 1000) * RATE) - sent
    for (let i = 0; i < due; i++) {
      const tab = tabs[(k * 7919) % N] as Tab
      k++
      void tab.view(`${PAGES[k % PAGES.length]}/${k % 40}`, { title: `Page ${k % 40}`, referrer: REFS[k % REFS.length] })
      void (tabs[(k * 104729) % N] as Tab).state(states[k % states.length] as State)
      sent++
    }
  }, 10)
  await new Promise((r) => setTimeout(r, 2000)) // warm up

  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Performance.enable')
  const read = async (): Promise<Record<string, number>> => {
    const { metrics } = await cdp.send('Performance.getMetrics')
    return Object.fromEntries(metrics.map((m) => [m.name, m.value]))
  }
  const a = await read()
  const sent0 = sent
  const t0 = Date.now()
  await new Promise((r) => setTimeout(r, SECONDS * 1000))
  const b = await read()
  const secs = (Date.now() - t0) / 1000
  clearInterval(timer)
  const per = (k: string): string => (((b[k] ?? 0) - (a[k] ?? 0)) * 1000 / secs).toFixed(1)
  const rows = await page.locator('.feed tbody tr').count()
  const heap = ((b.JSHeapUsedSize ?? 0) / 1048576).toFixed(1)
  console.log(`page views sent: ${((sent - sent0) / secs).toFixed(0)}/s, feed rows: ${rows}, live: ${JSON.stringify(await t.hub.countStates(SITE))}`)
  console.log(`main thread per second: scripting ${per('ScriptDuration')} ms, layout ${per('LayoutDuration')} ms, style ${per('RecalcStyleDuration')} ms, all tasks ${per('TaskDuration')} ms; JS heap ${heap} MB`)

  await browser.close()
  await Promise.all(tabs.map((x) => x.close()))
  await t.stop()
}
void main()
