-- Many connections at once, each driven by its own task.
local U = require "lib.wsutil"
U.require_echo()
local N, ROUNDS = tonumber(os.getenv("WS_CONCURRENT") or "100"), 10

local tasks = {}
for i = 1, N do
  tasks[i] = gl.spawn(function()
    local c = U.connect()
    for r = 1, ROUNDS do
      local msg = ("task %d round %d"):format(i, r)
      assert(c:send(msg, r % 2 == 0 and "binary" or "text"))
      local m = assert(c:recv(20))
      assert(m == msg, "cross-talk: " .. m .. " vs " .. msg)
    end
    c:close()
    return true
  end)
end
local res = U.join_all(tasks)
for i = 1, N do assert(res[i] == true, "task " .. i) end

-- a receiver and a sender task sharing one connection
local c = U.connect()
local rx = gl.spawn(function()
  local n = 0
  for _ = 1, 200 do
    local m = assert(c:recv(20))
    n = n + #m
  end
  return n
end)
local total = 0
for i = 1, 200 do
  local s = ("x"):rep(i)
  total = total + #s
  assert(c:send(s))
end
assert(rx:join() == total)
-- two tasks receiving on one connection at once is misuse
local r1 = gl.spawn(function() return c:recv(1) end)
gl.sleep(0.05)
assert(not pcall(c.recv, c, 0.1), "second concurrent receiver must raise")
r1:join()
c:close()
print("ws_concurrent ok")
