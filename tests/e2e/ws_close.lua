-- Close codes and reasons from the server, 1006 on a drop, sticky failure,
-- and a local close waking a task parked in recv.
local U = require "lib.wsutil"
U.require_echo()

local cases = {
  { 1000, "bye" },
  { 1007, "API Key not found. Please pass a valid API key." },
  { 1008, "models/gemini-2.5-flash-live is not found for API version v1beta, or is not supported for bidiGenerateContent. Call ListMod" },
  { 1011, "Internal error encountered." },
  { 4000, "" },
}
for _, case in ipairs(cases) do
  local c = U.connect()
  assert(c:send(("!close %d %s"):format(case[1], case[2])))
  local err = U.expect_err("ws_closed", c:recv(10))
  assert(err.close_code == case[1], "close_code " .. tostring(err.close_code) .. " for " .. case[1])
  assert(err.reason == case[2], "reason: " .. tostring(err.reason))
  assert(tostring(err):find(tostring(case[1]), 1, true))
  -- sticky: same error from recv and send, forever
  for _ = 1, 3 do
    local e2 = U.expect_err("ws_closed", c:recv(1))
    assert(e2.close_code == case[1] and e2.reason == case[2])
    e2 = U.expect_err("ws_closed", c:send("x"))
    assert(e2.close_code == case[1])
  end
  assert(tostring(c):find("failed", 1, true), tostring(c))
  c:close()
end

-- messages that arrived before the close are still delivered first
local c = U.connect()
assert(c:send("one"))
assert(c:send("two"))
assert(c:send("!close 1000 done"))
gl.sleep(0.2)
assert(c:recv(5) == "one")
assert(c:recv(5) == "two")
U.expect_err("ws_closed", c:recv(5))
c:close()

-- the server drops the socket without a close frame: 1006
c = U.connect()
assert(c:send("!drop"))
local err = U.expect_err("ws_closed", c:recv(10))
assert(err.close_code == 1006, "drop gives 1006, got " .. tostring(err.close_code))
U.expect_err("ws_closed", c:recv(1))
c:close()

-- closing from another task wakes the receiver with an error value
c = U.connect()
local t = gl.spawn(function()
  local m, e = c:recv(30)
  return m, e
end)
gl.sleep(0.1)
c:close(1000, "shutting down")
local m, e = t:join()
assert(m == nil and e and e.kind == "ws_closed", "receiver woken with ws_closed, got " .. tostring(e))

-- invalid local close codes are misuse
c = U.connect()
assert(not pcall(c.close, c, 1006))
assert(not pcall(c.close, c, 99))
c:close(4001, "app")
print("ws_close ok")
