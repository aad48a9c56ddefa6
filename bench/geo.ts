/**
 * Cost of the country lookup the hub does once per client (src/hub/ingest/geo.ts), in-process, so
 * a loaded machine skews it less than a whole-hub run: time to open the bundled database, memory
 * it holds, and ns per `locate(ip)` for an address in the cache, one that is not (more distinct
 * addresses than the cache keeps), and with lookups off.
 * Usage: node --import tsx bench/geo.ts [lookups=1000000] [--geoip=FILE]
 */
import { performance } from 'node:perf_hooks'
import { resolveConfig } from '../src/hub/config'
import { GEO_OFF, openGeo, type Locate } from '../src/hub/ingest/geo'

const args = process.argv.slice(2)
const N = Number(args.find((a) => !a.startsWith('--')) ?? 1_000_000)
const file = args.find((a) => a.startsWith('--geoip='))?.slice(8) ?? resolveConfig({}).geoip
if (file === null) throw new Error('--geoip=off measures nothing')

/** The i-th of many spread-out unicast IPv4 addresses. */
function address(i: number): string {
  const h = Math.imul(i + 1, 2654435761) >>> 0
  return `${1 + ((h >>> 24) % 223)}.${(h >>> 16) & 255}.${(h >>> 8) & 255}.${h & 255}`
}

function nsPer(locate: Locate, ips: readonly string[], n: number): number {
  let found = 0
  const t0 = performance.now()
  for (let i = 0; i < n; i++) if (locate(ips[i % ips.length] as string).country !== null) found++
  const ns = ((performance.now() - t0) * 1e6) / n
  if (found < 0) console.log(found) // keep the loop's result alive
  return ns
}

const mem0 = process.memoryUsage()
const t0 = performance.now()
const geo = openGeo(file)
const openMs = performance.now() - t0
const mem1 = process.memoryUsage()

const hot = Array.from({ length: 1000 }, (_, i) => address(i))
const cold = Array.from({ length: 200_000 }, (_, i) => address(1_000_000 + i))
nsPer(geo.locate, hot, 100_000) // warm-up: JIT and the hot set in the cache
const out = {
  date: new Date().toISOString(),
  file,
  type: geo.source?.type,
  openMs: +openMs.toFixed(1),
  externalMB: +((mem1.external + mem1.arrayBuffers - mem0.external - mem0.arrayBuffers) / 2 ** 20).toFixed(1),
  nsPerLookup: {
    cached: +nsPer(geo.locate, hot, N).toFixed(0),
    // 200,000 distinct addresses in turn: each one left the cache (2 × 20,000) before it comes back
    uncached: +nsPer(geo.locate, cold, Math.min(N, 400_000)).toFixed(0),
    off: +nsPer(GEO_OFF.locate, hot, N).toFixed(0),
  },
  heapAfterMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1),
}
console.log(JSON.stringify(out))
