/**
 * WebSocket `/collect`: each text frame carries one event or a batch, and the hub answers each with
 * an ack once its rows are committed. A frame-level fault (not JSON, wrong version, batch too large)
 * sends `{ type: 'error', code }` and closes with the code's WebSocket close code: the source
 * resends whatever was not acknowledged on its next connection. Frames larger than the limit are
 * closed by `ws` itself with 1009.
 *
 * Sockets are bounded (issue 10.7, caps in src/hub/caps.ts): past `maxConnections` open sockets, or
 * `maxConnectionsPerIp` from one client address, an upgrade is answered 503 / 429 with its code and
 * not upgraded (the snippet then sends over HTTP). A socket that sends no frame for `idleMs` gets
 * `LS_ERR_IDLE_TIMEOUT` and close 4408; one silent for a tenth of that is pinged, and one that has
 * not answered a tenth later is dropped: its peer is gone, and its tabs end then, not at the idle cap.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import { LivestatsError, type ErrorCode } from '../../protocol/errors'
import type { LimitName } from '../caps'
import type { HubConfig } from '../config'
import { errorBody, rawError } from '../http/reply'
import type { HubMetrics } from '../metrics'
import { TokenAuth } from '../api/auth'
import { describeClient } from './client'
import type { Locate } from './geo'
import { answerFrame } from './ws-frame'
import type { Ingest } from './pipeline'
import type { ClientInfo, IngestListener } from './types'

export interface CollectWs {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void
  /** Open collect sockets now. */
  readonly size: number
  /** Closes every collect socket (shutdown) and stops accepting new ones. */
  close(): Promise<void>
}

/** One open socket, as the idle sweep sees it. */
interface Conn {
  readonly ws: WebSocket
  readonly group: string
  /** Sweep clock at the last frame (`clock`, not `Date.now()`: nothing is read per frame). */
  last: number
  /** Sweep clock when the unanswered ping went out; 0 when none is out. */
  pinged: number
}

export function collectWs(
  config: HubConfig,
  ingest: Ingest,
  metrics: HubMetrics,
  auth: TokenAuth,
  trusted: (ip: string) => boolean,
  listeners: readonly IngestListener[],
  locate: Locate,
): CollectWs {
  // UTF-8 is checked per frame in answerFrame, so a bad frame is closed with a reason
  const wss = new WebSocketServer({
    noServer: true, maxPayload: config.limits.maxPayloadBytes, perMessageDeflate: false, skipUTF8Validation: true,
  })
  const { maxConnections, maxConnectionsPerIp, idleMs } = config.caps
  const pingMs = idleMs / 10
  const conns = new Set<Conn>()
  const perIp = new Map<string, number>()
  let next = 0
  // a coarse clock the sweep advances: a frame only copies it, so `last` may be up to one period
  // early, and a socket counts as idle only once `idleMs` plus that period has passed
  const period = Math.max(10, Math.min(5000, idleMs / 20))
  let clock = Date.now()
  const sweep = setInterval(() => {
    clock = Date.now()
    for (const c of conns) {
      if (c.ws.readyState !== c.ws.OPEN) continue // closing already: its close event cleans up
      const silent = clock - c.last
      if (silent >= idleMs + period) {
        refuse(c.ws, 'LS_ERR_IDLE_TIMEOUT', 'idle')
      } else if (c.pinged !== 0) {
        // asked, not answered within a ping period: the peer is gone (no FIN ever came)
        if (clock - c.pinged >= pingMs) c.ws.terminate()
      } else if (silent >= pingMs) {
        c.pinged = clock
        c.ws.ping()
      }
    }
  }, period)
  sweep.unref()

  function refuse(ws: WebSocket, code: ErrorCode, limit: LimitName): void {
    metrics.limit(limit)
    metrics.reject(code)
    ws.send(JSON.stringify(errorBody(code)))
    ws.close(new LivestatsError(code).close, code)
  }

  function onConnection(ws: WebSocket, client: ClientInfo): void {
    const connection = client.connection as string
    const c: Conn = { ws, group: client.ipGroup, last: Date.now(), pinged: 0 }
    conns.add(c)
    perIp.set(c.group, (perIp.get(c.group) ?? 0) + 1)
    metrics.wsConnections++
    ws.on('message', (data) => {
      c.last = clock
      c.pinged = 0
      answerFrame(ws, data, client, ingest, metrics, config.logger, true)
    })
    ws.on('pong', () => { c.pinged = 0 })
    ws.on('error', () => ws.terminate())
    ws.on('close', (code) => {
      conns.delete(c)
      const n = (perIp.get(c.group) ?? 1) - 1
      if (n > 0) perIp.set(c.group, n)
      else perIp.delete(c.group)
      metrics.wsConnections--
      if (code === 1009) metrics.reject('LS_ERR_BODY_TOO_LARGE')
      for (const l of listeners) l.connectionClosed(connection, client)
    })
  }

  /** Answers a refused upgrade on the bare socket: status, code header and error body, not upgraded. */
  function refuseUpgrade(socket: Duplex, code: ErrorCode, limit: LimitName): void {
    metrics.limit(limit)
    metrics.reject(code)
    rawError(socket, new LivestatsError(code), { 'x-livestats-rejected': code, 'retry-after': '60' })
  }

  return {
    handleUpgrade(req, socket, head, url) {
      const token = TokenAuth.fromRequest(req, url)
      const client = describeClient(req, trusted, token !== null && auth.check(token), `c${(next + 1).toString(36)}`, locate)
      if ((perIp.get(client.ipGroup) ?? 0) >= maxConnectionsPerIp) return refuseUpgrade(socket, 'LS_ERR_TOO_MANY_IP_CONNECTIONS', 'ip_connections')
      if (conns.size >= maxConnections) return refuseUpgrade(socket, 'LS_ERR_TOO_MANY_CONNECTIONS', 'connections')
      next++
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, client))
    },
    get size() {
      return conns.size
    },
    close() {
      clearInterval(sweep)
      for (const ws of wss.clients) ws.close(1001, 'LS_ERR_SHUTTING_DOWN')
      return new Promise((resolve) => wss.close(() => resolve()))
    },
  }
}
