/** Automatic process metrics, sampled once per flush: CPU, memory, event-loop lag, uptime. */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

export interface ProcessSample {
  /** CPU over the interval since the last sample, percent of one core. */
  cpu: number
  rss: number
  heapUsed: number
  heapTotal: number
  /** p99 event-loop delay over the interval, ms. */
  lag: number
  /** Seconds since the process started. */
  uptime: number
  /** CPU time (user + system) since the process started, seconds. */
  cpuTime: number
}

const RESOLUTION_MS = 20

export class ProcessMetrics {
  private lastCpu = process.cpuUsage()
  private lastAt = performance.now()
  private readonly eld: IntervalHistogram | null

  constructor() {
    let h: IntervalHistogram | null = null
    try {
      h = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
      h.enable()
    } catch {
      h = null // not every runtime has it
    }
    this.eld = h
  }

  sample(): ProcessSample {
    const now = performance.now()
    const cpu = process.cpuUsage(this.lastCpu)
    const elapsedMs = now - this.lastAt
    this.lastCpu = process.cpuUsage()
    this.lastAt = now
    const mem = process.memoryUsage()
    let lag = 0
    if (this.eld !== null) {
      const p99 = this.eld.percentile(99)
      // the sampler measures its own timer period: the lag is what exceeds the resolution
      lag = Number.isFinite(p99) ? Math.max(0, p99 / 1e6 - RESOLUTION_MS) : 0
      this.eld.reset()
    }
    const pct = elapsedMs > 0 ? ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100 : 0
    return {
      cpu: round2(Math.min(Math.max(pct, 0), 100_000)),
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      lag: round2(Math.min(lag, 1e9)),
      uptime: round2(process.uptime()),
      cpuTime: Math.round((this.lastCpu.user + this.lastCpu.system) / 1000) / 1000,
    }
  }

  stop(): void {
    this.eld?.disable()
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
