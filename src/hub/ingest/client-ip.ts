/**
 * The client's IP: the socket's peer address, unless that peer is a proxy the operator named in
 * `trustProxy`; then `X-Forwarded-For` is read from the right, skipping trusted hops, and the first
 * untrusted address is the client. The leftmost entry is never believed: any client can write it.
 */
import { isIP } from 'node:net'

export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.')
}

export function makeTrust(trustProxy: readonly string[]): (ip: string) => boolean {
  if (trustProxy.length === 0) return () => false
  const exact = new Set(trustProxy.filter((p) => p !== 'loopback').map(normalizeIp))
  const loop = trustProxy.includes('loopback')
  return (ip) => exact.has(ip) || (loop && isLoopback(ip))
}

export function clientIp(peer: string | undefined, forwarded: string | string[] | undefined, trusted: (ip: string) => boolean): string {
  let ip = normalizeIp(peer ?? '0.0.0.0')
  if (!trusted(ip) || forwarded === undefined) return ip
  const hops = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded).split(',')
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp((hops[i] ?? '').trim())
    if (isIP(hop) === 0) break
    ip = hop
    if (!trusted(hop)) break
  }
  return ip
}

/** The first `n` groups of an IPv6 address, `::` expanded, leading zeros and case as written. */
function v6Groups(ip: string, n: number): string[] {
  const [head = '', tail] = ip.split('::')
  const left = head ? head.split(':') : []
  const right = tail !== undefined && tail !== '' ? tail.split(':') : []
  const groups = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return groups.slice(0, n).map((g) => g || '0')
}

/** Masks an IP for display and storage: IPv4 keeps 3 octets, IPv6 keeps the first 48 bits. */
export function maskIp(ip: string): string {
  const v = isIP(ip)
  if (v === 4) return ip.slice(0, ip.lastIndexOf('.')) + '.0'
  if (v === 6) return v6Groups(ip, 3).join(':') + '::'
  return '0.0.0.0'
}

/**
 * The address per-client caps count against: an IPv4 address as it is, an IPv6 address's /64 (a
 * subscriber is usually handed a whole /64, so counting single IPv6 addresses would cap nothing).
 */
export function ipGroup(ip: string): string {
  if (isIP(ip) !== 6) return ip
  return v6Groups(ip, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':') + '::/64'
}
