-- The WebSocket transport against glmock's Live endpoint (the wire of
-- docs/protocol.md#live): handshake 404, binary frames of pretty JSON, fragmented
-- and ~8 MiB server messages, close codes with reasons, drops, a timeout
-- that does not poison, backpressure, many sessions at once.
local ws = require "glrun.ws"
local json = require "glrun.json"

local base = assert(gl.options.mock_url, "run with glrun --mock"):gsub("^http", "ws"):gsub("/+$", "")
local LIVE = base .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

local function expect_err(kind, ok, err)
  assert(ok == nil, "expected " .. kind .. ", got " .. tostring(ok))
  assert(type(err) == "table" and err.kind == kind, "expected " .. kind .. ", got " .. tostring(err))
  return err
end

local function session(model, extra)
  local c = assert(ws.connect{ url = LIVE, headers = { ["x-goog-api-key"] = "test-key" }, queue = extra and extra.queue })
  local setup = { model = "models/" .. model, generationConfig = { responseModalities = { "TEXT" } } }
  assert(c:send(json.encode{ setup = setup }))
  local m, kind = c:recv(10)
  assert(m, "setupComplete: " .. tostring(kind))
  assert(kind == "binary", "server messages come in binary frames, got " .. kind)
  assert(m:find('"setupComplete"', 1, true), m)
  assert(m:find("\n  ", 1, true), "pretty-printed JSON")
  return c
end

local function turn(c, text)
  assert(c:send(json.encode{ clientContent = { turns = { { role = "user", parts = { { text = text } } } }, turnComplete = true } }))
end

local function read_turn(c, timeout)
  local texts, n = {}, 0
  while true do
    local m, kind = c:recv(timeout or 10)
    if not m then return nil, kind end
    n = n + 1
    local msg = assert(json.decode(m))
    local sc = msg.serverContent
    if sc and sc.modelTurn then
      for _, p in ipairs(sc.modelTurn.parts) do texts[#texts + 1] = p.text or "" end
    end
    if sc and sc.turnComplete then return table.concat(texts), n end
  end
end

-- 1. the slash form (and any other path) is a plain HTTP 404; the key stays secret
local c, err = ws.connect{ url = base .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent?key=SECRET-K-1" }
err = expect_err("ws_handshake", c, err)
assert(err.status == 404, tostring(err.status))
assert(err.path:find("?key=***", 1, true), err.path)
assert(not tostring(err):find("SECRET%-K%-1"), tostring(err))

-- the doubled slash the official SDKs send is accepted
c = assert(ws.connect{ url = base .. "//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=k" })
c:close()

-- 2. a text turn; a timeout before it does not poison the connection
c = session("gemini-live-text-test")
expect_err("timeout", c:recv(0.2))
turn(c, "hello over the wire")
local text = assert(read_turn(c))
assert(text == "echo: hello over the wire", text)

-- 3. fragmented server messages are reassembled
turn(c, "please fragment this reply")
text = assert(read_turn(c))
assert(text == "echo: please fragment this reply", text)

-- 4. one ~8 MiB server message; and a 5 MiB client message (realtime audio)
turn(c, "bigframe")
local m = assert(c:recv(20))
assert(#m > 8 * 1000 * 1000, "bigframe is " .. #m .. " bytes")
assert(json.decode(m).serverContent)
assert(read_turn(c))
local pcm = ("\1\0"):rep(5 * 1024 * 1024 // 2)
assert(c:send(json.encode{ realtimeInput = { audio = { data = require("glrun.core").b64encode(pcm), mimeType = "audio/pcm;rate=16000" } } }))
assert(c:send(json.encode{ realtimeInput = { audioStreamEnd = true } }))
text = assert(read_turn(c, 20))
assert(text:find("audio", 1, true), text)
c:close()

-- 5. close codes with the server's reasons, sticky afterwards
local function closed_with(model, code, reason_part, key)
  local k = assert(ws.connect{ url = LIVE, headers = { ["x-goog-api-key"] = key or "test-key" } })
  assert(k:send(json.encode{ setup = { model = "models/" .. model } }))
  local e = expect_err("ws_closed", k:recv(10))
  assert(e.close_code == code, model .. ": close " .. tostring(e.close_code))
  assert(e.reason:find(reason_part, 1, true), e.reason)
  assert(#e.reason <= 123, "reason cut at 123 bytes")
  local e2 = expect_err("ws_closed", k:recv(1))
  assert(e2.close_code == code and e2.reason == e.reason)
  expect_err("ws_closed", k:send("{}"))
  k:close()
end
closed_with("gemini-2.5-flash-live", 1008, "is not found for API version v1beta")
closed_with("gemini-live-text-test-internal", 1011, "Internal error encountered.")
closed_with("gemini-live-text-test", 1007, "API key not valid", "bad")
-- ("expired" is the key here: the reason enters glrun redacted)
closed_with("gemini-live-text-test", 1007, "API key ***. Please renew", "expired")

-- 6. a drop mid-turn is 1006
c = session("gemini-live-text-test")
turn(c, "drop now")
local e
repeat m, e = c:recv(10) until not m
assert(e.kind == "ws_closed" and e.close_code == 1006, tostring(e))
c:close()

-- 7. backpressure: many replies, nobody reading, the C queue stays bounded:
-- reading pauses once 8 are queued (what one 64 KiB read brought still
-- joins the queue: at most 1024 more) and nothing is read while paused
local BOUND = 8 + 1024
c = session("gemini-live-text-test", { queue = 8 })
for i = 1, 150 do turn(c, ("turn %d with a few more words to chunk"):format(i)) end
gl.sleep(0.5)
local st = c:stats()
assert(st.paused, "reading should be paused")
assert(st.in_messages >= 8 and st.in_messages <= BOUND, "queued " .. st.in_messages)
assert(st.in_bytes <= st.queue_bytes + 64 * 1024)
gl.sleep(0.2)
assert(c:stats().received == st.received, "read while paused")
local got = 0
for _ = 1, 150 do
  assert(read_turn(c))
  got = got + 1
  assert(c:stats().in_messages <= BOUND)
end
assert(got == 150)
c:close()

-- 8. many sessions at once, one task each
local tasks = {}
for i = 1, 40 do
  tasks[i] = gl.spawn(function()
    local s = session("gemini-live-text-test")
    turn(s, "session " .. i)
    local t = assert(read_turn(s))
    assert(t == "echo: session " .. i, t)
    s:close()
    return true
  end)
end
for i = 1, 40 do assert(tasks[i]:join() == true) end
print("ws_live_wire ok")
