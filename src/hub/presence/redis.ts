/**
 * Cluster presence: every node keeps its own tabs in a `MemoryPresence` (ingest decides on local
 * state only and never waits on the network; heartbeats stay here), and projects each change (join,
 * leave, state, page) into Redis with one script call (`redis/scripts.ts`). Reads answer with the
 * cluster's counts from Redis. Redis sees changes, never heartbeats: a tab counts while the node
 * holding its socket is alive, and a node is alive while its lease is.
 *
 * Leases and fencing. A node registers an identity per incarnation (`host:pid:random`) with a lease
 * (`PX leaseMs`), renewed every `renewMs` with PEXPIRE, which cannot bring a lapsed lease back. Every
 * write checks the writer's lease in the same script, so a node that was paused or cut off past its
 * lease is refused (`FENCED`): it takes a new identity and re-publishes the tabs it still holds,
 * claiming only tabs no live node holds. Every node reaps the tabs of nodes whose lease lapsed
 * (every `reapMs`) and then forgets those identities, so they do not accumulate across restarts.
 * A dead node's tabs stop counting within `leaseMs + reapMs + tick + reap time`.
 *
 * A tab whose client speaks to another node (it reconnected there) moves in one script call: the
 * new node takes it, the old node's later `leave` for it changes nothing. It is never counted twice.
 *
 * Redis unreachable: ingest goes on locally, reads answer with this node's tabs and say so
 * (`partial`, `scope: 'node'`), this node's dashboards get its own changes. When Redis answers
 * again, the node renews (or re-registers), removes its entries for tabs that ended meanwhile,
 * re-publishes the live ones, reaps lapsed nodes, and only then counts the cluster again.
 */
import { randomBytes } from 'node:crypto'
import type { ErrorCode } from '../../protocol/errors'
import type { Accepted, ClientInfo } from '../ingest/types'
import type { Bus } from '../bus/types'
import { channels } from '../bus/types'
import type { BusMessage, PresenceChange, ProcessGone, ProcessUpdate, Resync } from '../bus/messages'
import type { Logger } from '../config'
import { busChannel, clusterKeys, siteKeys } from '../redis/keys'
import { newNodeId, type RedisLink } from '../redis/link'
import { STATE_INDEX } from './aggregate'
import { memoryOverview, type LiveOverview } from '../live/metrics'
import { MemoryPresence, type LocalTab, type MemoryPresenceOptions } from './memory'
import type {
  ConnectionView, LiveCounts, PageCounts, Presence, PresenceScope, PresenceSnapshot, ProcessView,
} from './types'

/** What cluster presence needs of the bus: a network bus that can also deliver to this node only. */
export interface ClusterBus extends Bus {
  deliverLocal(channel: string, message: BusMessage): void
  resync(reason: Resync['reason'], channel?: string): void
}

export interface RedisPresenceOptions extends Omit<MemoryPresenceOptions, 'bus'> {
  link: RedisLink
  bus: ClusterBus
  /** Lease of a node identity, ms: a dead node's tabs count at most this long before reaping. @default 5000 */
  leaseMs?: number
  /** Lease renewal period, ms (must stay well under `leaseMs`). @default 1000 */
  renewMs?: number
  /** How often this node looks for lapsed nodes to reap, ms. @default 500 */
  reapMs?: number
  /** Timer resolution of renewals, reaps and reconnects, ms. @default 100 */
  tickMs?: number
  /** Tabs ended per reap script call. @default 500 */
  reapChunk?: number
  /** Told when reads switch between cluster counts and this node's own. @default none */
  onScope?: (scope: PresenceScope) => void
  /** @default console */
  logger?: Pick<Logger, 'warn' | 'error'>
}

type Mode = 'take' | 'claim' | 'del'
/** A pipeline with the link's scripts defined on it. */
interface ScriptPipeline { lsChange(...args: (string | number)[]): unknown }

