/**
 * WebSocket ingest frames for the benches: batches of `batch` page views (~150 B each) on
 * `bench.test`, ids unique per process and `prefix`, 300 pages and one referrer.
 */
export function pageviewFrames(prefix: string, batch: number): () => string {
  let seq = 0
  return () => {
    const s = ++seq
    let ev = ''
    for (let i = 0; i < batch; i++) {
      const n = s * batch + i
      ev += `${i ? ',' : ''}{"id":"${prefix}${process.pid}x${n.toString(36).padStart(10, '0')}","type":"pageview","site":"bench.test","url":"https://bench.test/p/${n % 300}","referrer":"https://ref.test/"}`
    }
    return `{"v":1,"seq":${s},"events":[${ev}]}`
  }
}
