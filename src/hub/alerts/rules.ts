/**
 * Alert rules (issue 15.4): what an operator asks to be told about, validated once when set.
 * A rule is stored as JSON in the store's meta table under `alert:<id>`.
 *
 * Kinds and what `threshold` means for each:
 * - `visitors`: live visitors on `site` (or on `page` of it) `above` or `below` `threshold`.
 * - `spike`: page views of `site` in the last `windowMin` minutes at least `threshold` times those of
 *   the same minutes a week before (and at least `minCount` of them).
 * - `stuck`: a job of `app` (named `job`, or any) running for more than `threshold` seconds.
 * - `down`: no process of `app` linked to the hub (the `for` duration is the N seconds).
 * - `failed`: of the jobs of `app` finished in the last 60 s (at least `minCount`), more than
 *   `threshold` percent failed.
 * - `lag`: event-loop lag of a process of `app` above `threshold` ms.
 */
import { LivestatsError } from '../../protocol/errors'

export const ALERT_KINDS = ['visitors', 'spike', 'stuck', 'down', 'failed', 'lag'] as const
export type AlertKind = (typeof ALERT_KINDS)[number]
/** `json`: the plain payload (docs/alerts.md); `slack`: `{ text, blocks }`, which Slack, Mattermost and Discord's `/slack` endpoints take. */
export type WebhookFormat = 'json' | 'slack'

export interface AlertRule {
  /** Made by the hub: 16 hex characters. */
  id: string
  name: string
  kind: AlertKind
  /** visitors, spike */
  site: string | null
  /** visitors: one page path (e.g. `/pricing`); null for the whole site */
  page: string | null
  /** stuck, down, failed, lag */
  app: string | null
  /** stuck: one job name; null for any */
  job: string | null
  /** visitors: `above` or `below`; the other kinds are always `above` */
  op: 'above' | 'below'
  /** See the kinds above; 0 for `down`. */
  threshold: number
  /** spike: the window, minutes. @default 60 */
  windowMin: number
  /** spike: page views, failed: finished jobs needed before the rule can fire. @default 10 (spike), 5 (failed) */
  minCount: number
  /** Seconds the condition must hold before the alert fires, and be gone before it resolves. @default 60 */
  forSec: number
  webhook: string
  format: WebhookFormat
  enabled: boolean
  created: number
  updated: number
}

/** Caps on what a rule may hold: limits on by default. */
export const RULE_LIMITS = { name: 100, site: 253, page: 1000, app: 100, job: 200, url: 2000, forSec: 86_400 * 7, windowMin: 24 * 60 } as const

const SITE_KINDS: ReadonlySet<AlertKind> = new Set(['visitors', 'spike'])

function bad(message: string): never {
  throw new LivestatsError('LS_ERR_INVALID_ALERT', message)
}

function text(o: Record<string, unknown>, k: string, max: number, required: boolean): string | null {
  const v = o[k]
  if (v === undefined || v === null || v === '') {
    if (required) bad(`${k} is required`)
    return null
  }
  if (typeof v !== 'string') bad(`${k} must be a string`)
  // control characters would end up in a Slack message or a log line
  if (/[\u0000-\u001f\u007f]/.test(v)) bad(`${k} must not hold control characters`)
  const s = v.trim()
  if (s === '' && required) bad(`${k} is required`)
  if (s.length > max) bad(`${k} must be at most ${max} characters`)
  return s === '' ? null : s
}

