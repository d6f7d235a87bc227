-- bench/live.lua — Live figures on one session, over loopback against glmock.
--   glrun bench/live.lua turns ROUNDS   gemini.live text turns on gemini-live-text-test:
--                                       a turn sent, events read up to its turn_complete
--   glrun bench/live.lua echo ROUNDS    raw glrun.ws round trips on /glmock/echo
--   glrun bench/live.lua flood COUNT SIZE   raw glrun.ws: COUNT server messages of SIZE
--                                       bytes received as fast as they come (!flood)
-- Prints: seconds=S rounds=R msgs=M p50_us=.. p99_us=..  (latencies per round trip)
local live = require "gemini.live"
local ws = require "glrun.ws"

local mode, n, size = arg[1], tonumber(arg[2] or "1000"), tonumber(arg[3] or "64")
local lat = {}

local function report(dt, rounds, msgs)
  table.sort(lat)
  local function pct(p) return #lat > 0 and lat[math.max(1, math.ceil(#lat * p))] * 1e6 or 0 end
  print(("seconds=%.6f rounds=%d msgs=%d p50_us=%.1f p99_us=%.1f"):format(dt, rounds, msgs, pct(0.5), pct(0.99)))
end

if mode == "turns" then
  local s = assert(live.connect{ model = "gemini-live-text-test" })
  for _ = 1, 20 do assert(s:send_text("warm up")); assert(s:receive_turn(10)) end
  local msgs = 0
  local t0 = gl.now()
  for i = 1, n do
    local a = gl.now()
    assert(s:send_text("ping number " .. i))
    for ev in s:events{ timeout = 10 } do msgs = msgs + 1 end
    lat[i] = gl.now() - a
  end
  local dt = gl.now() - t0
  s:close()
  report(dt, n, msgs)
elseif mode == "echo" then
  local base = assert(os.getenv("GLMOCK_URL") or os.getenv("GOOGLE_GEMINI_BASE_URL")):gsub("^http", "ws")
  local c = assert(ws.connect{ url = base .. "/glmock/echo" })
  for _ = 1, 100 do assert(c:send("x")); assert(c:recv(5)) end
  local msg = '{"realtimeInput":{"text":"hi"}}'
  local t0 = gl.now()
  for i = 1, n do
    local a = gl.now()
    assert(c:send(msg))
    assert(c:recv(5))
    lat[i] = gl.now() - a
  end
  local dt = gl.now() - t0
  c:close()
  report(dt, n, n)
elseif mode == "flood" then
  local base = assert(os.getenv("GLMOCK_URL") or os.getenv("GOOGLE_GEMINI_BASE_URL")):gsub("^http", "ws")
  local c = assert(ws.connect{ url = base .. "/glmock/echo" })
  assert(c:send("x")); assert(c:recv(5))
  local t0 = gl.now()
  assert(c:send(("!flood %d %d"):format(n, size)))
  local got = 0
  while got < n do
    local m = assert(c:recv(10))
    assert(#m == size)
    got = got + 1
  end
  local dt = gl.now() - t0
  c:close()
  report(dt, 1, got)
else
  error("usage: glrun bench/live.lua turns|echo|flood N [SIZE]")
end