const ZERO: Readonly<LiveCounts> = Object.freeze({ total: 0, reading: 0, writing: 0, idle: 0, hidden: 0 })

/** `HMGET cnt t 1 2 3 4` (or the same fields of a page) → counts. */
function toCounts(v: (string | null | undefined)[]): LiveCounts {
  const n = v.map((x) => Number(x ?? 0))
  const hidden = n[4] ?? 0
  return { total: n[0] ?? 0, writing: n[1] ?? 0, reading: n[2] ?? 0, idle: (n[3] ?? 0) + hidden, hidden }
}

/** `HGETALL pcnt` (`path\0t`, `path\01`..`path\04`) → pages, most visitors first. */
function toPages(h: Record<string, string>): PageCounts[] {
  const by = new Map<string, (string | null)[]>()
  for (const [field, value] of Object.entries(h)) {
    const cut = field.lastIndexOf('\0')
    const path = field.slice(0, cut)
    const i = 't1234'.indexOf(field.slice(cut + 1))
    if (cut < 0 || i < 0) continue
    let row = by.get(path)
    if (row === undefined) by.set(path, (row = [null, null, null, null, null]))
    row[i] = value
  }
  const out: PageCounts[] = []
  for (const [path, row] of by) {
    const c = toCounts(row)
    if (c.total > 0) out.push({ path, ...c })
  }
  return out.sort((a, b) => b.total - a.total || (a.path < b.path ? -1 : 1))
}

export class RedisPresence implements Presence {
  /** This node's own tabs: ingest decisions, history, and the answer while Redis is unreachable. */
  readonly local: MemoryPresence
  private readonly link: RedisLink
  private readonly bus: ClusterBus
  private readonly keys: ReturnType<typeof clusterKeys>
  private readonly leaseMs: number
  private readonly renewMs: number
  private readonly reapMs: number
  private readonly reapChunk: number
  private readonly onScope: (scope: PresenceScope) => void
  private readonly logger: Pick<Logger, 'warn' | 'error'>
  /** Prefixed to this node's tab keys, so keys from different nodes never collide on a dashboard. */
  private readonly tag = randomBytes(3).toString('base64url')
  private node = newNodeId()
  /** Write path: `up` sends changes to Redis; otherwise they stay local until the next reconcile. */
  private status: 'down' | 'recovering' | 'up' = 'down'
  /** Read path: true once this node's tabs are in Redis and lapsed nodes were reaped. */
  private exact = false
  private attempts = 0
  private lastRenew = 0
  private lastReap = 0
  private reaping: Promise<void> | null = null
  private lastWrite: Promise<unknown> = Promise.resolve()
  private waiters: (() => void)[] = []
  private timer: NodeJS.Timeout | null = null
  private closed = false
  private readonly tickMs: number

  constructor(opts: RedisPresenceOptions) {
    this.link = opts.link
    this.bus = opts.bus
    this.keys = clusterKeys(opts.link.prefix)
    this.leaseMs = opts.leaseMs ?? 5000
    this.renewMs = opts.renewMs ?? 1000
    this.reapMs = opts.reapMs ?? 500
    this.tickMs = opts.tickMs ?? 100
    this.reapChunk = opts.reapChunk ?? 500
    this.onScope = opts.onScope ?? ((): void => {})
    this.logger = opts.logger ?? console
    const tap: Bus = {
      publish: (channel, message) => this.fromLocal(channel, message),
      subscribe: () => () => {},
      close: async () => {},
    }
    this.local = new MemoryPresence({ ...opts, bus: tap })
    this.link.on('down', () => this.down('connection closed'))
    this.link.on('up', () => this.tick())
    this.startTimers()
    this.tick()
  }

  get scope(): PresenceScope {
    return this.exact ? 'cluster' : 'node'
  }

  get partial(): boolean {
    return !this.exact
  }

  /** This incarnation's identity in Redis (changes after a fence). */
  get nodeId(): string {
    return this.node
  }

