/**
 * The slow path of validation: an event that failed its compiled check gets its over-long
 * descriptive fields cut to their limits, then is checked again. Text that only describes an event
 * (a title, a URL, an error message, a job or event name, a property value) is cut: losing its tail
 * loses less than losing the event. What identifies something (`id`, `cid`, `site`, `app`,
 * `instance`, `host`) is never cut: a cut name would file events under a site or app nobody
 * configured, so an over-long one still refuses the event. docs/protocol.md has the table.
 *
 * The event is a freshly parsed JSON value owned by ingest, so it is cut in place.
 */
import { cutText, cutUrl } from '../../protocol/cut'
import type { Limits } from '../../protocol/limits'
import { PROP_KEY_MAX, LANGUAGE_MAX } from '../../protocol/schema'

type Obj = Record<string, unknown>

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Cuts `o[key]` when it is a string over `max`; notes the JSON pointer of what was cut in `out`. */
function field(o: Obj, key: string, max: number, out: string[], at: string, url = false): void {
  const v = o[key]
  if (typeof v !== 'string' || v.length <= max) return
  o[key] = url ? cutUrl(v, max) : cutText(v, max)
  out.push(`${at}/${key}`)
}

/**
 * Custom properties: keys cut to 64, string values to the text limit, and past `maxProps` only the
 * first ones are kept (in the order the object lists them, the order they were sent in, except that
 * JSON objects list integer-like keys first). Two keys that are equal once cut keep the first value.
 */
function props(ev: Obj, limits: Limits, out: string[]): void {
  const p = ev.props
  if (!isObj(p)) return
  const keys = Object.keys(p)
  let rebuild = keys.length > limits.maxProps
  for (const k of keys) if (k.length > PROP_KEY_MAX) rebuild = true
  if (rebuild) {
    const kept: Obj = {}
    let n = 0
    for (const k of keys) {
      if (n >= limits.maxProps) break
      const key = cutText(k, PROP_KEY_MAX)
      if (Object.prototype.hasOwnProperty.call(kept, key)) continue
      kept[key] = p[k]
      n++
    }
    ev.props = kept
    out.push('/props')
  }
  const q = ev.props as Obj
  for (const k of Object.keys(q)) field(q, k, limits.maxTextLength, out, '/props')
}

/**
 * Cuts the over-long descriptive fields of `ev` (of the given type) in place and pushes a JSON
 * pointer per cut field to `out`. Fields of the wrong type are left alone for the check to refuse.
 */
export function cutEvent(ev: Obj, type: string, limits: Limits, out: string[]): void {
  const url = limits.maxUrlLength
  switch (type) {
    case 'pageview':
      field(ev, 'url', url, out, '', true)
      field(ev, 'referrer', url, out, '', true)
      field(ev, 'title', limits.maxTextLength, out, '')
      field(ev, 'language', LANGUAGE_MAX, out, '')
      return
    case 'presence':
      field(ev, 'url', url, out, '', true)
      return
    case 'event':
      field(ev, 'name', limits.maxShortLength, out, '')
      field(ev, 'url', url, out, '', true)
      props(ev, limits, out)
      return
    case 'job':
      field(ev, 'name', limits.maxShortLength, out, '')
      field(ev, 'error', limits.maxTextLength, out, '')
      return
    case 'process': {
      const http = ev.http
      if (Array.isArray(http)) {
        for (let i = 0; i < http.length; i++) {
          const r: unknown = http[i]
          if (isObj(r)) field(r, 'route', limits.maxShortLength, out, `/http/${i}`)
        }
      }
      const running = ev.running
      if (!Array.isArray(running)) return
      // oldest first: the ones past the limit are the newest, and `runningCount` still counts them
      if (running.length > limits.maxRunningJobs) {
        running.length = limits.maxRunningJobs
        out.push('/running')
      }
      for (let i = 0; i < running.length; i++) {
        const j: unknown = running[i]
        if (isObj(j)) field(j, 'name', limits.maxShortLength, out, `/running/${i}`)
      }
      return
    }
    default:
      return
  }
}
