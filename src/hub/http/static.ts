/**
 * Static assets the hub serves from the package's `dist/`: the snippet at `/livestats.js` and the
 * dashboard. Files are read once and kept in memory with an ETag; the snippet gets a day of
 * caching plus a week of stale-while-revalidate, so pages load it from cache and still pick up a
 * new version within a day.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dirname, extname, join } from 'node:path'

/** The package root: the nearest folder above this module that holds package.json. */
export function packageRoot(from: string = __dirname): string {
  let dir = from
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) return process.cwd()
    dir = up
  }
  return dir
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
  '.ico': 'image/x-icon',
}

export interface Asset {
  body: Buffer
  type: string
  etag: string
  cache: string
}

export function loadAsset(file: string, cache: string): Asset | null {
  if (!existsSync(file) || !statSync(file).isFile()) return null
  const body = readFileSync(file)
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`
  return { body, type: TYPES[extname(file)] ?? 'application/octet-stream', etag, cache }
}

/** Loads every file under `dir` keyed by its URL path under `prefix`. */
export function loadDir(dir: string, prefix: string, cache: (path: string) => string): Map<string, Asset> {
  const out = new Map<string, Asset>()
  if (!existsSync(dir)) return out
  const walk = (d: string, p: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${p}${e.name}/`)
      else {
        const a = loadAsset(join(d, e.name), cache(`${p}${e.name}`))
        if (a !== null) out.set(`${p}${e.name}`, a)
      }
    }
  }
  walk(dir, prefix)
  return out
}

export function sendAsset(req: IncomingMessage, res: ServerResponse, a: Asset, extra: Record<string, string> = {}): void {
  const headers = { 'content-type': a.type, etag: a.etag, 'cache-control': a.cache, ...extra }
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  res.writeHead(200, { ...headers, 'content-length': a.body.length })
  res.end(req.method === 'HEAD' ? undefined : a.body)
}
