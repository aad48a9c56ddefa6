/** reachableUrls (issue 11.8): the addresses a visitor's browser can reach the hub at, never 127.0.0.1 for 0.0.0.0 when there is another. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { NetworkInterfaceInfo } from 'node:os'
import { reachableUrls } from '../src/hub/reach'

const ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
    { address: '2001:db8::5', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: '2001:db8::5/64', scopeid: 0 },
    { address: '169.254.3.4', netmask: '255.255.0.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '169.254.3.4/16' },
    { address: '192.168.1.20', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '192.168.1.20/24' },
  ],
}

test('0.0.0.0: this machine\'s IPv4 addresses, global before link-local, no loopback', () => {
  const r = reachableUrls({ host: '0.0.0.0', port: 3000 }, null, ifaces)
  assert.deepEqual(r, { url: 'http://192.168.1.20:3000', others: ['http://169.254.3.4:3000'], loopbackOnly: false, fromPublicUrl: false })
})

test(':: (dual stack): IPv4 first, then global IPv6, bracketed, then link-local', () => {
  const r = reachableUrls({ host: '::', port: 8080 }, null, ifaces)
  assert.equal(r.url, 'http://192.168.1.20:8080')
  assert.deepEqual(r.others, ['http://[2001:db8::5]:8080', 'http://169.254.3.4:8080', 'http://[fe80::1]:8080'])
})

test('--public-url wins, without its trailing slash', () => {
  assert.deepEqual(reachableUrls({ host: '0.0.0.0', port: 3000 }, 'https://stats.example.com/', ifaces),
    { url: 'https://stats.example.com', others: [], loopbackOnly: false, fromPublicUrl: true })
})

test('a machine with only loopback says so', () => {
  const lo = { lo: ifaces.lo }
  assert.deepEqual(reachableUrls({ host: '0.0.0.0', port: 3000 }, null, lo), { url: 'http://127.0.0.1:3000', others: [], loopbackOnly: true, fromPublicUrl: false })
  assert.equal(reachableUrls({ host: '127.0.0.1', port: 3000 }, null, ifaces).loopbackOnly, true)
  assert.deepEqual(reachableUrls({ host: '10.0.0.7', port: 3000 }, null, ifaces), { url: 'http://10.0.0.7:3000', others: [], loopbackOnly: false, fromPublicUrl: false })
  assert.equal(reachableUrls({ host: '::1', port: 3000 }, null, ifaces).url, 'http://[::1]:3000')
})
