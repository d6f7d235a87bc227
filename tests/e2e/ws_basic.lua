-- Text and binary frames, state in __tostring, stats, close semantics.
local ws = require "glrun.ws"
local U = require "lib.wsutil"
U.require_echo()

local c = U.connect{ url = U.echo .. "?key=SECRET-KEY-123", headers = { ["x-goog-api-key"] = "HDR-SECRET-9" } }
local s = tostring(c)
assert(s:match("^ws%.conn %(open%) ws://"), s)
assert(not s:find("SECRET%-KEY%-123"), "key leaked in tostring: " .. s)
assert(s:find("key=***", 1, true), s)

-- text
assert(c:send("hello") == true)
local m, kind = c:recv(5)
assert(m == "hello" and kind == "text", tostring(m) .. " " .. tostring(kind))

-- binary with every byte value, NULs included
local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local bin = table.concat(bytes)
assert(c:send(bin, "binary"))
m, kind = c:recv(5)
assert(m == bin and kind == "binary", "binary echo mismatch")

-- empty messages both kinds
assert(c:send(""))
m, kind = c:recv(5)
assert(m == "" and kind == "text")
assert(c:send("", "binary"))
m, kind = c:recv(5)
assert(m == "" and kind == "binary")

-- custom headers reach the server
assert(c:send("!headers"))
m = assert(c:recv(5))
assert(m:find('"x-goog-api-key":"HDR-SECRET-9"', 1, true), m)

-- several in flight, order kept
for i = 1, 50 do assert(c:send("m" .. i)) end
for i = 1, 50 do
  m = assert(c:recv(5))
  assert(m == "m" .. i, "order: expected m" .. i .. " got " .. m)
end

local st = c:stats()
assert(st.in_messages == 0 and st.out_messages == 0, "queues empty")
assert(st.received >= 55 and st.sent >= 55)

-- misuse raises
assert(not pcall(c.send, c, 42, "nope"))
assert(not pcall(c.send, c, "x", "utf16"))

-- close is idempotent; use after close raises
c:close()
c:close()
assert(tostring(c):match("%(closed%)"), tostring(c))
assert(not pcall(c.recv, c, 1), "recv after close must raise")
assert(not pcall(c.send, c, "x"), "send after close must raise")

-- <close> variables close the connection too
do
  local c2 <close> = U.connect()
  assert(c2:send("x"))
  assert(c2:recv(5) == "x")
end

-- argument errors raise instead of returning
assert(not pcall(ws.connect, { url = "http://example.com/" }), "http:// must raise")
assert(not pcall(ws.connect, {}), "missing url must raise")
assert(not pcall(ws.connect, { url = U.echo, timeout = "soon" }))
print("ws_basic ok")
