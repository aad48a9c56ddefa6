/**
 * WebSocket `/collect`: each text frame carries one event or a batch, and the hub answers each with
 * an ack once its rows are committed. A frame-level fault (not JSON, wrong version, batch too large)
 * sends `{ type: 'error', code }` and closes with the code's WebSocket close code: the source
 * resends whatever was not acknowledged on its next connection. Frames larger than the limit are
 * closed by `ws` itself with 1009.
 */
import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { WebSocketServer, type WebSocket } from 'ws'
import type { HubConfig } from '../config'
import type { HubMetrics } from '../metrics'
import { TokenAuth } from '../api/auth'
import { describeClient } from './client'
import type { Locate } from './geo'
import { answerFrame } from './ws-frame'
import type { Ingest } from './pipeline'
import type { IngestListener } from './types'

export interface CollectWs {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void
  /** Closes every collect socket (shutdown) and stops accepting new ones. */
  close(): Promise<void>
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
  let next = 0

  function onConnection(ws: WebSocket, req: IncomingMessage, url: URL): void {
    const token = TokenAuth.fromRequest(req, url)
    const connection = `c${(++next).toString(36)}`
    const client = describeClient(req, trusted, token !== null && auth.check(token), connection, locate)
    metrics.wsConnections++
    ws.on('message', (data) => answerFrame(ws, data, client, ingest, metrics, config.logger, true))
    ws.on('error', () => ws.terminate())
    ws.on('close', (code) => {
      metrics.wsConnections--
      if (code === 1009) metrics.reject('LS_ERR_BODY_TOO_LARGE')
      for (const l of listeners) l.connectionClosed(connection, client)
    })
  }

  return {
    handleUpgrade(req, socket, head, url) {
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, req, url))
    },
    close() {
      for (const ws of wss.clients) ws.close(1001, 'LS_ERR_SHUTTING_DOWN')
      return new Promise((resolve) => wss.close(() => resolve()))
    },
  }
}
