/**
 * In-process bus: a synchronous emitter. Single-node hubs use it; a cluster swaps in `redis.ts`.
 * A throwing handler is isolated (logged through `onError`) so one bad subscriber cannot stop
 * delivery to the others or unwind into the publisher, which is on the ingest path.
 */
import type { Bus, BusHandler } from './types'
import type { BusMessage } from './messages'

export interface MemoryBusOptions {
  /** Called when a handler throws. @default logs to stderr */
  onError?: (err: unknown, channel: string) => void
}

export class MemoryBus implements Bus {
  // Arrays, not Sets: publish is the hot path and iterating an array allocates nothing.
  private readonly handlers = new Map<string, BusHandler[]>()
  private readonly onError: (err: unknown, channel: string) => void

  constructor(opts: MemoryBusOptions = {}) {
    this.onError = opts.onError ?? ((err, channel) => console.error(`livestats: bus handler on ${channel} threw`, err))
  }

  publish(channel: string, message: BusMessage): void {
    const list = this.handlers.get(channel)
    if (list === undefined) return
    for (let i = 0; i < list.length; i++) {
      try {
        ;(list[i] as BusHandler)(message)
      } catch (err) {
        this.onError(err, channel)
      }
    }
  }

  subscribe(channel: string, handler: BusHandler): () => void {
    // Copy on write: a handler that unsubscribes during delivery does not skip its neighbour.
    this.handlers.set(channel, [...(this.handlers.get(channel) ?? []), handler])
    let active = true
    return () => {
      if (!active) return
      active = false
      const rest = [...(this.handlers.get(channel) ?? [])]
      const i = rest.indexOf(handler)
      if (i >= 0) rest.splice(i, 1)
      if (rest.length === 0) this.handlers.delete(channel)
      else this.handlers.set(channel, rest)
    }
  }

  /** Subscribers on a channel (tests, `/metrics`). */
  listeners(channel: string): number {
    return this.handlers.get(channel)?.length ?? 0
  }

  async close(): Promise<void> {
    this.handlers.clear()
  }
}
