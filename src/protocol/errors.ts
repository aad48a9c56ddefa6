/**
 * Every error code Livestats emits, in one place. Each maps to an HTTP status and a
 * WebSocket close code so a client can tell the same failure apart on either transport.
 * WebSocket codes follow one rule: a standard code where one fits (1007, 1009), otherwise
 * 4000 + the HTTP status, so `4413` reads as "413 over a WebSocket".
 *
 * This file imports nothing: the browser snippet, the tracker and the hub all share it.
 */
export interface ErrorSpec {
  readonly status: number
  readonly close: number
  readonly message: string
}

function spec(status: number, message: string, close = 4000 + status): ErrorSpec {
  return { status, close, message }
}

export const ERRORS = {
  // transport and framing
  LS_ERR_BODY_TOO_LARGE: spec(413, 'Request body or WebSocket frame exceeds the size limit', 1009),
  LS_ERR_INVALID_JSON: spec(400, 'Payload is not valid JSON', 1007),
  LS_ERR_UNSUPPORTED_MEDIA_TYPE: spec(415, 'Content-Type must be application/json or text/plain'),
  LS_ERR_UNSUPPORTED_VERSION: spec(400, 'Unsupported protocol version'),
  LS_ERR_BATCH_EMPTY: spec(400, 'Batch holds no events'),
  LS_ERR_BATCH_TOO_LARGE: spec(413, 'Batch holds more events than the limit'),
  LS_ERR_NOT_AN_OBJECT: spec(400, 'Payload must be an event object or a batch object'),
  LS_ERR_INVALID_UTF8: spec(400, 'Text frame is not valid UTF-8', 1007),
  LS_ERR_BAD_REQUEST: spec(400, 'Malformed HTTP request'),
  LS_ERR_REQUEST_TIMEOUT: spec(408, 'Request headers or body did not arrive in time'),
  LS_ERR_HEADERS_TOO_LARGE: spec(431, 'Request headers exceed the size limit'),
  // one event
  LS_ERR_UNKNOWN_TYPE: spec(400, 'Unknown event type'),
  LS_ERR_INVALID_EVENT: spec(400, 'Event does not match the schema of its type'),
  // over-long text is cut, not refused (docs/protocol.md): only a name that identifies a site,
  // app, instance or host is refused for its length
  LS_ERR_FIELD_TOO_LONG: spec(400, 'A site, app, instance or host name exceeds its length limit'),
  /** No longer sent: props past the limit are dropped. Kept so the code keeps its meaning. */
  LS_ERR_TOO_MANY_PROPS: spec(400, 'Too many custom properties'),
  LS_ERR_SITE_NOT_ALLOWED: spec(403, 'Site is not in the list of allowed sites'),
  LS_ERR_TRACKER_FORBIDDEN: spec(403, 'Process events need the hub token on this hub'),
  // live presence
  LS_ERR_UNKNOWN_CONNECTION: spec(409, 'Presence for a connection the hub does not know'),
  LS_ERR_RATE_LIMITED: spec(429, 'Too many messages from this connection'),
  LS_ERR_NOT_OWNER: spec(403, 'This tab belongs to another connection or visitor'),
  LS_ERR_IP_RATE_LIMITED: spec(429, 'Too many live messages from this client address'),
  LS_ERR_TOO_MANY_IP_TABS: spec(429, 'Too many live tabs from this client address'),
  LS_ERR_TOO_MANY_SITE_TABS: spec(503, 'The site holds as many live tabs as the hub allows'),
  LS_ERR_TOO_MANY_TABS: spec(503, 'The hub holds as many live tabs as it allows'),
  LS_ERR_TOO_MANY_SITES: spec(503, 'The hub holds live presence for as many sites as it allows'),
  LS_ERR_TOO_MANY_PROCESSES: spec(503, 'The hub lists as many live processes as it allows'),
  // collect sockets
  LS_ERR_TOO_MANY_IP_CONNECTIONS: spec(429, 'Too many open collect sockets from this client address'),
  LS_ERR_TOO_MANY_CONNECTIONS: spec(503, 'The hub holds as many collect sockets as it allows'),
  LS_ERR_IDLE_TIMEOUT: spec(408, 'No frame arrived on this socket for too long'),
  // query API and auth
  LS_ERR_UNAUTHORIZED: spec(401, 'A valid token is required'),
  LS_ERR_ORIGIN_FORBIDDEN: spec(403, 'Pages from this Origin may not read the hub (see --allowed-origins)'),
  LS_ERR_HOST_FORBIDDEN: spec(403, 'A hub without a token answers reads only for loopback names and --public-url / --allowed-hosts'),
  LS_ERR_NOT_FOUND: spec(404, 'No such route'),
  LS_ERR_METHOD_NOT_ALLOWED: spec(405, 'Method not allowed on this route'),
  LS_ERR_BAD_QUERY: spec(400, 'Invalid query parameter'),
  LS_ERR_INVALID_GOAL: spec(400, 'Invalid goal or funnel step: a page pattern or a custom event name'),
  // alerts, badges and share links (issue 15.4, 15.5)
  LS_ERR_INVALID_ALERT: spec(400, 'Invalid alert rule'),
  LS_ERR_ALERT_NOT_FOUND: spec(404, 'No alert rule with this id'),
  LS_ERR_TOO_MANY_ALERTS: spec(409, 'The hub holds as many alert rules as it allows'),
  LS_ERR_INVALID_SHARE: spec(400, 'Invalid share link or badge request'),
  LS_ERR_SHARE_NOT_FOUND: spec(404, 'No share link with this id'),
  LS_ERR_SHARE_FORBIDDEN: spec(403, 'A share link reads only its own site, and writes nothing'),
  LS_ERR_BADGE_OFF: spec(404, 'No live badge is enabled for this site'),
  // hub state
  LS_ERR_SHUTTING_DOWN: spec(503, 'Hub is shutting down', 1001),
  LS_ERR_STORE_UNAVAILABLE: spec(503, 'Store could not commit the batch'),
  LS_ERR_OVERLOADED: spec(503, 'Write queue is full; resend later'),
  LS_ERR_INTERNAL: spec(500, 'Internal error', 1011),
  // configuration (never sent on the wire; the CLI exits 2)
  LS_ERR_CONFIG: spec(500, 'Invalid configuration'),
  LS_ERR_PORT_IN_USE: spec(500, 'The port is already in use'),
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof ERRORS

/** An error carrying a stable code; `status` and `close` come from the table above. */
export class LivestatsError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly close: number
  constructor(code: ErrorCode, message?: string) {
    const s = ERRORS[code]
    super(message ?? s.message)
    this.name = 'LivestatsError'
    this.code = code
    this.status = s.status
    this.close = s.close
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERRORS, value)
}
