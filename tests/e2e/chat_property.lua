-- A conversation's history is never corrupted (issue: "chat:stream returns
-- no closing value, and the Live session keeps the open turn"). Random,
-- bounded sequences of what a user does to a chat — a complete turn, a
-- `break` after k pieces, Ctrl-C, an error raised in the loop body,
-- transport faults from glmock scenarios, switches of transport and model
-- — with fixed seeds. After every step the history equals the completed
-- turns, in order, and every answer answers its own question (glmock
-- echoes it; a Gemini 3.x Live session seeded with the history also says
-- how many turns it saw, which must be the history's length).
local gemini = require "gemini"
local chatmod = require "gemini.chat"
local json = require "glrun.json"
local core = require "glrun.core"

local SEEDS, STEPS = 20, 15

local scenario = require("glmockctl").scenario

local function text_of(content)
  local out = {}
  for _, p in ipairs(content.parts or {}) do if type(p.text) == "string" then out[#out + 1] = p.text end end
  return table.concat(out)
end

-- history == expected: the same roles and texts, in order
local function check_history(c, expected, where)
  assert(#c.history == #expected, ("%s: the history has %d entries, %d turns were completed"):format(
    where, #c.history, #expected))
  for i, e in ipairs(expected) do
    local h = c.history[i]
    assert(h.role == e.role and text_of(h) == e.text, ("%s: history[%d] is %s %q, expected %s %q"):format(
      where, i, tostring(h.role), text_of(h), e.role, e.text))
  end
end

-- the answer to q: "echo: q", or on a seeded 3.x Live session
-- "echo: q (history: N turns)" with N the turns completed before it
local function check_answer(answer, q, n_before, where)
  if answer == "echo: " .. q then return end
  local seen = answer:match("^echo: " .. q:gsub("%p", "%%%0") .. " %(history: (%d+) turns%)$")
  assert(seen, ("%s: the answer to %q is %q"):format(where, q, answer))
  assert(tonumber(seen) == n_before, ("%s: the Live session saw %s turns, the history holds %d"):format(
    where, seen, n_before))
end

local LIVE = { "gemini-live-text-test", "gemini-3-live-text-test" }
local REST = { "gemini-2.5-flash", "gemini-3.8-flash", "gemini-2.5-flash-longdecode" }
local TRANSPORTS = { "auto", "live", "rest" }

-- A fault the next turn meets (scenario rules), fitting the transport.
local function fault_rules(transport, pick)
  local live_ok = transport ~= "rest"
  local opts = {}
  if transport ~= "live" then
    opts[#opts + 1] = { { match = { kind = "rest" }, count = 1, fault = { cut_after = 1 } } }
    opts[#opts + 1] = { { match = { kind = "rest" }, count = 1, fault = { status = 503 } } }
    opts[#opts + 1] = { { match = { kind = "rest" }, count = 1, fault = { midstream_error = 503, after_events = 1 } } }
  end
  if live_ok then
    opts[#opts + 1] = { { match = { kind = "live_turn" }, count = 1, fault = { drop = true, after_chunks = 1 } } }
    opts[#opts + 1] = { { match = { kind = "live_turn" }, count = 1, fault = { close = 1011, after_chunks = 1 } } }
  end
  if transport == "auto" then
    opts[#opts + 1] = { { match = { kind = "live_handshake" }, count = 1, fault = { status = 404 } } }
    opts[#opts + 1] = { { match = { kind = "live_setup" }, count = 1, fault = { close = 1008 } } }
  end
  return opts[pick(#opts)]
end

local totals = { complete = 0, ["break"] = 0, ctrlc = 0, raise = 0, fault = 0, transport = 0, model = 0 }

for seed = 1, SEEDS do
  math.randomseed(seed)
  local function pick(n) return math.random(1, n) end
  chatmod.reset_circuits()
  scenario()
  local c = gemini.chat{ quiet = true, transport = TRANSPORTS[pick(3)],
    chain = { live = { LIVE[pick(#LIVE)] }, rest = { REST[pick(#REST)] } },
    policy = { backoff_base = 0.01, backoff_cap = 0.02, circuit_cooldown = 0, turn_deadline = 60 } }
  local expected = {}
  for step = 1, STEPS do
    local where = ("seed %d step %d"):format(seed, step)
    local q = ("q%d-%d alpha beta gamma delta epsilon zeta"):format(seed, step)
    local op = ({ "complete", "complete", "break", "ctrlc", "raise", "fault", "transport", "model" })[pick(8)]
    totals[op] = totals[op] + 1
    local n_before = #expected
    if op == "complete" or op == "fault" then
      if op == "fault" then scenario(fault_rules(c.transport, pick)) end
      local pieces = {}
      for piece, kind in assert(c:stream(q)) do
        if kind == "break" then pieces = {} else pieces[#pieces + 1] = piece end
      end
      local answer = table.concat(pieces)
      check_answer(answer, q, n_before, where .. " (" .. op .. ", " .. c.last_turn.transport .. " "
        .. c.last_turn.model .. ")")
      expected[#expected + 1] = { role = "user", text = q }
      expected[#expected + 1] = { role = "model", text = answer }
      scenario()
    elseif op == "break" then
      local k, n, broke = pick(3), 0, false
      for _ in assert(c:stream(q)) do
        n = n + 1
        if n >= k then broke = true; break end
      end
      if not broke then -- an answer shorter than k pieces: it completed
        expected[#expected + 1] = { role = "user", text = q }
        expected[#expected + 1] = { role = "model", text = text_of(c.history[#c.history]) }
        check_answer(expected[#expected].text, q, n_before, where)
      end
    elseif op == "ctrlc" or op == "raise" then
      -- Ctrl-C in a REPL is an "interrupted" error (gl.trap_interrupts)
      -- raised where the task is; here in the loop body, after k pieces
      local k, n = pick(3), 0
      local err = op == "ctrlc" and core.error("interrupted", "interrupted") or "boom"
      local ok, e = pcall(function()
        for _ in assert(c:stream(q)) do
          n = n + 1
          if n >= k then error(err, 0) end
        end
      end)
      -- an answer shorter than k pieces completes: that is a completed turn
      if ok then
        expected[#expected + 1] = { role = "user", text = q }
        expected[#expected + 1] = { role = "model", text = text_of(c.history[#c.history]) }
        check_answer(expected[#expected].text, q, n_before, where)
      else
        assert(e == err, where .. ": the loop body's error comes out of the loop: " .. tostring(e))
      end
    elseif op == "transport" then
      c.transport = TRANSPORTS[pick(3)]
    elseif op == "model" then
      if pick(2) == 1 then c.chain.live = { LIVE[pick(#LIVE)] } else c.chain.rest = { REST[pick(#REST)] } end
    end
    check_history(c, expected, where .. " (" .. op .. ")")
  end
  -- the next answer is the answer to the next question, on every transport
  for _, tr in ipairs{ "rest", "live", "auto" } do
    c.transport = tr
    local q = ("final %d %s question"):format(seed, tr)
    local answer = assert(c:send(q))
    check_answer(answer, q, #expected, ("seed %d final %s"):format(seed, tr))
    expected[#expected + 1] = { role = "user", text = q }
    expected[#expected + 1] = { role = "model", text = answer }
    check_history(c, expected, ("seed %d final %s"):format(seed, tr))
  end
  c:close()
end

-- every kind of step ran
for op, n in pairs(totals) do assert(n > 0, "no step of kind " .. op .. " ran") end

-- The issue's reproduction, on each transport: the tail of an abandoned
-- answer never answers the next question
for _, tr in ipairs{ "auto", "live", "rest" } do
  local c = gemini.chat{ quiet = true, transport = tr }
  for _ in assert(c:stream("first question with several words here")) do break end
  local second = assert(c:send("second"))
  assert(second:match("^echo: second"), tr .. ": " .. second)
  assert(#c.history == 2 and text_of(c.history[1]) == "second", tr .. ": only the completed turn is kept")
  c:close()
end

-- An iterator left pending (no generic for, so no closing value): the next
-- turn cancels it, and the old iterator ends
do
  local c = gemini.chat{ quiet = true, transport = "live", chain = { live = { "gemini-live-text-test" }, rest = {} } }
  local it = c:stream("one two three four five six seven eight nine ten")
  assert(it())
  assert(c:send("next") == "echo: next")
  assert(it() == nil, "the abandoned iterator ends")
  assert(#c.history == 2)
  c:close()
end

-- A real Ctrl-C (SIGINT with gl.trap_interrupts on) while the answer is
-- awaited: the turn is cancelled, nothing of it is kept, the chat goes on
do
  gl.trap_interrupts(true)
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { "gemini-2.5-flash-hang" } },
                         policy = { turn_deadline = 60 } }
  -- the signal comes from a background shell once os.execute has returned
  os.execute("(sleep 0.5; kill -INT $PPID) >/dev/null 2>&1 &")
  local t0 = gl.now()
  -- (the turn starts in chat:stream: a failure before the first piece is nil, err)
  local it, e = c:stream("hang on")
  assert(it == nil and type(e) == "table" and e.kind == "interrupted", "Ctrl-C: " .. tostring(e))
  assert(gl.now() - t0 < 50, "the hanging request was cancelled by the interruption")
  assert(#c.history == 0)
  c.chain.rest = { "gemini-2.5-flash" }
  assert(c:send("after ctrl-c") == "echo: after ctrl-c")
  assert(#c.history == 2)
  gl.trap_interrupts(false)
end

print(("chat property ok: %d seeds x %d steps (%s)"):format(SEEDS, STEPS, json.encode(totals)))
