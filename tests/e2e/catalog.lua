-- gemini.catalog against glmock: models.list over every page, the cache
-- file (created atomically, used offline when the server is gone, fresh
-- for the TTL, refreshed in the background when stale, kept when that
-- refresh fails), the built-in fallback, alias and capability lookups with
-- the documented newest-first order, token limits; gemini.models.live_caps.
local catalog = require "gemini.catalog"
local models = require "gemini.models"
local json = require "glrun.json"

local base = assert(gl.options.mock_url, "run with glrun --mock"):gsub("/+$", "")
local DEAD = "http://127.0.0.1:1"     -- nothing listens there
local tmp = os.tmpname()
os.remove(tmp)
local dir = tmp .. ".glrun-catalog"

local function ok(what) print("ok - " .. what) end
local counters = require("glmockctl").counters
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function write(path, s)
  local f = assert(io.open(path, "wb"))
  assert(f:write(s))
  assert(f:close())
end
local function ls(d)
  local p = assert(io.popen("ls -a '" .. d .. "' 2>/dev/null"))
  local names = {}
  for n in p:lines() do if n ~= "." and n ~= ".." then names[#names + 1] = n end end
  p:close()
  table.sort(names)
  return names
end
local function wait_for(cond, what)
  for _ = 1, 400 do
    if cond() then return end
    gl.sleep(0.05)
  end
  error("timed out waiting for " .. what)
end

local glmock_opts = { cache_dir = dir, page_size = 3, client = { base_url = base } }

-- 1. every page of models.list, into a cache file written atomically
catalog.reset()
local before = counters().rest
local list, info = catalog.list(glmock_opts)
local requests = counters().rest - before
assert(info.source == "network", info.source)
assert(#list >= 17, "only " .. #list .. " models")
assert(requests == math.ceil(#list / 3), ("%d models in %d requests of 3"):format(#list, requests))
local path = assert(catalog.cache_path(glmock_opts))
assert(path:sub(1, #dir + 1) == dir .. "/" and path:match("/models%-gemini%-%x+%.json$"), path)
assert(info.path == path)
local doc = assert(json.decode(assert(read(path), "no cache file at " .. path)))
assert(#doc.models == #list and doc.backend == "gemini" and math.abs(doc.fetched_at - os.time()) < 60)
local names = ls(dir)
assert(#names == 1, "only the cache file, no temporary left: " .. table.concat(names, " "))
-- a second load in this process asks nothing
before = counters().rest
catalog.list(glmock_opts)
assert(counters().rest == before, "served from memory")
-- another process (a reset) reads the file: fresh within the TTL, nothing asked
catalog.reset()
_, info = catalog.list(glmock_opts)
assert(info.source == "cache" and not info.stale and counters().rest == before, info.source)
ok("models.list over every page, cached in " .. path:match("[^/]+$") .. ", read back without a request")

-- glmock and another base URL never share a file
local dead_opts = { cache_dir = dir, client = { base_url = DEAD, api_key = "k" } }
local dead_path = assert(catalog.cache_path(dead_opts))
assert(dead_path ~= path, "one cache per base URL")

-- 2. offline: the cache of a server that is gone is used as is
write(dead_path, assert(read(path)))
catalog.reset()
list, info = catalog.list(dead_opts)
assert(info.source == "cache" and #list == #doc.models, info.source)
assert(catalog.resolve("gemini-pro-latest", dead_opts) == "gemini-4-argon")
ok("offline: the cache answers for a dead server")

-- 3. stale (TTL passed): used at once; the background refresh fails and the cache stays
local old = assert(json.decode(read(dead_path)))
old.fetched_at = os.time() - 2 * 86400
write(dead_path, json.encode(old))
catalog.reset()
list, info = catalog.list(dead_opts)
assert(info.source == "cache" and info.stale and #list == #doc.models, tostring(info.source))
wait_for(function() return not catalog.info(dead_opts).refreshing end, "the background refresh")
info = catalog.info(dead_opts)
assert(info.source == "cache" and info.error and info.error.kind == "connect", tostring(info.error))
assert(json.decode(read(dead_path)).fetched_at == old.fetched_at, "a failed refresh leaves the file alone")
assert(catalog.get("gemini-3.8-flash", dead_opts), "still usable")
-- a longer TTL makes the same file fresh again
catalog.reset()
_, info = catalog.list{ cache_dir = dir, ttl = 3 * 86400, client = dead_opts.client }
assert(info.source == "cache" and not info.stale and not info.refreshing, "ttl option")
ok("stale cache: used at once, failed background refresh keeps it; ttl option")

-- ... and against a live server the background refresh rewrites it
doc.fetched_at = os.time() - 2 * 86400
write(path, json.encode(doc))
catalog.reset()
before = counters().rest
_, info = catalog.list(glmock_opts)
assert(info.source == "cache" and info.stale, info.source)
wait_for(function() return catalog.info(glmock_opts).source == "network" end, "the refreshed catalog")
assert(counters().rest > before)
assert(json.decode(read(path)).fetched_at >= os.time() - 60, "the cache file was rewritten")
assert(#ls(dir) == 2, "two cache files, no temporary: " .. table.concat(ls(dir), " "))
ok("stale cache refreshed in the background")

-- 4. no network, no cache: the built-in list of gemini.models
catalog.reset()
local none = { cache_dir = dir .. "/none", client = { base_url = DEAD, api_key = "k" } }
list, info = catalog.list(none)
assert(info.source == "builtin" and info.error and #list == #models.builtin, tostring(info.source))
assert(catalog.resolve("gemini-flash-latest", none) == "gemini-3.8-flash")
assert(catalog.find({ method = "bidiGenerateContent", newest = true }, none).id == "gemini-3.8-live")
assert(#ls(dir .. "/none") == 0, "nothing written")
local r, err = catalog.refresh(none)
assert(r == nil and err.kind == "connect", tostring(err))
ok("without network or cache: the built-in list")

-- 5. lookups: aliases, capabilities in the documented order, limits (glmock's catalog)
catalog.reset()
local g = glmock_opts
assert(catalog.get("models/gemini-3.8-flash", g).id == "gemini-3.8-flash")
local e = assert(catalog.get("gemini-flash-latest", g))
assert(e.alias and e.target == "gemini-3.8-flash")
local id, te = catalog.resolve("gemini-flash-latest", g)
assert(id == "gemini-3.8-flash" and te.id == id)
assert(catalog.resolve("gemini-pro-latest", g) == "gemini-4-argon")
assert(catalog.resolve("gemini-flash-lite-latest", g) == "gemini-3.5-flash-lite")
assert(catalog.resolve("gemini-2.5-flash-native-audio-latest", g) == "gemini-2.5-flash-native-audio-preview-12-2025")
assert(catalog.resolve("gemini-2.5-pro", g) == "gemini-2.5-pro")
assert(catalog.resolve({ method = "generateContent", family = "pro" }, g) == "gemini-4-argon")
local nf, nerr = catalog.get("gemini-9-nothing", g)
assert(nf == nil and nerr.kind == "catalog" and tostring(nerr):find("gemini-9-nothing", 1, true), tostring(nerr))
local function ids(l) local t = {} for i, x in ipairs(l) do t[i] = x.id end return table.concat(t, " ") end
local live_flash = catalog.find({ method = "bidiGenerateContent", family = "flash" }, g)
assert(ids(live_flash) == "gemini-3.8-live gemini-3.1-flash-live-preview "
  .. "gemini-2.5-flash-native-audio-preview-12-2025 gemini-2.5-flash-native-audio-preview-09-2025", ids(live_flash))
assert(catalog.find({ method = "bidiGenerateContent", family = "flash", newest = true }, g).id == "gemini-3.8-live")
assert(catalog.find({ method = "generateContent", family = "flash", newest = true }, g).id == "gemini-3.8-flash")
assert(catalog.find({ method = "generateContent", family = "flash-lite", newest = true }, g).id == "gemini-3.5-flash-lite")
assert(catalog.find({ method = { "generateContent", "batchGenerateContent" }, family = "pro", newest = true }, g).id
  == "gemini-4-argon")
assert(catalog.find({ method = "embedContent", newest = true }, g).id == "gemini-embedding-001")
assert(catalog.find({ live = true, text = true, newest = true }, g).id == "gemini-3-live-text-test")
assert(catalog.find({ live = true, text = true, mock = false }, g)[1] == nil, "glmock's test models only on request")
local with_aliases = ids(catalog.find({ method = "generateContent", family = "flash", aliases = true }, g))
assert(with_aliases:find("gemini-flash-latest", 1, true) and not ids(catalog.find({ method = "generateContent" }, g))
  :find("latest", 1, true), with_aliases)
local none_e, ferr = catalog.find({ method = "bidiGenerateContent", family = "pro", newest = true }, g)
assert(none_e == nil and ferr.kind == "catalog" and tostring(ferr):find("family=pro", 1, true), tostring(ferr))
local inp, outp = catalog.limits("gemini-4-argon", g)
assert(inp == 1048576 and outp == 65536, tostring(inp))
assert(select(2, catalog.limits("gemini-embedding-001", g)) == 1)
assert(not pcall(catalog.get, 42) and not pcall(catalog.find, "flash"), "misuse raises")
ok("aliases, capability queries newest first, limits")

-- 5b. the order and the alias rules on a list shaped like the real one
-- (no alias hints in baseModelId, special-purpose and non-Gemini models)
local syn = { cache_dir = dir, client = { base_url = "http://127.0.0.1:2", api_key = "k" } }
local GEN = { "generateContent", "countTokens" }
local function m(id, methods, base) return { name = "models/" .. id, baseModelId = base, supportedGenerationMethods = methods,
                                             inputTokenLimit = 1000, outputTokenLimit = 10 } end
write(assert(catalog.cache_path(syn)), json.encode{ fetched_at = os.time(), models = {
  m("gemini-2.5-flash", GEN), m("gemini-2.5-flash-image", GEN), m("gemini-3-flash-preview", GEN),
  m("gemini-3.8-flash-preview-09-2026", GEN), m("gemini-3.8-flash", GEN), m("gemini-3.9-flash-image-preview", GEN),
  m("gemini-flash-latest", GEN, "gemini-flash-latest"), m("gemma-3-27b-it", GEN), m("gemini-2.5-pro", GEN),
  m("gemini-2.5-flash-native-audio-latest", { "bidiGenerateContent" }),
  m("gemini-2.5-flash-native-audio-preview-09-2025", { "bidiGenerateContent" }),
  m("gemini-2.5-flash-native-audio-preview-12-2025", { "bidiGenerateContent" }),
  m("gemini-pro-latest", GEN) } })
catalog.reset()
assert(ids(catalog.find({ method = "generateContent", family = "flash" }, syn))
  == "gemini-3.8-flash gemini-3.8-flash-preview-09-2026 gemini-3-flash-preview gemini-2.5-flash",
  ids(catalog.find({ method = "generateContent", family = "flash" }, syn)))
assert(catalog.find({ method = "generateContent", family = "flash", special = true, newest = true }, syn).id
  == "gemini-3.9-flash-image-preview")
assert(catalog.find({ method = "generateContent", newest = true }, syn).id == "gemini-3.8-flash")
assert(ids(catalog.find({ method = "generateContent" }, syn)):match("gemma%-3%-27b%-it$"), "no generation: last")
assert(catalog.resolve("gemini-flash-latest", syn) == "gemini-3.8-flash", "family rule")
assert(catalog.resolve("gemini-pro-latest", syn) == "gemini-2.5-pro")
assert(catalog.resolve("gemini-2.5-flash-native-audio-latest", syn) == "gemini-2.5-flash-native-audio-preview-12-2025",
  "stem rule, newest date")
ok("newest-first order and alias rules on a real-shaped list")

-- 6. Live capabilities: the table, the catalog, and 3.x defaults for unknown ids
catalog.reset()
catalog.list()                                   -- the default client (glmock): what peek reads
local c3 = models.live_caps("gemini-3.8-live")
assert(c3.text_input == "realtime_input" and c3.client_content == "initial_only" and c3.history_seed
  and c3.media_chunks == false and c3.audio and not c3.text and c3.live and c3.rules == "3", json.encode(c3))
local c25 = models.live_caps("gemini-2.5-flash-native-audio-latest")
assert(c25.text_input == "client_content" and c25.client_content == "any" and not c25.history_seed
  and c25.media_chunks and c25.rules == "2.5")
local t25 = models.live_caps("gemini-live-text-test-slow")
assert(t25.text and t25.audio and t25.text_input == "client_content", json.encode(t25))
local t3 = models.live_caps("gemini-3-live-text-test")
assert(t3.text and t3.text_input == "realtime_input" and t3.async_functions == false)
assert(models.live_caps("gemini-3.1-flash-live-preview").async_functions == false)
local u = models.live_caps("models/gemini-5.2-live-new")
assert(u.rules == "3" and u.source == "default" and u.text_input == "realtime_input" and u.audio and not u.text)
assert(models.live_caps("gemini-2.0-flash-something").rules == "2.5")
local flash = models.live_caps("gemini-3.8-flash")
assert(flash.live == false and flash.source == "catalog", "the catalog says it is not Live")
assert(models.live_caps("gemini-live-2.5-flash-preview").live == false, "retired")
-- the functions that were there keep working
assert(models.supports_text("gemini-3-live-text-test") and not models.supports_text("gemini-3.8-live"))
assert(models.is_live("gemini-3.8-live") and models.info("gemini-3-live-text-test-slow"))
assert(models.generation("gemini-3.8-flash") == 3 and select(2, models.generation("gemini-3.8-flash")) == 8)
assert(models.family("gemini-4-argon") == "pro" and models.family("gemini-3.5-flash-lite") == "flash-lite")
ok("models.live_caps: 2.5 and 3.x rules, modalities, catalog knowledge, 3.x for unknown new ids")

os.execute("rm -rf '" .. dir .. "'")
