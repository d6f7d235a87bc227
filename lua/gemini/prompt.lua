-- gemini.prompt — gemini.ask with attachments, a schema or a context
-- cache (opts.files, opts.schema, opts.cache). gemini.ask calls this when
-- one of them is given; plain asks never load it.
local errors = require "gemini.errors"
local rest = require "gemini.rest"

local M = {}

-- The user content of the prompt with the attachments' parts first (the
-- order the SDKs' examples use: the document, then the question).
local function with_parts(contents, parts)
  local last
  for i = #contents, 1, -1 do
    if contents[i].role == "user" then last = contents[i]; break end
  end
  if not last then
    last = { role = "user", parts = {} }
    contents[#contents + 1] = last
  end
  local merged = {}
  for _, p in ipairs(parts) do merged[#merged + 1] = p end
  for _, p in ipairs(last.parts or {}) do merged[#merged + 1] = p end
  last.parts = merged
end

-- opts.cache: a CachedContent (or its name); or { ttl = ... }: a cache made
-- here for the system instruction, the history and the attachments, used
-- and deleted again. Returns the name to send, a cleanup function, or nil, err.
local function cache_for(req, opts)
  local cache = opts.cache
  if type(cache) == "string" or (type(cache) == "table" and cache.name) then
    return type(cache) == "string" and cache or cache.name
  end
  if type(cache) ~= "table" then
    error("gemini.ask: cache must be a CachedContent, its name, or { ttl = ... }", 4)
  end
  local caches = require "gemini.caches"
  -- everything but the question goes into the cache
  local prefix = {}
  for i = 1, #req.contents - 1 do prefix[i] = req.contents[i] end
  local q = req.contents[#req.contents]
  local qtext, qrest = {}, {}
  for _, p in ipairs(q.parts or {}) do
    if p.text then qtext[#qtext + 1] = p else qrest[#qrest + 1] = p end
  end
  if #qrest > 0 then prefix[#prefix + 1] = { role = "user", parts = qrest } end
  local c, err = caches.create{ model = opts.model, contents = prefix, system_instruction = req.systemInstruction,
    tools = req.tools, ttl = cache.ttl or 300, client = opts.client, if_large_enough = true }
  if c == false then return false end -- below the model's minimum: no cache
  if not c then return nil, err end
  req.contents = { { role = "user", parts = qtext } }
  req.systemInstruction, req.tools, req.toolConfig = nil, nil, nil
  return c.name, function() caches.delete(c, { client = opts.client }) end
end

--- gemini.ask(prompt, opts) with opts.files (attachments: paths or Files),
--- opts.schema (a JSON Schema as a Lua table: returns the decoded value),
--- opts.cache. Returns text (or the value), response — or nil, err
--- (gemini.ask keeps the first, gemini.generate the response, whose
--- .parsed holds the value).
function M.ask(prompt, opts)
  local gemini = require "gemini"
  if opts.schema ~= nil and type(opts.schema) ~= "table" then
    error("gemini.ask: schema must be a table (a JSON Schema as a Lua table), not " .. type(opts.schema), 3)
  end
  local req = gemini.request(prompt, opts)
  if opts.files then
    local parts, err = require("gemini.files").parts(opts.files, { client = opts.client, progress = opts.progress })
    if not parts then return nil, err end
    with_parts(req.contents, parts)
  end
  local cleanup
  if opts.cache then
    if opts.system and (type(opts.cache) == "string" or opts.cache.name) then
      error("gemini.ask: a request that uses a cache cannot set system too (the cache holds it)", 3)
    end
    local name, how = cache_for(req, opts)
    if name == nil then return nil, how end
    if name then
      req.cachedContent = name
      cleanup = how
    end
  end
  local function finish(...)
    if cleanup then cleanup() end
    return ...
  end
  if not opts.schema then
    local resp, err = rest.generate(req, opts)
    if not resp then return finish(nil, err) end
    return finish(resp.text, resp)
  end
  local schema = require "gemini.schema"
  req.generationConfig = schema.config(opts.schema, req.generationConfig)
  local resp, err = rest.generate(req, opts)
  if not resp then return finish(nil, err) end
  local v, why = schema.decode(resp.text, opts.schema)
  if v ~= nil then
    resp.parsed = v -- as python-genai's response.parsed
    return finish(v, resp)
  end
  -- once more, saying what was wrong
  local first = resp.text
  local retry = {}
  for k, val in pairs(req) do retry[k] = val end
  retry.contents = {}
  for i, c in ipairs(req.contents) do retry.contents[i] = c end
  retry.contents[#retry.contents + 1] = { role = "model", parts = { { text = first } } }
  retry.contents[#retry.contents + 1] = { role = "user", parts = { { text =
    "Your reply did not match the JSON schema: " .. why.message .. ". Reply again with JSON that matches the schema, "
    .. "and nothing else." } } }
  local resp2, err2 = rest.generate(retry, opts)
  if not resp2 then return finish(nil, err2) end
  local v2, why2 = schema.decode(resp2.text, opts.schema)
  if v2 ~= nil then
    resp2.parsed = v2
    return finish(v2, resp2)
  end
  return finish(nil, errors.new("schema", "the reply does not match the schema, even when asked again: " .. why2.message,
    { raw = resp2.text, first = first, problems = why2.problems, response = resp2 }))
end

return M
