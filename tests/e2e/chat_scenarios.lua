-- The fallback policy against glmock scenarios (stateful faults): the
-- circuit breaker closing again when Live recovers, a 1008 close in the
-- middle of a conversation, 429 bursts, 503 on the first REST model only,
-- a stream cut mid-answer — with the history intact throughout.
local gemini = require "gemini"
local chatmod = require "gemini.chat"

local scenario = require("glmockctl").scenario
local counters = require("glmockctl").counters
local function fake_clock()
  local t = 5000
  return function() return t end, function(s) t = t + s end, function(s) t = t + s end
end
local function events(chat)
  local evs = {}
  for _, n in ipairs{ "fallback", "retry", "reconnect", "restart", "circuit", "turn" } do
    chat:on(n, function(e) evs[#evs + 1] = e end)
  end
  return evs
end
local function count(evs, name, field, value)
  local n = 0
  for _, e in ipairs(evs) do if e.event == name and (not field or e[field] == value) then n = n + 1 end end
  return n
end
local function say(chat, text)
  local out = {}
  for piece, kind in assert(chat:stream(text)) do if kind == "break" then out = {} else out[#out + 1] = piece end end
  return table.concat(out)
end

-- 1. Live 404 for the next 2 handshakes, then it recovers: the circuit
--    opens, REST answers, no handshake is paid while it is open, and after
--    the cool-down the probe fails once, then Live is back and the circuit closes
do
  chatmod.reset_circuits()
  scenario{ { match = { kind = "live_handshake" }, count = 2, fault = { status = 404 } } }
  local now, sleep, advance = fake_clock()
  local chat = gemini.chat{ quiet = true, clock = now, sleep = sleep,
                            chain = { live = { "gemini-live-text-test" }, rest = { "gemini-2.5-flash" } },
                            policy = { circuit_cooldown = 30 } }
  local evs = events(chat)
  assert(say(chat, "turn one") == "echo: turn one" and chat.last_turn.transport == "rest")
  assert(count(evs, "circuit", "state", "open") == 1)
  local h0 = counters().live_handshake
  assert(say(chat, "turn two") == "echo: turn two" and chat.last_turn.transport == "rest")
  assert(counters().live_handshake == h0, "no Live handshake while the circuit is open")
  advance(31)
  assert(say(chat, "turn three") == "echo: turn three" and chat.last_turn.transport == "rest",
         "the half-open probe met the second 404")
  assert(counters().live_handshake == h0 + 1, "exactly one probe")
  advance(31)
  assert(say(chat, "turn four") == "echo: turn four")
  assert(chat.last_turn.transport == "live", "Live recovered: back on Live")
  assert(count(evs, "circuit", "state", "closed") == 1, "the circuit closed")
  assert(say(chat, "turn five") == "echo: turn five" and chat.last_turn.transport == "live")
  assert(#chat.history == 10, "no turn lost: " .. #chat.history)
  chat:close()
end

-- 2. a 1008 close in the middle of a conversation: the rest of it goes on
--    over REST with the whole history
do
  chatmod.reset_circuits()
  scenario{ { match = { kind = "live_turn", text = "second" }, count = 1, fault = { close = 1008 } } }
  local chat = gemini.chat{ quiet = true, chain = { live = { "gemini-live-text-test" }, rest = { "gemini-2.5-flash" } } }
  local evs = events(chat)
  assert(say(chat, "first") == "echo: first" and chat.last_turn.transport == "live")
  assert(say(chat, "second") == "echo: second" and chat.last_turn.transport == "rest")
  assert(count(evs, "fallback") == 1 and count(evs, "retry") == 0, "1008 is never retried")
  assert(say(chat, "third") == "echo: third" and chat.last_turn.transport == "rest", "the circuit keeps it on REST")
  local texts = {}
  for i, h in ipairs(chat.history) do texts[i] = h.parts[1].text end
  assert(table.concat(texts, "|") == "first|echo: first|second|echo: second|third|echo: third", table.concat(texts, "|"))
  chat:close()
end

-- 3. a burst of two 429s with RetryInfo, then success: two waits of the
--    server's delay, then the answer on the same model
do
  local now, sleep = fake_clock()
  local t0 = now()
  -- (made before the faults: its default chain asks the model catalog, a REST request)
  local chat = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep }
  scenario{ { match = { kind = "rest" }, count = 2, fault = { status = 429, retry_delay = "2.5s" } } }
  local evs = events(chat)
  assert(say(chat, "burst") == "echo: burst")
  assert(count(evs, "retry") == 2 and count(evs, "fallback") == 0)
  assert(chat.last_turn.model == "gemini-3.8-flash", chat.last_turn.model) -- the default chain's first REST model
  assert(now() - t0 == 5, "waited 2 x 2.5 s: " .. (now() - t0))
end

-- 4. 503 on the first REST model only: retried, then the next model
do
  scenario{ { match = { kind = "rest", path = "gemini-2.5-flash:" }, count = -1, fault = { status = 503 } } }
  local now, sleep = fake_clock()
  local chat = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep,
                            chain = { rest = { "gemini-2.5-flash", "gemini-2.5-flash-lite" } } }
  local evs = events(chat)
  assert(say(chat, "which model") == "echo: which model")
  assert(chat.last_turn.model == "gemini-2.5-flash-lite", chat.last_turn.model)
  assert(count(evs, "fallback") == 1 and count(evs, "retry") >= 1)
end

-- 5. a stream cut mid-answer once: restarted visibly, no duplicated text
do
  scenario{ { match = { kind = "rest" }, count = 1, fault = { cut_after = 1 } } }
  local chat = gemini.chat{ quiet = true, transport = "rest", policy = { backoff_base = 0.01 } }
  local evs = events(chat)
  local breaks, out = 0, {}
  for piece, kind in assert(chat:stream("one two three four five six")) do
    if kind == "break" then breaks = breaks + 1; out = {} else out[#out + 1] = piece end
  end
  assert(breaks == 1 and count(evs, "restart") == 1)
  assert(table.concat(out) == "echo: one two three four five six")
  assert(#chat.history == 2 and chat.history[2].parts[1].text == "echo: one two three four five six")
end
scenario(nil)
print("chat scenarios ok")
