-- gemini.state_redis — the Lua scripts gemini.state runs inside Redis
-- (EVALSHA). Each is atomic there, so any number of processes sharing a
-- pool see one window. Times are the Redis server's clock (TIME), in ms,
-- so machines with skewed clocks still agree.
--
-- Keys of a pool P (model M): glrun:{P}:w:M (sorted set: request id ->
-- admission time), glrun:{P}:t:M (hash: request id -> tokens, and _sum: their total),
-- glrun:{P}:d:M:DAY (requests on that Pacific day), glrun:{P}:m:M (a
-- learned mark: hash until, reason, per_day), glrun:{P}:c:KEY and
-- glrun:{P}:p:KEY (a Live circuit and its probe lease).
local S = {}

-- KEYS: window, tokens, day, mark. ARGV: window_ms, rpm, tpm, rpd (0 = no
-- limit), tokens, id, ms until the day resets.
-- Returns {1, 0, ""} admitted, or {0, wait_ms, why} (why: rpm, tpm, rpd,
-- mark, mark_day).
S.admit = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local win, rpm, tpm, rpd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local tokens, id, dayttl = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local mk = redis.call('HMGET', KEYS[4], 'until', 'per_day')
if mk[1] then
  local u = tonumber(mk[1])
  if u and u > now then return {0, u - now, mk[2] == '1' and 'mark_day' or 'mark'} end
end
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - win)
if #old > 0 then
  local gone = 0
  for _, v in ipairs(redis.call('HMGET', KEYS[2], unpack(old))) do gone = gone + (tonumber(v) or 0) end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('HINCRBY', KEYS[2], '_sum', -gone)
end
local wait, why = 0, ''
if rpd > 0 then
  local n = tonumber(redis.call('GET', KEYS[3]) or '0')
  if n >= rpd then wait, why = dayttl, 'rpd' end
end
local n = redis.call('ZCARD', KEYS[1])
if rpm > 0 and n >= rpm then
  local e = redis.call('ZRANGE', KEYS[1], n - rpm, n - rpm, 'WITHSCORES')
  local w = tonumber(e[2]) + win - now
  if w > wait then wait, why = w, 'rpm' end
end
local sum = tonumber(redis.call('HGET', KEYS[2], '_sum') or '0')
if tpm > 0 and n > 0 and sum + tokens > tpm then
  -- only when the budget is short: walk the window, oldest first
  local ids = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  local toks = redis.call('HMGET', KEYS[2], unpack(redis.call('ZRANGE', KEYS[1], 0, -1)))
  do
    local need, acc = sum + tokens - tpm, 0
    for i = 1, #toks do
      acc = acc + (tonumber(toks[i]) or 0)
      if acc >= need then
        local w = tonumber(ids[2 * i]) + win - now
        if w > wait then wait, why = w, 'tpm' end
        break
      end
    end
  end
end
if wait > 0 then return {0, math.max(1, math.ceil(wait)), why} end
redis.call('ZADD', KEYS[1], now, id)
redis.call('HSET', KEYS[2], id, tokens)
redis.call('HINCRBY', KEYS[2], '_sum', tokens)
redis.call('PEXPIRE', KEYS[1], win + 1000)
redis.call('PEXPIRE', KEYS[2], win + 1000)
if rpd > 0 then
  redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], dayttl + 3600000)
end
return {1, 0, ''}
]]

-- KEYS: tokens hash. ARGV: id, tokens. A reservation corrected with the
-- real count (only while it is still in the window).
S.record = [[
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], '_sum', tonumber(ARGV[2]) - tonumber(old))
return 1
]]

-- KEYS: mark. ARGV: delay_ms, reason, per_day ("1"/"0"). Extends, never
-- shortens, a mark.
S.mark = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if cur >= u then return 0 end
redis.call('HSET', KEYS[1], 'until', u, 'reason', ARGV[2], 'per_day', ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 1000)
return 1
]]

-- KEYS: circuit, probe. ARGV: probe lease ms. Returns {state, ms left}:
-- "closed"; "open" (cooling down, or another process probes); "half_open"
-- (the cool-down is over and this caller holds the probe lease).
S.circuit_state = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local u = tonumber(redis.call('HGET', KEYS[1], 'until') or '-1')
if u < 0 then return {'closed', 0} end
if now < u then return {'open', u - now} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', tonumber(ARGV[1])) then return {'half_open', 0} end
return {'open', redis.call('PTTL', KEYS[2])}
]]

-- KEYS: circuit, probe. ARGV: cool-down ms, reason.
S.circuit_open = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], 'until', now + tonumber(ARGV[1]), 'reason', ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) + 3600000)
redis.call('DEL', KEYS[2])
return 1
]]

return S
