/** Warnings through the host's logger, at most once per kind, never throwing into the host. */
import type { TrackerLogger } from './types'

export type WarnKind =
  | 'bytes-input'
  | 'db-input'
  | 'job-name'
  | 'job-name-too-long'
  | 'job-names-capped'
  | 'job-start'
  | 'job-stop-twice'
  | 'running-capped'
  | 'http-routes-capped'
  | 'http-target'
  | 'config'
  | 'server'
  | 'hub'
  | 'rejected'
  | 'dropped'
  | 'internal'

export class Warner {
  private readonly seen = new Set<string>()
  constructor(private readonly logger: TrackerLogger) {}

  /** Logs `message` the first time `kind` (plus an optional sub-key, e.g. an error code) is seen. */
  once(kind: WarnKind, message: string, key = ''): void {
    const k = key === '' ? kind : `${kind}:${key}`
    if (this.seen.has(k)) return
    this.seen.add(k)
    try {
      this.logger.warn(`[livestats tracker] ${message}`)
    } catch {
      // a logger that throws must not take the host application down with it
    }
  }
}
