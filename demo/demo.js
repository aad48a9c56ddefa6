'use strict'
/**
 * `npm run demo`: the whole thing running. A hub with the dashboard (seed 000's `dashboard()`),
 * two tracked Node services in their own processes (`orders` dials the hub; the hub dials
 * `reports`) and two dozen simulated people on a bookshop's site (visitors.js, site.js).
 *
 * It takes the options of `livestats serve` (`--port`, `--host`, `--db`, …, and the same `LIVESTATS_*`
 * variables), with two defaults of its own: the store is `./livestats-demo.db`, and loopback proxies
 * are trusted, so the simulated people's `X-Forwarded-For` addresses give them countries.
 * A taken port is one line. Ctrl+C stops the services, the people and the hub at once.
 */
const { fork } = require('node:child_process')
const { join } = require('node:path')
const { dashboard } = require('livestats')
const { parseServeArgs } = require('../dist/cli.cjs')
const { visitor } = require('./visitors')
const { SITE } = require('./site')

const PEOPLE = 24
const HELP = `Usage: npm run demo [-- options]

Runs a hub with the dashboard, two tracked services and ${PEOPLE} simulated visitors of ${SITE}.
Takes the options of \`livestats serve\` (see npx livestats serve --help), e.g. --port 4000 or
LIVESTATS_PORT=4000. Defaults of the demo: --db ./livestats-demo.db, --trust-proxy loopback.
`

/** Forks a service; resolves with it once it runs (and, for one the hub dials, with its port). */
function service(args, waitPort) {
  const child = fork(join(__dirname, 'service.js'), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  if (!waitPort) return Promise.resolve({ child, port: null })
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: m.port }))
    child.once('exit', (code) => reject(new Error(`the ${args[0]} service exited (${code}) before it listened`)))
  })
}

/** Stops a child: SIGTERM, then SIGKILL if it is still there after `ms`. */
function end(child, ms = 1500) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', () => { clearTimeout(kill); resolve() })
    child.kill('SIGTERM')
  })
}

async function main() {
  let args
  try {
    args = parseServeArgs(process.argv.slice(2), { LIVESTATS_DB: './livestats-demo.db', LIVESTATS_TRUST_PROXY: 'loopback', ...process.env })
  } catch (err) {
    console.error(`livestats demo: ${err.message}\n\n${HELP}`)
    process.exit(2)
  }
  if (args.help) {
    process.stdout.write(HELP)
    return
  }
  const children = []
  const people = []
  let d = null
  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    for (const p of people) p.close()
    await Promise.all(children.map((c) => end(c)))
    if (d !== null) await d.close().catch(() => {})
    process.exit(code)
  }
  process.on('SIGINT', () => void stop(0))
  process.on('SIGTERM', () => void stop(0))

  const reports = await service(['reports', 'port', '0'], true)
  children.push(reports.child)
  // the hub logs one line when it cannot start (a taken port says which, and what to do)
  const logger = { info() {}, warn: console.warn, error: console.error }
  try {
    d = dashboard({ ...args.options, urls: [`ws://127.0.0.1:${reports.port}`] }, logger)
  } catch (err) {
    console.error(`livestats demo: ${err.message}`)
    return stop(2)
  }
  let url
  try {
    url = await d.ready
  } catch {
    return stop(1)
  }
  const base = url.replace(/\/$/, '')
  const local = base.replace(/\/\/(0\.0\.0\.0|\[::\])(?=:)/, '//127.0.0.1')
  const orders = await service(['orders', 'hub', local.replace(/^http/, 'ws')], false)
  children.push(orders.child)
  for (let i = 0; i < PEOPLE; i++) people.push(visitor(local))
  console.log(`
Livestats demo running.
  Dashboard:  ${url}
  Site:       ${SITE}, ${PEOPLE} simulated visitors at a time (countries from their X-Forwarded-For)
  Services:   orders (dials the hub), reports (dialled by the hub, on port ${reports.port})
  Store:      ${d.hub.config.storeUrl}
  Press Ctrl+C to stop.
`)
}

main().catch((err) => {
  console.error(`livestats demo: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
