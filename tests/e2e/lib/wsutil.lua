-- Shared helpers for the ws_*.lua end-to-end tests (not a test itself).
--
-- The tests talk to glmock's echo endpoint, /glmock/echo: every message is
-- echoed back with its own opcode, except text messages starting with "!",
-- which are commands:
--   !close CODE REASON   server sends a close frame (CODE, REASON)
--   !drop                server drops the TCP connection, no close frame
--   !big N [text|binary] server sends one N-byte message (bytes 'a'..'z' repeated)
--   !frag N K [text|binary]  the same N bytes as ONE message in K frames
--   !flood COUNT SIZE    server sends COUNT binary messages of SIZE bytes
--   !headers             server replies with the upgrade request headers (JSON)
-- and /glmock/stall accepts the TCP connection but never answers the upgrade.
local M = {}

local function base()
  local u = os.getenv("GLRUN_WS_ECHO_URL")
  if u then return (u:gsub("/glmock/echo$", "")) end
  u = gl.options.mock_url
  assert(u, "GLMOCK_URL is not set (the test harness starts glmock)")
  return (u:gsub("^http", "ws"):gsub("/+$", ""))
end

M.base = base()
M.echo = M.base .. "/glmock/echo"
M.stall = M.base .. "/glmock/stall"

-- Until the server in use implements the echo contract above, these tests
-- cannot run: say so loudly and exit 77, which ctest counts as skipped
-- (ws_live_wire.lua covers the transport against the Live endpoint meanwhile). Call at the top of each test (not
-- at require time: require cannot wait for the network).
function M.require_echo()
  local ws = require "glrun.ws"
  local c, err = ws.connect{ url = M.echo, timeout = 10 }
  if not c and type(err) == "table" and err.kind == "ws_handshake" and err.status == 404 then
    io.stderr:write(("SKIPPED %s: the server at %s has no /glmock/echo WebSocket endpoint "
      .. "(contract: tests/e2e/lib/wsutil.lua)\n"):format(arg and arg[0] or "?", M.base))
    os.exit(77)
  end
  assert(c, "echo endpoint: " .. tostring(err))
  c:close()
end

-- the byte pattern of !big / !frag
function M.pattern(n)
  local abc = "abcdefghijklmnopqrstuvwxyz"
  local rep = abc:rep(n // 26 + 1)
  return rep:sub(1, n)
end

function M.connect(opts)
  opts = opts or {}
  opts.url = opts.url or M.echo
  local ws = require "glrun.ws"
  local c, err = ws.connect(opts)
  assert(c, "connect failed: " .. tostring(err))
  return c
end

function M.expect_err(kind, ok, err)
  assert(ok == nil, "expected a failure of kind " .. kind .. ", got a value: " .. tostring(ok))
  assert(type(err) == "table", "error must be a table, got " .. type(err))
  assert(err.kind == kind, "expected kind " .. kind .. ", got " .. tostring(err.kind) .. ": " .. tostring(err))
  return err
end

function M.join_all(tasks)
  local res = {}
  for i, t in ipairs(tasks) do
    local ok, e = t:join()
    res[i] = ok
    if ok == nil and e ~= nil then error("task " .. i .. " failed: " .. tostring(e)) end
  end
  return res
end

return M
