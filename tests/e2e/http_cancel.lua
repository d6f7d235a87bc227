-- A request can be cancelled before its response arrives: http.sse and
-- http.stream call on_start(req) once the request is sent, so another task
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
