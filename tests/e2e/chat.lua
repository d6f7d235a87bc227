-- gemini.chat against glmock: one conversation over Live and REST with
-- the default policy — fallbacks, history continuity across them, the
-- circuit breaker, retries without duplicated text, 429 handling, the
-- per-turn deadline, policy overrides from the script.
local gemini = require "gemini"
local chatmod = require "gemini.chat"
local live = require "gemini.live"
local base = assert(gl.options.mock_url)

-- a fake clock: sleeps advance it instantly
local function fake_clock()
  local t = 1000
  return function() return t end, function(s) t = t + s end, function(s) t = t + s end
end

local function collect(chat, text)
  local out, breaks = {}, 0
  for piece, kind in assert(chat:stream(text)) do
    if kind == "break" then breaks = breaks + 1; out = {} else out[#out + 1] = piece end
  end
  return table.concat(out), breaks
end

local function events(chat)
  local evs = {}
  for _, name in ipairs{ "fallback", "retry", "reconnect", "restart", "circuit", "turn", "fail" } do
    chat:on(name, function(e) evs[#evs + 1] = e end)
  end
  return evs
end

local function count(evs, name)
  local n = 0
  for _, e in ipairs(evs) do if e.event == name then n = n + 1 end end
  return n
end

-- watch what Live sessions are sent
local sent = {}
local orig_connect = live.connect
live.connect = function(o)
  local s, e = orig_connect(o)
  if s then
    local st = s.send_turns
    s.send_turns = function(self, turns, complete)
      sent[#sent + 1] = { n = #turns, complete = complete, first = turns[1].parts[1].text }
      return st(self, turns, complete)
    end
  end
  return s, e
end

------------------------------------------------------------------------
-- 1. history continuity across two fallbacks (Live -> REST -> Live)
------------------------------------------------------------------------
do
  chatmod.reset_circuits()
  local chat = gemini.chat{ quiet = true, chain = { live = { "gemini-live-text-test" }, rest = { "gemini-2.5-flash" } },
                            policy = { backoff_base = 0.01, max_retries_per_model = 1 } }
  local evs = events(chat)
  local r1 = collect(chat, "first question")
  assert(r1 == "echo: first question", r1)
  assert(chat.last_turn.transport == "live", "turn 1 over Live")
  -- "internal" makes glmock close the Live session with 1011
  assert(collect(chat, "internal please") == "echo: internal please")
  assert(chat.last_turn.transport == "rest", "turn 2 fell back to REST")
  assert(count(evs, "reconnect") == 1 and count(evs, "fallback") == 1, "one reconnect, then the fallback")
  sent = {}
  assert(collect(chat, "third") == "echo: third")
  assert(chat.last_turn.transport == "live", "turn 3 back on Live")
  -- the new Live session was given the whole conversation first
  assert(sent[1].n == 4 and sent[1].complete == false and sent[1].first == "first question",
         "history re-seeded on the new Live session")
  assert(sent[2].n == 1 and sent[2].complete == true and sent[2].first == "third")
  assert(#chat.history == 6)
  local want = { "first question", "echo: first question", "internal please", "echo: internal please",
                 "third", "echo: third" }
  for i, h in ipairs(chat.history) do
    assert(h.role == (i % 2 == 1 and "user" or "model"), "roles alternate")
    assert(h.parts[1].text == want[i], ("history[%d] = %s"):format(i, h.parts[1].text))
  end
  chat:close()
end

------------------------------------------------------------------------
-- 2. the circuit breaker: a Live 404 opens it; later turns skip Live
--    (no handshake paid again); after the cool-down Live is probed again
------------------------------------------------------------------------
do
  chatmod.reset_circuits()
  local now, sleep, advance = fake_clock()
  local chat = gemini.chat{ quiet = true, clock = now, sleep = sleep, client = { base_url = base .. "/proxy" },
                            policy = { circuit_cooldown = 60 } }
  local evs = events(chat)
  assert(collect(chat, "one") == "echo: one")
  assert(chat.last_turn.transport == "rest" and count(evs, "fallback") == 1)
  local fb
  for _, e in ipairs(evs) do if e.event == "fallback" then fb = e end end
  assert(fb.reason:find("404") and fb.reason:find("proxy") and fb.to.transport == "rest", fb.reason)
  local circuit_open = false
  for _, e in ipairs(evs) do if e.event == "circuit" and e.state == "open" then circuit_open = true end end
  assert(circuit_open, "the circuit opened")
  local before = #evs
  assert(collect(chat, "two") == "echo: two")
  assert(chat.last_turn.attempts == 1 and count(evs, "fallback") == 1, "turn 2 went straight to REST")
  advance(61)
  assert(collect(chat, "three") == "echo: three")
  assert(count(evs, "fallback") == 2, "after the cool-down Live was probed (and failed) again")
  assert(#chat.history == 6)
  chat:close()
end

------------------------------------------------------------------------
-- 3. a stream cut after text was shown: the answer restarts, visibly;
--    no text is duplicated and the history holds the completed answer only
------------------------------------------------------------------------
do
  local now, sleep = fake_clock()
  local chat = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep,
                            chain = { rest = { "gemini-cutstream", "gemini-2.5-flash" } } }
  local evs = events(chat)
  local text, breaks = collect(chat, "one two three four five six")
  assert(text == "echo: one two three four five six", "the text after the last break is the whole answer: " .. text)
  assert(breaks >= 1 and count(evs, "restart") == breaks, "each restart was marked")
  assert(chat.last_turn.model == "gemini-2.5-flash")
  assert(#chat.history == 2 and chat.history[2].parts[1].text == "echo: one two three four five six")
  assert(#chat.history[2].parts == 1)
end

------------------------------------------------------------------------
-- 4. 429 per minute waits for RetryInfo; per day falls back at once
------------------------------------------------------------------------
do
  local now, sleep = fake_clock()
  local chat = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep,
                            chain = { rest = { "gemini-ratelimited", "gemini-2.5-flash" } } }
  local evs = events(chat)
  assert(collect(chat, "hi") == "echo: hi")
  local retries = 0
  for _, e in ipairs(evs) do
    if e.event == "retry" then retries = retries + 1; assert(e.delay == 1.5, "waited RetryInfo's 1.5 s: " .. e.delay) end
  end
  assert(retries == 3 and count(evs, "fallback") == 1, "retried 3 times, then fell back")

  local chat2 = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep,
                             chain = { rest = { "gemini-perday", "gemini-2.5-flash" } } }
  local evs2 = events(chat2)
  assert(collect(chat2, "hi") == "echo: hi")
  assert(count(evs2, "retry") == 0 and count(evs2, "fallback") == 1, "a per-day quota is not retried")
  local fb2
  for _, e in ipairs(evs2) do if e.event == "fallback" then fb2 = e end end
  assert(fb2.reason:find("per%-day"), fb2.reason)
end

------------------------------------------------------------------------
-- 5. failures that must not be retried, and nothing left: a clear error
------------------------------------------------------------------------
do
  local chat = gemini.chat{ quiet = true, transport = "rest", client = { api_key = "bad", base_url = base } }
  local ok, err = pcall(collect, chat, "hi")
  assert(not ok and err.status == 400 and err.message:find("API key not valid"), tostring(err))
  assert(#chat.history == 0, "a failed turn leaves no history")
  local text, err2 = chat:send("hi")
  assert(text == nil and err2.status == 400, "send returns nil, err")

  local now, sleep = fake_clock()
  local chat2 = gemini.chat{ quiet = true, transport = "rest", clock = now, sleep = sleep,
                             chain = { rest = { "gemini-nonexistent-1", "gemini-nonexistent-2" } } }
  local ok2, e2 = pcall(collect, chat2, "hi")
  assert(not ok2 and e2.message:find("no transport or model left") and #e2.attempts == 2, tostring(e2))
end

------------------------------------------------------------------------
-- 6. the per-turn deadline bounds retries (no stacking of timeouts)
------------------------------------------------------------------------
do
  local chat = gemini.chat{ quiet = true, transport = "rest", chain = { rest = { "gemini-hang" } },
                            policy = { turn_deadline = 1.5 } }
  local t0 = gl.now()
  local ok, err = pcall(collect, chat, "hi")
  assert(not ok and err.kind == "timeout", tostring(err))
  assert(gl.now() - t0 < 4, "the deadline held: " .. (gl.now() - t0))
end

------------------------------------------------------------------------
-- 7. the policy changed from the script, without a rebuild
------------------------------------------------------------------------
do
  local chat = gemini.chat{ quiet = true, transport = "rest", chain = { rest = { "gemini-overloaded", "gemini-2.5-flash" } },
    policy = { classify = function(err, at) return { action = "fail", reason = "custom policy: never retry " .. at.model } end } }
  local ok, err = pcall(collect, chat, "hi")
  assert(not ok and err.message:find("custom policy: never retry gemini%-overloaded"), tostring(err))
  local c2, e2 = gemini.chat{ policy = { choose = 42 } }
  assert(c2 == nil and e2.kind == "config" and e2.message:find("no function 'choose'"), tostring(e2))
end
print("chat ok")
