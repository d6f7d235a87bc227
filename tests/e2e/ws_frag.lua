-- Fragmented messages are reassembled in C, in both directions.
local U = require "lib.wsutil"
U.require_echo()
local c = U.connect()

-- server sends one message as K continuation frames
for _, case in ipairs{ { 10, 3, "text" }, { 1000000, 37, "binary" }, { 5 * 1024 * 1024 + 3, 200, "text" }, { 64, 64, "binary" } } do
  local n, k, kind = case[1], case[2], case[3]
  assert(c:send(("!frag %d %d %s"):format(n, k, kind)))
  local m, got = c:recv(30)
  assert(m, "frag " .. n .. "/" .. k .. ": " .. tostring(got))
  assert(#m == n and got == kind, ("frag %d/%d: got %d bytes %s"):format(n, k, #m, got))
  assert(m == U.pattern(n), "reassembled bytes differ")
end

-- interleaved with whole messages, order kept
assert(c:send("!frag 100000 7 binary"))
assert(c:send("after"))
local a = assert(c:recv(10))
local b = assert(c:recv(10))
assert(#a == 100000 and b == "after")

-- client side: anything over the frame size goes out as several frames;
-- the echo proves the server reassembled exactly what was sent
local ws = require "glrun.ws"
for _, n in ipairs{ ws.FRAME_SIZE - 1, ws.FRAME_SIZE, ws.FRAME_SIZE + 1, 3 * ws.FRAME_SIZE + 17 } do
  local s = U.pattern(n)
  assert(c:send(s, "binary"))
  local m = assert(c:recv(10))
  assert(m == s, "client fragmentation at " .. n)
end
c:close()
print("ws_frag ok")
