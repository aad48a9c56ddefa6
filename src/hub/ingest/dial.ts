/**
 * Seed 000's direction: the hub dials a tracker's own WebSocket server, reads the same protocol
 * frames a tracker would send to `/collect`, and answers each with its ack once committed.
 * A tracker that goes away is redialled with exponential backoff and jitter, for as long as the
 * hub runs. The operator named these URLs, so their process events count as authenticated.
 */
import WebSocket from 'ws'
import type { HubConfig } from '../config'
import type { HubMetrics } from '../metrics'
import type { Ingest } from './pipeline'
import { answerFrame } from './ws-frame'
import type { ClientInfo, IngestListener } from './types'

export interface DialStatus {
  url: string
  connected: boolean
  since: number
  attempts: number
}

export class TrackerDialer {
  private readonly status: DialStatus
  private ws: WebSocket | null = null
  private timer: NodeJS.Timeout | null = null
  private stopped = false
  private warned = false
  private readonly key: string

  constructor(
    readonly url: string,
    private readonly config: HubConfig,
    private readonly ingest: Ingest,
    private readonly metrics: HubMetrics,
    private readonly listeners: readonly IngestListener[],
    index: number,
  ) {
    this.status = { url, connected: false, since: Date.now(), attempts: 0 }
    this.key = `d${index}`
  }

  get state(): Readonly<DialStatus> {
    return this.status
  }

  start(): void {
    if (this.stopped) return
    this.status.attempts++
    const ws = new WebSocket(this.url, {
      perMessageDeflate: false, maxPayload: this.config.limits.maxPayloadBytes, handshakeTimeout: 5000, skipUTF8Validation: true,
    })
    this.ws = ws
    const client: ClientInfo = {
      connection: this.key, transport: 'ws', ipMasked: '0.0.0.0', ipRaw: '0.0.0.0', ipGroup: '0.0.0.0', userAgent: 'livestats-dialer',
      browser: null, os: null, device: null, bot: false, country: null, region: null, city: null, language: null, authenticated: true,
    }
    ws.on('open', () => {
      this.status.connected = true
      this.status.since = Date.now()
      this.status.attempts = 0
      this.warned = false
      this.config.logger.info(`livestats: connected to tracker ${this.url}`)
    })
    // the hub dialled this tracker: a bad frame is answered, and redialling would not help, so stay open
    ws.on('message', (data) => answerFrame(ws, data, client, this.ingest, this.metrics, this.config.logger, false))
    ws.on('error', (err) => {
      if (!this.warned) {
        this.warned = true
        this.config.logger.warn(`livestats: cannot reach tracker ${this.url} (${err.message}); retrying`)
      }
    })
    ws.on('close', () => {
      if (this.status.connected) {
        this.status.connected = false
        this.status.since = Date.now()
        for (const l of this.listeners) l.connectionClosed(this.key, client)
      }
      this.ws = null
      if (this.stopped) return
      // 0.5 s doubling to 30 s, with full jitter so many hubs do not redial in step
      const base = Math.min(30_000, 500 * 2 ** Math.min(this.status.attempts, 6))
      this.timer = setTimeout(() => this.start(), base / 2 + Math.random() * (base / 2))
      this.timer.unref()
    })
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.ws?.close(1001)
  }
}
