-- gemini.catalog — the models the server offers, from models.list (every
-- page), kept in a cache file so that a script names a model by alias or by
-- capability instead of hard-coding an id Google will retire
-- (docs/protocol.md, "Model catalog and aliases").
--
--   local catalog = require "gemini.catalog"
--   catalog.get("gemini-2.5-flash")           --> entry (below), or nil, err
--   catalog.resolve("gemini-flash-latest")    --> "gemini-3.8-flash", entry
--   catalog.find{ method = "bidiGenerateContent", family = "flash", newest = true }
--   catalog.limits("gemini-4-argon")          --> 1048576, 65536
--
-- Where the list comes from, first that works:
-- * this process's memory;
-- * the cache file $XDG_CACHE_HOME/glrun/models-<backend>-<hash>.json
--   (default ~/.cache/glrun; <backend> "gemini" or "vertex", <hash> a short
--   hash of the base URL and API version, so glmock and the real service
--   never share a file), fresh for `ttl` seconds (24 h; GLRUN_CATALOG_TTL).
--   A stale file is used at once and refreshed by a background task; a
--   failed refresh keeps it (said once, at debug level);
-- * models.list, fetched in the calling task, then written to the cache
--   (a temporary file renamed over the old one);
-- * the built-in list of gemini.models (offline, no cache).
-- Under glrun --mock the list is kept in memory only (glmock's port changes
-- every run); under --replay, and with `offline`, nothing is fetched.
-- Vertex AI's publisher-model list has another shape: there the built-in
-- list is used.
--
-- An entry: id, name ("models/<id>"), base (baseModelId), version,
-- display, description, input_tokens, output_tokens, methods (the list),
-- has (method -> true), thinking, family, generation ({major, minor} or
-- nil), stage ("stable", "preview", "exp" or "alias"), alias (true for
-- the *-latest ids), target (the id an alias resolves to), special (an
-- image, speech ... model: M.special), raw (the JSON).
--
-- Newest first, the order of find: a higher generation (3.8 > 3.5 > 2.5;
-- ids without one last); then stable before preview before experimental;
-- then a later release date suffix (-MM-YYYY) or version suffix (-002 >
-- -001); then the shorter id (the model before its variants); then by id.
-- Expected failures are nil, err (kind "catalog"); misuse raises.
local core = require "glrun.core"
local json = require "glrun.json"
local crypto = require "glrun.crypto"
local errors = require "gemini.errors"
local models = require "gemini.models"

local M = {}

M.options = {
  ttl = tonumber(os.getenv("GLRUN_CATALOG_TTL") or "") or 24 * 3600,
  cache_dir = nil,         -- default $XDG_CACHE_HOME/glrun (~/.cache/glrun)
  background = true,       -- refresh a stale cache in a background task
  refresh_timeout = 10,    -- that task's idle timeout (it delays the process's exit at most this long)
  timeout = nil,           -- a foreground fetch's idle timeout (default: the client's)
  offline = nil,           -- true: never ask the server
  page_size = nil,         -- models.list pageSize (default: gemini.rest's, 50)
}

local function fail(msg) return nil, errors.new("catalog", msg) end

-- Words of special-purpose models that a capability query skips unless
-- asked (`special = true`): "the newest flash model" is not an image or
-- speech model of the same generation.
M.special = { "image", "tts", "computer-use", "robotics", "transcribe" }

local function is_special(id)
  for _, w in ipairs(M.special) do
    if id:find("-" .. w, 1, true) then return true end
  end
  return false
end

local function opt(opts, k)
  if opts and opts[k] ~= nil then return opts[k] end
  return M.options[k]
end

-- ---------------------------------------------------------------- entries

local STAGE_RANK = { stable = 3, preview = 2, exp = 1, alias = 0 }

local function stage_of(id)
  if id:find("-latest$") then return "alias" end
  if id:find("-preview", 1, true) then return "preview" end
  if id:find("-exp", 1, true) then return "exp" end
  return "stable"
