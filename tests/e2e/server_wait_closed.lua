-- glrun.server's req:wait_closed([timeout]) in one process (clients are
-- glrun.http and glrun.ws on the same loop): a task parked in it is woken
-- by the server, with true when the client goes away while the request is
-- open (before the answer, or in the middle of a streamed one) and false
-- when the request ends first (answered, finished, upgraded; a later
-- request of a kept-alive connection); nil, {kind="timeout"} after its
-- timeout, the request going on; misuse raises; a handle closed under a
-- waiting task wakes it with an error. No check is timed: every wait is
-- bounded by a generous timeout and the checks are about what came back.
local server = require "glrun.server"
local http = require "glrun.http"
local ws = require "glrun.ws"

local checks, failures = 0, {}
local function check(what, cond, detail)
  checks = checks + 1
  if cond then print("ok - " .. what)
  else failures[#failures + 1] = what; print("not ok - " .. what .. (detail and (": " .. tostring(detail)) or "")) end
end

local srv = assert(server.listen{ port = 0 })
local base = srv:url()
local BOUND = 60 -- seconds: far more than any case needs; a hang fails, not a slow machine

local function accept()
  local req, err = srv:accept()
  assert(req, "accept: " .. tostring(err))
  return req
end

------------------------------------------------------------------------
-- 1. the client leaves before any answer: true, and the answer fails
------------------------------------------------------------------------
do
  local started
  local client = gl.spawn(function()
    return http.stream{ url = base .. "/leave", timeout = BOUND, on_start = function(r) started = r end }
  end)
  local req = accept()
  check("open request: closed() is false", req:closed() == false)
  -- the client leaves a little later, while this task is parked
  gl.spawn(function() gl.sleep(0.05); started:close() end)
  local gone, err = req:wait_closed(BOUND)
  check("client gone before the answer: wait_closed() -> true", gone == true, tostring(gone) .. " " .. tostring(err))
  check("and closed() agrees", req:closed() == true)
  local ok, rerr = req:respond(200, {}, "too late")
  check("the answer then fails with kind closed", ok == nil and rerr and rerr.kind == "closed", rerr)
  check("asked again: still true, at once", req:wait_closed() == true)
  local it, cerr = client:join()
  check("the client's side: cancelled", it == nil and cerr and cerr.kind == "cancelled", cerr)
end

------------------------------------------------------------------------
-- 2. answered first: false; timeouts; misuse
------------------------------------------------------------------------
do
  local client = gl.spawn(function() return http.request{ url = base .. "/answered", timeout = BOUND } end)
  local req = accept()
  local v, e = req:wait_closed(0)
  check("wait_closed(0) on an open request: nil, timeout", v == nil and e and e.kind == "timeout", e)
  v, e = req:wait_closed(0.05)
  check("wait_closed(0.05): nil, timeout (the request goes on)", v == nil and e and e.kind == "timeout", e)
  check("misuse: a negative timeout raises", not pcall(req.wait_closed, req, -1))
  check("misuse: a timeout that is not a number raises", not pcall(req.wait_closed, req, "soon"))
  local waiter = gl.spawn(function() return req:wait_closed(BOUND) end)
  gl.sleep(0.05) -- let it park (were it not parked yet, it would see the answer and say false all the same)
  local ok, merr = pcall(req.wait_closed, req)
  check("misuse: a second task waiting on the same request raises", not ok and tostring(merr):find("another task", 1, true),
    merr)
  check("the answer after a timed-out wait goes out", req:respond(200, { ["Content-Type"] = "text/plain" }, "answered") == true)
  check("the parked task: false (the request was answered first)", waiter:join() == false)
  check("after the answer: false at once", req:wait_closed() == false)
  local r = client:join()
  check("the client got the answer", r and r.status == 200 and r.body == "answered", r and r.body)
end

------------------------------------------------------------------------
-- 3. a streamed answer, finished: false; a kept-alive connection's next
--    request works (the connection's timer is its own again)
------------------------------------------------------------------------
do
  local client = gl.spawn(function()
    local a = http.request{ url = base .. "/stream", timeout = BOUND }
    local b = http.request{ url = base .. "/after", timeout = BOUND }
    return a, b
  end)
  local req = accept()
  assert(req:respond(200, { ["Content-Type"] = "text/plain" }))
  assert(req:write("one "))
  local v, e = req:wait_closed(0.05)
  check("streaming: wait_closed(0.05) -> nil, timeout", v == nil and e and e.kind == "timeout", e)
  local waiter = gl.spawn(function() return req:wait_closed(BOUND) end)
  assert(req:write("two"))
  gl.sleep(0.05)
  req:finish()
  check("streamed answer finished: the parked task gets false", waiter:join() == false)
  local req2 = accept()
  check("the next request arrives", req2.path == "/after", req2.path)
  check("the first request's handle: false (finished)", req:wait_closed() == false)
  assert(req2:respond(200, {}, "after"))
  local a, b = client:join()
  check("both answers arrived", a and a.body == "one two" and b and b.body == "after", a and a.body)
end

------------------------------------------------------------------------
-- 4. the client leaves in the middle of a streamed answer: true
------------------------------------------------------------------------
do
  local client = gl.spawn(function()
    local it, r = http.stream{ url = base .. "/midstream", timeout = BOUND }
    if not it then return nil, r end
    local first = it()
    r:close() -- leaves after the first piece
    return first
  end)
  local req = accept()
  assert(req:respond(200, { ["Content-Type"] = "text/plain" }))
  assert(req:write("first piece"))
  local gone = req:wait_closed(BOUND)
  check("client gone mid-stream: wait_closed() -> true", gone == true, gone)
  local ok, werr = req:write("more")
  check("a write after it: nil, closed", ok == nil and werr and werr.kind == "closed", werr)
  req:finish()
  check("the client read the first piece", client:join() == "first piece")
end

------------------------------------------------------------------------
-- 5. a WebSocket upgrade ends the request: false
------------------------------------------------------------------------
do
  local client = gl.spawn(function()
    local c = assert(ws.connect{ url = (base:gsub("^http", "ws")) .. "/ws", timeout = BOUND })
    assert(c:send("hi"))
    local m = c:recv()
    c:close()
    return m
  end)
  local req = accept()
  local waiter = gl.spawn(function() return req:wait_closed(BOUND) end)
  gl.sleep(0.05)
  local conn = assert(req:upgrade())
  check("upgraded: the parked task gets false", waiter:join() == false)
  local m = conn:recv()
  conn:send("echo " .. tostring(m))
  check("the WebSocket works after it", client:join() == "echo hi")
  conn:close()
end

------------------------------------------------------------------------
-- 6. the handle closed under a waiting task: the task is woken with an error
------------------------------------------------------------------------
do
  local client = gl.spawn(function() return http.request{ url = base .. "/closed-handle", timeout = BOUND } end)
  local req = accept()
  local waiter = gl.spawn(function() return pcall(req.wait_closed, req, BOUND) end)
  gl.sleep(0.05)
  getmetatable(req).__close(req) -- as a <close> variable going out of scope would
  local ok, err = waiter:join()
  check("the waiting task raised: the handle is closed", ok == false and tostring(err):find("closed", 1, true), err)
  check("misuse after close raises", not pcall(req.wait_closed, req))
  local r, cerr = client:join()
  check("the unanswered request got 500", r == nil and cerr and cerr.status == 500, cerr)
end

srv:close()
if #failures > 0 then error(#failures .. " check(s) failed: " .. table.concat(failures, "; "), 0) end
print(("server wait_closed ok: %d checks"):format(checks))
