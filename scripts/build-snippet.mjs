// Builds the browser snippet: src/browser/snippet.ts → dist/livestats.js (minified IIFE) and
// copies its public types to dist/livestats.d.ts. Fails when `gzip -9` of the output exceeds
// 1,000 bytes (issue 4: a CI check, not a wish) or when anything was imported at run time.
import { build } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { basename } from 'node:path'

const LIMIT = 1000
const out = 'dist/livestats.js'

const result = await build({
  entryPoints: ['src/browser/snippet.ts'],
  outfile: out,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  // Browsers from 2021 on: optional chaining stays as written (esbuild lowers it for older Chrome).
  target: ['chrome91', 'firefox90', 'safari15'],
  minify: true,
  legalComments: 'none',
  metafile: true,
  // No "use strict" prologue: the IIFE has nothing sloppy mode would change, and it costs bytes.
  tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
  logLevel: 'warning',
})
mkdirSync('dist', { recursive: true })
copyFileSync('src/browser/livestats.d.ts', 'dist/livestats.d.ts')

// Only the snippet itself may be bundled: anything imported from src/protocol must be types only.
const stray = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('src/browser/'))
if (stray.length) {
  console.error(`build-snippet: modules other than src/browser/ in the snippet: ${stray.join(', ')}`)
  process.exit(1)
}

// Measured as `gzip -9 -c dist/livestats.js | wc -c`, the method behind the comparisons:
// that includes gzip's header with the file name (13 bytes here). Without a gzip binary, zlib's
// stream plus the same name gives the same figure.
const code = readFileSync(out)
const gz = spawnSync('gzip', ['-9', '-c', out])
const size = gz.status === 0 ? gz.stdout.length : gzipSync(code, { level: 9 }).length + basename(out).length + 1
console.log(`build-snippet: ${out} ${code.length} B minified, ${size} B with gzip -9 (budget ${LIMIT} B)`)
if (size > LIMIT) {
  console.error(`build-snippet: ${out} is ${size} B with gzip -9, over the ${LIMIT} B budget (issue 4)`)
  process.exit(1)
}
