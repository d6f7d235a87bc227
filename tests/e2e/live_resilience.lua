-- Session resilience: goAway rotation with the resumption handle, a drop
-- mid-turn, a refused handle (fresh session re-seeded from the transcript),
-- 1008 never retried, bounded failures.
local live = require "gemini.live"

local function collect(s)
  local text, types = {}, {}
  for ev in s:events{ timeout = 15 } do
    types[#types + 1] = ev.type
    if ev.text then text[#text + 1] = ev.text end
  end
  return table.concat(text), table.concat(types, ",")
end

-- 1. goAway: the session moves to a new connection at the turn boundary
local s = assert(live.connect{ model = "gemini-live-text-test" })
assert(s:send_text("first turn goaway"))
local text = collect(s)
assert(text == "echo: first turn goaway", text)
local ev = assert(s:recv(5))
assert(ev.type == "resumption" or ev.type == "go_away", ev.type)
while ev.type ~= "go_away" do ev = assert(s:recv(5)) end
assert(ev.time_left == 2, tostring(ev.time_left))
assert(s:send_text("second turn"))           -- rotates before sending
local types
text, types = collect(s)
assert(text == "echo: second turn", text)
assert(types:find("reconnecting", 1, true) and types:find("resumed", 1, true), types)
assert(s.connects == 2, "connections: " .. s.connects)
-- the conversation went on: glmock counts the earlier turns in the prompt
gl.sleep(2.2)                                 -- the old connection's deadline passes harmlessly
assert(s:send_text("third"))
text = collect(s)
assert(text == "echo: third" and s.connects == 2, text)
s:close()

-- 2. a drop mid-turn: the partial turn is interrupted, the session
-- reconnects with the handle and replays the turn; glmock drops again on
-- the replayed "drop" text, so this also shows the failures are bounded
s = assert(live.connect{ model = "gemini-live-text-test", policy = { max_failures = 2, backoff = 0.05 } })
assert(s:send_text("warm up"))
collect(s)
while s.handle == nil do assert(s:recv(5)) end
assert(s:send_text("please drop now"))
local seen = {}
local ok, err = pcall(function()
  for e in s:events{ timeout = 15 } do seen[#seen + 1] = e.type end
end)
types = table.concat(seen, ",")
assert(not ok and type(err) == "table" and err.kind == "ws_closed" and err.close_code == 1006, tostring(err))
assert(types:find("interrupted", 1, true) and types:find("reconnecting", 1, true) and types:find("resumed", 1, true), types)
assert(s.connects == 3, "1 + 2 bounded attempts, got " .. s.connects)
s:close()

-- without resumption the dropped turn is not replayed: it just ends
s = assert(live.connect{ model = "gemini-live-text-test", policy = { resume = false } })
assert(s:send_text("drop it"))
text, types = collect(s)
assert(types:find("interrupted,reconnecting,resumed,turn_complete", 1, true), types)
assert(s:send_text("after the fault"))
text = collect(s)
assert(text == "echo: after the fault", text)
s:close()

-- 3. a refused handle at the goAway rotation: a fresh session, re-seeded
-- from the session's own transcript
s = assert(live.connect{ model = "gemini-live-text-test" })
assert(s:send_text("remember the word apple goaway"))
collect(s)
repeat ev = assert(s:recv(5)) until ev.type == "go_away"
s.handle = "h-999999"                          -- pretend it expired
assert(s:send_text("what was the word"))
text, types = collect(s)
assert(text == "echo: what was the word", text)
assert(types:find("resumed", 1, true), types)
s:close()

-- a handle given to connect that the server refuses: fresh session
s = assert(live.connect{ model = "gemini-live-text-test", handle = "h-424242" })
local first = assert(s:recv(5))
assert(first.type == "resumed" and first.resumed == false, first.type)
s:close()

-- 4. 1008 is a configuration error: never retried
local t0 = gl.now()
local x, e = live.connect{ model = "gemini-2.0-flash-live-001" }
assert(x == nil and e.close_code == 1008 and e.fatal)
assert(gl.now() - t0 < 5)
print("live_resilience ok")
