/**
 * The URLs a visitor's browser can reach the hub at, for the start banner and the dashboard's
 * install snippet. `--public-url` wins. A hub bound to every interface (`0.0.0.0`, `::`) is
 * reached at this machine's own addresses, never at 127.0.0.1, which on a visitor's machine is
 * the visitor's machine. A hub bound to one address is reached there.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os'
import { isLoopbackHost } from './config'

export interface Reach {
  /** Base URL (no trailing slash) for the banner and the snippet. */
  url: string
  /** More base URLs the hub answers on, best first (a wildcard bind on a machine with several addresses). */
  others: string[]
  /** Only loopback is offered: pages served from other machines cannot send here. */
  loopbackOnly: boolean
  /** The URL came from `publicUrl`. */
  fromPublicUrl: boolean
}

function base(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`
}

/** Best first: IPv4 before IPv6, global before link-local (169.254/16, fe80::/10). */
function rank(a: NetworkInterfaceInfo): number {
  const linkLocal = a.family === 'IPv4' ? a.address.startsWith('169.254.') : /^fe[89ab]/i.test(a.address)
  return (a.family === 'IPv4' ? 0 : 2) + (linkLocal ? 4 : 0)
}

/**
 * @example
 * reachableUrls({ host: '0.0.0.0', port: 3000 }, null) // { url: 'http://192.168.1.20:3000', … }
 */
export function reachableUrls(
  bound: { host: string; port: number }, publicUrl: string | null,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): Reach {
  if (publicUrl !== null) return { url: publicUrl.replace(/\/$/, ''), others: [], loopbackOnly: false, fromPublicUrl: true }
  const { host, port } = bound
  const wildcard = host === '0.0.0.0' || host === '::' || host === ''
  if (!wildcard) return { url: base(host, port), others: [], loopbackOnly: isLoopbackHost(host), fromPublicUrl: false }
  const own = Object.values(interfaces).flatMap((list) => list ?? [])
    // a hub on 0.0.0.0 listens on IPv4 only; on :: on both (dual stack)
    .filter((a) => !a.internal && (host === '::' || a.family === 'IPv4'))
    .sort((a, b) => rank(a) - rank(b))
    .map((a) => base(a.address, port))
  const urls = [...new Set(own)]
  if (urls.length === 0) return { url: base('127.0.0.1', port), others: [], loopbackOnly: true, fromPublicUrl: false }
  return { url: urls[0] as string, others: urls.slice(1), loopbackOnly: false, fromPublicUrl: false }
}
