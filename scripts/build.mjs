// Builds the package: CommonJS and ESM outputs with types for the Node entry points, and the
// browser snippet (minified IIFE). The dashboard UI, when present, is built by its own step.
import { build } from 'tsup'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'

const entry = { index: 'src/index.ts', tracker: 'src/tracker/index.ts', protocol: 'src/protocol/index.ts', cli: 'src/cli.ts' }
await build({
  entry,
  format: ['cjs', 'esm'],
  dts: { entry: { index: 'src/index.ts', tracker: 'src/tracker/index.ts', protocol: 'src/protocol/index.ts' } },
  outDir: 'dist',
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: true,
  splitting: false,
  shims: true,
  silent: true,
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
})
for (const step of ['scripts/build-snippet.mjs', 'scripts/build-dashboard.mjs']) {
  if (!existsSync(step)) continue
  const r = spawnSync(process.execPath, [step], { stdio: 'inherit' })
  if (r.status !== 0) process.exit(r.status ?? 1)
}
console.log('build: dist/ ready')
