-- Handshake and connect failures: kinds, status, redacted path, messages.
local ws = require "glrun.ws"
local U = require "lib.wsutil"
U.require_echo()

-- a path the server does not serve: HTTP 404 on the upgrade
local c, err = ws.connect{ url = U.base .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent?key=SECRET-KEY-404" }
err = U.expect_err("ws_handshake", c, err)
assert(err.status == 404, "status " .. tostring(err.status))
assert(err.path == "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent?key=***", tostring(err.path))
local msg = tostring(err)
assert(msg:find("failed: HTTP 404", 1, true), msg)
assert(msg:find("WebSocket handshake to ws://", 1, true), msg)
assert(not msg:find("SECRET%-KEY%-404"), "key leaked: " .. msg)

-- nothing listens: connect
local port = assert(U.base:match(":(%d+)$"), "base URL has a port")
c, err = ws.connect{ url = "ws://127.0.0.1:1/x", timeout = 5 }
err = U.expect_err("connect", c, err)
assert(tostring(err):find("127.0.0.1:1", 1, true), tostring(err))

-- a name that cannot resolve: dns
c, err = ws.connect{ url = "ws://no-such-host.invalid/x", timeout = 5 }
U.expect_err("dns", c, err)

-- the server accepts TCP but never answers the upgrade: timeout
local t0 = gl.now()
c, err = ws.connect{ url = U.stall, timeout = 0.5 }
err = U.expect_err("timeout", c, err)
local dt = gl.now() - t0
assert(dt >= 0.4 and dt < 3, "timeout took " .. dt)
assert(tostring(err):find("timed out", 1, true), tostring(err))

-- a good one still works afterwards
local ok = U.connect()
assert(ok:send("still fine") and ok:recv(5) == "still fine")
ok:close()
print("ws_handshake ok")
