/**
 * The alert engine: rules kept in the store's meta table (`alert:<id>`), evaluated on a timer,
 * each transition (fire, resolve) delivered to the rule's webhook with retries. The timer runs only
 * while at least one rule is enabled: a hub without rules pays nothing.
 */
import { randomBytes } from 'node:crypto'
import { LivestatsError } from '../../protocol/errors'
import type { Logger } from '../config'
import type { Presence, ProcessView } from '../presence/types'
import type { Store } from '../store/types'
import { deliver, type RetryPolicy } from './deliver'
import { DeliveryLog, type Delivery } from './deliveries'
import { evaluate } from './evaluate'
import { body, type Notification } from './payload'
import { parseRule, storedRule, storedText, type AlertRule } from './rules'
import { newState, step, type RuleState } from './state'

export const ALERT_PREFIX = 'alert:'

/** Alert settings (`alerts` option, `LIVESTATS_ALERTS=intervalMs=15000,attempts=5`). */
export interface AlertSettings extends RetryPolicy {
  /** How often rules are evaluated, ms. @default 15000 */
  intervalMs: number
  /** Rules a hub holds at most. @default 100 */
  maxRules: number
  /** Deliveries kept in memory for `GET /api/alerts/deliveries`. @default 200 */
  keepDeliveries: number
}

export const DEFAULT_ALERTS: AlertSettings = Object.freeze({
  intervalMs: 15_000, attempts: 5, retryBaseMs: 1000, retryMaxMs: 60_000, timeoutMs: 10_000, maxRules: 100, keepDeliveries: 200,
})

export interface AlertEngineOptions {
  store: Pick<Store, 'getMeta' | 'setMeta' | 'listMeta' | 'deleteMeta' | 'series'>
  presence: Pick<Presence, 'countStates' | 'pages' | 'processes'>
  settings: AlertSettings
  logger: Logger
  /** Linked from notifications. @default null */
  hubUrl?: string | null
  /**
   * In a cluster: whether this node holds the alert lease for the next `ttlMs` (src/hub/redis/leader.ts),
   * asked before each round; only the holder evaluates and sends, so an alert goes out once per
   * cluster. Absent on a single node. @default undefined
   */
  leader?: (ttlMs: number) => Promise<boolean>
}

export class AlertEngine {
  readonly deliveries: DeliveryLog
  private readonly rules = new Map<string, AlertRule>()
  private readonly states = new Map<string, RuleState>()
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private readonly stop = new AbortController()
  private readonly sending = new Set<Promise<void>>()
  /** Rules made, changed or deleted here while a `load` was reading: its older view of them is not applied. */
  private readonly touched = new Set<string>()

  constructor(private readonly o: AlertEngineOptions) {
    this.deliveries = new DeliveryLog(o.settings.keepDeliveries)
  }

  /**
   * Loads the stored rules (a row that no longer parses is logged and skipped), replacing what was
   * held: at start, and again now and then for rules another hub of a cluster changed. A rule whose
   * `updated` did not change keeps its state (firing or not).
   */
  async load(): Promise<void> {
    const now = Date.now()
    const seen = new Set<string>()
    this.touched.clear()
    for (const { key, value } of await this.o.store.listMeta(ALERT_PREFIX)) {
      const id = key.slice(ALERT_PREFIX.length)
      seen.add(id)
      if (this.touched.has(id)) continue
      const held = this.rules.get(id)
      const r = storedRule(id, value, now)
      if (r === null) {
        if (held === undefined) this.o.logger.warn(`livestats: alert rule ${id} could not be read; it is ignored`)
        continue
      }
      if (held !== undefined && held.updated === r.updated) continue
      this.rules.set(id, r)
      this.states.delete(id)
    }
    for (const id of [...this.rules.keys()]) {
      if (seen.has(id) || this.touched.has(id)) continue
      this.rules.delete(id)
      this.states.delete(id)
    }
    this.arm()
  }

  list(): AlertRule[] {
    return [...this.rules.values()].sort((a, b) => a.created - b.created)
  }

  get(id: string): AlertRule {
    const r = this.rules.get(id)
    if (r === undefined) throw new LivestatsError('LS_ERR_ALERT_NOT_FOUND')
    return r
  }

  /** Whether a rule is firing now (its last notification said `firing`). */
  firing(id: string): boolean {
    return this.states.get(id)?.firing ?? false
  }

