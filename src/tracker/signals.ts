/**
 * Flush on `SIGTERM` and `beforeExit`, shared by every tracker in the process (one listener each,
 * however many trackers). Listening to SIGTERM cancels Node's default (exit), so when the app has
 * no SIGTERM listener of its own, the process is ended by the same signal after the flush, as
 * Node would have done. When the app has one, its own handler decides; the tracker only flushes.
 */
export interface ExitHooks {
  /**
   * SIGTERM: send what is aggregated and wait for acknowledgements (bounded by the deadline).
   * `final` when the process ends right after: the tracker closes.
   */
  onTerm(final: boolean): Promise<unknown>
  /** The event loop is empty: final flush and close. */
  onExit(): Promise<unknown>
}

const hooks = new Set<ExitHooks>()
let terminating = false

function onSigterm(): void {
  if (terminating) return
  const appListens = process.listeners('SIGTERM').some((l) => l !== onSigterm)
  if (appListens) {
    for (const h of hooks) void h.onTerm(false)
    return
  }
  terminating = true
  const all = [...hooks].map((h) => h.onTerm(true).catch(() => undefined))
  void Promise.all(all).then(() => {
    process.removeListener('SIGTERM', onSigterm)
    process.kill(process.pid, 'SIGTERM')
  })
}

function onBeforeExit(): void {
  for (const h of [...hooks]) void h.onExit()
}

export function addExitHooks(h: ExitHooks): void {
  if (hooks.size === 0) {
    process.on('SIGTERM', onSigterm)
    process.on('beforeExit', onBeforeExit)
  }
  hooks.add(h)
}

export function removeExitHooks(h: ExitHooks): void {
  hooks.delete(h)
  if (hooks.size === 0 && !terminating) {
    process.removeListener('SIGTERM', onSigterm)
    process.removeListener('beforeExit', onBeforeExit)
  }
}
