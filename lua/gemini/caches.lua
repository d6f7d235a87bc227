-- gemini.caches — context caches: a long document (and the system
-- instruction, tools) stored once and reused by many requests, billed at a
-- lower rate while it lives (docs/protocol.md#context-caches).
--
--   local c = assert(gemini.caches.create{ model = "gemini-2.5-flash", system = "You answer from the report.",
--                                           contents = { report_content }, ttl = "10m" })
--   print(gemini.ask("What changed in Q3?", { cache = c, model = "gemini-2.5-flash" }))
--   gemini.caches.delete(c)
--
-- A request that uses a cache names it ("cachedContent") and must not repeat
-- what the cache holds: the system instruction, tools and tool config live in
-- the cache (the service refuses a request that sets them again). The
-- answer's usageMetadata.cachedContentTokenCount says how much came from it.
local R = require "gemini.resource"

local M = {}

local function as_content(x, role)
  if type(x) == "string" then return { role = role, parts = { { text = x } } } end
  return x
end

local function expiry_fields(body, opts, what)
  if opts.ttl ~= nil and opts.expire_time ~= nil then
    error(what .. ": give ttl or expire_time, not both", 4)
  end
  if opts.ttl ~= nil then
    local s = R.seconds(opts.ttl)
    if not s then error(what .. ": ttl must be seconds or a duration such as \"10m\", not " .. tostring(opts.ttl), 4) end
    body.ttl = R.duration(s)
  elseif opts.expire_time ~= nil then
    body.expireTime = type(opts.expire_time) == "number" and R.rfc3339(opts.expire_time) or opts.expire_time
  end
end

--- Create a cache. opts: model (the one every request using it must name),
--- contents (a list of contents, or strings: user turns), system (text) or
--- system_instruction (a content), tools, tool_config, ttl (seconds or
--- "10m"; the service's default is 1 hour) or expire_time, display_name,
--- client. Returns the CachedContent (name, model, expireTime,
--- usageMetadata.totalTokenCount), or nil, err — a cache below the model's
--- minimum size is an error of kind "http" (400), unless opts.if_large_enough:
--- then the answer is false (no cache: send the request whole).
function M.create(opts)
  opts = opts or {}
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  local rest = require "gemini.rest"
  local model = opts.model or c.model
  local body = { model = rest.model_path(model), displayName = opts.display_name, tools = opts.tools,
                 toolConfig = opts.tool_config }
  if opts.contents ~= nil then
    if type(opts.contents) ~= "table" then error("caches.create: contents must be a list", 2) end
    body.contents = {}
    for i, x in ipairs(opts.contents) do body.contents[i] = as_content(x, "user") end
    if #body.contents == 0 then body.contents = nil end -- {} would go out as an object, not a list
  end
  if opts.system then body.systemInstruction = { parts = { { text = opts.system } } } end
  if opts.system_instruction then body.systemInstruction = as_content(opts.system_instruction) end
  expiry_fields(body, opts, "caches.create")
  local path = c.backend == "vertex" and ("projects/" .. c.project .. "/locations/" .. c.location .. "/cachedContents")
    or "cachedContents"
  local cache, err = R.call(c, { url = R.url(c, path), method = "POST", body = body, timeout = opts.timeout })
  if not cache then
    if opts.if_large_enough and type(err) == "table" and err.status == 400
       and tostring(err.message):find("too small", 1, true) then
      return false
    end
    return nil, err
  end
  return cache
end

local function named(c, name)
  local n = R.name("cachedContents", name)
  if c.backend == "vertex" then n = "projects/" .. c.project .. "/locations/" .. c.location .. "/" .. n end
  return n
end

--- A cache by name ("cachedContents/ID", "ID" or the table), or nil, err (an
--- expired or deleted cache: kind "http", status 403, "not found").
function M.get(name, opts)
  opts = opts or {}
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  return R.call(c, { url = R.url(c, named(c, name)), timeout = opts.timeout })
end

--- Every live cache (all pages), or nil, err.
function M.list(opts)
  opts = opts or {}
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  local path = c.backend == "vertex" and ("projects/" .. c.project .. "/locations/" .. c.location .. "/cachedContents")
    or "cachedContents"
  return R.pages(c, path, "cachedContents", { page_size = opts.page_size or 100, timeout = opts.timeout })
end

--- Give a cache a new lifetime: opts.ttl (from now) or opts.expire_time.
--- Returns the updated CachedContent, or nil, err.
function M.update(name, opts)
  opts = opts or {}
  if opts.ttl == nil and opts.expire_time == nil then error("caches.update: give ttl or expire_time", 2) end
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  local body = {}
  expiry_fields(body, opts, "caches.update")
  return R.call(c, { url = R.url(c, named(c, name)), method = "PATCH", body = body, timeout = opts.timeout })
end

--- Delete a cache: true, or nil, err.
function M.delete(name, opts)
  opts = opts or {}
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  local ok, err = R.call(c, { url = R.url(c, named(c, name)), method = "DELETE", timeout = opts.timeout })
  if not ok then return nil, err end
  return true
end

--- How much of a response came from a cache: usageMetadata.cachedContentTokenCount (0 when none).
function M.cached_tokens(resp)
  local u = type(resp) == "table" and resp.usageMetadata
  return type(u) == "table" and tonumber(u.cachedContentTokenCount) or 0
end

return M
