-- glrun.server in one process: a server task and clients (glrun.http,
-- glrun.ws) on the same loop. Request fields as sent, headers, bodies,
-- complete and streamed answers, keep-alive, misuse that raises, handles
-- that close idempotently, a WebSocket echo with close codes both ways.
local server = require "glrun.server"
local http = require "glrun.http"
local ws = require "glrun.ws"

local checks, failures = 0, {}
local function check(what, cond, detail)
  checks = checks + 1
  if cond then print("ok - " .. what)
  else failures[#failures + 1] = what; print("not ok - " .. what .. (detail and (": " .. tostring(detail)) or "")) end
end

local srv = assert(server.listen{ port = 0, max_body = 4096 })
local base = srv:url()
check("url names the bound port", base == "http://127.0.0.1:" .. srv:port(), base)
check("tostring shows the state", tostring(srv):find("listening", 1, true), tostring(srv))
-- a client gone mid-write must fail that write, not kill glrun: SIGPIPE ignored
local st = io.open("/proc/self/status")
if st then
  local ign = st:read("a"):match("SigIgn:%s*(%x+)")
  st:close()
  check("SIGPIPE is ignored once a server listens", ign and (tonumber(ign:sub(-4), 16) & (1 << 12)) ~= 0, ign)
end

local seen = {}        -- what the handlers saw, by path
local misuse = {}      -- which misuses raised
local handlers = {}

handlers["/echo"] = function(req)
  seen.echo = { method = req.method, path = req.path, query = req.query, peer = req.peer,
                websocket = req.websocket, xt = req:header("X-Test"), body = req:body(),
                headers = req:headers() }
  misuse.write_before_respond = not pcall(req.write, req, "x")
  misuse.bad_status = not pcall(req.respond, req, 42, {})
  misuse.header_injection = not pcall(req.respond, req, 200, { ["X-A"] = "a\r\nX-B: b" })
  misuse.upgrade_plain = not pcall(req.upgrade, req)
  assert(req:respond(200, { ["Content-Type"] = "text/plain" }, "echo:" .. req:body()))
  misuse.respond_twice = not pcall(req.respond, req, 200, {}, "again")
  misuse.write_after = not pcall(req.write, req, "x")
  req:finish()   -- idempotent, no raise
  req:finish()
end

handlers["/stream"] = function(req)
  assert(req:respond(200, { ["Content-Type"] = "text/plain" }))
  for i = 1, 50 do assert(req:write(("line %d\n"):format(i))) end
  assert(req:write(""))     -- an empty chunk is a no-op, not the end
  req:finish()
  seen.stream_stats = req:stats()
end

handlers["/noanswer"] = function(req) req:finish() end      -- 500 from C

handlers["/ws"] = function(req)
  seen.ws_path = req.path
  seen.ws_flag = req.websocket
  local c = assert(req:upgrade())
  check("ws:state() open after upgrade", c:state() == "open")
  while true do
    local m, kind = c:recv()
    if not m then seen.ws_err = kind; break end
    if m == "close-please" then c:close(4002, "server says bye"); c:close() else assert(c:send(m, kind)) end
  end
  seen.ws_state = c:state()
  c:close()
end

-- an HTTP error status is an error (glrun.http): status and body either way
local function fetch(opts)
  local r, err = http.request(opts)
  if r then return r end
  assert(err.status, tostring(err))
  return { status = err.status, body = err.body, headers = err.headers or {} }
end

handlers["/wst"] = function(req)
  local c = assert(req:upgrade())
  local m0, e0 = c:recv(0)          -- nothing yet: a timeout at once
  local m1, e1 = c:recv(0.1)        -- nothing within 0.1 s: a timeout
  seen.wst = { m0 == nil and e0.kind, m1 == nil and e1.kind }
  assert(c:send("timed out"))       -- only now does the client send
  local m2 = c:recv(30)             -- the session goes on after a timeout
  assert(c:send("got " .. tostring(m2)))
  c:recv()
end

local served = 0
local function serve()
  while true do
    local req, err = srv:accept()
    if not req then seen.accept_err = err; return end
    served = served + 1
    local h = handlers[req.path] or (req.path:match("^//?ws") and handlers["/ws"])
    gl.spawn(function()
      if h then h(req) else req:respond(404, {}, "no such path\n") end
    end)
  end
end
local server_task = gl.spawn(serve)

local function body()

-- a complete answer, with a body and odd bytes in the path
local r = assert(http.request{ method = "POST", url = base .. "/echo?key=abc&a=b+c%2F", body = "hello",
                               headers = { ["X-Test"] = "yes", ["Content-Type"] = "text/plain" } })
check("complete answer: status 200", r.status == 200, r.status)
check("complete answer: body", r.body == "echo:hello", r.body)
local e = seen.echo or {}
check("req.method", e.method == "POST", e.method)
check("req.path as sent", e.path == "/echo", e.path)
check("req.query raw", e.query == "key=abc&a=b+c%2F", e.query)
check("req.peer", e.peer == "127.0.0.1", e.peer)
check("req.websocket false", e.websocket == false)
check("req:header case-insensitive", e.xt == "yes", e.xt)
check("req:headers lower-case names", e.headers and e.headers["x-test"] == "yes" and e.headers["content-type"] == "text/plain")
check("req:body", e.body == "hello", e.body)
for _, k in ipairs{ "write_before_respond", "bad_status", "header_injection", "upgrade_plain", "respond_twice", "write_after" } do
  check("misuse raises: " .. k, misuse[k] == true)
end

-- a doubled leading slash and percent escapes reach the handler unchanged
local r2 = (fetch{ url = base .. "//v1beta/x%2Fy:go?q=%20" })
check("odd path: 404 from the handler", r2.status == 404, r2.status)

-- a streamed answer (chunked), read whole
local r3 = assert(http.request{ url = base .. "/stream" })
local want = {}
for i = 1, 50 do want[#want + 1] = ("line %d\n"):format(i) end
check("streamed answer complete", r3.body == table.concat(want), #r3.body)
check("streamed answer chunked", (r3.headers["transfer-encoding"] or ""):find("chunked", 1, true) ~= nil)
check("req:stats() has out_queued_max", seen.stream_stats and seen.stream_stats.out_queued_max >= 0)

-- a handler that never answered: 500
local r4 = (fetch{ url = base .. "/noanswer" })
check("no answer: 500", r4.status == 500, r4.status)

-- over max_body: 413 from C, the handler never sees it
local before = served
local r5 = (fetch{ method = "POST", url = base .. "/echo", body = ("x"):rep(5000) })
check("big body: 413", r5.status == 413, r5.status)
check("big body: no handler ran", served == before)

-- WebSocket: echo, close codes both ways
local c = assert(ws.connect{ url = (base:gsub("^http", "ws")) .. "//ws/google.ai?key=k", timeout = 10 })
assert(c:send("hello"))
local m, kind = c:recv(10)
check("ws text echo", m == "hello" and kind == "text", m)
assert(c:send("\0\1\2\255", "binary"))
m, kind = c:recv(10)
check("ws binary echo", m == "\0\1\2\255" and kind == "binary")
local big = ("y"):rep(300000)
assert(c:send(big))
m = c:recv(10)
check("ws 300 KB message echo", m == big, m and #m)
check("ws path kept with its doubled slash", seen.ws_path == "//ws/google.ai", seen.ws_path)
check("req.websocket true", seen.ws_flag == true)
c:close(4000, "client bye")
for _ = 1, 200 do if seen.ws_err then break end gl.sleep(0.02) end
check("server sees the client's close code", seen.ws_err and seen.ws_err.kind == "closed" and seen.ws_err.code == 4000,
      seen.ws_err)
check("server sees the client's close reason", seen.ws_err and seen.ws_err.reason == "client bye")
check("ws:state() closed after", seen.ws_state == "closed")

seen.ws_err = nil
local c2 = assert(ws.connect{ url = (base:gsub("^http", "ws")) .. "/ws", timeout = 10 })
assert(c2:send("close-please"))
local m2, err2 = c2:recv(10)
check("client sees the server's close code", m2 == nil and err2 and err2.close_code == 4002, err2)

-- ws:recv(timeout): a timeout is an error that does not end the session
local c3 = assert(ws.connect{ url = (base:gsub("^http", "ws")) .. "/wst", timeout = 10 })
local m3 = c3:recv(30)
check("server ws:recv(timeout) times out", m3 == "timed out" and seen.wst[1] == "timeout" and seen.wst[2] == "timeout",
      seen.wst and (tostring(seen.wst[1]) .. " " .. tostring(seen.wst[2])))
assert(c3:send("after"))
check("server ws:recv after a timeout gets the next message", c3:recv(30) == "got after")
c3:close()

-- keep-alive: two requests on one connection (curl reuses it)
local s0 = srv:stats()
for _ = 1, 3 do fetch{ url = base .. "/missing" } end
local s1 = srv:stats()
check("keep-alive: three requests, one new connection", s1.connections - s0.connections == 1,
      s1.connections - s0.connections)
check("stats count accepted requests", s1.accepted >= 8, s1.accepted)

end
local ok, err = pcall(body)
srv:close()
srv:close()   -- idempotent
if not ok then error(err, 0) end
server_task:join()
check("accept after close: nil, closed", seen.accept_err and seen.accept_err.kind == "closed", seen.accept_err)
local r6, err6 = http.request{ url = base .. "/echo", timeout = 5 }
check("closed server refuses connections", r6 == nil and err6.kind == "connect", err6)
check("closed server: tostring", tostring(srv):find("closed", 1, true), tostring(srv))

if #failures > 0 then error(#failures .. " check(s) failed: " .. table.concat(failures, "; "), 0) end
print(("server api ok: %d checks"):format(checks))
