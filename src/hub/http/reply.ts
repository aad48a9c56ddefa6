/** Small response helpers: every JSON answer and every error body has one shape. */
import type { ServerResponse } from 'node:http'
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import type { ErrorReply } from '../../protocol/messages'

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(text)
}

export function errorBody(code: ErrorCode, message?: string): ErrorReply {
  return { type: 'error', code, message: message ?? new LivestatsError(code).message }
}

/** Answers with the error's status and `{ type: 'error', code, message }`; unknown errors become LS_ERR_INTERNAL without details. */
export function fail(res: ServerResponse, err: unknown, headers: Record<string, string> = {}): void {
  const e = err instanceof LivestatsError ? err : new LivestatsError('LS_ERR_INTERNAL')
  if (res.headersSent) {
    res.destroy()
    return
  }
  json(res, e.status, errorBody(e.code, e.message), { 'x-livestats-error': e.code, ...headers })
}
