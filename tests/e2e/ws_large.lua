-- Large messages both ways (several MiB), and the max_message bound.
local U = require "lib.wsutil"
U.require_echo()

local c = U.connect()

-- client -> server -> client, 6 MiB text and 9 MiB binary: the client
-- fragments them into 64 KiB frames, the server reassembles and echoes
local big = U.pattern(6 * 1024 * 1024)
assert(c:send(big))
local m, kind = c:recv(30)
assert(m and #m == #big and kind == "text", "6 MiB text echo: " .. tostring(m and #m or kind))
assert(m == big, "6 MiB text echo differs")

local bin = U.pattern(9 * 1024 * 1024 + 7):gsub("q", "\0")
assert(c:send(bin, "binary"))
m, kind = c:recv(30)
assert(m == bin and kind == "binary", "9 MiB binary echo differs")

-- server -> client: a 20 MiB single message (one frame)
assert(c:send("!big " .. 20 * 1024 * 1024 .. " binary"))
m, kind = c:recv(30)
assert(m and #m == 20 * 1024 * 1024 and kind == "binary", "20 MiB download")
assert(m == U.pattern(#m))
m = nil
c:close()

-- over max_message: a protocol error that sticks
local small = U.connect{ max_message = 1024 * 1024 }
assert(small:send("!big " .. 1024 * 1024 .. " text"))
m = assert(small:recv(10))
assert(#m == 1024 * 1024, "exactly max_message is allowed")
assert(small:send("!big " .. 3 * 1024 * 1024 .. " text"))
local err = U.expect_err("protocol", small:recv(10))
assert(tostring(err):find("exceeds max_message", 1, true), tostring(err))
assert(tostring(err):find("3145728 bytes", 1, true), tostring(err))
-- sticky: every later call reports it
U.expect_err("protocol", small:recv(1))
U.expect_err("protocol", small:send("x"))
small:close()

-- the same limit applies to a fragmented message (reassembly is bounded)
small = U.connect{ max_message = 100000 }
assert(small:send("!frag 300000 10 text"))
U.expect_err("protocol", small:recv(10))
small:close()
print("ws_large ok")
