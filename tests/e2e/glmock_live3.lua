-- glmock's Gemini 3.x Live rules on the wire (tests/glmock/README.md,
-- "Gemini 3.x Live sessions"), with raw WebSocket messages: clientContent
-- only seeds the initial history (with historyConfig, until turnComplete,
-- no model call), user text is realtimeInput.text and the reply counts the
-- seeded history, a usage-only serverContent before the first model turn,
-- several parts per message, 1007 for a forbidden clientContent or
-- mediaChunks, the 1008 "Operation is not implemented" of a feature
-- combination beside the 1008 "not found"; the 2.5 models unchanged; the
-- models.list catalog (aliases, baseModelId, pages, models.get).
local ws = require "glrun.ws"
local json = require "glrun.json"
local http = require "glrun.http"

local url = assert(gl.options.mock_url, "run with glrun --mock"):gsub("/+$", "")
local LIVE = url:gsub("^http", "ws") .. "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

local function open(model, extra)
  local c = assert(ws.connect{ url = LIVE, headers = { ["x-goog-api-key"] = "test-key" } })
  local setup = { model = "models/" .. model }
  for k, v in pairs(extra or {}) do setup[k] = v end
  assert(c:send(json.encode{ setup = setup }))
  return c
end

local function session(model, extra)
  local c = open(model, extra)
  local m, kind = c:recv(10)
  assert(m, model .. ": no setupComplete: " .. tostring(kind))
  assert(json.decode(m).setupComplete, m)
  return c
end

local TEXT = { responseModalities = { "TEXT" } }
local HISTORY = { initialHistoryInClientContent = true }
local function user(t) return { role = "user", parts = { { text = t } } } end
local function model(t) return { role = "model", parts = { { text = t } } } end
local function seed(c, turns, complete)
  assert(c:send(json.encode{ clientContent = { turns = turns, turnComplete = complete } }))
end
local function say(c, text) assert(c:send(json.encode{ realtimeInput = { text = text } })) end

