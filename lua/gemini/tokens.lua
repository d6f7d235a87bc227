-- gemini.tokens — ephemeral auth tokens for browsers and phones (Gemini
-- API only): a backend holding the API key hands out a short-lived token
-- that opens Live sessions, and nothing else.
--
--   local tok = assert(gemini.tokens.create{ uses = 1, expire = "10m",
--     setup = { model = "gemini-live-2.5-flash", generationConfig = { responseModalities = { "AUDIO" } } } })
--   -- hand tok.name to the client; there (or here, to try it):
--   local s = assert(gemini.live.connect{ client = { api_key = tok.name } })
--
-- POST /v1alpha/auth_tokens (docs/protocol.md#ephemeral-tokens). The token
-- works only on the v1alpha BidiGenerateContentConstrained method, which
-- gemini.live picks by itself for a key that starts with "auth_tokens/".
-- Field locks follow the official SDKs (js-genai's
-- convertBidiSetupToTokenSetup, python-genai's tokens.py):
--   lock = nil     the whole setup is locked (no fieldMask is sent)
--   lock = {}      the fields the setup sets are locked (fieldMask = those)
--   lock = {...}   those, plus the named fields; a generation field
--                  ("temperature", "topK", "topP", "maxOutputTokens",
--                  "responseModalities", "seed", "speechConfig") becomes
--                  "generationConfig.<name>"
local core = require "glrun.core"
local R = require "gemini.resource"

local M = {}

M.defaults = { uses = 1, expire = 30 * 60, new_session_expire = 60 } -- the service's own defaults

-- the generation fields js-genai 3.3.0 maps to generationConfig.<name>
local GENERATION = { temperature = true, topK = true, topP = true, maxOutputTokens = true,
                     responseModalities = true, seed = true, speechConfig = true }

local function is_list(t)
  return type(t) == "table" and #t > 0 and next(t, #t) == nil
end

--- The fieldMask paths of a setup: each top-level field, or "field.sub" for
--- each member of a non-empty object (lists stay bare: a mask cannot index
--- them). Sorted, so the same setup gives the same mask.
function M.field_mask(setup)
  local keys = {}
  for k in pairs(setup) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = setup[k]
    if type(v) == "table" and next(v) ~= nil and not is_list(v) then
      local sub = {}
      for kk in pairs(v) do sub[#sub + 1] = k .. "." .. kk end
      table.sort(sub)
      for _, p in ipairs(sub) do out[#out + 1] = p end
    else
      out[#out + 1] = k
    end
  end
  return out
end

-- an absolute expiry: number/duration -> now + that; RFC 3339 -> as is
local function when(v, now, what)
  if v == nil then return nil end
  local secs = R.seconds(v)
  if secs then return R.rfc3339(now + secs) end
  if type(v) == "string" and R.parse_time(v) then return v end
  error(("tokens.create: %s must be seconds, a duration (\"10m\") or an RFC 3339 time, not %q")
    :format(what, tostring(v)), 4)
end

--- The request body tokens.create sends (exposed for tests and for
--- backends that sign their own requests).
function M.request(opts)
  local now = opts.now or core.time()
  local body = {
    uses = opts.uses or M.defaults.uses,
    expireTime = when(opts.expire or M.defaults.expire, now, "expire"),
    newSessionExpireTime = when(opts.new_session_expire or M.defaults.new_session_expire, now, "new_session_expire"),
  }
  if math.type(body.uses) ~= "integer" or body.uses < 1 then
    error("tokens.create: uses must be a positive integer", 3)
  end
  local setup = opts.setup
  if setup ~= nil then
    if type(setup) ~= "table" then error("tokens.create: setup must be a table (a Live setup)", 3) end
    local copy = {}
    for k, v in pairs(setup) do copy[k] = v end
    if type(copy.model) == "string" and not copy.model:find("/", 1, true) then copy.model = "models/" .. copy.model end
    body.bidiGenerateContentSetup = copy
  end
  local lock = opts.lock
  if lock ~= nil and type(lock) ~= "table" then error("tokens.create: lock must be a list of field names", 3) end
  if setup ~= nil then
    if lock ~= nil and next(lock) == nil then
      local m = M.field_mask(body.bidiGenerateContentSetup)
      if #m > 0 then body.fieldMask = table.concat(m, ",") end
    elseif lock ~= nil then
      local m = M.field_mask(body.bidiGenerateContentSetup)
      for _, f in ipairs(lock) do m[#m + 1] = GENERATION[f] and ("generationConfig." .. f) or f end
      body.fieldMask = table.concat(m, ",")
    end -- lock == nil: the whole setup is locked, no mask
  elseif lock ~= nil and next(lock) ~= nil then
    body.fieldMask = table.concat(lock, ",")
  end
  return body
end

--- Create a token. opts: uses (1), expire (seconds, "30m" or an RFC 3339
--- time; 30 min), new_session_expire (60 s: a session must start by then),
--- setup (a Live BidiGenerateContentSetup table: model, generationConfig,
--- systemInstruction, ...), lock (see above), client. Returns the token
--- ({name = "auth_tokens/...", expireTime, newSessionExpireTime, uses}),
--- or nil, err (kind "unsupported" on Vertex AI).
function M.create(opts)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, "tokens.create (ephemeral tokens)")
  if not c then return nil, cerr end
  if type(c.api_key) == "string" and c.api_key:match("^auth_tokens/") then
    return nil, R.input("tokens.create needs an API key: an ephemeral token cannot create tokens")
  end
  local body = M.request(opts)
  local tok, err = R.call(c, { url = R.url(c, "auth_tokens", nil, "v1alpha"), method = "POST", body = body,
                               timeout = opts.timeout })
  if not tok then return nil, err end
  if type(tok.name) ~= "string" or not tok.name:match("^auth_tokens/") then
    return nil, require("gemini.errors").new("protocol", "auth_tokens: the answer has no token name")
  end
  core.secret(tok.name) -- a credential: never in a log, trace or error
  tok.expireTime = tok.expireTime or body.expireTime
  tok.newSessionExpireTime = tok.newSessionExpireTime or body.newSessionExpireTime
  tok.uses = tok.uses or body.uses
  return tok
end

return M
