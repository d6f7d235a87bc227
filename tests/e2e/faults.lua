-- Every REST fault glmock can produce, seen through the gemini client,
-- with the error fields a policy needs (kind, status, error, retry_after,
-- events kept before a mid-stream failure).
local gemini = require "gemini"
local rest = require "gemini.rest"
local errors = require "gemini.errors"
local base = assert(gl.options.mock_url)

local function ask_err(model, opts)
  opts = opts or {}
  opts.model = model
  local text, err = gemini.ask("fault test", opts)
  assert(text == nil, model .. ": expected an error, got " .. tostring(text))
  assert(gl.is_error(err), model .. ": error is an error object")
  assert(type(tostring(err)) == "string" and #tostring(err) > 10)
  return err
end

-- 404 unknown model
local e = ask_err("gemini-nonexistent-9")
assert(e.kind == "http" and e.status == 404, tostring(e))
assert(e.error.status == "NOT_FOUND" and e.error.code == 404)
assert(e.error.message:find("is not found for API version v1beta", 1, true), e.error.message)
assert(e.message:find("HTTP 404 NOT_FOUND", 1, true), e.message)
assert(e.url:find(":generateContent", 1, true))

-- 429 per minute: RetryInfo 1.5s beats Retry-After
e = ask_err("gemini-ratelimited")
assert(e.status == 429 and e.error.status == "RESOURCE_EXHAUSTED", tostring(e))
assert(e.retry_after == 1.5, "retry_after " .. tostring(e.retry_after))
local qf = errors.detail(e, "QuotaFailure")
assert(qf and qf.violations[1].quotaId:find("PerMinute"), "QuotaFailure per minute")
assert(e.headers["retry-after"] == "2")

-- 429 per day
e = ask_err("gemini-perday")
assert(e.status == 429 and e.retry_after == 47, tostring(e.retry_after))
qf = errors.detail(e, "QuotaFailure")
local perday = false
for _, v in ipairs(qf.violations) do if v.quotaId:find("PerDay", 1, true) then perday = true end end
assert(perday, "QuotaFailure names a per-day quota")

-- 503, 500
e = ask_err("gemini-overloaded")
assert(e.status == 503 and e.error.status == "UNAVAILABLE" and e.error.message:find("overloaded"))
e = ask_err("gemini-internal")
assert(e.status == 500 and e.error.status == "INTERNAL")

-- bad key (400 API_KEY_INVALID), expired key, missing key (403)
e = ask_err("gemini-2.5-flash", { client = { api_key = "bad", base_url = base } })
assert(e.status == 400 and e.error.status == "INVALID_ARGUMENT")
assert(errors.detail(e, "ErrorInfo").reason == "API_KEY_INVALID")
e = ask_err("gemini-2.5-flash", { client = { api_key = "expired", base_url = base } })
assert(e.status == 400 and e.error.message:find("expired"), e.error.message)

-- the same errors before a stream: nil, err from rest.stream, raise from gemini.stream
local it, serr = rest.stream(gemini.request("x"), { model = "gemini-ratelimited" })
assert(it == nil and serr.status == 429 and serr.retry_after == 1.5)
local it404, e404 = rest.stream(gemini.request("x"), { model = "gemini-nonexistent" })
assert(it404 == nil and e404.status == 404 and e404.error.status == "NOT_FOUND")
local ok, raised = pcall(function() for _ in assert(gemini.stream("x", { model = "gemini-overloaded" })) do end end)
assert(not ok and raised.status == 503, "gemini.stream raises the error object")

-- collect a stream, returning the text delivered and the error raised
local function drain(model, opts)
  local got = {}
  local ok2, err2 = pcall(function()
    for piece in assert(gemini.stream("one two three four five six seven eight", opts or { model = model })) do
      got[#got + 1] = piece
    end
  end)
  return table.concat(got), (not ok2) and err2 or nil
end

-- a stream cut mid-event: events before it are kept, the error says so
local got, cut = drain("gemini-cutstream")
assert(cut and cut.kind == "stream_cut", "cut stream: " .. tostring(cut))
assert(got ~= "" and ("echo: one two three four five six seven eight"):find(got, 1, true) == 1,
       "text before the cut is kept: [" .. got .. "]")

-- an error appended mid-stream as raw JSON (no data:)
local got2, mid = drain("gemini-midstreamerror")
assert(mid and mid.kind == "http" and mid.status == 503 and mid.midstream, "midstream: " .. tostring(mid))
assert(mid.events >= 1 and got2 ~= "", "events before the error were delivered")

-- malformed JSON in an event: protocol error naming the event
local _, mal = drain("gemini-malformed")
assert(mal and mal.kind == "protocol" and mal.message:find("malformed JSON in SSE event #2", 1, true),
       tostring(mal))

-- a slow stream still completes
local slow = drain("gemini-slow")
assert(slow == "echo: one two three four five six seven eight", slow)

-- an oversized event: handled within max_event, refused beyond it
local big = assert(gemini.ask("x", { model = "gemini-huge" }))
assert(#big > 10 * 1024 * 1024, "huge reply of " .. #big .. " bytes")
local http = require "glrun.http"
local hit, herr = http.sse{ url = base .. "/v1beta/models/gemini-huge:streamGenerateContent?alt=sse",
  method = "POST", body = '{"contents":[{"role":"user","parts":[{"text":"x"}]}]}',
  headers = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" }, max_event = 1024 * 1024 }
assert(hit, tostring(herr))
local ok3, big_err = pcall(function() for _ in hit do end end)
assert(not ok3 and big_err.kind == "protocol" and big_err.message:find("max_event"), tostring(big_err))

-- a server that never answers: timeout
local t0 = gl.now()
local _, to = gemini.ask("x", { model = "gemini-hang", timeout = 0.5 })
assert(to and to.kind == "timeout", tostring(to))
assert(gl.now() - t0 < 5, "the timeout is honoured")
local _, to2 = rest.stream(gemini.request("x"), { model = "gemini-hang", timeout = 0.5 })
assert(to2 and to2.kind == "timeout", "stream timeout: " .. tostring(to2))

-- nothing listening: connect error
local _, ce = gemini.ask("x", { client = { api_key = "k", base_url = "http://127.0.0.1:1" } })
assert(ce and ce.kind == "connect", tostring(ce))

-- a long stream (5000 events) arrives whole, in order
local count, total = 0, 0
for chunk in assert(rest.stream(gemini.request("many"), { model = "gemini-many" })) do
  count = count + 1
  total = total + #chunk.text
end
assert(count >= 5000, "many: " .. count .. " chunks")
print("faults ok")