-- One model turn: its text (or transcript), the messages, and what they held.
local function read_turn(c)
  local r = { text = {}, transcript = {}, msgs = 0, usage_only = 0, max_parts = 0, audio_parts = 0 }
  for _ = 1, 1000 do
    local m, kind = c:recv(10)
    if not m then return nil, kind end
    r.msgs = r.msgs + 1
    local msg = assert(json.decode(m))
    local sc = msg.serverContent
    if sc and next(sc) == nil and msg.usageMetadata then r.usage_only = r.usage_only + 1 end
    if sc and sc.modelTurn then
      r.max_parts = math.max(r.max_parts, #sc.modelTurn.parts)
      for _, p in ipairs(sc.modelTurn.parts) do
        if p.text then r.text[#r.text + 1] = p.text end
        if p.inlineData then r.audio_parts = r.audio_parts + 1 end
      end
    end
    if sc and sc.outputTranscription then r.transcript[#r.transcript + 1] = sc.outputTranscription.text end
    if sc and sc.turnComplete then
      r.text, r.transcript = table.concat(r.text), table.concat(r.transcript)
      return r
    end
  end
  error("no turnComplete")
end

local function closed(c, code, reason_part)
  local m, err = c:recv(10)
  for _ = 1, 100 do                       -- messages already queued come first
    if not m then break end
    m, err = c:recv(10)
  end
  assert(type(err) == "table" and err.kind == "ws_closed", "expected a close, got " .. tostring(err))
  assert(err.close_code == code, ("close %s %q, expected %d"):format(tostring(err.close_code), tostring(err.reason), code))
  assert(err.reason:find(reason_part, 1, true), err.reason)
  return err
end

-- 1. seeding: no model call, then realtimeInput.text answers and counts the history
local c = session("gemini-3-live-text-test", { generationConfig = TEXT, historyConfig = HISTORY })
seed(c, { user("alpha beta"), model("first answer") }, false)
seed(c, { user("gamma") }, true)
local m, err = c:recv(0.5)
assert(m == nil and err.kind == "timeout", "seeding must not trigger a model call: " .. tostring(m))
say(c, "one two three four five six seven")
local r = assert(read_turn(c))
assert(r.text == "echo: one two three four five six seven (history: 3 turns)", r.text)
assert(r.usage_only == 1, "one usage-only serverContent before the first model turn, got " .. r.usage_only)
assert(r.max_parts >= 2, "several parts in one message")
say(c, "again")
r = assert(read_turn(c))
assert(r.text == "echo: again (history: 5 turns)", r.text)
assert(r.usage_only == 0, "the usage-only message comes once")
print("ok - 3.x: seeded history, no model call, realtimeInput.text answered with the history count")

-- 2. after the seeding window, any clientContent closes with 1007
seed(c, { user("late") }, true)
closed(c, 1007, "Request contains an invalid argument.")
print("ok - 3.x: clientContent after the initial history -> 1007")

-- 3. without historyConfig even the first clientContent is refused
c = session("gemini-3-live-text-test", { generationConfig = TEXT })
seed(c, { user("hello") }, true)
closed(c, 1007, "invalid argument")
-- ... and realtimeInput.text alone works, with the plain echo
c = session("gemini-3-live-text-test", { generationConfig = TEXT })
say(c, "plain")
r = assert(read_turn(c))
assert(r.text == "echo: plain" and r.usage_only == 1, r.text)
c:close()
print("ok - 3.x: clientContent without historyConfig -> 1007; realtimeInput.text alone works")

-- 4. text sent while the seeding window is open waits for its end
c = session("gemini-3-live-text-test", { generationConfig = TEXT, historyConfig = HISTORY })
say(c, "early")
m, err = c:recv(0.3)
assert(m == nil and err.kind == "timeout", "held until the history is complete")
seed(c, { user("context") }, true)
r = assert(read_turn(c))
assert(r.text == "echo: early (history: 1 turns)", r.text)
c:close()
-- a clientContent without turns only closes the window: nothing was seeded
c = session("gemini-3-live-text-test", { generationConfig = TEXT, historyConfig = HISTORY })
assert(c:send(json.encode{ clientContent = { turnComplete = true } }))
say(c, "nothing seeded")
r = assert(read_turn(c))
assert(r.text == "echo: nothing seeded", r.text)
c:close()
print("ok - 3.x: text during the seeding window is answered once it closes")

-- 5. mediaChunks -> 1007 on 3.x; audio replies carry several parts per message
c = session("gemini-3.8-live", { outputAudioTranscription = {} })
say(c, "one two three four five six seven eight")
r = assert(read_turn(c))
assert(r.transcript == "echo: one two three four five six seven eight", r.transcript)
assert(r.audio_parts >= 2 and r.max_parts >= 2, "audio parts " .. r.audio_parts)
assert(c:send(json.encode{ realtimeInput = { mediaChunks = { { mimeType = "audio/pcm;rate=16000", data = "AAAA" } } } }))
closed(c, 1007, "media_chunks")
print("ok - 3.8 Live: audio with several parts per message; mediaChunks -> 1007")

-- 6. 1008: a feature combination the model does not offer, beside "not found"
local tools = { { functionDeclarations = { { name = "lookup", behavior = "NON_BLOCKING" } } } }
c = open("gemini-3.1-flash-live-preview", { tools = tools })
local e = closed(c, 1008, "Operation is not implemented, or supported, or enabled.")
assert(not e.reason:find("not found", 1, true), e.reason)
c = open("gemini-3.1-flash-live", {})
e = closed(c, 1008, "is not found for API version v1beta, or is not supported for bidiGenerateContent")
-- blocking tools are fine on the same model
c = session("gemini-3.1-flash-live-preview", { tools = { { functionDeclarations = { { name = "lookup" } } } } })
c:close()
print("ok - 1008 'Operation is not implemented' (NON_BLOCKING tools on 3.1) distinct from 1008 'not found'")

-- 7. resumption keeps the seeded history
c = session("gemini-3-live-text-test", { generationConfig = TEXT, historyConfig = HISTORY, sessionResumption = {} })
seed(c, { user("a"), model("b") }, true)
say(c, "q")
local handle
for _ = 1, 50 do
  local s = assert(c:recv(10))
  local msg = json.decode(s)
  if msg.sessionResumptionUpdate then handle = msg.sessionResumptionUpdate.newHandle break end
end
assert(handle, "no resumption handle")
c:close()
c = session("gemini-3-live-text-test", { generationConfig = TEXT, sessionResumption = { handle = handle } })
say(c, "resumed")
r = assert(read_turn(c))
assert(r.text == "echo: resumed (history: 4 turns)", r.text)
c:close()
print("ok - 3.x: a resumed session keeps the seeded history")

-- 8. the 2.5 models are unchanged: clientContent turns at any time, one part per message
c = session("gemini-live-text-test", { generationConfig = TEXT, historyConfig = HISTORY })
for i = 1, 2 do
  seed(c, { user("turn " .. i .. " of several words here") }, true)
  r = assert(read_turn(c))
  assert(r.text == "echo: turn " .. i .. " of several words here", r.text)
  assert(r.max_parts == 1 and r.usage_only == 0, "2.5 shape")
end
c:close()
c = session("gemini-2.5-flash-native-audio-latest", { outputAudioTranscription = {} })
seed(c, { user("still works") }, true)
r = assert(read_turn(c))
assert(r.transcript == "echo: still works", r.transcript)
c:close()
print("ok - 2.5 Live models unchanged")

-- 9. the catalog: aliases, baseModelId, pages, models.get
local function get(path)
  local res, e = http.request{ url = url .. "/v1beta/" .. path, headers = { ["x-goog-api-key"] = "k" } }
  if not res then return e.status end
  return res.status, json.decode(res.body)
end
local all, token, pages = {}, nil, 0
repeat
  local st, page = get("models?pageSize=4" .. (token and ("&pageToken=" .. token) or ""))
  assert(st == 200, st)
  pages = pages + 1
  for _, mo in ipairs(page.models) do all[mo.name:gsub("^models/", "")] = mo end
  token = page.nextPageToken
until not token or pages > 50
assert(pages > 2, "pages: " .. pages)
for _, id in ipairs{ "gemini-2.5-flash", "gemini-3.8-flash", "gemini-3.5-flash-lite", "gemini-4-argon",
                     "gemini-flash-latest", "gemini-pro-latest", "gemini-flash-lite-latest", "gemini-3.8-live",
                     "gemini-3.1-flash-live-preview", "gemini-embedding-001", "gemini-live-text-test",
                     "gemini-3-live-text-test" } do
  local mo = assert(all[id], id .. " not listed")
  assert(type(mo.inputTokenLimit) == "number" and type(mo.outputTokenLimit) == "number", id)
  assert(type(mo.version) == "string" and type(mo.displayName) == "string" and type(mo.baseModelId) == "string", id)
end
assert(all["gemini-pro-latest"].baseModelId == "gemini-4-argon")
assert(all["gemini-flash-latest"].baseModelId == "gemini-3.8-flash")
local function has(mo, meth)
  for _, x in ipairs(mo.supportedGenerationMethods) do if x == meth then return true end end
end
assert(has(all["gemini-3.8-live"], "bidiGenerateContent") and not has(all["gemini-3.8-live"], "generateContent"))
assert(has(all["gemini-4-argon"], "batchGenerateContent") and has(all["gemini-4-argon"], "createCachedContent"))
assert(has(all["gemini-embedding-001"], "embedContent") and all["gemini-embedding-001"].thinking == nil)
assert(all["gemini-4-argon"].thinking == true)
local st, one = get("models/gemini-pro-latest")
assert(st == 200 and one.name == "models/gemini-pro-latest" and one.baseModelId == "gemini-4-argon", tostring(st))
st = get("models/gemini-nonexistent-x")
assert(st == 404)
-- REST answers on the new ids and the aliases
local res = assert(http.request{ method = "POST", url = url .. "/v1beta/models/gemini-pro-latest:generateContent",
  headers = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" },
  body = json.encode{ contents = { user("hi there") } } })
assert(res.status == 200 and json.decode(res.body).candidates, res.body)
print("ok - models.list: the late-2026 catalog with aliases, pages and models.get")