  /** Resolves once reads count the cluster (after start, or after Redis returned). */
  ready(): Promise<void> {
    if (this.exact) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Resolves when every change sent so far was answered by Redis. */
  async settled(): Promise<void> {
    await this.lastWrite.catch(() => {})
  }

  /**
   * Stops renewals, reaps and reconnects without ending anything, as if the process froze (SIGSTOP):
   * for failure tests. `startTimers()` resumes, and the node finds its lease lapsed if it was out longer.
   */
  stopTimers(): void {
    if (this.timer !== null) clearInterval(this.timer)
    this.timer = null
  }

  startTimers(): void {
    if (this.timer !== null || this.closed) return
    // unref'd: a timer alone must not keep a process (a test, a CLI) alive
    this.timer = setInterval(() => this.tick(), this.tickMs).unref()
  }

  // ---- ingest: all local ----

  accept(item: Accepted, client: ClientInfo): ErrorCode | null {
    return this.local.accept(item, client)
  }

  connectionClosed(connection: string, _client?: ClientInfo): void {
    this.local.connectionClosed(connection)
  }

  dropTab(site: string, cid: string, client: ClientInfo): void {
    this.local.dropTab(site, cid, client)
  }

  /** Every message of the local presence passes here. */
  private fromLocal(channel: string, m: BusMessage): void {
    if (m.type === 'presence') {
      m.key = `${this.tag}.${m.key}`
      if (this.status === 'up') this.send(m)
      if (!this.exact) this.bus.deliverLocal(channel, m)
    } else if (m.type === 'site-seen') {
      this.bus.publish(channel, m)
    } else if (m.type === 'process' || m.type === 'process-gone') {
      if (this.status === 'up') this.sendProcess(channel, m)
      if (!this.exact) this.bus.deliverLocal(channel, m)
    }
  }

  /** A process sample or disconnect: into the cluster's process table, and to every node's dashboards. */
  private sendProcess(channel: string, m: ProcessUpdate | ProcessGone): void {
    const t = this.link.cmd.multi()
    if (m.type === 'process') t.hset(this.keys.procs, m.process.key, JSON.stringify({ n: this.node, v: m.process }))
    else t.hdel(this.keys.procs, m.key)
    t.publish(busChannel(this.link.prefix, channel), JSON.stringify(m))
    const node = this.node
    const w = t.exec()
    this.lastWrite = w
    w.catch((err: unknown) => this.failed(err, node))
  }

  /** After a reconnect or a fence: this node's processes under its identity, and none it no longer holds. */
  private async syncProcesses(): Promise<void> {
    const c = this.link.cmd
    const mine = await this.local.processes()
    const keep = new Set(mine.map((v) => v.key))
    const t = c.multi()
    for (const [key, json] of Object.entries(await c.hgetall(this.keys.procs))) {
      if (!keep.has(key) && (JSON.parse(json) as { n: string }).n === this.node) t.hdel(this.keys.procs, key)
    }
    for (const v of mine) t.hset(this.keys.procs, v.key, JSON.stringify({ n: this.node, v }))
    await t.exec()
  }

  private send(m: PresenceChange): void {
    const head: Record<string, unknown> = {
      type: 'presence', site: m.site, at: m.at, op: m.op, cid: m.cid, key: m.key, visitor: m.visitor, path: m.path, state: m.state,
    }
    if (m.from !== undefined) head.from = m.from
    if (m.reason !== undefined) head.reason = m.reason
    const node = this.node
    const args = this.changeArgs(m.site, m.cid, m.op === 'leave' ? 'del' : 'take', m.visitor, m.path,
      STATE_INDEX[m.state] + 1, m.key, JSON.stringify(head).slice(0, -1))
    const w = this.link.scripts.lsChange(...args)
    this.lastWrite = w
    w.catch((err: unknown) => this.failed(err, node))
  }

  private changeArgs(
    site: string, cid: string, mode: Mode, visitor: string, path: string, state: number, key: string, head: string,
  ): (string | number)[] {
    const k = siteKeys(this.link.prefix, site)
    const c = this.keys
    const n = this.node
    return [
      k.tabs, k.vis, k.cnt, k.pvis, k.pcnt, k.seq, c.sites, c.lease + n, k.index + n, c.nodeSites + n,
      n, site, cid, mode, visitor, path, state, key, busChannel(this.link.prefix, channels.site(site)), head, c.lease, k.index, Date.now(),
    ]
  }

  private failed(err: unknown, node: string): void {
    if (node !== this.node) return // an answer to an identity already replaced
    const msg = err instanceof Error ? err.message : String(err)
    if (msg.startsWith('FENCED')) this.fenced()
    else this.down(msg)
  }

  // ---- lease, reconnect, reap ----

  private tick(): void {
    if (this.closed) return
    if (this.status === 'down') {
      if (this.link.up) void this.recover()
      return
    }
    if (this.status !== 'up') return
    const now = Date.now()
    if (now - this.lastRenew >= this.renewMs) this.renew(now)
    if (now - this.lastReap >= this.reapMs && this.reaping === null) void this.reap()
  }

  private renew(now: number): void {
    this.lastRenew = now
    const node = this.node
    this.link.cmd.pexpire(this.keys.lease + node, this.leaseMs).then((ok) => {
      if (ok !== 1 && node === this.node) this.fenced()
    }, (err: unknown) => this.failed(err, node))
  }

  /** A write or renewal found this node's lease lapsed: it was reaped. Take a new identity now. */
  private fenced(): void {
    if (this.status !== 'up' || this.closed) return
    this.logger.warn(`livestats: presence lease of ${this.node} lapsed (the process was paused or cut off); re-registering`)
    this.lose()
    this.status = 'down'
    this.tick()
  }

  private down(why: string): void {
    if (this.status === 'down' && !this.exact) return
    if (this.status === 'up') this.logger.warn(`livestats: Redis presence unavailable (${why}); counting this node only`)
    this.status = 'down'
    this.lose()
  }

  /** Reads go local (and say partial); this node's dashboards take a local snapshot. */
  private lose(): void {
    if (!this.exact) return
    this.exact = false
    this.bus.resync('mode')
    this.onScope('node')
  }

  /**
   * Renews the lease (or registers a new identity), removes this node's entries for tabs that ended
   * while it could not write, re-publishes its live tabs, reaps lapsed nodes, then counts the cluster.
   */
  private async recover(): Promise<void> {
    const attempt = ++this.attempts
    this.status = 'recovering'
    const stale = (): boolean => attempt !== this.attempts || this.closed || this.status === 'down'
    const c = this.link.cmd
    const k = this.keys
    try {
      if ((await c.pexpire(k.lease + this.node, this.leaseMs)) !== 1) {
        const next = newNodeId()
        await c.multi().set(k.lease + next, '1', 'PX', this.leaseMs, 'NX').zadd(k.nodes, Date.now(), next).exec()
        if (stale()) return
        this.node = next
      }
      this.lastRenew = Date.now()
      const node = this.node
      const sites = [...new Set([...(await c.smembers(k.nodeSites + node)), ...this.local.siteNames()])]
      const members: string[][] = []
      if (sites.length > 0) {
        const p = c.pipeline()
        for (const site of sites) p.smembers(siteKeys(this.link.prefix, site).index + node)
        for (const [err, v] of (await p.exec()) ?? []) {
          if (err) throw err
          members.push(v as string[])
        }
      }
      if (stale()) return
      // from the local state as it is now; later changes are sent after these, on the same connection
      const p = c.pipeline()
      const s = p as unknown as ScriptPipeline
      let ops = 0
      sites.forEach((site, i) => {
        const live = this.local.liveTabs(site)
        const alive = new Set(live.map((t) => t.cid))
        for (const cid of members[i] ?? []) {
          if (alive.has(cid)) continue
          ops++
          s.lsChange(...this.changeArgs(site, cid, 'del', '', '', 0, '', ''))
        }
        for (const t of live) {
          ops++
          s.lsChange(...this.claimArgs(site, t))
        }
      })
      this.status = 'up'
      if (ops > 0) {
        const w = p.exec()
        this.lastWrite = w
        for (const [err] of (await w) ?? []) if (err) throw err
      }
      if (stale()) return
      await this.syncProcesses()
      await this.reap()
      if (stale() || this.status !== 'up') return
      this.exact = true
      this.bus.resync('mode')
      this.onScope('cluster')
      for (const w of this.waiters.splice(0)) w()
    } catch (err) {
      if (attempt !== this.attempts || this.closed) return
      const msg = err instanceof Error ? err.message : String(err)
      if (msg.startsWith('FENCED')) {
        this.status = 'down' // the lease lapsed during recovery: the next tick re-registers
        this.lose()
      } else this.down(msg)
    }
  }

  private claimArgs(site: string, t: LocalTab): (string | number)[] {
    const key = `${this.tag}.${t.key}`
    const head = JSON.stringify({ type: 'presence', site, at: Date.now(), op: 'join', cid: t.cid, key, visitor: t.visitor, path: t.path, state: t.state })
    return this.changeArgs(site, t.cid, 'claim', t.visitor, t.path, STATE_INDEX[t.state] + 1, key, head.slice(0, -1))
  }

  /** Ends the tabs of every node whose lease lapsed, then forgets those identities. One run at a time. */
  private reap(): Promise<void> {
    if (this.reaping !== null) return this.reaping.then(() => this.reap())
    this.lastReap = Date.now()
    this.reaping = this.reapOnce().catch((err: unknown) => {
      this.down(err instanceof Error ? err.message : String(err))
    }).finally(() => {
      this.reaping = null
    })
    return this.reaping
  }

  private async reapOnce(): Promise<void> {
    const c = this.link.cmd
    const k = this.keys
    const others = (await c.zrange(k.nodes, '0', '-1')).filter((n) => n !== this.node)
    if (others.length === 0) return
    const p = c.pipeline()
    for (const n of others) p.exists(k.lease + n)
    const alive = ((await p.exec()) ?? []).map(([err, v]) => err !== null || v === 1)
    for (let i = 0; i < others.length; i++) {
      if (alive[i] === true) continue
      const dead = others[i] as string
      let revived = false
      for (const site of await c.smembers(k.nodeSites + dead)) {
        const s = siteKeys(this.link.prefix, site)
        for (;;) {
          const n = await this.link.scripts.lsReap(
            s.tabs, s.vis, s.cnt, s.pvis, s.pcnt, s.seq, k.sites, k.lease + dead, s.index + dead,
            dead, site, this.reapChunk, busChannel(this.link.prefix, channels.site(site)), Date.now(),
          )
          if (n < 0) revived = true
          if (n < this.reapChunk) break
        }
      }
      if (!revived) await c.multi().del(k.nodeSites + dead).zrem(k.nodes, dead).exec()
    }
  }

  // ---- reads: the cluster's, or this node's while Redis is unreachable ----

  private async read<T>(fromRedis: () => Promise<T>, fromLocal: () => T): Promise<T> {
    if (!this.exact) return fromLocal()
    try {
      return await fromRedis()
    } catch (err) {
      this.down(err instanceof Error ? err.message : String(err))
      return fromLocal()
    }
  }

  countStates(site: string): Promise<LiveCounts> {
    return this.read(async () => toCounts(await this.link.cmd.hmget(siteKeys(this.link.prefix, site).cnt, 't', '1', '2', '3', '4')),
      () => this.local.countsOf(site))
  }

  pages(site: string): Promise<PageCounts[]> {
    return this.read(async () => toPages(await this.link.cmd.hgetall(siteKeys(this.link.prefix, site).pcnt)), () => this.local.pagesOf(site))
  }

  sites(): Promise<string[]> {
    return this.read(async () => (await this.link.cmd.smembers(this.keys.sites)).sort(), () => this.local.siteNames())
  }

  snapshot(site: string): Promise<PresenceSnapshot> {
    return this.read(async () => {
      const s = siteKeys(this.link.prefix, site)
      const r = (await this.link.cmd.multi().get(s.seq).hmget(s.cnt, 't', '1', '2', '3', '4').hgetall(s.pcnt).hlen(s.tabs).exec()) ?? []
      for (const [err] of r) if (err) throw err
      const v = r.map(([, x]) => x)
      return {
        site, seq: Number(v[0] ?? 0), at: Date.now(), counts: v[1] ? toCounts(v[1] as string[]) : { ...ZERO },
        pages: toPages((v[2] ?? {}) as Record<string, string>), connections: Number(v[3] ?? 0),
      }
    }, () => ({ ...this.local.snapshotOf(site), partial: true as const }))
  }

  /**
   * Every site with live tabs and its counts, for `/metrics`: one SMEMBERS and one pipeline of
   * HMGET + HLEN per site. This node's own while Redis is unreachable.
   */
  overview(): Promise<LiveOverview> {
    return this.read(async () => {
      const names = (await this.link.cmd.smembers(this.keys.sites)).sort()
      const p = this.link.cmd.pipeline()
      for (const site of names) {
        const k = siteKeys(this.link.prefix, site)
        p.hmget(k.cnt, 't', '1', '2', '3', '4').hlen(k.tabs)
      }
      const r = names.length > 0 ? ((await p.exec()) ?? []) : []
      for (const [err] of r) if (err) throw err
      const sites = names.map((site, i) => ({ site, counts: toCounts(r[2 * i]?.[1] as string[]), tabs: Number(r[2 * i + 1]?.[1] ?? 0) }))
      return { sites, tabs: sites.reduce((n, s) => n + s.tabs, 0), processes: this.local.processCount }
    }, () => memoryOverview(this.local))
  }

  /** This node's tabs (their socket details live only here). */
  connections(site: string): Promise<ConnectionView[]> {
    return this.local.connections(site)
  }

  /**
   * The processes connected to every live node (entries of nodes whose lease lapsed are skipped and
   * removed); this node's own while Redis is unreachable. Running jobs' ages are as of now.
   */
  processes(): Promise<ProcessView[]> {
    return this.read(async () => {
      const c = this.link.cmd
      const entries = Object.entries(await c.hgetall(this.keys.procs)).map(([key, json]) => ({ key, ...(JSON.parse(json) as { n: string; v: ProcessView }) }))
      const nodes = [...new Set(entries.map((e) => e.n))]
      const p = c.pipeline()
      for (const n of nodes) p.exists(this.keys.lease + n)
      const alive = new Set(((nodes.length > 0 ? await p.exec() : []) ?? []).flatMap(([err, v], i) => (err === null && v === 1 ? [nodes[i] as string] : [])))
      const now = Date.now()
      const out: ProcessView[] = []
      for (const e of entries) {
        if (!alive.has(e.n)) {
          // a lapsed node's processes (they reconnect elsewhere and reappear with their next sample)
          c.hdel(this.keys.procs, e.key).catch(() => {})
          continue
        }
        out.push({ ...e.v, running: e.v.running.map((j) => ({ ...j, ageMs: Math.max(0, now - j.started) })) })
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    }, () => this.local.processesNow())
  }

  flush(): void {
    this.local.flush()
  }

  /**
   * Ends this node's tabs (their leaves go to Redis while it is reachable), waits for the writes,
   * and drops the lease so the other nodes sweep this identity at once. Does not close the link.
   */
  async close(): Promise<void> {
    this.stopTimers()
    await this.local.close()
    this.closed = true
    await this.settled()
    if (this.status === 'up') await this.link.cmd.del(this.keys.lease + this.node).catch(() => {})
    this.status = 'down'
  }
}
