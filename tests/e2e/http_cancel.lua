-- A request can be cancelled before its response arrives: http.sse,
-- http.stream and http.request call on_start(req) once the request is sent, so another task
-- can close it while this one waits for the headers; the wait then ends
-- with nil, err (kind "cancelled"), not at the timeout. rest.stream passes
-- on_start through (the chat page's Stop uses it).
local http = require "glrun.http"
local rest = require "gemini.rest"
local base = assert(gl.options.mock_url)
local hdr = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" }
local body = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
-- glmock's "hang" model accepts the request and never answers
local url = base .. "/v1beta/models/gemini-hang:streamGenerateContent?alt=sse"

local function cancel_later(get)
  return gl.spawn(function()
    gl.sleep(0.2)
    local r = assert(get(), "on_start ran before the close")
    r:close()
    r:close() -- idempotent
  end)
end

for _, fn in ipairs({ "sse", "stream" }) do
  local started, calls = nil, 0
  local t = cancel_later(function() return started end)
  local it, err = http[fn]{ url = url, method = "POST", body = body, headers = hdr, timeout = 60,
                            on_start = function(r) calls = calls + 1; started = r end }
  t:join()
  assert(it == nil, fn .. ": a cancelled request gives no iterator")
  assert(type(err) == "table" and err.kind == "cancelled", fn .. ": kind cancelled, got " .. tostring(err))
  assert(calls == 1, fn .. ": on_start is called once, got " .. calls)
  assert(tostring(started):find("http") or type(started) == "userdata", fn .. ": on_start gets the request")
  print("ok - http." .. fn .. ": closed before its headers -> nil, cancelled")
end

-- http.request too: closed before its answer -> nil, cancelled
do
  local started, calls = nil, 0
  local t = cancel_later(function() return started end)
  local res, err = http.request{ url = base .. "/v1beta/models/gemini-hang:generateContent", method = "POST",
                                 body = body, headers = hdr, timeout = 60,
                                 on_start = function(r) calls = calls + 1; started = r end }
  t:join()
  assert(res == nil and type(err) == "table" and err.kind == "cancelled", "request: kind cancelled, got " .. tostring(err))
  assert(calls == 1, "request: on_start is called once, got " .. calls)
  print("ok - http.request: closed before its answer -> nil, cancelled")
  -- and a request nobody closes still answers, on_start called once
  local n = 0
  local ok = assert(http.request{ url = base .. "/v1beta/models/gemini-2.5-flash:generateContent", method = "POST",
                                  body = body, headers = hdr, timeout = 60, on_start = function() n = n + 1 end })
  assert(ok.status == 200 and n == 1, "request: answered, on_start once")
  print("ok - http.request: on_start, answered as usual")
end

-- closing inside on_start itself cancels at once
local it, err = http.sse{ url = url, method = "POST", body = body, headers = hdr, timeout = 60,
                          on_start = function(r) r:close() end }
assert(it == nil and err.kind == "cancelled", "closed in on_start: " .. tostring(err))
print("ok - closed inside on_start")

-- misuse raises
local ok, e = pcall(http.sse, { url = url, method = "POST", body = body, headers = hdr, on_start = 42 })
assert(not ok and tostring(e):find("on_start"), "a non-function on_start raises: " .. tostring(e))
print("ok - on_start must be a function")

-- rest.stream passes it through
local got
local t = cancel_later(function() return got end)
local rit, rerr = rest.stream({ contents = { { role = "user", parts = { { text = "hi" } } } } },
  { model = "gemini-hang", timeout = 60, on_start = function(r) got = r end })
t:join()
assert(rit == nil and type(rerr) == "table" and rerr.kind == "cancelled", "rest.stream: " .. tostring(rerr))
print("ok - rest.stream: on_start, closed before the headers -> nil, cancelled")
