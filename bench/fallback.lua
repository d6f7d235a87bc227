-- bench/fallback.lua — first-token latency of gemini.chat turns, ROUNDS times each:
--   direct   transport "rest": one REST stream (the baseline)
--   live     transport "auto", Live works: the turn goes over Live (setup included)
--   fallback transport "auto" through glmock's /proxy base URL: the Live
--            handshake gets HTTP 404, the policy falls back to REST, opens the circuit
--   circuit  the next turn of that chat: the circuit is open, REST at once
--   glrun bench/fallback.lua [ROUNDS]
-- Prints one line per kind: kind=K p50_us= p99_us= n=
--   glrun bench/fallback.lua 1 cold-direct | cold-fallback
-- measures one turn only, the first of a fresh process (what a one-shot
-- script pays: the first WebSocket handshake also creates the libwebsockets
-- context); prints kind=cold_direct|cold_fallback
local chat = require "gemini.chat"
-- ratelimit = false: the client-side limiter (free-tier RPM) would otherwise
-- make the rounds wait; the figures are about the transports

local ROUNDS = tonumber(arg[1] or "100")
local base = assert(os.getenv("GOOGLE_GEMINI_BASE_URL"))
local chain = { live = { "gemini-live-text-test" }, rest = { "gemini-2.5-flash" } }
local lat = { direct = {}, live = {}, fallback = {}, circuit = {} }

-- seconds from the call to the first text piece; the turn is read to its end
local function ttft(c, prompt)
  local t0 = gl.now()
  local first, text = nil, {}
  for piece, kind in assert(c:stream(prompt)) do
    if kind ~= "break" then
      first = first or gl.now()
      text[#text + 1] = piece
    end
  end
  assert(table.concat(text) == "echo: " .. prompt, "unexpected reply: " .. table.concat(text))
  return first - t0
end

local cold = arg[2]
if cold then
  local tr = cold == "cold-direct" and "rest" or "auto"
  local c = assert(chat.new{ transport = tr, chain = chain, quiet = true, ratelimit = false,
                             client = tr == "auto" and { base_url = base .. "/proxy" } or nil })
  local t = ttft(c, "cold turn")
  assert(c.last_turn.transport == "rest")
  print(("kind=%s p50_us=%.1f p99_us=%.1f n=1"):format(cold:gsub("-", "_"), t * 1e6, t * 1e6))
  os.exit(0)
end

for i = 1, ROUNDS do
  local d = assert(chat.new{ transport = "rest", chain = chain, quiet = true, ratelimit = false })
  lat.direct[i] = ttft(d, "direct turn " .. i)

  chat.reset_circuits()
  local l = assert(chat.new{ transport = "auto", chain = chain, quiet = true, ratelimit = false })
  lat.live[i] = ttft(l, "live turn " .. i)
  l:close()

  chat.reset_circuits()
  local f = assert(chat.new{ transport = "auto", chain = chain, quiet = true, ratelimit = false, client = { base_url = base .. "/proxy" } })
  local fell = false
  f:on("fallback", function() fell = true end)
  lat.fallback[i] = ttft(f, "first turn " .. i)
  assert(fell and f.last_turn.transport == "rest", "the first turn did not fall back to REST")
  lat.circuit[i] = ttft(f, "second turn " .. i)
  assert(f.last_turn.transport == "rest" and f.last_turn.attempts == 1, "the circuit was not open")
  f:close()
end

for _, k in ipairs{ "direct", "live", "fallback", "circuit" } do
  local t = lat[k]
  table.sort(t)
  print(("kind=%s p50_us=%.1f p99_us=%.1f n=%d"):format(k, t[math.ceil(#t * 0.5)] * 1e6,
    t[math.max(1, math.ceil(#t * 0.99))] * 1e6, #t))
end
