// `npm run bench [-- name ...]`: runs the benchmarks one after another (they compete for the
// same two cores, so never in parallel). Names: idle, ingest, geo, tracker, fidelity, dashboard, query, flood (and live-latency, scale, store-append).
// Figures go to stdout as JSON lines; docs/benchmarks.md records them with the date.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const all = ['idle', 'ingest', 'geo', 'tracker', 'tracker-outage', 'fidelity', 'dashboard', 'query', 'flood']
const pick = process.argv.slice(2)
const names = pick.length ? pick : all
spawnSync(process.execPath, ['scripts/ensure-built.mjs'], { stdio: 'inherit' })
for (const name of names) {
  const file = `bench/${name}.ts`
  if (!existsSync(file)) { console.error(`bench: no ${file}`); process.exitCode = 1; continue }
  console.log(`\n== ${name} ==`)
  const flags = name === 'tracker-outage' ? ['--expose-gc'] : []
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', file], { stdio: 'inherit' })
  if (r.status !== 0) process.exitCode = 1
}
