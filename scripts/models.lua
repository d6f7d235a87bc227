-- glrun models — the model catalog (gemini.catalog) as a table: what
-- the server offers, with which methods, token limits, and for Live
-- models the response modalities and how user text is sent.
--
--   glrun models                 # every model
--   glrun models --live          # the Live (bidiGenerateContent) models
--   glrun models --json | jq .   # the same as JSON
--   glrun models --refresh       # ask models.list now, rewrite the cache
local catalog = require "gemini.catalog"
local models = require "gemini.models"
local json = require "glrun.json"
local cli = require "glrun.cli"

local USAGE = [[
usage: glrun models [--live] [--json] [--refresh]

Lists the models of the catalog: models.list (every page), cached for 24 h
in $XDG_CACHE_HOME/glrun/ (a stale cache is refreshed in the background),
or, offline and without a cache, glrun's built-in list.

columns: the model id; its methods (gen generateContent, count countTokens,
live bidiGenerateContent, batch batchGenerateContent, cache
createCachedContent, embed embedContent and the other embedding methods);
the input and output token limits; for a Live model the response
modalities it accepts and how a user's text is sent (clientContent, or
realtimeInput.text with clientContent only to seed the initial history);
for an alias (*-latest) the model it stands for.

options:
  --live       only the models that serve the Live API
  --json       one JSON object: {source, fetched_at, models: [...]}
  --refresh    fetch models.list now (exit 1 when that fails)
  --help       this text

exit status: 0 listed, 1 the refresh failed, 2 usage error]]

local opts = cli.parse({ ... }, { name = "glrun models", usage = USAGE,
  flags = { ["--live"] = "live", ["--json"] = "json", ["--refresh"] = "refresh" } })

local function first_line(s) return (tostring(s):match("^[^\n]*")) end

if opts.refresh then
  local ok, err = catalog.refresh()
  if not ok then
    io.stderr:write("glrun models: models.list failed: ", first_line(err), "\n")
    os.exit(1)
  end
end

local list, info = catalog.list()

local ABBREV = {
  generateContent = "gen", countTokens = "count", bidiGenerateContent = "live",
  batchGenerateContent = "batch", createCachedContent = "cache", embedContent = "embed",
  batchEmbedContents = "embed", asyncBatchEmbedContent = "embed", countTextTokens = "count",
}
local ORDER = { "gen", "count", "live", "batch", "cache", "embed" }

local function methods_of(e)
  local seen, out = {}, {}
  for _, m in ipairs(e.methods) do seen[ABBREV[m] or "other"] = true end
  for _, a in ipairs(ORDER) do if seen[a] then out[#out + 1] = a end end
  if seen.other then out[#out + 1] = "+" end
  return table.concat(out, ",")
end

local function live_note(e)
  local caps = models.live_caps(e.id)
  local mods = table.concat(caps.modalities, "+")
  if caps.text_input == "realtime_input" then
    return mods .. "; text as realtimeInput.text, clientContent seeds history only"
  end
  return mods .. "; text as clientContent"
end

local rows = {}
for _, e in ipairs(list) do
  local live = e.has.bidiGenerateContent == true
  if live or not opts.live then rows[#rows + 1] = { e = e, live = live } end
end

if opts.json then
  local out = {}
  for _, r in ipairs(rows) do
    local e = r.e
    local m = { id = e.id, name = e.name, displayName = e.display, version = e.version,
                baseModelId = e.base, inputTokenLimit = e.input_tokens, outputTokenLimit = e.output_tokens,
                supportedGenerationMethods = e.methods, thinking = e.thinking, family = e.family }
    if e.alias then m.alias_of = e.target or json.null end
    if r.live then
      local caps = models.live_caps(e.id)
      m.live = { modalities = caps.modalities, text_input = caps.text_input,
                 client_content = caps.client_content, history_seed = caps.history_seed,
                 media_chunks = caps.media_chunks, rules = caps.rules }
    end
    out[#out + 1] = m
  end
  if #out == 0 then out = json.null end
  print(json.encode{ source = info.source, fetched_at = info.fetched_at, cache = info.path, models = out })
  return
end

local w = #"MODEL"
for _, r in ipairs(rows) do w = math.max(w, #r.e.id) end
local fmt = "%-" .. w .. "s  %-22s %8s %7s  %s"
local function line(...) print((fmt:format(...):gsub("%s+$", ""))) end
line("MODEL", "METHODS", "IN", "OUT", "LIVE / ALIAS")
for _, r in ipairs(rows) do
  local e = r.e
  local note = r.live and live_note(e) or ""
  if e.alias then note = "alias of " .. (e.target or "?") .. (note ~= "" and ("; " .. note) or "") end
  line(e.id, methods_of(e), e.input_tokens or "-", e.output_tokens or "-", note)
end

local src
if info.source == "builtin" then
  src = "glrun's built-in list (" .. first_line(info.error or "no server answer") .. ")"
elseif info.source == "network" then
  src = "models.list, just now" .. (info.path and (", cached in " .. info.path) or "")
else
  local age = info.age or 0
  local ago = age < 120 and (math.floor(age) .. " s") or age < 7200 and (math.floor(age / 60) .. " min")
    or (math.floor(age / 3600) .. " h")
  src = "the cache " .. tostring(info.path) .. " (" .. ago .. " old" .. (info.stale and ", refreshing" or "") .. ")"
end
io.stderr:write(("%d model%s from %s\n"):format(#rows, #rows == 1 and "" or "s", src))
