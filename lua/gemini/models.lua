-- gemini.models — which models serve the Live API (bidiGenerateContent),
-- with which response modalities and which message rules, and what
-- happened to the ones that stopped (docs/protocol.md, "Live models",
-- "Gemini 3 Live rules"); and the built-in model list gemini.catalog falls
-- back on when it can neither reach models.list nor read its cache.
--
--   local models = require "gemini.models"
--   models.live_models()              --> { "gemini-2.5-flash-native-audio-latest", ... }
--   models.supports_text(id)          --> false for audio-only Live models
--   models.live_caps(id)              --> how to talk to a Live model (below)
--   models.explain(id)                --> why an id does not serve Live, or nil
--   models.refresh()                  --> re-learn the Live set from models.list
--
-- The table is plain data: edit it (or assign models.table[id] = {...}
-- from a script) when Google ships or retires a model. refresh() asks the
-- server which models list `bidiGenerateContent` and overrides the table's
-- idea of what is currently offered; the modalities stay from the table
-- (models.list does not say them), and an unknown Live model is treated as
-- audio-only, which every Live model accepts.
local M = {}

-- status: "current" (served), "retired" (was served, now 1008 "not found"),
-- "never" (was never a model id), "mock" (only glmock serves it).
-- text: the model accepts responseModalities ["TEXT"] (otherwise a text
-- conversation goes over AUDIO with outputAudioTranscription).
-- rules: which Live message rules apply ("2.5" or "3", see M.rules; absent:
-- from the model's generation, 3 and later get "3").
-- async_functions = false: functions declared NON_BLOCKING are refused.
M.table = {
  ["gemini-2.5-flash-native-audio-latest"] = {
    status = "current", text = false, audio = true, rules = "2.5",
    note = "alias of the newest native-audio Live model" },
  ["gemini-2.5-flash-native-audio-preview-12-2025"] = {
    status = "current", text = false, audio = true, rules = "2.5" },
  ["gemini-2.5-flash-native-audio-preview-09-2025"] = {
    status = "current", text = false, audio = true, rules = "2.5" },
  ["gemini-3.1-flash-live-preview"] = {
    status = "current", text = false, audio = true, rules = "3", async_functions = false,
    note = "AUDIO only; clientContent only seeds the initial history; rejects realtimeInput.mediaChunks "
      .. "(use audio/video/text)" },
  ["gemini-3.8-live"] = {
    status = "current", text = false, audio = true, rules = "3", family = "flash",
    note = "the default Live API model of late 2026 (Gemini API id unconfirmed)" },
  ["gemini-live-text-test"] = {
    status = "mock", text = true, audio = true, rules = "2.5",
    note = "glmock's Live test model (TEXT and AUDIO), 2.5 rules" },
  ["gemini-3-live-text-test"] = {
    status = "mock", text = true, audio = true, rules = "3", async_functions = false,
    note = "glmock's Live test model (TEXT and AUDIO) with the Gemini 3.x rules" },

  ["gemini-live-2.5-flash-preview"] = {
    status = "retired", retired = "2025-12-09", text = true, audio = true,
    replacement = "gemini-2.5-flash-native-audio-preview-12-2025" },
  ["gemini-2.0-flash-live-001"] = {
    status = "retired", retired = "2025-12-09", text = true, audio = true,
    replacement = "gemini-2.5-flash-native-audio-preview-12-2025" },
  ["gemini-2.0-flash-exp"] = {
    status = "retired", retired = "2026-02", text = true, audio = true,
    replacement = "gemini-2.5-flash-native-audio-latest" },
  ["gemini-2.5-flash-preview-native-audio-dialog"] = {
    status = "retired", retired = "2025-10", text = false, audio = true,
    replacement = "gemini-2.5-flash-native-audio-latest" },
  ["gemini-2.5-flash-exp-native-audio-thinking-dialog"] = {
    status = "retired", retired = "2025-10", text = false, audio = true,
    replacement = "gemini-2.5-flash-native-audio-latest" },
  ["gemini-2.5-flash-live"] = {
    status = "never",
    note = "no official SDK, test or cookbook uses it; the Live models "
      .. "of that family were gemini-live-2.5-flash-preview (retired 2025-12-09) and, "
      .. "on Vertex AI only, gemini-live-2.5-flash" },
  -- Vertex AI ids: served by Vertex's Live endpoint, not by the Gemini API
  ["gemini-live-2.5-flash-native-audio"] = {
    status = "vertex", text = false, audio = true,
    replacement = "gemini-2.5-flash-native-audio-latest" },
  ["gemini-live-2.5-flash"] = {
    status = "vertex", text = true, audio = true,
    replacement = "gemini-2.5-flash-native-audio-latest" },
}

M.default_live = "gemini-2.5-flash-native-audio-latest"

-- The Live message rules (models.live_caps returns one of these, merged
-- with the model's modalities):
-- text_input: how a user's text turn is sent: "client_content"
--   ({"clientContent": {"turns": [...], "turnComplete": true}}) or
--   "realtime_input" ({"realtimeInput": {"text": "..."}}, always answered).
-- client_content: "any" (turns, history re-syncs, at any time) or
--   "initial_only" (only to seed the history right after setupComplete,
--   ending with turnComplete: true, which starts no model call; any later
--   clientContent closes the session with 1007).
-- history_seed: seeding needs setup.historyConfig =
--   {initialHistoryInClientContent = true}; a conversation that comes back
--   to Live opens a new session seeded with the whole history instead of
--   adding turns to an open one.
-- media_chunks: realtimeInput.mediaChunks is accepted (false: 1007; send
--   realtimeInput.audio / video / text).
M.rules = {
  ["2.5"] = { text_input = "client_content", client_content = "any", history_seed = false, media_chunks = true },
  ["3"] = { text_input = "realtime_input", client_content = "initial_only", history_seed = true, media_chunks = false },
}

-- Model families the id does not spell (gemini.catalog's family queries).
M.families = {
  ["gemini-4-argon"] = "pro",
  ["gemini-3.8-live"] = "flash",
}

--- The generation of a model id as two numbers ("gemini-3.8-flash" -> 3, 8;
--- "gemini-4-argon" -> 4, 0), or nil when the id does not say.
function M.generation(model)
  local id = M.id(model)
  local a, b = id:match("^gemini%-(%d+)%.(%d+)")
  if not a then a = id:match("^gemini%-(%d+)%-"); b = "0" end
  if not a then a, b = id:match("^gemini%-%a[%a-]-%-(%d+)%.(%d+)") end   -- gemini-live-2.5-flash
  if not a then return nil end
  return tonumber(a), tonumber(b)
end

--- The family of a model id: "flash", "flash-lite", "pro", "embedding"
--- (M.families first), or nil.
function M.family(model)
  local id = M.id(model)
  local e = M.info(id)
  if e and e.family then return e.family end
  if M.families[id] then return M.families[id] end
  if id:find("embedding", 1, true) then return "embedding" end
  if id:find("-flash-lite", 1, true) then return "flash-lite" end
  if id:find("-flash", 1, true) then return "flash" end
  if id:find("-pro", 1, true) then return "pro" end
  return nil
end

-- What models.list said, once refresh() ran: id -> true for Live models.
M.listed = nil
M.listed_at = nil

--- "models/x" -> "x".
function M.id(model)
  return (tostring(model):gsub("^models/", ""))
end

--- The table entry for a model id (or nil). Fault-word suffixes that
--- glmock accepts ("gemini-live-text-test-slow") map to their base model.
function M.info(model)
  local id = M.id(model)
  local e = M.table[id]
  if e then return e, id end
  local best, best_id
  for k, v in pairs(M.table) do
    if (v.status == "current" or v.status == "mock") and id:sub(1, #k + 1) == k .. "-"
       and (not best_id or #k > #best_id) then
      best, best_id = v, k
    end
  end
  return best, best_id
end

--- Is this model offered for Live? true / false, or nil when unknown.
function M.is_live(model)
  local id = M.id(model)
  if M.listed then
    if M.listed[id] then return true end
    local e, base = M.info(id)
    if base and M.listed[base] then return true end
    if e then return false end
    return false
  end
  local e = M.info(id)
  if not e then return nil end
  return e.status == "current" or e.status == "mock"
end

--- Does the model accept responseModalities ["TEXT"]? Unknown models are
--- taken as audio-only: AUDIO with output transcription works everywhere.
function M.supports_text(model)
  local e = M.info(model)
  return e ~= nil and e.text == true
end

--- The Live models to suggest, newest knowledge first: the server's list
--- when refresh() ran, else the table's current ones. glmock's test model
--- is only named when talking to glmock (opts.mock) or when listed.
function M.live_models(opts)
  opts = opts or {}
  local out = {}
  if M.listed then
    for id in pairs(M.listed) do out[#out + 1] = id end
  else
    for id, e in pairs(M.table) do
      if e.status == "current" or (e.status == "mock" and opts.mock) then out[#out + 1] = id end
    end
  end
  table.sort(out)
  return out
end

--- Why `model` does not serve Live on the Gemini API, as one sentence, or
--- nil when the table has nothing to say.
function M.explain(model)
  local e, id = M.info(model)
  id = id or M.id(model)
  if not e then return nil end
  if e.status == "never" then
    return id .. " is not a model id: " .. e.note
  elseif e.status == "retired" then
    return id .. " was shut down" .. (e.retired and (" on " .. e.retired) or "")
      .. (e.replacement and ("; its replacement is " .. e.replacement) or "")
  elseif e.status == "vertex" then
    return id .. " is a Vertex AI model id; with a Gemini API key use "
      .. (e.replacement or M.default_live)
  elseif M.listed and not M.listed[id] then
    return id .. " is in glrun's model table but the server's models.list does not offer it "
      .. "for bidiGenerateContent"
  end
  return nil
end

local function has_method(m, method)
  for _, x in ipairs(type(m.supportedGenerationMethods) == "table" and m.supportedGenerationMethods or {}) do
    if x == method then return true end
  end
  return false
end

--- Ask the server (models.list) which models serve bidiGenerateContent.
--- opts are passed to gemini.rest.list_models (client = {...}, timeout).
--- Returns the sorted list of Live model ids, or nil, err (the table keeps
--- its previous knowledge then).
function M.refresh(opts)
  local rest = require "gemini.rest"
  local list, err = rest.list_models(opts)
  if not list then return nil, err end
  local listed = {}
  for _, m in ipairs(list) do
    if type(m) == "table" and type(m.name) == "string" and has_method(m, "bidiGenerateContent") then
      local id = M.id(m.name)
      listed[id] = true
      if not M.table[id] then
        -- a Live model glrun does not know yet: audio-only until told otherwise
        M.table[id] = { status = "current", text = false, audio = true, learned = true,
                        note = m.displayName }
      end
    end
  end
  M.listed = listed
  M.listed_at = os.time()
  return M.live_models()
end

--- How to talk to a Live model: a table with `id`, `text_input`,
--- `client_content`, `history_seed`, `media_chunks` (M.rules), `rules`
--- ("2.5" or "3"), `text`/`audio` (the response modalities it accepts) and
--- `modalities` (their list, e.g. {"audio"}), `async_functions`, `live`
--- (true, false when the catalog lists the model without
--- bidiGenerateContent, nil when unknown) and `source` ("table", "catalog"
--- or "default"). The table's entry decides for the ids it knows (a
--- fault-word suffix such as "-slow" maps to its base id); gemini.catalog's
--- entry, when its cache or memory describes the model, says whether it is
--- Live and which model an alias points to; any other id of generation 3
--- or later gets the 3.x rules, older ones the 2.5 rules, audio only.
--- Never asks the network.
function M.live_caps(model)
  local id = M.id(model)
  local e, base = M.info(id)
  local live, source = nil, e and "table" or "default"
  if e and (e.status == "retired" or e.status == "never" or e.status == "vertex") then live = false
  elseif e then live = true end
  local ok, catalog = pcall(require, "gemini.catalog")
  local ce = ok and catalog.peek(base or id)
  if ce then
    live = ce.has.bidiGenerateContent == true
    if not e then
      source = "catalog"
      -- an alias: the rules of the model it points to, when the table knows it
      local target = ce.alias and ce.target and ce.target ~= id and M.info(ce.target)
      if target then e = target end
    end
  end
  local rules = e and e.rules
  if not rules then
    local major = M.generation(ce and ce.target or id)
    rules = (major and major >= 3) and "3" or "2.5"
  end
  local r = M.rules[rules]
  local text = e ~= nil and e.text == true
  local audio = not e or e.audio ~= false
  local mods = {}
  if text then mods[#mods + 1] = "text" end
  if audio then mods[#mods + 1] = "audio" end
  return {
    id = id, live = live, rules = rules, source = source,
    text_input = r.text_input, client_content = r.client_content,
    history_seed = r.history_seed, media_chunks = r.media_chunks,
    async_functions = not (e and e.async_functions == false),
    text = text, audio = audio, modalities = mods,
  }
end

-- The built-in model list (models.list shapes) gemini.catalog uses when
-- it has neither the server's answer nor a cache: the late-2026 line-up
-- (docs/protocol.md, "Model catalog and aliases"). Aliases name the model
-- they point to in baseModelId (glrun's guess of the day; the server's
-- answer replaces it whenever there is one).
local GEN = { "generateContent", "countTokens", "createCachedContent", "batchGenerateContent" }
local LIVE = { "countTokens", "bidiGenerateContent" }
local function mk(id, display, input, output, methods, thinking, base)
  return { name = "models/" .. id, baseModelId = base or id, displayName = display,
           inputTokenLimit = input, outputTokenLimit = output,
           supportedGenerationMethods = methods, thinking = thinking or nil }
end
M.builtin = {
  mk("gemini-2.5-flash", "Gemini 2.5 Flash", 1048576, 65536, GEN, true),
  mk("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", 1048576, 65536, GEN, true),
  mk("gemini-2.5-pro", "Gemini 2.5 Pro", 1048576, 65536, GEN, true),
  mk("gemini-3.5-flash-lite", "Gemini 3.5 Flash-Lite", 1048576, 65536, GEN, true),
  mk("gemini-3.8-flash", "Gemini 3.8 Flash", 1048576, 65536, GEN, true),
  mk("gemini-4-argon", "Gemini 4 Argon", 1048576, 65536, GEN, true),
  mk("gemini-flash-latest", "Gemini Flash Latest", 1048576, 65536, GEN, true, "gemini-3.8-flash"),
  mk("gemini-flash-lite-latest", "Gemini Flash-Lite Latest", 1048576, 65536, GEN, true, "gemini-3.5-flash-lite"),
  mk("gemini-pro-latest", "Gemini Pro Latest", 1048576, 65536, GEN, true, "gemini-4-argon"),
  mk("gemini-embedding-001", "Gemini Embedding 001", 2048, 1,
     { "embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent" }),
  mk("gemini-2.5-flash-native-audio-latest", "Gemini 2.5 Flash Native Audio Latest", 131072, 8192, LIVE, true,
     "gemini-2.5-flash-native-audio-preview-12-2025"),
  mk("gemini-2.5-flash-native-audio-preview-12-2025", "Gemini 2.5 Flash Native Audio Preview 12-2025",
     131072, 8192, LIVE, true),
  mk("gemini-2.5-flash-native-audio-preview-09-2025", "Gemini 2.5 Flash Native Audio Preview 09-2025",
     131072, 8192, LIVE, true),
  mk("gemini-3.1-flash-live-preview", "Gemini 3.1 Flash Live Preview", 131072, 65536, { "bidiGenerateContent" }, true),
  mk("gemini-3.8-live", "Gemini 3.8 Live", 131072, 65536, LIVE, true),
}

return M