  async create(input: unknown): Promise<AlertRule> {
    if (this.rules.size >= this.o.settings.maxRules) throw new LivestatsError('LS_ERR_TOO_MANY_ALERTS', `at most ${this.o.settings.maxRules} alert rules`)
    const r = parseRule(input, randomBytes(8).toString('hex'), Date.now())
    await this.o.store.setMeta(ALERT_PREFIX + r.id, storedText(r))
    this.rules.set(r.id, r)
    this.touched.add(r.id)
    this.arm()
    return r
  }

  /** Changes the fields sent; the rule starts over (not firing), since what it watches may have changed. */
  async update(id: string, input: unknown): Promise<AlertRule> {
    const r = parseRule(input, id, Date.now(), this.get(id))
    await this.o.store.setMeta(ALERT_PREFIX + id, storedText(r))
    this.rules.set(id, r)
    this.touched.add(id)
    this.states.delete(id)
    this.arm()
    return r
  }

  async remove(id: string): Promise<void> {
    this.get(id)
    await this.o.store.deleteMeta(ALERT_PREFIX + id)
    this.rules.delete(id)
    this.touched.add(id)
    this.states.delete(id)
    this.arm()
  }

  /** Starts the timer when a rule is enabled, stops it when none is. */
  private arm(): void {
    const any = [...this.rules.values()].some((r) => r.enabled)
    if (any && this.timer === null && !this.stop.signal.aborted) {
      this.timer = setInterval(() => void this.evaluate(), this.o.settings.intervalMs)
      this.timer.unref()
    } else if (!any && this.timer !== null) {
      clearInterval(this.timer)
      this.timer = null
    }
  }

  /** One evaluation round over every enabled rule (rounds never overlap). Exposed for tests and the CLI. */
  evaluate(): Promise<void> {
    if (this.running !== null) return this.running
    this.running = this.round().finally(() => { this.running = null })
    return this.running
  }

  private async round(): Promise<void> {
    // in a cluster one node evaluates (and sends) at a time; the lease outlives a few rounds
    if (this.o.leader !== undefined && !(await this.o.leader(this.o.settings.intervalMs * 3))) return
    const now = Date.now()
    let procs: Promise<ProcessView[]> | null = null
    const ctx = { presence: this.o.presence, store: this.o.store, now, processes: () => (procs ??= this.o.presence.processes()) }
    for (const r of this.rules.values()) {
      if (!r.enabled) continue
      try {
        const reading = await evaluate(r, ctx)
        // the rule may have changed or gone while it was read
        if (this.rules.get(r.id) !== r) continue
        let s = this.states.get(r.id)
        if (s === undefined) this.states.set(r.id, (s = newState()))
        const startedAt = s.since ?? now
        const firedAt = s.firedAt
        const what = step(s, reading.active, now, r.forSec * 1000)
        if (what !== null) this.send({ id: randomBytes(8).toString('hex'), status: what, rule: r, reading, since: what === 'firing' ? startedAt : firedAt ?? startedAt, at: now, hubUrl: this.o.hubUrl ?? null })
      } catch (err) {
        this.o.logger.error(`livestats: alert rule ${r.id} could not be evaluated`, err)
      }
    }
  }

  private send(n: Notification): void {
    const s = this.o.settings
    const d: Delivery = this.deliveries.add({
      id: n.id, rule: n.rule.id, name: n.rule.name, status: n.status, state: 'sending', attempts: 0, lastStatus: null, error: null,
      summary: n.reading.summary, target: new URL(n.rule.webhook).origin, format: n.rule.format, created: n.at, finished: null,
    })
    const p = deliver(n.rule.webhook, body(n), s, this.stop.signal, (a) => this.deliveries.attempt(d, a, a.ok || a.n >= s.attempts, Date.now()))
      .then((last) => {
        if (!last.ok && d.state !== 'failed') this.deliveries.attempt(d, last, true, Date.now())
        if (!last.ok) this.o.logger.warn(`livestats: alert "${n.rule.name}" (${n.status}) not delivered after ${d.attempts} attempts: ${d.error ?? ''}`)
      })
      .catch((err: unknown) => this.o.logger.error('livestats: alert delivery', err))
      .finally(() => this.sending.delete(p))
    this.sending.add(p)
  }

  /** Stops the timer and abandons retries still waiting (an attempt under way is aborted). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
    this.stop.abort()
    await this.running
    await Promise.allSettled([...this.sending])
  }
}
