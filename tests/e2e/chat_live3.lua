-- Gemini 3.x Live in a conversation (docs/protocol.md#gemini-3-live-rules):
-- clientContent only seeds the initial history (setup.historyConfig), user
-- text goes as realtimeInput.text, and a conversation that comes back to
-- Live after REST turns opens a new session seeded with the whole history.
-- glmock plays the 3.x rules (a forbidden clientContent closes with 1007)
-- and says how many seeded turns the model saw: "(history: N turns)".
local gemini = require "gemini"
local chatmod = require "gemini.chat"
local live = require "gemini.live"
local models = require "gemini.models"

local scenario = require("glmockctl").scenario
local counters = require("glmockctl").counters

-- 1. The Live session is refused once (a handshake 404), REST answers; the
--    next turn is back on Live, in a new session seeded with the history,
--    and the model's reply proves it saw it
do
  chatmod.reset_circuits()
  scenario{ { match = { kind = "live_handshake" }, count = 1, fault = { status = 404 } } }
  local lines = {}
  local c = gemini.chat{ quiet = true, chain = { live = { "gemini-3-live-text-test" }, rest = { "gemini-2.5-flash" } },
                         policy = { circuit_cooldown = 0 } }
  c:on("fallback", function(e) lines[#lines + 1] = e.line end)
  assert(c:send("q1") == "echo: q1" and c.last_turn.transport == "rest")
  assert(#lines == 1 and lines[1]:find("HTTP 404", 1, true), table.concat(lines, "\n"))
  local a2 = assert(c:send("q2"))
  assert(c.last_turn.transport == "live", "back on Live")
  assert(a2 == "echo: q2 (history: 2 turns)", "the seeded session saw q1 and its answer: " .. a2)
  -- the same session goes on: its own turns count too
  assert(c:send("q3") == "echo: q3 (history: 4 turns)")
  -- a REST turn in between: Live opens a new session seeded with all six
  c.transport = "rest"
  assert(c:send("q4") == "echo: q4" and c.last_turn.transport == "rest")
  c.transport = "auto"
  local h0 = counters().live_handshake
  assert(c:send("q5") == "echo: q5 (history: 8 turns)")
  assert(counters().live_handshake == h0 + 1, "a new session for the return to Live")
  assert(#c.history == 10)
  c:close()
  scenario()
end

-- 2. The wire: the seeded setup carries historyConfig, the history goes as
--    one clientContent with turnComplete true (no model turn), user text as
--    realtimeInput.text; a session with nothing to seed has no historyConfig
do
  local history = { { role = "user", parts = { { text = "my name is Ann" } } },
                    { role = "model", parts = { { text = "hello Ann" } } } }
  -- (glmock closes with 1007 a seed without historyConfig, and holds the
  -- text while a seed has not said turnComplete: the answer proves both)
  local s = assert(live.connect{ model = "gemini-3-live-text-test", history = history })
  assert(s:send_text("what is my name"))
  local text = assert(s:receive_turn(10))
  assert(text == "echo: what is my name (history: 2 turns)", text)
  -- the seed is not answered: the first turn's reply is the one above
  assert(s:stats().turns == 4, "the session's transcript: the seed, the question, the answer")
  -- send_turns after the seed would be a 1007: refused before the wire
  local ok, err = s:send_turns({ { role = "user", parts = { { text = "more" } } } }, true)
  assert(ok == nil and err.kind == "live_rule" and err.rule == "client_content_initial_only", tostring(err))
  assert(s:send_text("again"))
  assert(s:receive_turn(10) == "echo: again (history: 4 turns)")
  -- send_text{turn_complete = false} cannot be said as realtime text: misuse
  assert(not pcall(s.send_text, s, "x", { turn_complete = false }))
  s:close()
  local fresh = assert(live.connect{ model = "gemini-3-live-text-test" })
  assert(fresh:send_text("plain"))
  assert(fresh:receive_turn(10) == "echo: plain", "no seed, no history")
  fresh:close()
end

-- 3. A clientContent outside the initial history (a raw send): glmock closes
--    with 1007; the diagnosis names the model's rule, not the API key
do
  local s = assert(live.connect{ model = "gemini-3-live-text-test" })
  assert(s:send{ clientContent = { turns = { { role = "user", parts = { { text = "x" } } } }, turnComplete = true } })
  local t, err = s:receive_turn(10)
  assert(t == nil and err.close_code == 1007, tostring(err))
  assert(err.diagnosis == "live_rule" and err.rule == "client_content_initial_only", tostring(err.diagnosis))
  assert(err.message:find("only to seed the initial history", 1, true), err.message)
  assert(err.message:find("not the API key", 1, true), err.message)
  assert(not err.message:lower():find("key is unknown", 1, true))
  local d = require("gemini.policy").classify(err, { transport = "live", model = "gemini-3-live-text-test" })
  assert(d.action == "fallback" and not d.circuit, "a new seeded session works: fall back, no circuit")
  s:close()
end

-- 4. 1008 "Operation is not implemented, or supported, or enabled": a
--    feature the model does not offer (asynchronous functions), not a
--    model that does not exist
do
  local s, err = live.connect{ model = "gemini-3-live-text-test",
    tools = { { functionDeclarations = { { name = "lookup", behavior = "NON_BLOCKING" } } } } }
  assert(s == nil and err.close_code == 1008, tostring(err))
  assert(err.diagnosis == "feature_unsupported", tostring(err.diagnosis))
  assert(err.message:find("NON_BLOCKING", 1, true) and err.message:find("the model itself exists", 1, true), err.message)
  assert(not err.message:find("unknown, retired", 1, true))
  local d = require("gemini.policy").classify(err, { transport = "live", model = "gemini-3-live-text-test" })
  assert(d.action == "fallback" and not d.reason:find("retired", 1, true), d.reason)
  -- the chat falls back without replacing the model (it is not gone)
  chatmod.reset_circuits()
  local c = gemini.chat{ quiet = true, chain = { live = { "gemini-3-live-text-test" }, rest = { "gemini-2.5-flash" } },
    tools = { { functionDeclarations = { { name = "lookup", behavior = "NON_BLOCKING" } } } } }
  local lines = {}
  c:on("fallback", function(e) lines[#lines + 1] = e.line end)
  assert(c:send("hello") == "echo: hello" and c.last_turn.transport == "rest")
  assert(c.chain.live[1] == "gemini-3-live-text-test")
  assert(lines[1]:find("not this combination of features", 1, true), lines[1])
  c:close()
end

-- 5. The leading usage-only message of a 3.x connection is no text and no
--    turn end; several parts in one message all arrive
do
  local s = assert(live.connect{ model = "gemini-3-live-text-test" })
  assert(s:send_text("one two three four five six seven eight"))
  local types, texts = {}, {}
  for ev in s:events{ timeout = 10 } do
    types[#types + 1] = ev.type
    if ev.type == "text" then texts[#texts + 1] = ev.text end
  end
  assert(types[1] == "usage", "the usage-only message first: " .. table.concat(types, ","))
  assert(table.concat(texts) == "echo: one two three four five six seven eight")
  assert(types[#types] == "turn_complete")
  s:close()
end

-- 6. A drop mid-answer on a seeded 3.x session: the session resumes with its
--    handle (no clientContent on the resumed connection) and the answer
--    restarts once; without a handle a fresh connection is seeded again
do
  chatmod.reset_circuits()
  scenario{ { match = { kind = "live_turn", text = "second" }, count = 1, fault = { drop = true, after_chunks = 1 } } }
  local c = gemini.chat{ quiet = true, chain = { live = { "gemini-3-live-text-test" }, rest = {} }, transport = "live",
                         history = { { role = "user", parts = { { text = "first" } } },
                                     { role = "model", parts = { { text = "echo: first" } } } } }
  local out = {}
  for piece, kind in assert(c:stream("second question here")) do
    if kind == "break" then out = {} else out[#out + 1] = piece end
  end
  assert(table.concat(out) == "echo: second question here (history: 2 turns)", table.concat(out))
  assert(c:send("third") == "echo: third (history: 4 turns)")
  c:close()
  scenario()
end

-- 7. The capabilities that drive all this
do
  local caps = models.live_caps("gemini-3.8-live")
  assert(caps.text_input == "realtime_input" and caps.client_content == "initial_only" and caps.history_seed)
  local old = models.live_caps("gemini-2.5-flash-native-audio-latest")
  assert(old.text_input == "client_content" and old.client_content == "any")
end

print("chat live3 ok")
