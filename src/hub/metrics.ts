/** The hub's own counters, exported on `/metrics` in Prometheus text format. */
import type { ErrorCode } from '../protocol/errors'
import type { LimitName } from './caps'

export class HubMetrics {
  received = 0
  stored = 0
  duplicates = 0
  /** Events accepted with over-long fields cut. */
  cut = 0
  framesWs = 0
  framesHttp = 0
  wsConnections = 0
  readonly rejected = new Map<ErrorCode, number>()
  /** Cap hits (src/hub/caps.ts), refusals and folds alike. */
  readonly limits = new Map<LimitName, number>()
  readonly started = Date.now()

  reject(code: ErrorCode, n = 1): void {
    this.rejected.set(code, (this.rejected.get(code) ?? 0) + n)
  }

  limit(name: LimitName): void {
    this.limits.set(name, (this.limits.get(name) ?? 0) + 1)
  }
}

/** Escapes a label value per the Prometheus text format. */
export function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

/**
 * One metric family. A histogram's samples name their series with `suffix` (`_bucket` with an `le`
 * label, `_sum`, `_count`); other types leave it out.
 */
export interface Gauge {
  name: string
  help: string
  type: 'gauge' | 'counter' | 'histogram'
  samples: { labels?: Record<string, string>; value: number; suffix?: string }[]
}

export function renderPrometheus(gauges: readonly Gauge[]): string {
  let out = ''
  for (const g of gauges) {
    out += `# HELP ${g.name} ${g.help}\n# TYPE ${g.name} ${g.type}\n`
    for (const s of g.samples) {
      const l = s.labels ? Object.entries(s.labels).map(([k, v]) => `${k}="${label(v)}"`).join(',') : ''
      out += `${g.name}${s.suffix ?? ''}${l ? `{${l}}` : ''} ${Number.isFinite(s.value) ? s.value : 0}\n`
    }
  }
  return out
}

export function hubGauges(m: HubMetrics, queued: number): Gauge[] {
  return [
    { name: 'livestats_events_received_total', help: 'Events received, valid or not.', type: 'counter', samples: [{ value: m.received }] },
    { name: 'livestats_events_stored_total', help: 'Events newly committed to the store.', type: 'counter', samples: [{ value: m.stored }] },
    { name: 'livestats_events_duplicate_total', help: 'Events resent with an id the store already held.', type: 'counter', samples: [{ value: m.duplicates }] },
    { name: 'livestats_events_cut_total', help: 'Events accepted with over-long text fields cut to their limits.', type: 'counter', samples: [{ value: m.cut }] },
    {
      name: 'livestats_events_rejected_total', help: 'Events or frames refused, by error code.', type: 'counter',
      samples: [...m.rejected].map(([code, value]) => ({ labels: { code }, value })),
    },
    {
      name: 'livestats_limit_hits_total', help: 'Times a cap on live state or collect sockets refused or folded something, by cap (docs/security.md).', type: 'counter',
      samples: [...m.limits].map(([limit, value]) => ({ labels: { limit }, value })),
    },
    {
      name: 'livestats_frames_total', help: 'Frames received, by transport.', type: 'counter',
      samples: [{ labels: { transport: 'ws' }, value: m.framesWs }, { labels: { transport: 'http' }, value: m.framesHttp }],
    },
    { name: 'livestats_collect_connections', help: 'Open collect WebSockets.', type: 'gauge', samples: [{ value: m.wsConnections }] },
    { name: 'livestats_write_queue_rows', help: 'Rows waiting for the writer.', type: 'gauge', samples: [{ value: queued }] },
    { name: 'livestats_uptime_seconds', help: 'Seconds since the hub started.', type: 'gauge', samples: [{ value: (Date.now() - m.started) / 1000 }] },
  ]
}
