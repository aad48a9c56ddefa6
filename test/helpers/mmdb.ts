/**
 * A small MaxMind DB writer for test fixtures, after the format spec
 * (https://maxmind.github.io/MaxMind-DB/): a binary search tree of 24-bit records, a 16-byte
 * separator, the data section, then the metadata marker and map. Enough for a handful of networks,
 * so tests can give the hub a city-level or a non-location database without downloading one.
 */
import { isIP } from 'node:net'

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue }

export interface MmdbOptions {
  ipVersion?: 4 | 6
  databaseType?: string
  description?: Record<string, string>
  /** Seconds since epoch. */
  buildEpoch?: number
}

function bitsOf(ip: string): number[] {
  const bits: number[] = []
  if (isIP(ip) === 4) {
    for (const o of ip.split('.')) for (let b = 7; b >= 0; b--) bits.push((Number(o) >> b) & 1)
    return bits
  }
  const [head = '', tail] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = tail ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  for (const g of groups) for (let b = 15; b >= 0; b--) bits.push((parseInt(g, 16) >> b) & 1)
  return bits
}

function sizeBytes(type: number, size: number): number[] {
  const ext = type > 7
  const first = (t: number): number => ((ext ? 0 : t) << 5)
  const out: number[] = []
  let tail: number[] = []
  let bits: number
  if (size < 29) bits = size
  else if (size < 29 + 256) { bits = 29; tail = [size - 29] }
  else if (size < 285 + 65536) { bits = 30; const s = size - 285; tail = [s >> 8, s & 255] }
  else { bits = 31; const s = size - 65821; tail = [(s >> 16) & 255, (s >> 8) & 255, s & 255] }
  out.push(first(type) | bits)
  if (ext) out.push(type - 7)
  return [...out, ...tail]
}

function uint(n: number, max: number): number[] {
  const out: number[] = []
  let v = BigInt(n)
  while (v > 0n) { out.unshift(Number(v & 255n)); v >>= 8n }
  if (out.length > max) throw new Error(`${n} does not fit`)
  return out
}

function encode(v: MmdbValue, typed?: 'uint16' | 'uint32' | 'uint64'): number[] {
  if (typeof v === 'string') {
    const b = [...Buffer.from(v, 'utf8')]
    return [...sizeBytes(2, b.length), ...b]
  }
  if (typeof v === 'boolean') return sizeBytes(14, v ? 1 : 0)
  if (typeof v === 'number') {
    if (typed !== undefined || Number.isInteger(v)) {
      const t = typed ?? 'uint32'
      const b = uint(v, t === 'uint16' ? 2 : t === 'uint32' ? 4 : 8)
      return [...sizeBytes(t === 'uint16' ? 5 : t === 'uint32' ? 6 : 9, b.length), ...b]
    }
    const buf = Buffer.alloc(8)
    buf.writeDoubleBE(v)
    return [...sizeBytes(3, 8), ...buf]
  }
  if (Array.isArray(v)) return [...sizeBytes(11, v.length), ...v.flatMap((x) => encode(x))]
  const entries = Object.entries(v)
  return [...sizeBytes(7, entries.length), ...entries.flatMap(([k, x]) => [...encode(k), ...encode(x)])]
}

interface Node { kids: [Node | number | null, Node | number | null] }

/** A `.mmdb` image mapping each network (`a.b.c.d/n` or IPv6 `x::/n`) to its record. */
export function writeMmdb(networks: Record<string, MmdbValue>, opts: MmdbOptions = {}): Buffer {
  const ipVersion = opts.ipVersion ?? 6
  const data: number[] = []
  const root: Node = { kids: [null, null] }
  for (const [cidr, value] of Object.entries(networks)) {
    const [ip = '', len = ''] = cidr.split('/')
    let bits = bitsOf(ip).slice(0, Number(len))
    if (isIP(ip) === 4 && ipVersion === 6) bits = [...Array<number>(96).fill(0), ...bits]
    if (isIP(ip) === 6 && ipVersion === 4) throw new Error('IPv6 network in an IPv4 database')
    const offset = data.length
    data.push(...encode(value))
    let n = root
    for (let i = 0; i < bits.length - 1; i++) {
      const b = bits[i] as 0 | 1
      let k = n.kids[b]
      if (typeof k === 'number') throw new Error(`${cidr} overlaps another network`)
      if (k === null) n.kids[b] = k = { kids: [null, null] }
      n = k
    }
    n.kids[bits[bits.length - 1] as 0 | 1] = offset
  }
  // number the nodes breadth first; the root is node 0
  const order: Node[] = [root]
  for (let i = 0; i < order.length; i++) for (const k of (order[i] as Node).kids) if (k !== null && typeof k !== 'number') order.push(k)
  const index = new Map(order.map((n, i) => [n, i]))
  const count = order.length
  const tree: number[] = []
  for (const n of order) {
    for (const k of n.kids) {
      const rec = k === null ? count : typeof k === 'number' ? count + 16 + k : (index.get(k) as number)
      tree.push((rec >> 16) & 255, (rec >> 8) & 255, rec & 255)
    }
  }
  const meta: number[] = [
    ...sizeBytes(7, 9),
    ...encode('node_count'), ...encode(count, 'uint32'),
    ...encode('record_size'), ...encode(24, 'uint16'),
    ...encode('ip_version'), ...encode(ipVersion, 'uint16'),
    ...encode('database_type'), ...encode(opts.databaseType ?? 'Test-City'),
    ...encode('languages'), ...encode(['en']),
    ...encode('binary_format_major_version'), ...encode(2, 'uint16'),
    ...encode('binary_format_minor_version'), ...encode(0, 'uint16'),
    ...encode('build_epoch'), ...encode(opts.buildEpoch ?? Math.floor(Date.now() / 1000), 'uint64'),
    ...encode('description'), ...encode(opts.description ?? { en: 'Livestats test fixture' }),
  ]
  return Buffer.concat([
    Buffer.from(tree), Buffer.alloc(16), Buffer.from(data),
    Buffer.from('ABCDEF4D61784D696E642E636F6D', 'hex'), Buffer.from(meta),
  ])
}
