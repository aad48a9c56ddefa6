// Builds the dashboard UI (src/dashboard/ui) with Vite into dist/dashboard/: index.html plus
// content-hashed files under /assets/. The hub serves it with a CSP that forbids inline script
// and inline style, so this step fails if the HTML holds either, and fails over 100 KB gzipped.
import { build } from 'vite'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'

const root = 'src/dashboard/ui'
const outDir = 'dist/dashboard'
const LIMIT = 100 * 1024

await build({
  root,
  base: '/',
  configFile: false,
  logLevel: 'warn',
  publicDir: false,
  build: {
    outDir: join(process.cwd(), outDir),
    emptyOutDir: true,
    assetsDir: 'assets',
    assetsInlineLimit: 0, // no data: URIs; every asset is a file the CSP's 'self' covers
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
})

function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n)
    return statSync(p).isDirectory() ? files(p) : [p]
  })
}
const html = readFileSync(join(outDir, 'index.html'), 'utf8')
const problems = []
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (!/\bsrc=/.test(m[1]) || m[2].trim() !== '') problems.push('inline <script>')
}
if (/<style\b/i.test(html)) problems.push('inline <style>')
if (/\sstyle=/i.test(html)) problems.push('style="" attribute')
if (/\son[a-z]+=/i.test(html)) problems.push('inline event handler')
let total = 0
const sizes = []
for (const f of files(outDir)) {
  const gz = gzipSync(readFileSync(f), { level: 9 }).length
  total += gz
  sizes.push(`${relative(outDir, f)} ${(gz / 1024).toFixed(1)} KB`)
}
if (total > LIMIT) problems.push(`${(total / 1024).toFixed(1)} KB gzipped, over the ${LIMIT / 1024} KB budget`)
if (problems.length > 0) {
  console.error(`build-dashboard: ${problems.join('; ')}`)
  process.exit(1)
}
console.log(`build-dashboard: ${outDir}/ ${(total / 1024).toFixed(1)} KB gzipped (${sizes.join(', ')})`)
