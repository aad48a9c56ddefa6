/** Reads a request body up to a byte limit; past it, stops reading and throws LS_ERR_BODY_TOO_LARGE. */
import type { IncomingMessage } from 'node:http'
import { LivestatsError } from '../../protocol/errors'

export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.reject(new LivestatsError('LS_ERR_BODY_TOO_LARGE', `Body of ${declared} bytes exceeds the ${limit}-byte limit`))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (c: Buffer) => {
      if (done) return
      size += c.length
      if (size > limit) {
        done = true
        req.pause()
        reject(new LivestatsError('LS_ERR_BODY_TOO_LARGE', `Body exceeds the ${limit}-byte limit`))
        return
      }
      chunks.push(c)
    })
    req.on('end', () => {
      if (done) return
      done = true
      resolve(chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', (err) => {
      if (done) return
      done = true
      reject(err)
    })
  })
}
