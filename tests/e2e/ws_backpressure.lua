-- A slow reader does not grow memory: the C queue stops reading the
-- socket at its bound; a fast writer is held back by send().
local U = require "lib.wsutil"
U.require_echo()

local QUEUE, SIZE, COUNT = 8, 256 * 1024, 400   -- 100 MiB offered in total
local c = U.connect{ queue = QUEUE, queue_bytes = 4 * 1024 * 1024 }
assert(c:send(("!flood %d %d"):format(COUNT, SIZE)))
gl.sleep(0.5)                      -- let the server push as hard as it can
local st = c:stats()
assert(st.paused, "reading should be paused with a full queue")
assert(st.in_messages <= QUEUE + 1, "queued messages " .. st.in_messages .. " > bound " .. QUEUE)
assert(st.in_bytes <= 4 * 1024 * 1024 + SIZE, "queued bytes " .. st.in_bytes)

-- drain slowly at first, then fast; everything arrives, in order, intact
local got, maxq = 0, 0
local want = U.pattern(SIZE)
while got < COUNT do
  local m, kind = c:recv(10)
  assert(m, "flood message " .. got + 1 .. ": " .. tostring(kind))
  assert(#m == SIZE and kind == "binary")
  if got % 50 == 0 then assert(m == want) end
  got = got + 1
  if got < 20 then gl.sleep(0.01) end
  local s = c:stats()
  if s.in_messages > maxq then maxq = s.in_messages end
end
st = c:stats()
assert(maxq <= QUEUE + 1, "queue peaked at " .. maxq)
assert(st.in_bytes_max <= 4 * 1024 * 1024 + 2 * SIZE, "bytes peaked at " .. st.in_bytes_max)
assert(not st.paused and st.in_messages == 0)

-- send side: the outgoing queue is bounded by send_buffer
local out = U.connect{ send_buffer = 1024 * 1024 }
local chunk = U.pattern(512 * 1024)
local maxout = 0
local reader = gl.spawn(function()
  local n = 0
  while n < 64 do
    local m = assert(out:recv(30))
    assert(#m == #chunk)
    n = n + 1
  end
  return n
end)
for _ = 1, 64 do                   -- 32 MiB offered
  assert(out:send(chunk, "binary"))
  local s = out:stats()
  if s.out_bytes > maxout then maxout = s.out_bytes end
end
assert(reader:join() == 64)
assert(maxout <= 1024 * 1024 + #chunk, "send queue peaked at " .. maxout)
out:close()
c:close()
print("ws_backpressure ok")
