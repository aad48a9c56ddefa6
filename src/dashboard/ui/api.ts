/**
 * The hub's read API with the token: `Authorization: Bearer` on fetch, `?token=` on the live
 * WebSocket (browsers cannot set its headers). A 401 asks for the token once and retries.
 */
const KEY = 'livestats.token'

export class Unauthorized extends Error {}

export function getToken(): string | null {
  try {
    return sessionStorage.getItem(KEY) ?? localStorage.getItem(KEY)
  } catch {
    return null
  }
}

export function saveToken(token: string, remember: boolean): void {
  try {
    sessionStorage.setItem(KEY, token)
    if (remember) localStorage.setItem(KEY, token)
    else localStorage.removeItem(KEY)
  } catch { /* storage disabled: the token lives until reload */ }
  memory = token
}

export function forgetToken(): void {
  try {
    sessionStorage.removeItem(KEY)
    localStorage.removeItem(KEY)
  } catch { /* nothing stored */ }
  memory = null
}

let memory: string | null = null
/** A share link's token (`?share=`): used for this page only, never stored. */
let shareToken: string | null = null

/** Opens the dashboard with a share link's token (read-only, one site). */
export function useShareToken(t: string): void {
  shareToken = t
}

function token(): string | null {
  return shareToken ?? memory ?? getToken()
}

/** Set by the app: shows the token prompt and resolves once a token was entered. */
let askToken: (() => Promise<void>) | null = null
export function onUnauthorized(fn: () => Promise<void>): void {
  askToken = fn
}

/** `params`: an object, or name-value pairs when a name repeats (two filters on one dimension). */
export async function get<T>(path: string, params: Record<string, string | number | undefined> | readonly (readonly [string, string])[] = {}): Promise<T> {
  return request<T>('GET', path, params)
}

/**
 * A write (`POST` with a JSON body, `DELETE`): the same token and error handling as `get`; resolves
 * with the answer's JSON, or null for an empty answer (204).
 */
export async function send<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, params: Record<string, string | undefined> = {}, body?: unknown): Promise<T | null> {
  return request<T | null>(method, path, params, body)
}

async function request<T>(method: string, path: string, params: Record<string, string | number | undefined> | readonly (readonly [string, string])[], body?: unknown): Promise<T> {
  const u = new URL(path, location.href)
  if (Array.isArray(params)) for (const [k, v] of params as readonly (readonly [string, string])[]) u.searchParams.append(k, v)
  else for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v))
  for (;;) {
    const t = token()
    const headers: Record<string, string> = t === null ? {} : { authorization: `Bearer ${t}` }
    if (body !== undefined) headers['content-type'] = 'application/json'
    const res = await fetch(u, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) })
    if (res.status === 401) {
      if (askToken === null) throw new Unauthorized('token required')
      await askToken()
      continue
    }
    if (!res.ok) {
      let msg = `${res.status}`
      try {
        const b = (await res.json()) as { error?: { message?: string }; message?: string; code?: string }
        msg = b.error?.message ?? b.message ?? b.code ?? msg
      } catch { /* not JSON */ }
      throw new Error(method === 'GET' ? `${path}: ${msg}` : msg)
    }
    if (res.status === 204) return null as T
    return (await res.json()) as T
  }
}

export function liveUrl(site: string | null): string {
  const u = new URL('/live', location.href)
  u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  if (site !== null) u.searchParams.set('site', site)
  const t = token()
  if (t !== null) u.searchParams.set('token', t)
  return u.href
}
