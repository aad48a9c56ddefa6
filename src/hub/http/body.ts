/**
 * Reads a request body up to a byte limit; past it, stops reading and answers LS_ERR_BODY_TOO_LARGE.
 * A callback, not a promise: it runs once per `POST /api/collect`, and one promise layer less is
 * measurable there. `done` is called exactly once, synchronously when the declared length is too large.
 */
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'

export type BodyDone = (err: Error | null, text: string) => void

export function readBody(req: IncomingMessage, limit: number, done: BodyDone): void {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    done(new LivestatsError('LS_ERR_BODY_TOO_LARGE', `Body of ${declared} bytes exceeds the ${limit}-byte limit`), '')
    return
  }
  // a beacon's body is one chunk: keep it alone, gather an array only for a second one
  let first: Buffer | null = null
  let more: Buffer[] | null = null
  let size = 0
  let finished = false
  req.on('data', (c: Buffer) => {
    if (finished) return
    size += c.length
    if (size > limit) {
      finished = true
      req.pause()
      done(new LivestatsError('LS_ERR_BODY_TOO_LARGE', `Body exceeds the ${limit}-byte limit`), '')
      return
    }
    if (first === null) first = c
    else (more ??= [first]).push(c)
  })
  req.on('end', () => {
    if (finished) return
    finished = true
    done(null, more !== null ? Buffer.concat(more).toString('utf8') : first === null ? '' : first.toString('utf8'))
  })
  req.on('error', (err) => {
    if (finished) return
    finished = true
    done(err, '')
  })
}
