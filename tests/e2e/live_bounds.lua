-- A Live session's memory is bounded: the model's text of one turn stops
-- at policy.max_turn_bytes (the turn fails with kind "too_large", the
-- partial answer kept in err.partial), and the session's transcript is a
-- window of the latest policy.history_turns contents / history_bytes.
-- (tests/e2e/hostile_live_flood.sh sends a turn that never ends.)
local live = require "gemini.live"

assert(live.policy.max_turn_bytes and live.policy.max_turn_bytes <= 64 * 1024 * 1024, "a default turn cap")
assert(live.policy.history_turns and live.policy.history_bytes, "a default history window")

-- 1. the history window: 10 exchanges, 6 contents kept, starting with a user turn
local s = assert(live.connect{ model = "gemini-live-text-test", policy = { history_turns = 6 } })
for i = 1, 10 do
  assert(s:send_text("turn " .. i))
  local text = assert(s:receive_turn(10))
  assert(text == "echo: turn " .. i, text)
end
assert(#s.history == 6, "window of 6 contents, got " .. #s.history)
assert(s.history[1].role == "user" and s.history[1].parts[1].text == "turn 8", s.history[1].parts[1].text)
assert(s.history[6].role == "model" and s.history[6].parts[1].text == "echo: turn 10", s.history[6].parts[1].text)
assert(s.history_dropped == 14, "dropped " .. tostring(s.history_dropped))
assert(s.hist_at_handle <= #s.history, "the resumption mark stays inside the window")
s:close()

-- the byte bound: long answers, a window of about 100 bytes
s = assert(live.connect{ model = "gemini-live-text-test", policy = { history_bytes = 100 } })
for i = 1, 5 do
  assert(s:send_text(("x"):rep(40) .. i))
  assert(s:receive_turn(10))
end
local bytes = 0
for _, c in ipairs(s.history) do bytes = bytes + #c.parts[1].text end
assert(bytes <= 100 and #s.history >= 1 and #s.history < 10, ("%d contents, %d bytes"):format(#s.history, bytes))
assert(s.history[#s.history].parts[1].text == "echo: " .. ("x"):rep(40) .. "5")
s:close()

-- 2. the turn cap: an answer longer than max_turn_bytes fails the turn
s = assert(live.connect{ model = "gemini-live-text-test", policy = { max_turn_bytes = 12 } })
assert(s:send_text("a rather long question, longer than twelve bytes"))
local text, err = s:receive_turn(10)
assert(text == nil and err and err.kind == "too_large", "too_large expected: " .. tostring(err))
assert(err.message:find("max_turn_bytes", 1, true) and err.message:find("gemini-live-text-test", 1, true), err.message)
assert(type(err.partial) == "string" and #err.partial <= 12 and ("echo: a rather"):sub(1, #err.partial) == err.partial,
       "the partial answer is kept: " .. tostring(err.partial))
assert(#s.model_text == 0, "the session no longer holds the turn")
-- the session says so on every later call
local again, err2 = s:recv(1)
assert(again == nil and err2.kind == "too_large")
local ok, serr = s:send_text("more")
assert(ok == nil and serr.kind == "too_large")
s:close()

-- events() raises it (a for loop cannot carry it)
s = assert(live.connect{ model = "gemini-live-text-test", policy = { max_turn_bytes = 12 } })
assert(s:send_text("another long question for the cap"))
local pok, perr = pcall(function() for _ in s:events{ timeout = 10 } do end end)
assert(not pok and type(perr) == "table" and perr.kind == "too_large", "events() raised " .. tostring(perr))
s:close()

-- a chat over Live fails the turn with the same clear reason
local saved_cap = live.policy.max_turn_bytes
live.policy.max_turn_bytes = 12
local chat = gemini.chat{ transport = "live", quiet = true, ratelimit = false }
local ctext, cerr = chat:send("a question long enough to pass twelve bytes")
live.policy.max_turn_bytes = saved_cap
assert(ctext == nil and cerr.kind == "too_large" and cerr.message:find("max_turn_bytes", 1, true),
       "chat: " .. tostring(cerr))
assert(#chat.history == 0, "the failed turn is not in the chat's history")
chat:close()
print("live bounds ok")
