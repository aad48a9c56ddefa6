/** The presence contract (test/helpers/presence-contract.ts) on memory presence and on Redis presence. */
import { MemoryBus } from '../src/hub/bus/memory'
import { channels } from '../src/hub/bus/types'
import type { BusMessage } from '../src/hub/bus/messages'
import { MemoryPresence } from '../src/hub/presence/memory'
import { presenceContract, S } from './helpers/presence-contract'
import { cleanup, redisNode, testPrefix } from './helpers/redis'
import { redisMissing } from './helpers/services'

presenceContract('memory', async () => {
  const bus = new MemoryBus()
  const messages: BusMessage[] = []
  bus.subscribe(channels.site(S), (m) => messages.push(m))
  const p = new MemoryPresence({ bus, sweepMs: 0 })
  return { p, messages, settle: async () => {}, close: () => p.close() }
})

presenceContract('redis', async () => {
  const prefix = testPrefix()
  const node = await redisNode(prefix)
  await node.watch(S)
  return {
    p: node.p,
    messages: node.messages,
    settle: () => node.settle(),
    close: async () => {
      await node.close()
      await cleanup(prefix)
    },
  }
}, redisMissing)
