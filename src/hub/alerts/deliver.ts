/**
 * Sends a notification to its webhook: POST, JSON, a timeout per attempt, and on failure retries
 * with exponential backoff and jitter ("equal jitter": half the step, plus a random half), so many
 * hubs whose receiver came back do not all retry in the same millisecond. Redirects are not
 * followed (a 3xx is a failure): the URL the operator set is the one that receives.
 */
export interface RetryPolicy {
  /** Attempts in all, the first included. @default 5 */
  attempts: number
  /** The first retry waits about this long; each next one twice as long. @default 1000 */
  retryBaseMs: number
  /** No wait exceeds this. @default 60000 */
  retryMaxMs: number
  /** One attempt may take this long (connect, send, headers). @default 10000 */
  timeoutMs: number
}

export interface Attempt {
  /** 1 for the first. */
  n: number
  ok: boolean
  /** The receiver's HTTP status; null when none came (refused, timed out). */
  status: number | null
  error: string | null
}

/** The wait before retry `n` (1 = the first retry), ms: between half and all of `base·2^(n-1)`, capped. */
export function backoff(n: number, p: Pick<RetryPolicy, 'retryBaseMs' | 'retryMaxMs'>, random: () => number = Math.random): number {
  const step = Math.min(p.retryMaxMs, p.retryBaseMs * 2 ** Math.min(30, n - 1))
  return Math.round(step / 2 + random() * (step / 2))
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

/** One POST; never throws. */
async function attempt(url: string, body: string, timeoutMs: number, stop: AbortSignal, n: number): Promise<Attempt> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Livestats-Alerts/1' },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]),
    })
    // the body is not needed; reading it frees the connection for the next attempt
    await res.arrayBuffer().catch(() => undefined)
    const ok = res.status >= 200 && res.status < 300
    return { n, ok, status: res.status, error: ok ? null : `HTTP ${res.status}` }
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string }; message?: string }
    const why = e.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : e.cause?.code ?? e.message ?? String(err)
    return { n, ok: false, status: null, error: why }
  }
}

/**
 * Delivers `body` to `url` with retries; `onAttempt` sees each attempt as it ends. Resolves with the
 * last attempt (ok or the final failure); stops early, without a further attempt, when `stop` aborts.
 */
export async function deliver(
  url: string, body: string, policy: RetryPolicy, stop: AbortSignal, onAttempt: (a: Attempt) => void,
): Promise<Attempt> {
  let last: Attempt = { n: 0, ok: false, status: null, error: 'not sent' }
  for (let n = 1; n <= policy.attempts && !stop.aborted; n++) {
    last = await attempt(url, body, policy.timeoutMs, stop, n)
    onAttempt(last)
    if (last.ok) return last
    if (n < policy.attempts) await sleep(backoff(n, policy), stop)
  }
  return last
}
