/**
 * The Lua scripts behind cluster presence. Each runs atomically in Redis, so a change to a tab, the
 * visitor tallies (most active tab wins, as `presence/aggregate.ts`), the site and page counters,
 * the site's sequence number and the PUBLISH of the absolute counts happen together or not at all.
 * Every write checks the writer's lease first: a node whose lease lapsed (killed, paused, cut off)
 * is refused with `FENCED` and never writes stale state back.
 *
 * States are numbered 1 writing, 2 reading, 3 idle, 4 hidden (STATE_INDEX + 1); 0 is "no tab".
 */

// KEYS 1..5 are always tabs, vis, cnt, pvis, pcnt; KEYS[6] the site's seq.
const PRELUDE = `
local TABS, VIS, CNT, PVIS, PCNT, SEQ = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local STATES = { 'writing', 'reading', 'idle', 'hidden' }
local function best(t) for i = 1, 4 do if t[i] > 0 then return i end end return 0 end
-- one tab of a visitor moves from state 'from' to 'to' (0 = none) in the tally 'f' of hash 'hk';
-- the visitor's counted state (most active tab) moves in counters 'ck' under 'pre' when it changed
local function move(hk, ck, f, pre, from, to)
  local t = { 0, 0, 0, 0 }
  local raw = redis.call('HGET', hk, f)
  if raw then local i = 1; for n in string.gmatch(raw, '%d+') do t[i] = tonumber(n); i = i + 1 end end
  local b = best(t)
  if from > 0 then t[from] = t[from] - 1 end
  if to > 0 then t[to] = t[to] + 1 end
  local a = best(t)
  if a == 0 then redis.call('HDEL', hk, f) else redis.call('HSET', hk, f, table.concat(t, ',')) end
  if a == b then return end
  if b == 0 then redis.call('HINCRBY', ck, pre .. 't', 1) else redis.call('HINCRBY', ck, pre .. b, -1) end
  if a ~= 0 then redis.call('HINCRBY', ck, pre .. a, 1)
  elseif redis.call('HINCRBY', ck, pre .. 't', -1) <= 0 then
    redis.call('HDEL', ck, pre .. 't', pre .. '1', pre .. '2', pre .. '3', pre .. '4')
  end
end
-- the tab 'o' (an entry, or nil) becomes visitor v on page p in state s (v nil: the tab ends)
local function retab(o, v, p, s)
  local os = o and o.s or 0
  if o and v and o.v == v then move(VIS, CNT, v, '', os, s)
  else
    if o then move(VIS, CNT, o.v, '', os, 0) end
    if v then move(VIS, CNT, v, '', 0, s) end
  end
  if o and v and o.v == v and o.p == p then move(PVIS, PCNT, p .. '\\0' .. v, p .. '\\0', os, s)
  else
    if o then move(PVIS, PCNT, o.p .. '\\0' .. o.v, o.p .. '\\0', os, 0) end
    if v then move(PVIS, PCNT, p .. '\\0' .. v, p .. '\\0', 0, s) end
  end
end
local function counts(pre)
  local c = redis.call('HMGET', pre == '' and CNT or PCNT, pre .. 't', pre .. '1', pre .. '2', pre .. '3', pre .. '4')
  local n = {}
  for i = 1, 5 do n[i] = tonumber(c[i]) or 0 end
  return '"total":' .. n[1] .. ',"reading":' .. n[3] .. ',"writing":' .. n[2] .. ',"idle":' .. (n[4] + n[5]) .. ',"hidden":' .. n[5]
end
-- the head of a leave message for entry 'o', when the caller has none (reaper, reconcile)
local function leaveHead(site, cid, o, reason, at)
  return '{"type":"presence","site":' .. cjson.encode(site) .. ',"at":' .. at .. ',"op":"leave","cid":' .. cjson.encode(cid) ..
    ',"key":' .. cjson.encode(o.k) .. ',"visitor":' .. cjson.encode(o.v) .. ',"path":' .. cjson.encode(o.p) ..
    ',"state":"' .. STATES[o.s] .. '","reason":"' .. reason .. '"'
end
-- one PresenceChange (bus/messages.ts): the caller's head, then seq, site and page counts, connections
local function publish(ch, head, p1, p2)
  local seq = redis.call('INCR', SEQ)
  local pages = '{"path":' .. cjson.encode(p1) .. ',' .. counts(p1 .. '\\0') .. '}'
  if p2 and p2 ~= p1 then pages = pages .. ',{"path":' .. cjson.encode(p2) .. ',' .. counts(p2 .. '\\0') .. '}' end
  redis.call('PUBLISH', ch, head .. ',"seq":' .. seq .. ',"counts":{' .. counts('') .. '},"pages":[' .. pages ..
    '],"connections":' .. redis.call('HLEN', TABS) .. '}')
  return seq
end
`

