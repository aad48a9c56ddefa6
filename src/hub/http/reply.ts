/** Small response helpers: every JSON answer and every error body has one shape. */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import type { ErrorReply } from '../../protocol/messages'

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    // a JSON body echoes tracked text: never let a browser sniff it into HTML
    'x-content-type-options': 'nosniff',
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

/**
 * Answers on a bare socket, where no `ServerResponse` exists (a refused WebSocket upgrade, a request
 * the HTTP parser rejected): a whole HTTP/1.1 reply with the usual error body, then close.
 */
export function rawError(socket: Duplex, err: LivestatsError, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const body = JSON.stringify(errorBody(err.code, err.message))
  const head = [
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'cache-control: no-store',
    'x-content-type-options: nosniff',
    `x-livestats-error: ${err.code}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    'connection: close',
  ]
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`)
}

/**
 * The server's `clientError`: a request the parser refused (a byte that is not HTTP, headers too
 * large) or that did not arrive in time (`headersTimeout`, `requestTimeout`) gets a reply with a
 * code, as Node's default would minus the code; a peer that is gone gets nothing.
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // a response already under way cannot be replaced by another
  const open = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (err.code === 'ECONNRESET' || !socket.writable || open?.headersSent === true) {
    socket.destroy()
    return
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return rawError(socket, new LivestatsError('LS_ERR_REQUEST_TIMEOUT'))
  if (err.code === 'HPE_HEADER_OVERFLOW') return rawError(socket, new LivestatsError('LS_ERR_HEADERS_TOO_LARGE'))
  const detail = typeof err.code === 'string' && /^HPE_[A-Z_]+$/.test(err.code) ? ` (${err.code})` : ''
  rawError(socket, new LivestatsError('LS_ERR_BAD_REQUEST', `Malformed HTTP request${detail}`))
}
