-- gemini.models — which models serve the Live API (bidiGenerateContent),
-- with which response modalities, and what happened to the ones that
-- stopped (PROTOCOL.md §4.1).
--
--   local models = require "gemini.models"
--   models.live_models()              --> { "gemini-2.5-flash-native-audio-latest", ... }
--   models.supports_text(id)          --> false for audio-only Live models
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
M.table = {
  ["gemini-2.5-flash-native-audio-latest"] = {
    status = "current", text = false, audio = true,
    note = "alias of the newest native-audio Live model" },
  ["gemini-2.5-flash-native-audio-preview-12-2025"] = {
    status = "current", text = false, audio = true },
  ["gemini-2.5-flash-native-audio-preview-09-2025"] = {
    status = "current", text = false, audio = true },
  ["gemini-3.1-flash-live-preview"] = {
    status = "current", text = false, audio = true,
    note = "AUDIO only; rejects realtimeInput.mediaChunks (use audio/video/text)" },
  ["gemini-live-text-test"] = {
    status = "mock", text = true, audio = true,
    note = "glmock's Live test model (TEXT and AUDIO)" },

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

return M
