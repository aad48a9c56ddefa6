// `npm test`: builds the package (the package, snippet and browser suites test the built files),
// type-checks everything (tsc --noEmit),
// then runs every *.test.ts under test/ and src/ with Node's test runner.
// Suites that need PostgreSQL, Redis or Chromium skip themselves, naming what is missing,
// unless LIVESTATS_REQUIRE_SERVICES=1, where a missing one fails the run.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
// strict types are part of the contract: a type error fails the run like a failing test
const types = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '--noEmit'], { stdio: 'inherit' })
if (types.status !== 0) {
  console.error('npm test: tsc --noEmit found type errors')
  process.exit(types.status ?? 1)
}

function find(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) { if (e.name !== 'node_modules' && e.name !== 'fixtures') find(p, out) }
    else if (e.name.endsWith('.test.ts')) out.push(p)
  }
  return out
}
const filter = process.argv.slice(2)
let files = [...find('test'), ...find('src')].sort()
if (filter.length) files = files.filter((f) => filter.some((x) => f.includes(x)))
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
)
process.exit(r.status ?? 1)
