/**
 * User-agent facts: browser, OS and device from ua-parser-js, bot flag from isbot. Parsing costs
 * tens of microseconds, and a hub sees few distinct agents, so results are cached (bounded).
 */
import { UAParser } from 'ua-parser-js'
import { isbot } from 'isbot'

export interface AgentInfo {
  browser: string | null
  os: string | null
  device: string | null
  bot: boolean
}

const MAX_CACHED = 2000
const cache = new Map<string, AgentInfo>()

export function parseAgent(ua: string): AgentInfo {
  const hit = cache.get(ua)
  if (hit !== undefined) return hit
  const r = new UAParser(ua).getResult()
  const info: AgentInfo = {
    browser: r.browser.name ?? null,
    os: r.os.name ?? null,
    // ua-parser-js leaves `type` empty for desktops
    device: r.device.type ?? (r.browser.name || r.os.name ? 'desktop' : null),
    bot: isbot(ua),
  }
  if (cache.size >= MAX_CACHED) {
    const oldest = cache.keys().next()
    if (!oldest.done) cache.delete(oldest.value)
  }
  cache.set(ua, info)
  return info
}
