// `npm start` on a fresh checkout: build once if dist/ is missing or older than src/.
import { existsSync, statSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}
const out = 'dist/cli.cjs'
if (!existsSync(out) || statSync(out).mtimeMs < newest('src')) {
  const r = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
