/**
 * Distinct counts of non-negative safe integers (53-bit visitor keys) without a JS Set. The values
 * are first split by the top bits of their hash into buckets small enough that each bucket's
 * open-addressing table stays in the CPU cache; one table for all 1.5 million keys of a step
 * (32 MiB) spent most of its time waiting on memory (a Set, on allocating its entries).
 */

/** Buckets: 2^BUCKET_BITS. */
const BUCKET_BITS = 8

function hash(v: number): number {
  const lo = v >>> 0
  const hi = (v / 4294967296) >>> 0
  return Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> 0
}

/**
 * How many distinct values `values[0..n)` holds. Values must be non-negative safe integers.
 * @example countDistinct(Float64Array.of(3, 3, 2 ** 40)) // 2
 */
export function countDistinct(values: ArrayLike<number>, n: number = values.length): number {
  if (n === 0) return 0
  const buckets = 1 << BUCKET_BITS
  const shift = 32 - BUCKET_BITS
  // the hash is recomputed in each pass: cheaper than storing it and reading it back
  const start = new Int32Array(buckets + 1)
  for (let i = 0; i < n; i++) {
    const h = hash(values[i] as number)
    start[(h >>> shift) + 1] = (start[(h >>> shift) + 1] as number) + 1
  }
  let biggest = 0
  for (let b = 0; b < buckets; b++) {
    biggest = Math.max(biggest, start[b + 1] as number)
    start[b + 1] = (start[b + 1] as number) + (start[b] as number)
  }
  // values grouped by bucket
  const at = start.slice(0, buckets)
  const grouped = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const v = values[i] as number
    const b = hash(v) >>> shift
    const k = at[b] as number
    at[b] = k + 1
    grouped[k] = v
  }
  let bits = 4
  while (1 << bits < 2 * biggest) bits++
  const mask = (1 << bits) - 1
  const table = new Float64Array(1 << bits)
  let count = 0
  for (let b = 0; b < buckets; b++) {
    const from = start[b] as number
    const to = start[b + 1] as number
    if (from === to) continue
    table.fill(-1)
    for (let k = from; k < to; k++) {
      const v = grouped[k] as number
      let slot = hash(v) & mask
      for (;;) {
        const t = table[slot] as number
        if (t === v) break
        if (t === -1) {
          table[slot] = v
          count++
          break
        }
        slot = (slot + 1) & mask
      }
    }
  }
  return count
}
