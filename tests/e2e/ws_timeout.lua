-- A recv timeout is recoverable; it does not poison the connection.
local U = require "lib.wsutil"
U.require_echo()
local c = U.connect()

local t0 = gl.now()
local err = U.expect_err("timeout", c:recv(0.3))
local dt = gl.now() - t0
assert(dt >= 0.25 and dt < 2, "timeout after " .. dt)
assert(tostring(c):find("(open)", 1, true), "still open after a timeout")

-- poll: recv(0) returns at once
err = U.expect_err("timeout", c:recv(0))

-- the connection still works, several times over
for i = 1, 3 do
  U.expect_err("timeout", c:recv(0.05))
  assert(c:send("ping" .. i))
  assert(c:recv(5) == "ping" .. i)
end

-- a message arriving while waiting wins over the timer
local t = gl.spawn(function() gl.sleep(0.1); return c:send("late") end)
assert(c:recv(3) == "late")
t:join()

-- idle_timeout: no frame for that long fails the connection (sticky)
local idle = U.connect{ idle_timeout = 0.4 }
assert(idle:send("x"))
assert(idle:recv(5) == "x")
local e = U.expect_err("timeout", idle:recv(3))
assert(tostring(e):find("idle", 1, true), tostring(e))
U.expect_err("timeout", idle:send("y"))
idle:close()

-- keepalive pings keep an idle_timeout connection alive (pongs count)
local kept = U.connect{ idle_timeout = 0.6, ping = 0.15 }
U.expect_err("timeout", kept:recv(1.2))   -- plain recv timeout, not idle
assert(kept:send("alive") and kept:recv(5) == "alive")
kept:close()
c:close()
print("ws_timeout ok")
