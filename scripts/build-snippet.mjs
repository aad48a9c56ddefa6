// Builds the browser snippet: src/browser/snippet.ts → dist/livestats.js (minified IIFE), the same
// source with its extras (src/browser/extras.ts: outbound links, downloads, 404, scroll depth) →
// dist/livestats-extras.js, and copies the public types to dist/livestats.d.ts. Fails when `gzip -9`
// of the core exceeds 1,000 bytes (issue 4: a CI check, not a wish), of the extras build its own
// budget, or when anything outside src/browser/ was bundled.
import { build, transform } from 'esbuild'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import { spawnSync } from 'node:child_process'
import { basename } from 'node:path'

const LIMIT = 1000
/** The extras build is the core plus extras.ts: its own budget keeps it small too (issue 13.4). */
const EXTRAS_LIMIT = 1700
const out = 'dist/livestats.js'
const extrasOut = 'dist/livestats-extras.js'
const target = ['chrome91', 'firefox90', 'safari15']

/**
 * One build of snippet.ts with `EXTRAS` set. Two passes: the first folds `EXTRAS` and drops its dead
 * branches (syntax only), the second minifies what is left, so names are given by the code that
 * remains: in one pass the dropped extras code still counts when esbuild picks short names, and
 * the core came out a byte larger than without it.
 */
async function buildOne(extras, file) {
  const result = await build({
    entryPoints: ['src/browser/snippet.ts'],
    write: false,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    // Browsers from 2021 on: optional chaining stays as written (esbuild lowers it for older Chrome).
    target,
    minifySyntax: true,
    legalComments: 'none',
    metafile: true,
    define: { EXTRAS: String(extras) },
    // No "use strict" prologue: the IIFE has nothing sloppy mode would change, and it costs bytes.
    tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
    logLevel: 'warning',
  })
  // Only the snippet itself may be bundled: anything imported from src/protocol must be types only.
  const stray = Object.keys(result.metafile.inputs).filter((f) => !f.startsWith('src/browser/'))
  if (stray.length) {
    console.error(`build-snippet: modules other than src/browser/ in ${file}: ${stray.join(', ')}`)
    process.exit(1)
  }
  const min = await transform(result.outputFiles[0].text, { minify: true, target, legalComments: 'none' })
  writeFileSync(file, min.code.trimEnd())
}

mkdirSync('dist', { recursive: true })
await buildOne(false, out)
await buildOne(true, extrasOut)
copyFileSync('src/browser/livestats.d.ts', 'dist/livestats.d.ts')

// Measured as `gzip -9 -c dist/livestats.js | wc -c`, the method behind the comparisons:
// that includes gzip's header with the file name (13 bytes here). Without a gzip binary, zlib's
// stream plus the same name gives the same figure.
function gzipSize(file) {
  const gz = spawnSync('gzip', ['-9', '-c', file])
  return gz.status === 0 ? gz.stdout.length : gzipSync(readFileSync(file), { level: 9 }).length + basename(file).length + 1
}
for (const [file, limit] of [[out, LIMIT], [extrasOut, EXTRAS_LIMIT]]) {
  const size = gzipSize(file)
  console.log(`build-snippet: ${file} ${readFileSync(file).length} B minified, ${size} B with gzip -9 (budget ${limit} B)`)
  if (size > limit) {
    console.error(`build-snippet: ${file} is ${size} B with gzip -9, over the ${limit} B budget (issue ${file === out ? 4 : 13})`)
    process.exit(1)
  }
}