function num(o: Record<string, unknown>, k: string, dflt: number | null, min: number, max: number, integer = false): number {
  const v = o[k]
  if (v === undefined || v === null) {
    if (dflt === null) bad(`${k} is required`)
    return dflt
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${k} must be a number`)
  if (integer && !Number.isInteger(v)) bad(`${k} must be an integer`)
  if (v < min || v > max) bad(`${k} must be from ${min} to ${max}`)
  return v
}

/**
 * A webhook URL: `http:` or `https:` only, no user or password in it (they would show in the
 * dashboard's rule list). Private and loopback addresses are allowed on purpose: rules are set with
 * the admin token, and an operator's receiver is often on the same network (docs/security.md).
 */
export function webhookUrl(v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') bad('webhook is required (an http:// or https:// URL)')
  if (v.length > RULE_LIMITS.url) bad(`webhook must be at most ${RULE_LIMITS.url} characters`)
  let u: URL
  try {
    u = new URL(v.trim())
  } catch {
    bad('webhook is not a URL')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') bad('webhook must start with http:// or https://')
  if (u.username !== '' || u.password !== '') bad('webhook must not hold a user name or password')
  return u.href
}

/**
 * Validates a rule as sent to `POST /api/alerts` (or `PUT`, with the stored rule as `base`), and
 * returns the whole rule. Unknown fields are refused, so a typo does not silently do nothing.
 * @throws LivestatsError LS_ERR_INVALID_ALERT naming the field
 */
export function parseRule(input: unknown, id: string, now: number, base?: AlertRule): AlertRule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) bad('a rule is a JSON object')
  const known = new Set(['name', 'kind', 'site', 'page', 'app', 'job', 'op', 'threshold', 'windowMin', 'minCount', 'for', 'webhook', 'format', 'enabled'])
  for (const k of Object.keys(input)) if (!known.has(k)) bad(`unknown field "${k}"`)
  // PUT: the stored rule's fields, then the ones sent
  const o: Record<string, unknown> = base === undefined ? { ...input } : { ...toInput(base), ...input }
  const kind = o.kind
  if (typeof kind !== 'string' || !(ALERT_KINDS as readonly string[]).includes(kind)) bad(`kind must be one of ${ALERT_KINDS.join(', ')}`)
  const k = kind as AlertKind
  const bySite = SITE_KINDS.has(k)
  const site = text(o, 'site', RULE_LIMITS.site, bySite)
  const app = text(o, 'app', RULE_LIMITS.app, !bySite)
  if (bySite && app !== null) bad(`app does not apply to ${k} rules`)
  if (!bySite && site !== null) bad(`site does not apply to ${k} rules`)
  const page = text(o, 'page', RULE_LIMITS.page, false)
  if (page !== null && k !== 'visitors') bad('page applies to visitors rules only')
  if (page !== null && !page.startsWith('/')) bad('page must be a path starting with /')
  const job = text(o, 'job', RULE_LIMITS.job, false)
  if (job !== null && k !== 'stuck') bad('job applies to stuck rules only')
  const op = o.op ?? 'above'
  if (op !== 'above' && op !== 'below') bad('op must be above or below')
  if (op === 'below' && k !== 'visitors') bad('op below applies to visitors rules only')
  let threshold = 0
  if (k === 'visitors') threshold = num(o, 'threshold', null, 0, 1e9, true)
  else if (k === 'spike') threshold = num(o, 'threshold', null, 1.01, 1000)
  else if (k === 'stuck') threshold = num(o, 'threshold', null, 1, RULE_LIMITS.forSec)
  else if (k === 'failed') threshold = num(o, 'threshold', null, 0, 99.99)
  else if (k === 'lag') threshold = num(o, 'threshold', null, 1, 600_000)
  else if (o.threshold !== undefined && o.threshold !== null && o.threshold !== 0) bad('threshold does not apply to down rules: for says how long')
  const windowMin = k === 'spike' ? num(o, 'windowMin', 60, 5, RULE_LIMITS.windowMin, true) : 60
  const minCount = k === 'spike' ? num(o, 'minCount', 10, 1, 1e9, true) : k === 'failed' ? num(o, 'minCount', 5, 1, 1e9, true) : 0
  const forSec = num(o, 'for', 60, 0, RULE_LIMITS.forSec)
  const format = o.format ?? 'json'
  if (format !== 'json' && format !== 'slack') bad('format must be json or slack')
  const enabled = o.enabled ?? true
  if (typeof enabled !== 'boolean') bad('enabled must be true or false')
  const name = text(o, 'name', RULE_LIMITS.name, false) ?? defaultName(k, site, page, app, job)
  return {
    id, name, kind: k, site, page, app, job, op, threshold, windowMin, minCount, forSec,
    webhook: webhookUrl(o.webhook), format, enabled,
    created: base?.created ?? now, updated: now,
  }
}

/** The fields a client sends, from a stored rule (what `GET /api/alerts` shows too, plus id and times). */
export function toInput(r: AlertRule): Record<string, unknown> {
  const o: Record<string, unknown> = { name: r.name, kind: r.kind, for: r.forSec, webhook: r.webhook, format: r.format, enabled: r.enabled }
  if (r.site !== null) o.site = r.site
  if (r.page !== null) o.page = r.page
  if (r.app !== null) o.app = r.app
  if (r.job !== null) o.job = r.job
  if (r.kind === 'visitors') o.op = r.op
  if (r.kind !== 'down') o.threshold = r.threshold
  if (r.kind === 'spike') o.windowMin = r.windowMin
  if (r.kind === 'spike' || r.kind === 'failed') o.minCount = r.minCount
  return o
}

/** A rule as the API shows it. */
export function ruleView(r: AlertRule): Record<string, unknown> {
  return { id: r.id, ...toInput(r), created: r.created, updated: r.updated }
}

function defaultName(k: AlertKind, site: string | null, page: string | null, app: string | null, job: string | null): string {
  const where = site !== null ? `${site}${page ?? ''}` : `${app ?? ''}${job !== null ? ` ${job}` : ''}`
  return `${k} ${where}`.slice(0, RULE_LIMITS.name)
}

/** Reads a stored rule back; null when the text is not one (a newer hub's format, a broken row). */
export function storedRule(id: string, text: string, now: number): AlertRule | null {
  try {
    const o = JSON.parse(text) as Record<string, unknown>
    const r = parseRule(o.rule, id, now)
    return { ...r, created: typeof o.created === 'number' ? o.created : now, updated: typeof o.updated === 'number' ? o.updated : now }
  } catch {
    return null
  }
}

/** The text stored for a rule: the client fields (validated again on load) and the times. */
export function storedText(r: AlertRule): string {
  return JSON.stringify({ rule: toInput(r), created: r.created, updated: r.updated })
}