/**
 * One tab of the calling node changed. Modes: `take` (the tab's client spoke to this node: it is
 * this node's now, whoever held it), `claim` (re-publishing after a reconnect or a fence: only a tab
 * no live node holds), `del` (the tab ended here: only when this node still holds it).
 * Returns the change's seq, 0 when nothing changed, -1 when another live node holds the tab.
 * KEYS: 1 tabs, 2 vis, 3 cnt, 4 pvis, 5 pcnt, 6 seq, 7 sites, 8 own lease, 9 own index, 10 own node-sites.
 * ARGV: 1 node, 2 site, 3 cid, 4 mode, 5 visitor, 6 path, 7 state, 8 key, 9 channel,
 *       10 message head (a JSON object without its closing brace; empty for a `del`: built from the
 *       entry, reason `close`), 11 lease prefix, 12 index prefix, 13 at (ms).
 */
export const CHANGE_LUA = `${PRELUDE}
if redis.call('EXISTS', KEYS[8]) == 0 then return redis.error_reply('FENCED lease lapsed') end
local me, site, cid, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local raw = redis.call('HGET', TABS, cid)
local o = raw and cjson.decode(raw)
if mode == 'del' then
  if not o or o.n ~= me then return 0 end
  retab(o, nil, nil, 0)
  redis.call('HDEL', TABS, cid)
  redis.call('SREM', KEYS[9], cid)
  if redis.call('HLEN', TABS) == 0 then redis.call('SREM', KEYS[7], site) end
  local head = ARGV[10]
  if head == '' then head = leaveHead(site, cid, o, 'close', ARGV[13]) end
  return publish(ARGV[9], head, o.p)
end
local v, p, s = ARGV[5], ARGV[6], tonumber(ARGV[7])
if o then
  if o.n == me and o.v == v and o.p == p and o.s == s then return 0 end
  if o.n ~= me then
    if mode == 'claim' and redis.call('EXISTS', ARGV[11] .. o.n) == 1 then return -1 end
    redis.call('SREM', ARGV[12] .. o.n, cid)
  end
end
retab(o, v, p, s)
redis.call('HSET', TABS, cid, cjson.encode({ n = me, v = v, p = p, s = s, k = ARGV[8] }))
redis.call('SADD', KEYS[9], cid)
redis.call('SADD', KEYS[10], site)
redis.call('SADD', KEYS[7], site)
return publish(ARGV[9], ARGV[10], p, o and o.p)
`

/**
 * Ends up to ARGV[3] tabs of a node whose lease lapsed, on one site, publishing a `leave`
 * (reason `expired`) for each. Returns how many cids it took from the node's index (loop until
 * fewer than asked), or -1 when the node's lease is alive after all.
 * KEYS: 1 tabs, 2 vis, 3 cnt, 4 pvis, 5 pcnt, 6 seq, 7 sites, 8 dead node's lease, 9 its index.
 * ARGV: 1 dead node, 2 site, 3 limit, 4 channel, 5 at (ms).
 */
export const REAP_LUA = `${PRELUDE}
if redis.call('EXISTS', KEYS[8]) == 1 then return -1 end
local dead, site = ARGV[1], ARGV[2]
local cids = redis.call('SPOP', KEYS[9], tonumber(ARGV[3]))
for _, cid in ipairs(cids) do
  local raw = redis.call('HGET', TABS, cid)
  if raw then
    local o = cjson.decode(raw)
    if o.n == dead then
      retab(o, nil, nil, 0)
      redis.call('HDEL', TABS, cid)
      publish(ARGV[4], leaveHead(site, cid, o, 'expired', ARGV[5]), o.p)
    end
  end
end
if redis.call('HLEN', TABS) == 0 then redis.call('SREM', KEYS[7], site) end
return #cids
`
