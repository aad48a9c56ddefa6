/**
 * User-agent facts: browser, OS and device from ua-parser-js, and the bot flag. Parsing costs
 * tens of microseconds, and a hub sees few distinct agents, so results are cached (bounded).
 *
 * A bot is anything that is not a browser a person uses (docs/protocol.md, "Bots"): an agent
 * isbot recognises (crawlers, monitors, headless browsers, HTTP libraries), and any agent without
 * the shape every browser has sent for two decades: `Mozilla/5.0 (platform) engine/version …`
 * (or the old `Opera/9.80 (…) Presto/…` and `Mozilla/4.0 (compatible; MSIE …)` forms). Tools
 * send their own name (`curl/8.4`, `python-requests/2.31`, `Go-http-client/1.1`, `axios/1.6`,
 * `undici`), a placeholder (`-`, `Mozilla/5.0` alone) or nothing; no browser does.
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

/** `product/version (platform comment) rest`: the first three parts of every browser's agent. */
const SHAPE = /^(?:Mozilla|Opera)\/\d+(?:\.\d+)* \(([^()]+)\)(.*)$/
/** Shorter than any browser's agent (the shortest real ones, old IE and Firefox OS, are about 50). */
const MIN_LENGTH = 30

/** True when `ua` has a browser's shape: see the file comment. */
export function browserShaped(ua: string): boolean {
  if (ua.length < MIN_LENGTH) return false
  const m = SHAPE.exec(ua)
  if (m === null || (m[1] as string).trim() === '') return false
  // a browser names its engine or itself after the platform; IE 6-8 put everything in the comment
  return (m[2] as string).trim() !== '' || /\bMSIE \d/.test(m[1] as string)
}

export function parseAgent(ua: string): AgentInfo {
  const hit = cache.get(ua)
  if (hit !== undefined) return hit
  const r = new UAParser(ua).getResult()
  const info: AgentInfo = {
    browser: r.browser.name ?? null,
    os: r.os.name ?? null,
    // ua-parser-js leaves `type` empty for desktops
    device: r.device.type ?? (r.browser.name || r.os.name ? 'desktop' : null),
    bot: !browserShaped(ua) || isbot(ua),
  }
  if (cache.size >= MAX_CACHED) {
    const oldest = cache.keys().next()
    if (!oldest.done) cache.delete(oldest.value)
  }
  cache.set(ua, info)
  return info
}
