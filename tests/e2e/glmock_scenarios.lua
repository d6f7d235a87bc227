-- glmock scenarios: scripted faults with counts (tests/glmock/README.md
-- "Scenarios"). Each fault kind fires exactly `count` times, then stops;
-- the per-kind counters, DELETE and the 400 for malformed rules.
local http = require "glrun.http"
local json = require "glrun.json"
local ws = require "glrun.ws"
local live = require "gemini.live"

local base = assert(gl.options.mock_url, "run with glrun --mock"):gsub("/+$", "")
local CTL = base .. "/glmock/scenario"
local LIVE = base:gsub("^http", "ws") .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
local LIVE_MODEL = "gemini-live-text-test"
local JSON_CT = { ["Content-Type"] = "application/json" }

-- control API ---------------------------------------------------------------
local function ctl(method, body)
  if type(body) == "table" then body = json.encode(body) end
  local res, err = http.request{ method = method, url = CTL, headers = JSON_CT, body = body }
  if not res then return nil, err end
  assert(res.status == 200, method .. " /glmock/scenario: " .. res.status)
  return json.decode(res.body)
end

local function add(rules) return assert(ctl("POST", rules)) end
local function state() return assert(ctl("GET")) end
local function reset()
  local st = assert(ctl("DELETE"))
  assert(#st.rules == 0, "DELETE clears the rules")
  for k, v in pairs(st.counters) do assert(v == 0, "DELETE clears counter " .. k) end
end

local function counters_are(want, what)
  local c = state().counters
  for _, k in ipairs{ "rest", "live_handshake", "live_setup", "live_turn" } do
    assert(c[k] == (want[k] or 0), ("%s: counters.%s = %s, expected %s"):format(what, k, tostring(c[k]), tostring(want[k] or 0)))
  end
end

local function rule_is(i, remaining, hits)
  local r = state().rules[i]
  assert(r, "rule " .. i .. " is listed")
  assert(r.remaining == remaining and r.hits == hits,
         ("rule %d: remaining %s hits %s, expected %s / %s"):format(i, r.remaining, r.hits, remaining, hits))
  assert(r.active == (remaining ~= 0))
end

-- REST ----------------------------------------------------------------------
local function gen_url(model, method)
  return ("%s/v1beta/models/%s:%s"):format(base, model, method or "generateContent")
end

local function body_of(text)
  return json.encode{ contents = { { role = "user", parts = { { text = text } } } } }
end

local function generate(model, text)
  return http.request{ method = "POST", url = gen_url(model),
    headers = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" }, body = body_of(text or "hello") }
end

local function ok_reply(model, text)
  local res, err = generate(model, text)
  assert(res and res.status == 200, model .. ": expected 200, got " .. tostring(err))
  return json.decode(res.body)
end

-- glrun.http's errors are generic HTTP errors; gemini.errors reads them as
-- the Gemini API means them (err.error, retry_after)
local enrich = require("gemini.errors").enrich

local function fails(model, status, text)
  local res, err = generate(model, text)
  err = enrich(err)
  assert(res == nil and err and err.status == status,
         ("%s: expected HTTP %d, got %s"):format(model, status, res and res.status or tostring(err)))
  return err
end

-- stream; returns the number of events received and the error raised (or nil)
local function sse(model, text)
  local it, err = http.sse{ method = "POST", url = gen_url(model, "streamGenerateContent?alt=sse"),
    headers = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" },
    body = body_of(text or "one two three four five six seven eight nine ten eleven") }
  if not it then return 0, enrich(err) end
  local n = 0
  local ok, raised = pcall(function() for _ in it do n = n + 1 end end)
  return n, (not ok) and enrich(raised) or nil
end

-- Live (raw WebSocket, to count handshakes, setups and turns exactly) ----------
local function live_open(model)
  local c, err = ws.connect{ url = LIVE .. "?key=k", timeout = 10 }
  if not c then return nil, err end
  assert(c:send(json.encode{ setup = { model = "models/" .. (model or LIVE_MODEL) } }))
  local m, e = c:recv(10)
  if not m then c:close(); return nil, e end
  assert(json.decode(m).setupComplete, "setupComplete: " .. m)
  return c
end

-- one turn: model-turn text chunks, the error that ended it (or nil), all messages
local function turn(c, text)
  assert(c:send(json.encode{ clientContent = { turns = { { role = "user", parts = { { text = text } } } },
                                               turnComplete = true } }))
  local chunks, msgs = {}, {}
  while true do
    local m, err = c:recv(10)
    if not m then return chunks, err, msgs end
    local j = json.decode(m)
    msgs[#msgs + 1] = j
    local sc = j.serverContent
    if sc and sc.modelTurn then chunks[#chunks + 1] = sc.modelTurn.parts[1].text end
    if sc and sc.turnComplete then return chunks, nil, msgs end
  end
end

local LONG = "one two three four five six seven eight nine ten eleven"   -- 3 reply chunks

-- ===========================================================================
reset()
counters_are({}, "after DELETE")

-- 429 bursts with RetryInfo, then success ---------------------------------
add{ { match = { kind = "rest", model = "scen-a" }, count = 2, fault = { status = 429, retry_delay = "2.5s" } } }
for _ = 1, 2 do
  local e = fails("gemini-scen-a", 429)
  assert(e.error.status == "RESOURCE_EXHAUSTED", tostring(e))
  assert(e.retry_after == 2.5, "RetryInfo retryDelay 2.5s: " .. tostring(e.retry_after))
  assert(e.headers["retry-after"] == "3", "Retry-After rounded up: " .. tostring(e.headers["retry-after"]))
end
ok_reply("gemini-scen-a")
ok_reply("gemini-scen-a")
rule_is(1, 0, 2)
counters_are({ rest = 4 }, "429 burst")

-- a per-day quota (the default delay 47s, no Retry-After); a 429 without RetryInfo
add('[{"match": {"model": "scen-b"}, "fault": {"status": 429, "quota_id": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}},'
 .. ' {"match": {"model": "scen-c"}, "fault": {"status": 429, "retry_delay": null}}]')
local e = fails("gemini-scen-b", 429)
assert(e.retry_after == 47 and e.headers["retry-after"] == nil, tostring(e.retry_after))
local perday = false
for _, d in ipairs(e.error.details) do
  for _, v in ipairs(d.violations or {}) do perday = perday or v.quotaId:find("PerDay", 1, true) ~= nil end
end
assert(perday, "QuotaFailure names the per-day quota")
e = fails("gemini-scen-c", 429)
assert(e.retry_after == nil, "no RetryInfo: " .. tostring(e.retry_after))
ok_reply("gemini-scen-b")
ok_reply("gemini-scen-c")

-- 503 on the first REST model only; 500; 404 with the real not-found text
reset()
add{ { match = { kind = "rest", model = "gemini-2.5-pro" }, fault = { status = 503 } },
     { match = { model = "scen-int" }, count = 1, fault = { status = 500 } },
     { match = { model = "scen-gone" }, count = 1, fault = { status = 404 } } }
ok_reply("gemini-2.5-flash")                 -- another model: the rule is not consumed
rule_is(1, 1, 0)
e = fails("gemini-2.5-pro", 503)
assert(e.error.status == "UNAVAILABLE" and e.error.message:find("overloaded", 1, true), tostring(e))
ok_reply("gemini-2.5-pro")
e = fails("gemini-scen-int", 500)
assert(e.error.status == "INTERNAL")
e = fails("gemini-scen-gone", 404)
assert(e.error.message:find("models/gemini-scen-gone is not found for API version v1beta, or is not supported for generateContent", 1, true),
       e.error.message)
ok_reply("gemini-scen-int")
ok_reply("gemini-scen-gone")
counters_are({ rest = 7 }, "503 / 500 / 404")

-- match on the user text, forever (-1), until DELETE
reset()
add{ { match = { text = "please fail" }, count = -1, fault = { status = 500 } } }
for _ = 1, 3 do fails("gemini-2.5-flash", 500, "now please fail again") end
ok_reply("gemini-2.5-flash", "a good question")
rule_is(1, -1, 3)
reset()
ok_reply("gemini-2.5-flash", "now please fail again")   -- gone with DELETE
counters_are({ rest = 1 }, "after the forever rule")

-- a stream cut mid-answer once: N good events then a partial one
reset()
add{ { match = { kind = "rest" }, count = 1, fault = { cut_after = 1 } } }
ok_reply("gemini-2.5-flash")                 -- not a stream: the rule waits
rule_is(1, 1, 0)
local n, err = sse("gemini-2.5-flash")
assert(err and err.kind == "stream_cut" and n == 1, "cut after 1 event: " .. n .. " " .. tostring(err))
n, err = sse("gemini-2.5-flash")
assert(err == nil and n == 3, "the next stream is whole: " .. n .. " " .. tostring(err))
rule_is(1, 0, 1)

-- an error in the middle of the stream (429 after 2 events, then 503 after 0)
add{ { match = { model = "scen-mid" }, fault = { midstream_error = 429 } },
     { match = { model = "scen-mid" }, fault = { midstream_error = 503, after_events = 0 } } }
n, err = sse("gemini-scen-mid")
assert(err and err.kind == "http" and err.status == 429 and err.midstream and n == 2,
       "midstream 429: " .. n .. " " .. tostring(err))
assert(err.retry_after == 1.5, "RetryInfo of the mid-stream 429: " .. tostring(err.retry_after))
n, err = sse("gemini-scen-mid")
assert(err and err.status == 503 and err.midstream and n == 0, "midstream 503: " .. n .. " " .. tostring(err))
n, err = sse("gemini-scen-mid")
assert(err == nil and n == 3, "then whole again")
-- a pre-stream status fault on a stream
add{ { match = { model = "scen-pre" }, fault = { status = 429 } } }
n, err = sse("gemini-scen-pre")
assert(n == 0 and err and err.status == 429 and not err.midstream, tostring(err))
counters_are({ rest = 7 }, "streams")

-- a delay before answering, once
reset()
add{ { match = { model = "scen-slow" }, fault = { delay_ms = 400 } },
     { match = { model = "scen-slow" }, fault = { delay_ms = 300, status = 503 } } }
local t0 = gl.now()
ok_reply("gemini-scen-slow")
local dt = gl.now() - t0
assert(dt >= 0.38, "delay_ms 400: answered after " .. dt)
t0 = gl.now()
fails("gemini-scen-slow", 503)
dt = gl.now() - t0
assert(dt >= 0.28, "delay then 503: " .. dt)
t0 = gl.now()
ok_reply("gemini-scen-slow")
assert(gl.now() - t0 < 0.25, "no delay once the rules are used up")
counters_are({ rest = 3 }, "delays")

-- Live handshake: 404 for the next 2 connections, then it works (recovery) ---
reset()
add{ { match = { kind = "live_handshake" }, count = 2, fault = { status = 404 } } }
for i = 1, 2 do
  local c, herr = ws.connect{ url = LIVE .. "?key=k", timeout = 10 }
  assert(c == nil and herr.kind == "ws_handshake" and herr.status == 404, "handshake " .. i .. ": " .. tostring(herr))
end
local c = assert(live_open())
local chunks, terr = turn(c, "hi")
assert(terr == nil and table.concat(chunks) == "echo: hi", tostring(terr))
c:close()
rule_is(1, 0, 2)
counters_are({ live_handshake = 3, live_setup = 1, live_turn = 1 }, "handshake 404 x2")

-- the same through gemini.live (a 403 once, diagnosed, then a session)
add{ { match = { kind = "live_handshake" }, fault = { status = 403 } } }
local client = { base_url = base, api_key = "k" }
local s, lerr = live.connect{ model = LIVE_MODEL, client = client, policy = { reconnect = false } }
assert(s == nil and lerr.kind == "ws_handshake" and lerr.status == 403, tostring(lerr))
s = assert(live.connect{ model = LIVE_MODEL, client = client, policy = { reconnect = false } })
assert(s:send_text("again"))
assert(s:receive_turn(10) == "echo: again")
s:close()
counters_are({ live_handshake = 5, live_setup = 2, live_turn = 2 }, "handshake 403 via gemini.live")
-- REST traffic is no Live handshake
ok_reply("gemini-2.5-flash")
counters_are({ rest = 1, live_handshake = 5, live_setup = 2, live_turn = 2 }, "REST after Live")

-- Live setup: close 1008 with the real reason (cut at 123 bytes), then 1011 with ours
reset()
add{ { match = { kind = "live_setup", model = "text-test" }, fault = { close = 1008 } },
     { match = { kind = "live_setup" }, fault = { close = 1011, reason = "scenario says no" } } }
local _, serr = live_open()
assert(serr and serr.kind == "ws_closed" and serr.close_code == 1008, tostring(serr))
assert(serr.reason:find("models/" .. LIVE_MODEL .. " is not found for API version v1beta, or is not supported for bidiGenerateContent", 1, true),
       serr.reason)
assert(#serr.reason == 123, "reason cut at 123 bytes: " .. #serr.reason)
_, serr = live_open()
assert(serr and serr.close_code == 1011 and serr.reason == "scenario says no", tostring(serr))
c = assert(live_open())
c:close()
rule_is(1, 0, 1)
rule_is(2, 0, 1)
counters_are({ live_handshake = 3, live_setup = 3 }, "setup closes")

-- gemini.live sees the setup close, diagnosed as fatal
add{ { match = { kind = "live_setup" }, fault = { close = 1008 } } }
s, lerr = live.connect{ model = LIVE_MODEL, client = client, policy = { reconnect = false } }
assert(s == nil and lerr.kind == "ws_closed" and lerr.close_code == 1008 and lerr.fatal, tostring(lerr))

-- Live turns -----------------------------------------------------------------
-- a 1008 close in the middle of a conversation (the 2nd turn, matched on its text)
reset()
add{ { match = { kind = "live_turn", text = "second" }, fault = { close = 1008 } } }
c = assert(live_open())
chunks, terr = turn(c, "first question")
assert(terr == nil and table.concat(chunks) == "echo: first question")
chunks, terr = turn(c, "second question")
assert(#chunks == 0 and terr and terr.kind == "ws_closed" and terr.close_code == 1008, tostring(terr))
assert(terr.reason:find("is not supported for bidiGenerateContent", 1, true), terr.reason)
c:close()
c = assert(live_open())
chunks, terr = turn(c, "second question")
assert(terr == nil and table.concat(chunks) == "echo: second question", "once only: " .. tostring(terr))
c:close()
counters_are({ live_handshake = 2, live_setup = 2, live_turn = 3 }, "turn 1008")

-- close 1011 after 2 reply chunks, twice; then whole turns
add{ { match = { kind = "live_turn" }, count = 2, fault = { close = 1011, after_chunks = 2 } } }
for _ = 1, 2 do
  c = assert(live_open())
  chunks, terr = turn(c, LONG)
  assert(#chunks == 2 and terr and terr.close_code == 1011 and terr.reason == "Internal error encountered.",
         #chunks .. " chunks, " .. tostring(terr))
  c:close()
end
c = assert(live_open())
chunks, terr = turn(c, LONG)
assert(terr == nil and #chunks == 3 and table.concat(chunks) == "echo: " .. LONG, tostring(terr))

-- a TCP drop without a close frame after 1 chunk, in the same session
add{ { match = { kind = "live_turn", text = "drop me" }, fault = { drop = true, after_chunks = 1 } } }
chunks, terr = turn(c, LONG .. " drop me")
assert(#chunks == 1 and terr and terr.kind == "ws_closed" and terr.close_code == 1006, #chunks .. " " .. tostring(terr))
c:close()

-- goAway after a whole turn, then close 1000 once the time is up
add{ { match = { kind = "live_turn" }, fault = { go_away = "0.5s" } } }
c = assert(live_open())
chunks, terr = turn(c, "hello")
assert(terr == nil and table.concat(chunks) == "echo: hello")
local m = assert(c:recv(5))
local ga = json.decode(m).goAway
assert(ga and ga.timeLeft == "0.5s", m)
t0 = gl.now()
local m2, cerr = c:recv(5)
assert(m2 == nil and cerr.kind == "ws_closed" and cerr.close_code == 1000, tostring(cerr))
assert(gl.now() - t0 >= 0.3, "closed after timeLeft")
c:close()
c = assert(live_open())                      -- used up: no goAway this time
chunks, terr = turn(c, "hello")
assert(terr == nil)
local m3, werr = c:recv(0.7)
assert(m3 == nil and werr.kind == "timeout", "no second goAway: " .. tostring(m3))
c:close()
local st = state()
assert(st.rules[2].hits == 2 and st.rules[3].hits == 1 and st.rules[4].hits == 1)
counters_are({ live_handshake = 7, live_setup = 7, live_turn = 9 }, "turn faults")

-- malformed rules: 400 with a clear message, nothing added ------------------
reset()
local function bad(body, words)
  local res, berr = ctl("POST", body)
  berr = enrich(berr)
  assert(res == nil and berr.status == 400, "expected 400 for " .. body)
  local msg = berr.error and berr.error.message or berr.body
  assert(msg:find(words, 1, true), msg)
end
bad('[{"fault": {"status": 503}}, {"fault": {"status": 503, "colour": "red"}}]', 'rule 1: unknown field "fault.colour"')
bad('[{"match": {"kind": "rest", "modle": "x"}, "fault": {"status": 503}}]', 'unknown field "match.modle"')
bad('[{"match": {"kind": "rest"}, "fault": {"close": 1008}}]', "not to rest")
bad('[{"match": {"kind": "socket"}, "fault": {"status": 503}}]', "match.kind must be one of")
bad('[{"fault": {"status": 503}, "count": 0}]', "count must be")
bad('[{"fault": {"status": 429, "retry_delay": "soon"}}]', "retry_delay")
bad('[{"fault": {"status": 503, "drop": true}}]', "cannot be combined")
bad('[{"fault": {}}]', "fault needs one of")
bad('{"rules": []}', 'unknown field "rules"')
bad('not json', "invalid JSON")
local many = {}
for i = 1, 1001 do many[i] = { fault = { status = 503 } } end
bad(json.encode(many), "too many rules")
assert(#state().rules == 0, "a rejected list adds no rule")
ok_reply("gemini-2.5-flash")
print("glmock_scenarios ok")
