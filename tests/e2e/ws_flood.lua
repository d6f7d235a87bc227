-- Floods of small messages: a reader that keeps up never pauses the socket
-- (no flow-control toggling in steady state), a reader that does not keep
-- up pauses it with the queue within its documented bound (`queue` plus
-- what one 64 KiB read brings, at most 1024 messages; `queue_bytes` plus
-- 64 KiB), and nothing is read while paused.
local U = require "lib.wsutil"
U.require_echo()

local SLACK, READ = 1024, 64 * 1024   -- runtime/ws_lws.c: WS_RX_SLACK_MSGS, WS_FRAG

-- 1. a reader that keeps up: every message, intact, and the socket never paused
local N, SIZE = 20000, 64
local want = U.pattern(SIZE)
local c = U.connect{}
assert(c:send(("!flood %d %d"):format(N, SIZE)))
local got, maxq = 0, 0
while got < N do
  local m, kind = c:recv(10)
  assert(m, "flood message " .. got + 1 .. ": " .. tostring(kind))
  assert(m == want and kind == "binary", "message " .. got + 1 .. " differs")
  got = got + 1
  local q = c:stats().in_messages
  if q > maxq then maxq = q end
end
local st = c:stats()
assert(st.received == N, "received " .. st.received)
assert(st.pauses == 0, "a reader that keeps up paused the socket " .. st.pauses .. " times")
assert(not st.paused and st.in_messages == 0)
assert(maxq <= st.queue + SLACK, "queue peaked at " .. maxq)
assert(st.in_bytes_max <= st.queue_bytes + READ, "bytes peaked at " .. st.in_bytes_max)
c:close()

-- 2. a reader that stops: paused within the bound, nothing read while paused
local QUEUE = 8
c = U.connect{ queue = QUEUE }
assert(c:send(("!flood %d %d"):format(N, SIZE)))
local deadline = gl.now() + 30
repeat gl.sleep(0.05); st = c:stats() until st.paused or gl.now() > deadline
assert(st.paused, "reading should pause with a full queue")
assert(st.in_messages >= QUEUE, "paused with " .. st.in_messages .. " queued")
assert(st.in_messages <= QUEUE + SLACK, "queued " .. st.in_messages .. " > " .. QUEUE + SLACK)
assert(st.in_bytes <= st.in_messages * SIZE)
gl.sleep(0.3)
local st2 = c:stats()
assert(st2.received == st.received and st2.in_messages == st.in_messages,
  ("read while paused: %d -> %d"):format(st.received, st2.received))
got, maxq = 0, 0
while got < N do
  local m = c:recv(10)
  assert(m == want, "message " .. got + 1)
  got = got + 1
  local q = c:stats().in_messages
  if q > maxq then maxq = q end
  if got % 2000 == 0 then gl.sleep(0.01) end   -- fall behind now and then
end
st = c:stats()
assert(maxq <= QUEUE + SLACK, "queue peaked at " .. maxq)
assert(st.pauses >= 1 and not st.paused and st.in_messages == 0)
c:close()

-- 3. messages so small that one read holds more than the slack: the pause
-- comes mid-read, at the hard bound
c = U.connect{ queue = QUEUE }
assert(c:send(("!flood %d %d"):format(N, 1)))
deadline = gl.now() + 30
repeat gl.sleep(0.05); st = c:stats() until st.paused or gl.now() > deadline
assert(st.paused)
assert(st.in_messages <= QUEUE + SLACK, "queued " .. st.in_messages)
got = 0
while got < N do
  local m = c:recv(10)
  assert(m == "a", "tiny message " .. got + 1)
  got = got + 1
  assert(c:stats().in_messages <= QUEUE + SLACK)
end
c:close()

-- 4. queue_bytes: big messages pause at the byte bound (plus one message)
local BIG, QB = 100 * 1024, 512 * 1024
c = U.connect{ queue_bytes = QB }
assert(c:send(("!flood %d %d"):format(40, BIG)))
deadline = gl.now() + 30
repeat gl.sleep(0.05); st = c:stats() until st.paused or gl.now() > deadline
assert(st.paused)
assert(st.in_bytes <= QB + BIG + READ, "queued bytes " .. st.in_bytes)
for i = 1, 40 do assert(#assert(c:recv(10)) == BIG, "big message " .. i) end
assert(c:stats().in_bytes_max <= QB + BIG + READ)
c:close()
print("ws_flood ok")