end

-- A release date suffix (…-12-2025, …-09-2025) as YYYYMM, a version
-- suffix (…-001) as its number.
local function suffix_rank(id)
  local mm, yyyy = id:match("%-(%d%d)%-(%d%d%d%d)$")
  if mm then return tonumber(yyyy) * 100 + tonumber(mm) end
  local v = id:match("%-(%d%d%d)$")
  return v and tonumber(v) or 0
end

-- JSON numbers come as floats: whole ones as integers.
local function int(v)
  if type(v) ~= "number" then return nil end
  return math.tointeger(v) or v
end

local function normalize(raw)
  if type(raw) ~= "table" or type(raw.name) ~= "string" then return nil end
  local id = models.id(raw.name)
  local e = {
    id = id, name = raw.name, version = raw.version, display = raw.displayName,
    description = raw.description,
    input_tokens = int(raw.inputTokenLimit), output_tokens = int(raw.outputTokenLimit),
    base = type(raw.baseModelId) == "string" and raw.baseModelId ~= "" and models.id(raw.baseModelId) or nil,
    thinking = raw.thinking == true, methods = {}, has = {}, raw = raw,
    family = models.family(id), stage = stage_of(id), special = is_special(id),
  }
  for _, m in ipairs(type(raw.supportedGenerationMethods) == "table" and raw.supportedGenerationMethods or {}) do
    if type(m) == "string" then e.methods[#e.methods + 1] = m; e.has[m] = true end
  end
  local major, minor = models.generation(id)
  e.generation = major and { major, minor } or nil
  e.alias = e.stage == "alias"
  return e
end

local function newer(a, b)
  local ga, gb = a.generation, b.generation
  if (ga ~= nil) ~= (gb ~= nil) then return ga ~= nil end
  if ga and (ga[1] ~= gb[1] or ga[2] ~= gb[2]) then
    return ga[1] > gb[1] or (ga[1] == gb[1] and ga[2] > gb[2])
  end
  local sa, sb = STAGE_RANK[a.stage], STAGE_RANK[b.stage]
  if sa ~= sb then return sa > sb end
  local ra, rb = suffix_rank(a.id), suffix_rank(b.id)
  if ra ~= rb then return ra > rb end
  if #a.id ~= #b.id then return #a.id < #b.id end
  return a.id < b.id
end
M.newer = newer

-- Where an alias points: its baseModelId when that names another listed
-- model; else the newest listed model whose id extends the alias's stem
-- ("gemini-2.5-flash-native-audio-latest" -> "gemini-2.5-flash-native-audio-…");
-- else the newest of its family with the same first method.
local function target_of(e, list, by_id)
  if not e.alias then return e.id end
  if e.base and e.base ~= e.id and by_id[e.base] and not by_id[e.base].alias then return e.base end
  local stem = e.id:gsub("%-latest$", "")
  local best
  for _, x in ipairs(list) do
    if not x.alias and not x.special and x.id:sub(1, #stem + 1) == stem .. "-" and (not best or newer(x, best)) then
      best = x
    end
  end
  if best then return best.id end
  local fam = e.family or (stem:match("^gemini%-(.+)$"))
  local method = e.methods[1]
  for _, x in ipairs(list) do
    if not x.alias and not x.special and x.family == fam and (not method or x.has[method])
       and (not best or newer(x, best)) then
      best = x
    end
  end
  return best and best.id or nil
end

-- The catalog of one backend: list (sorted by id), by_id.
local function build(raws)
  local list, by_id = {}, {}
  for _, raw in ipairs(raws) do
    local e = normalize(raw)
    if e and not by_id[e.id] then list[#list + 1] = e; by_id[e.id] = e end
  end
  table.sort(list, function(a, b) return a.id < b.id end)
  for _, e in ipairs(list) do e.target = target_of(e, list, by_id) end
  return { list = list, by_id = by_id }
end

-- ---------------------------------------------------------------- cache files

-- The configuration (gemini.config.get: resolved once for the default),
-- or nil, err.
local function resolve_client(opts)
  local config = require "gemini.config"
  return config.get(opts and opts.client)
end

local function cache_dir(opts)
  local d = opt(opts, "cache_dir")
  if d then return d, true end
  local x = os.getenv("XDG_CACHE_HOME")
  if x and x ~= "" then return x .. "/glrun", false end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.cache/glrun", false end
  return nil, false
end

local function hex(s) return (s:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)) end

-- The base URL without user:password@.
local function plain_url(u) return (u:gsub("^(%a[%w+.-]*://)[^/@]*@", "%1")) end

local function key_of(c)
  local url = plain_url(c.base_url or "")
  return c.backend .. "-" .. hex(crypto.sha256(url .. "|" .. (c.api_version or ""))):sub(1, 10), url
end

--- The cache file for a configuration (opts.client: gemini.config
--- options), or nil when there is none (--mock without cache_dir, no HOME).
function M.cache_path(opts)
  local c, err = resolve_client(opts)
  if not c then return nil, err end
  local dir, explicit = cache_dir(opts)
  if not dir or (c.mock and not explicit) then return nil end
  return dir .. "/models-" .. (key_of(c)) .. ".json"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Write atomically: a temporary file in the same folder, renamed over the
-- old one, so a reader never sees half a file. The folder is created (mode
-- 0700) when missing.
local function write_atomic(path, text)
  local dir = path:match("^(.*)/[^/]*$") or "."
  if not core.file_kind(dir) then
    -- only when the folder does not exist yet (a first run): mkdir -p
    os.execute("mkdir -p -m 700 " .. shell_quote(dir) .. " 2>/dev/null")
  end
  return require("glrun.atomic").write(path, text)
end

-- ---------------------------------------------------------------- state

-- One state per configuration key: cat (build()), raws, fetched_at,
-- source ("network", "cache", "builtin"), path, task (a refresh running),
-- error (the last failed fetch), said (the failure was logged).
local states = {}

local function set(st, raws, fetched_at, source)
  st.raws, st.cat, st.fetched_at, st.source = raws, build(raws), fetched_at, source
end

local function builtin_state(st, why)
  set(st, models.builtin, nil, "builtin")
  st.error = why
end

local function debug_once(st, msg)
  if st.said then return end
  st.said = true
  core.log("debug", msg, "catalog")
end

local function fetch(st, c, opts, timeout)
  local rest = require "gemini.rest"
  local raws, err = rest.list_models{ client = opts and opts.client, timeout = timeout,
                                      page_size = opt(opts, "page_size") }
  if not raws then return nil, err end
  -- an answer that lists no model (a proxy or server that is not models.list)
  -- must not replace what is known: the cache or the built-in list stays
  local named = 0
  for _, m in ipairs(raws) do if type(m) == "table" and type(m.name) == "string" then named = named + 1 end end
  if named == 0 then return nil, errors.new("catalog", "models.list answered no model") end
  local now = os.time()
  if st.path then
    local text = json.encode{ glrun_catalog = 1, backend = c.backend, base_url = select(2, key_of(c)),
                              api_version = c.api_version, fetched_at = now, models = raws }
    local ok, werr = write_atomic(st.path, text)
    if not ok then core.log("debug", "models cache not written: " .. werr, "catalog") end
  end
  set(st, raws, now, "network")
  st.error, st.said = nil, false
  return st
end

local function stale(st, opts)
  return st.fetched_at == nil or os.time() - st.fetched_at >= opt(opts, "ttl")
end

local function spawn_refresh(st, c, opts)
  if st.task or not opt(opts, "background") then return end
  st.task = core.spawn(function()
    local ok, err = fetch(st, c, opts, opt(opts, "refresh_timeout"))
    st.task = nil
    if not ok then
      st.error = err
      debug_once(st, "models.list refresh failed; keeping the cached list from "
        .. os.date("!%Y-%m-%d %H:%M UTC", st.fetched_at) .. ": " .. tostring(err))
    end
    return true
  end)
end

-- The state for opts, loaded (memory, cache, network, built-in) — never nil.
local function load(opts, no_network)
  local c, cerr = resolve_client(opts)
  if not c then
    local st = states["<none>"] or {}
    states["<none>"] = st
    if not st.cat then builtin_state(st, cerr) end
    return st
  end
  local key = key_of(c)
  local st = states[key]
  if not st then
    st = { key = key, path = M.cache_path(opts), mock = c.mock }
    states[key] = st
  end
  local offline = opt(opts, "offline") or core.options.replay ~= nil or c.backend == "vertex"
  if st.cat and st.source ~= "builtin" then
    if stale(st, opts) and not offline and not no_network then spawn_refresh(st, c, opts) end
    return st
  end
  if not st.cat and st.path then
    local text = read_file(st.path)
    local doc = text and json.decode(text)
    if type(doc) == "table" and type(doc.models) == "table" and math.type(doc.fetched_at) then
      set(st, doc.models, int(doc.fetched_at), "cache")
      if stale(st, opts) and not offline and not no_network then spawn_refresh(st, c, opts) end
      return st
    elseif text then
      core.log("debug", "models cache " .. st.path .. " is unreadable; ignoring it", "catalog")
    end
  end
  if no_network then return st end
  if offline then
    if not st.cat then
      builtin_state(st, errors.new("catalog", c.backend == "vertex" and "models.list is not read on Vertex AI"
        or "offline: models.list not asked"))
    end
    return st
  end
  if st.source == "builtin" and st.tried and os.time() - st.tried < 60 then return st end
  st.tried = os.time()
  local ok, err = fetch(st, c, opts, opt(opts, "timeout"))
  if not ok then
    builtin_state(st, err)
    debug_once(st, "models.list failed and no cache: using the built-in model list: " .. tostring(err))
  end
  return st
end

-- ---------------------------------------------------------------- API

--- Every model of the catalog (sorted by id) and where the list came from:
--- returns list, info (see catalog.info).
function M.list(opts)
  local st = load(opts)
  return st.cat.list, M.info(opts)
end

--- Where the catalog of opts came from: {source = "network" | "cache" |
--- "builtin", path, fetched_at, age, stale, refreshing, error, key}.
function M.info(opts)
  local st = load(opts, true)
  return {
    source = st.source, path = st.path, fetched_at = st.fetched_at, key = st.key,
    age = st.fetched_at and (os.time() - st.fetched_at) or nil,
    stale = st.source ~= "builtin" and st.fetched_at ~= nil and stale(st, opts) or nil,
    refreshing = st.task ~= nil, error = st.error, count = st.cat and #st.cat.list or 0,
  }
end

--- Fetch models.list now (in this task) and rewrite the cache. Returns
--- the list, or nil, err (the previous catalog stays).
function M.refresh(opts)
  local c, cerr = resolve_client(opts)
  if not c then return nil, cerr end
  local key = key_of(c)
  local st = states[key] or { key = key, path = M.cache_path(opts), mock = c.mock }
  states[key] = st
  if c.backend == "vertex" then return fail("models.list is not read on Vertex AI: the built-in list is used") end
  local ok, err = fetch(st, c, opts, opt(opts, "timeout"))
  if not ok then
    st.error = err
    return nil, err
  end
  return st.cat.list
end

--- The entry of a model id (or alias: its own entry, whose `target` says
--- where it points), or nil, err when the catalog does not list it.
function M.get(id, opts)
  if type(id) ~= "string" then error("catalog.get: the model id must be a string, not " .. type(id), 2) end
  local st = load(opts)
  local e = st.cat.by_id[models.id(id)]
  if e then return e end
  return fail(("%s is not in the model catalog (%s, %d models)"):format(models.id(id), st.source, #st.cat.list))
end

--- The entry for an id from what is already known (memory or the cache
--- file) without asking the network; nil when nothing describes it.
function M.peek(id, opts)
  local ok, st = pcall(load, opts, true)
  if not ok or not st.cat or st.source == "builtin" then return nil end
  return st.cat.by_id[models.id(id)]
end

--- What an alias (or a capability query: a table, as for find) stands for
--- today: id, entry. A plain id the catalog lists resolves to itself.
function M.resolve(name, opts)
  if type(name) == "table" then
    local q = {}
    for k, v in pairs(name) do q[k] = v end
    q.newest = true
    local e, err = M.find(q, opts)
    if not e then return nil, err end
    return e.id, e
  end
  local e, err = M.get(name, opts)
  if not e then return nil, err end
  if not e.alias then return e.id, e end
  local st = load(opts)
  local t = e.target and st.cat.by_id[e.target]
  if not t then return fail(("alias %s points to no listed model"):format(e.id)) end
  return t.id, t
end

local function want_methods(q)
  local m = q.method or q.methods
  if m == nil then return {} end
  if type(m) == "string" then return { m } end
  if type(m) ~= "table" then error("catalog.find: method must be a string or a list", 3) end
  return m
end

--- Models that match a capability query, newest first; with
--- `newest = true` the first one (or nil, err when none matches). Query
--- fields (all optional, AND-ed): method (a method name or a list, all
--- needed, e.g. "bidiGenerateContent"), family ("flash", "flash-lite",
--- "pro", "embedding"), live (serves bidiGenerateContent), text (a Live
--- model that answers in TEXT), thinking, min_input_tokens,
--- min_output_tokens, prefix (of the id), aliases (include the *-latest
--- ids; default false), special (include image, speech, computer-use ...
--- models, M.special; default false), mock (include glmock's test models;
--- default: only when the catalog comes from glmock), opts (catalog options).
function M.find(q, opts)
  if type(q) ~= "table" then error("catalog.find: the query must be a table", 2) end
  opts = opts or q.opts
  local st = load(opts)
  local methods = want_methods(q)
  local out = {}
  for _, e in ipairs(st.cat.list) do
    local ok = (q.aliases or not e.alias) and (q.special or not e.special)
    for _, m in ipairs(methods) do ok = ok and e.has[m] == true end
    if ok and q.family then ok = e.family == q.family end
    if ok and q.live ~= nil then ok = (e.has.bidiGenerateContent == true) == q.live end
    if ok and q.text ~= nil then ok = models.live_caps(e.id).text == q.text end
    if ok and q.thinking ~= nil then ok = e.thinking == q.thinking end
    if ok and q.min_input_tokens then ok = (e.input_tokens or 0) >= q.min_input_tokens end
    if ok and q.min_output_tokens then ok = (e.output_tokens or 0) >= q.min_output_tokens end
    if ok and q.prefix then ok = e.id:sub(1, #q.prefix) == q.prefix end
    if ok and not (q.mock or (q.mock == nil and st.mock)) then
      local te = models.table[e.id]
      ok = not (te and te.status == "mock")
    end
    if ok then out[#out + 1] = e end
  end
  table.sort(out, newer)
  if q.newest then
    if out[1] then return out[1] end
    local parts = {}
    for k, v in pairs(q) do if k ~= "newest" and k ~= "opts" then parts[#parts + 1] = k .. "=" .. tostring(v) end end
    table.sort(parts)
    return fail(("no model in the catalog (%s, %d models) matches {%s}"):format(st.source, #st.cat.list,
      table.concat(parts, ", ")))
  end
  return out
end

--- The token limits of a model (or alias): input, output — or nil, err.
function M.limits(id, opts)
  local e, err = M.get(id, opts)
  if not e then return nil, err end
  return e.input_tokens, e.output_tokens
end

--- Forget what this process knows (the cache files stay). Tests.
function M.reset()
  states = {}
end

return M
