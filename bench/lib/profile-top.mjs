// Prints the functions with the most self time in a .cpuprofile (node --cpu-prof output).
// Usage: node bench/lib/profile-top.mjs FILE.cpuprofile [N=25]
import { readFileSync } from 'node:fs'

const p = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const n = Number(process.argv[3] ?? 25)
const byId = new Map(p.nodes.map((x) => [x.id, x]))
const counts = new Map()
for (const s of p.samples) counts.set(s, (counts.get(s) ?? 0) + 1)
const self = new Map()
for (const [id, c] of counts) {
  const f = byId.get(id).callFrame
  const k = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`
  self.set(k, (self.get(k) ?? 0) + c)
}
const total = p.samples.length
for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((100 * c) / total).toFixed(1).padStart(5)}%  ${k}`)
