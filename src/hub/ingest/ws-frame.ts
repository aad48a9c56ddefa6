/**
 * Answers one frame that arrived on a WebSocket, the hub's `/collect` sockets and the sockets it
 * dials to trackers alike: the ack once committed, or `{ type: 'error', code }`.
 */
import type { RawData, WebSocket } from 'ws'
import { LivestatsError } from '../../protocol/errors'
import type { Logger } from '../config'
import { errorBody } from '../http/reply'
import { messageText } from '../http/ws-text'
import type { HubMetrics } from '../metrics'
import type { Ingest } from './pipeline'
import type { ClientInfo } from './types'

/**
 * `closeOnFault`: close the socket with the code's close code after a frame-level fault. Overload
 * and store faults are transient and never close it: the source resends what was not acknowledged.
 */
export function answerFrame(
  ws: WebSocket, data: RawData, client: ClientInfo, ingest: Ingest, metrics: HubMetrics, logger: Logger, closeOnFault: boolean,
): void {
  metrics.framesWs++
  const text = messageText(data)
  if (text === null) return refuse(ws, new LivestatsError('LS_ERR_INVALID_UTF8'), metrics, closeOnFault)
  ingest.handle(text, client).then(
    ({ ack }) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(ack))
    },
    (err: unknown) => {
      const e = err instanceof LivestatsError ? err : new LivestatsError('LS_ERR_INTERNAL')
      if (!(err instanceof LivestatsError)) logger.error('livestats: collect frame failed', err)
      refuse(ws, e, metrics, closeOnFault)
    },
  )
}

function refuse(ws: WebSocket, e: LivestatsError, metrics: HubMetrics, closeOnFault: boolean): void {
  metrics.reject(e.code)
  if (ws.readyState !== ws.OPEN) return
  ws.send(JSON.stringify(errorBody(e.code, e.message)))
  if (closeOnFault && e.code !== 'LS_ERR_OVERLOADED' && e.code !== 'LS_ERR_STORE_UNAVAILABLE') ws.close(e.close, e.code)
}
