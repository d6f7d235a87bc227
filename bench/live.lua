-- bench/live.lua — Live API figures over loopback against glmock:
--   glrun --mock bench/live.lua [ROUNDS] [SESSIONS]
-- 1. round trips of one Live session: a text turn sent, its turnComplete
--    received (several messages per turn), ROUNDS times;
-- 2. raw WebSocket round trips of one connection (glmock's /glmock/echo),
--    the transport's floor;
-- 3. the memory (RSS) of SESSIONS concurrent idle Live sessions (setup
--    done), in one process.
local live = require "gemini.live"
local ws = require "glrun.ws"

local ROUNDS = tonumber(arg and arg[1] or "") or 2000
local SESSIONS = tonumber(arg and arg[2] or "") or 1000

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end

-- 1
local s = assert(live.connect{ model = "gemini-live-text-test" })
for _ = 1, 20 do assert(s:send_text("warm up")); assert(s:receive_turn(10)) end
local t0 = gl.now()
for i = 1, ROUNDS do
  assert(s:send_text("ping " .. i))
  assert(s:receive_turn(10))
end
local dt = gl.now() - t0
s:close()
print(("live turn round trips (1 session): %d in %.2f s = %.0f turns/s (%.0f us each)")
  :format(ROUNDS, dt, ROUNDS / dt, dt / ROUNDS * 1e6))

-- 2
local base = assert(os.getenv("GLMOCK_URL")):gsub("^http", "ws")
local c = assert(ws.connect{ url = base .. "/glmock/echo" })
for _ = 1, 100 do c:send("x"); c:recv(5) end
t0 = gl.now()
for _ = 1, ROUNDS * 5 do
  assert(c:send('{"realtimeInput":{"text":"hi"}}'))
  assert(c:recv(5))
end
dt = gl.now() - t0
c:close()
print(("ws message round trips (1 connection): %d in %.2f s = %.0f msgs/s (%.0f us each)")
  :format(ROUNDS * 5, dt, ROUNDS * 5 / dt, dt / (ROUNDS * 5) * 1e6))

-- 3
collectgarbage()
local r0 = rss_kib()
local sessions, tasks = {}, {}
t0 = gl.now()
for i = 1, SESSIONS do
  tasks[i] = gl.spawn(function()
    sessions[i] = assert(live.connect{ model = "gemini-live-text-test" })
    return true
  end)
end
for i = 1, SESSIONS do assert(tasks[i]:join()) end
dt = gl.now() - t0
collectgarbage()
local r1 = rss_kib()
print(("%d concurrent idle Live sessions: opened in %.2f s; RSS %d KiB -> %d KiB = %.1f KiB per session")
  :format(SESSIONS, dt, r0, r1, (r1 - r0) / SESSIONS))
for i = 1, SESSIONS do sessions[i]:close() end
