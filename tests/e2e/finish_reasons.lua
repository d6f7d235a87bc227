-- How an answer ended (docs/protocol.md#generatecontent-response,
-- #continuation-tokens, #service-tiers), against glmock:
-- * long answers ("longdecode" models answer in hops with finishReason
--   CONTINUATION and checkpoint tokens) continue automatically; rest.generate,
--   rest.stream, gemini.ask, gemini.stream and chat all see one answer with
--   usageMetadata summed; a stream cut after a checkpoint resumes from it
--   without showing text twice; at most 3 resumptions in a row without
--   progress; bounded hops; the policy knob turns it off;
-- * no text with finishReason SAFETY & co. is an error of kind "blocked",
--   a refused function call "malformed_call" (the chat asks once more, then
--   the next model); MAX_TOKENS is a success that says it was cut;
-- * serviceTier chain entries: the tier in the request and in
--   chat.last_turn, a flex 503 falls to the next entry, flex waits longer.
local gemini = require "gemini"
local rest = require "gemini.rest"
local chatmod = require "gemini.chat"
local json = require "glrun.json"
local base = assert(gl.options.mock_url)

local scenario = require("glmockctl").scenario
local function rest_count() return require("glmockctl").counters().rest end

local LONG = "gemini-2.5-flash-longdecode"
local Q = "alpha beta gamma delta epsilon zeta eta theta iota kappa" -- 10 words
local A = "echo: " .. Q                                               -- 11 words: hops of 4 -> 3 requests

---------------------------------------------------------------------------
-- continuation
---------------------------------------------------------------------------

-- rest.generate: three hops, one response
do
  scenario()
  local n0 = rest_count()
  local resp = assert(rest.generate(gemini.request(Q), { model = LONG }))
  assert(resp.text == A, resp.text)
  assert(resp.hops == 3 and rest_count() - n0 == 3, "three requests: " .. tostring(resp.hops))
  local cand = resp.candidates[1]
  assert(cand.finishReason == "STOP", tostring(cand.finishReason))
  local u = resp.usageMetadata
  assert(u.promptTokenCount == 30 and u.candidatesTokenCount == 11 and u.totalTokenCount == 41,
         "usage summed over the hops: " .. json.encode(u))
  assert(u.promptTokensDetails[1].tokenCount == 30, "per-modality counts summed too")
end

-- rest.stream: the chunks of one answer; CONTINUATION never shows
do
  local it, handle = assert(rest.stream(gemini.request(Q), { model = LONG }))
  local texts, last, continuations = {}, nil, 0
  for chunk in it do
    texts[#texts + 1] = chunk.text
    last = chunk
    local fr = chunk.candidates[1].finishReason
    if fr == "CONTINUATION" then continuations = continuations + 1 end
  end
  assert(table.concat(texts) == A, table.concat(texts))
  assert(continuations == 0, "an intermediate CONTINUATION is not the answer's end")
  assert(last.candidates[1].finishReason == "STOP")
  assert(handle:hops() == 3)
  assert(last.usageMetadata.candidatesTokenCount == 11 and last.usageMetadata.promptTokenCount == 30,
         json.encode(last.usageMetadata))
end

-- gemini.ask, gemini.stream and a chat see the same answer
do
  assert(gemini.ask(Q, { model = LONG }) == A)
  local pieces = {}
  for p in gemini.stream(Q, { model = LONG }) do pieces[#pieces + 1] = p end
  assert(table.concat(pieces) == A)
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { LONG } } }
  local out = {}
  for p in assert(c:stream(Q)) do out[#out + 1] = p end
  assert(table.concat(out) == A and c.last_turn.finish_reason == "STOP")
  assert(c:send("one two three four five six") == "echo: one two three four five six")
  assert(#c.history == 4 and c.history[2].parts[1].text == A)
end

-- a stream cut after a checkpoint resumes from it: every word once
do
  scenario{ { match = { kind = "rest" }, count = 1, fault = { cut_after = 3 } } }
  local n0 = rest_count()
  local pieces = {}
  for p in gemini.stream(Q, { model = LONG }) do pieces[#pieces + 1] = p end
  assert(table.concat(pieces) == A, "no word shown twice or lost: " .. table.concat(pieces, "|"))
  assert(#pieces == 11, #pieces)
  -- the cut hop (3 chunks), the resumption from the checkpoint after word 2, two more hops
  assert(rest_count() - n0 == 4, "requests: " .. (rest_count() - n0))
  -- in a chat: no restart, no break marker
  scenario{ { match = { kind = "rest" }, count = 1, fault = { cut_after = 3 } } }
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { LONG } } }
  local restarts = 0
  c:on("restart", function() restarts = restarts + 1 end)
  local out = {}
  for p, kind in assert(c:stream(Q)) do assert(kind == "text"); out[#out + 1] = p end
  assert(table.concat(out) == A and restarts == 0 and c.last_turn.attempts == 1)
  scenario()
end

-- at most 3 resumptions in a row that bring nothing: then the cut is the error
do
  scenario{ { match = { kind = "rest", text = "alpha" }, count = 1, fault = { cut_after = 5 } },
            { match = { kind = "rest" }, count = 10, fault = { cut_after = 0 } } }
  local n0 = rest_count()
  local pieces = {}
  local ok, err = pcall(function()
    for p in gemini.stream(Q, { model = LONG }) do pieces[#pieces + 1] = p end
  end)
  assert(not ok and err.kind == "stream_cut", tostring(err))
  assert(table.concat(pieces) == "echo: alpha beta gamma", table.concat(pieces))
  assert(rest_count() - n0 == 5, "the first hop, one resumption with progress, 3 without: " .. (rest_count() - n0))
  scenario()
end

-- hops are bounded; the knob turns continuation off
do
  local resp, err = rest.generate(gemini.request(Q), { model = LONG, continuation = { max_hops = 2 } })
  assert(resp == nil and err.kind == "too_large" and err.partial == "echo: alpha beta gamma delta epsilon zeta eta",
         tostring(err) .. " / " .. tostring(err and err.partial))
  local one = assert(rest.generate(gemini.request(Q), { model = LONG, continuation = false }))
  assert(one.text == "echo: alpha beta gamma" and one.candidates[1].finishReason == "CONTINUATION")
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { LONG } },
                         policy = { continuation = false } }
  assert(c:send(Q) == "echo: alpha beta gamma")
  assert(c.last_turn.finish_reason == "CONTINUATION" and c.last_turn.truncated)
end

---------------------------------------------------------------------------
-- finish reasons
---------------------------------------------------------------------------

-- no text, finishReason SAFETY: an error of kind "blocked", never an empty success
do
  local t, err = gemini.ask("tell me", { model = "gemini-2.5-flash-finish-safety" })
  assert(t == nil and err.kind == "blocked" and err.finish_reason == "SAFETY", tostring(err))
  assert(type(err.safety_ratings) == "table" and err.safety_ratings[1].category == "HARM_CATEGORY_DANGEROUS_CONTENT")
  assert(err.message:find("DANGEROUS_CONTENT HIGH", 1, true), err.message)
  local ok, serr = pcall(function() for _ in gemini.stream("tell me", { model = "gemini-2.5-flash-finish-recitation" }) do end end)
  assert(not ok and serr.kind == "blocked" and serr.finish_reason == "RECITATION", tostring(serr))
  for _, r in ipairs{ "prohibited_content", "blocklist", "spii" } do
    local _, e = gemini.ask("x", { model = "gemini-2.5-flash-finish-" .. r })
    assert(e and e.kind == "blocked" and e.finish_reason == r:upper(), r)
  end
  -- a prompt refused outright (promptFeedback.blockReason, no candidates)
  local _, pe = gemini.ask("x", { model = "gemini-2.5-flash-blockprompt" })
  assert(pe.kind == "blocked" and pe.block_reason == "SAFETY", tostring(pe))
  -- the chat fails with the reason, and asks nothing twice
  scenario()
  local c = gemini.chat{ quiet = true, transport = "rest",
                         chain = { live = {}, rest = { "gemini-2.5-flash-finish-safety", "gemini-2.5-flash" } } }
  local n0 = rest_count()
  local r, cerr = c:send("tell me")
  assert(r == nil and cerr.kind == "blocked" and cerr.message:find("SAFETY", 1, true), tostring(cerr))
  assert(rest_count() - n0 == 1 and #c.history == 0)
end

-- a refused function call: asked once more, then the next model
do
  for _, r in ipairs{ "malformed_function_call", "too_many_tool_calls", "unexpected_tool_call" } do
    local _, e = gemini.ask("x", { model = "gemini-2.5-flash-finish-" .. r })
    assert(e and e.kind == "malformed_call" and e.finish_reason == r:upper(), r .. ": " .. tostring(e))
  end
  local bad = "gemini-2.5-flash-finish-malformed_function_call"
  scenario()
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { bad, "gemini-2.5-flash" } } }
  local evs = {}
  c:on("retry", function(e) evs[#evs + 1] = "retry" end)
  c:on("fallback", function(e) evs[#evs + 1] = "fallback" end)
  assert(c:send("call it") == "echo: call it")
  assert(c.last_turn.model == "gemini-2.5-flash" and c.last_turn.attempts == 3, c.last_turn.attempts)
  assert(table.concat(evs, ",") == "retry,fallback", table.concat(evs, ","))
end

-- MAX_TOKENS: a success that says it was cut; with no text at all, not a success
do
  local c = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { "gemini-2.5-flash-finish-max_tokens" } } }
  assert(c:send("one two three four five") == "echo: one two")
  assert(c.last_turn.finish_reason == "MAX_TOKENS" and c.last_turn.truncated == true)
  local full = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { "gemini-2.5-flash" } } }
  assert(full:send("x") and full.last_turn.finish_reason == "STOP" and not full.last_turn.truncated)
  local _, e = gemini.ask("one two", { model = "gemini-2.5-flash-finish-max_tokens_empty" })
  assert(e and e.kind == "protocol" and e.empty and e.finish_reason == "MAX_TOKENS", tostring(e))
  -- text, then SAFETY: the text is the answer, the reason says why it stopped
  local s = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = { "gemini-2.5-flash-finishafter-safety" } } }
  assert(s:send("a b c") == "echo: a b c" and s.last_turn.finish_reason == "SAFETY")
end

---------------------------------------------------------------------------
-- service tiers
---------------------------------------------------------------------------

do
  scenario()
  local c = gemini.chat{ quiet = true, transport = "rest",
                         chain = { live = {}, rest = { { model = "gemini-2.5-flash", tier = "flex" } } } }
  assert(c:send("cheap") == "echo: cheap")
  assert(c.last_turn.tier == "flex" and c.last_turn.model == "gemini-2.5-flash")
  -- a 503 on flex falls to the next entry at once (no retries)
  local shed = gemini.chat{ quiet = true, transport = "rest", chain = { live = {}, rest = {
    { model = "gemini-2.5-flash-shedflex", tier = "flex" }, { model = "gemini-2.5-flash-shedflex", tier = "standard" } } } }
  local lines = {}
  shed:on("fallback", function(e) lines[#lines + 1] = e.line end)
  shed:on("retry", function() error("a flex 503 is not retried") end)
  local n0 = rest_count()
  assert(shed:send("busy") == "echo: busy")
  assert(shed.last_turn.tier == "standard" and rest_count() - n0 == 2)
  assert(#lines == 1 and lines[1]:find("flex", 1, true), table.concat(lines, "\n"))
  -- flex waits for a slow answer that a standard request gives up on
  chatmod.reset_circuits()
  scenario{ { match = { kind = "rest" }, count = 1, fault = { delay_ms = 2500 } } }
  local slow = gemini.chat{ quiet = true, transport = "rest", client = { timeout = 1 },
                            chain = { live = {}, rest = { { model = "gemini-2.5-flash", tier = "flex" } } } }
  assert(slow:send("wait for it") == "echo: wait for it")
  assert(slow.last_turn.attempts == 1, "flex waited: " .. slow.last_turn.attempts)
  scenario{ { match = { kind = "rest" }, count = 1, fault = { delay_ms = 2500 } } }
  local std = gemini.chat{ quiet = true, transport = "rest", client = { timeout = 1 },
                           policy = { backoff_base = 0.01 }, chain = { live = {}, rest = { "gemini-2.5-flash" } } }
  assert(std:send("wait for it") == "echo: wait for it")
  assert(std.last_turn.attempts == 2, "standard timed out once: " .. std.last_turn.attempts)
  scenario()
  -- a bad tier is a configuration error
  local bad, e = gemini.chat{ chain = { live = {}, rest = { { model = "m", tier = "cheap" } } } }
  assert(bad == nil and e.kind == "config" and e.message:find("tier", 1, true), tostring(e))
end

---------------------------------------------------------------------------
-- modelVersion differs from the model asked for: said once per model
---------------------------------------------------------------------------
do
  assert(gemini.ask("hi", { model = "gemini-flash-latest" }) == "echo: hi")
  assert(rest.version_notes["gemini-flash-latest"] == true, "the alias's model was noted")
  assert(gemini.ask("hi", { model = "gemini-2.5-flash" }))
  assert(rest.version_notes["gemini-2.5-flash"] == nil, "the model that answered itself is not")
end

print("finish reasons ok")
