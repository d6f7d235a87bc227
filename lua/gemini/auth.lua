-- gemini.auth — credentials for Vertex AI: OAuth2 access tokens.
--
-- Where a token comes from (gemini.config picks the source, first match):
--   * a ready token: GOOGLE_OAUTH_ACCESS_TOKEN or GLRUN_ACCESS_TOKEN;
--   * a command that prints one: GLRUN_ACCESS_TOKEN_COMMAND, e.g.
--     "gcloud auth print-access-token" (run with io.popen: it blocks the
--     loop while it runs, so it is re-run only every
--     GLRUN_ACCESS_TOKEN_COMMAND_TTL seconds (600) or after a 401);
--   * a JSON credentials file (GOOGLE_APPLICATION_CREDENTIALS, or gcloud's
--     application-default credentials): a service-account key is turned
--     into a signed JWT (RS256, glrun.crypto) and exchanged at the key's
--     token_uri exactly as google-auth does (docs/protocol.md#vertex-oauth); an
--     authorized_user file uses its refresh token.
--
-- Tokens are cached per source and shared by every task. A token is
-- refreshed GLRUN_TOKEN_REFRESH_SKEW seconds (300, at most half its
-- lifetime) before it expires; while one refresh is in flight, the other
-- tasks that need a token wait for that refresh instead of starting their
-- own. Keys, tokens and assertions are registered as secrets, so logs,
-- traces and error messages show "***" instead.
local core = require "glrun.core"
local crypto = require "glrun.crypto"
local http = require "glrun.http"
local json = require "glrun.json"
local errors = require "gemini.errors"

local M = {}

M.SCOPE = "https://www.googleapis.com/auth/cloud-platform"
-- google-auth puts this constant in `aud`, whatever token_uri it POSTs to
M.AUDIENCE = "https://oauth2.googleapis.com/token"
M.DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
M.JWT_LIFETIME = 3600
M.JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

--- Counters, for tests and --explain-config.
M.stats = { refreshes = 0, token_requests = 0, waits = 0 }

local function envnum(name, default)
  return tonumber(os.getenv(name) or "") or default
end

local function auth_error(message, fields)
  fields = fields or {}
  fields.brief = true
  return core.error("auth", message, fields)
end

---------------------------------------------------------------------------
-- credentials files
---------------------------------------------------------------------------

local warned = {}

--- Read and check a JSON credentials file. Returns the parsed table (its
--- secrets registered for redaction), or nil, err (kind "config"). Warns
--- once when the file is readable by group or others.
function M.load_file(path)
  local f, oerr = io.open(path, "r")
  if not f then
    return nil, errors.config("cannot read the credentials file " .. path .. ": "
      .. tostring(oerr):gsub("^[^:]*: ", ""))
  end
  local text = f:read("a")
  f:close()
  local info = json.decode(text)
  if type(info) ~= "table" then
    return nil, errors.config("the credentials file " .. path .. " is not a JSON object")
  end
  local mode = core.file_mode and core.file_mode(path)
  if mode and mode & 0x3f ~= 0 and not warned[path] then
    warned[path] = true
    core.log("warn", ("the credentials file %s is readable by %s (mode %03o): run chmod 600 %s")
      :format(path, mode & 0x7 ~= 0 and "others" or "its group", mode & 0x1ff, path), "auth")
  end
  for _, k in ipairs{ "private_key", "client_secret", "refresh_token" } do
    if type(info[k]) == "string" then
      core.secret(info[k])
      -- as it appears inside JSON text (the file itself, a dump of it)
      core.secret((info[k]:gsub("\n", "\\n")))
    end
  end
  if info.type == "service_account" then
    for _, k in ipairs{ "client_email", "private_key" } do
      if type(info[k]) ~= "string" or info[k] == "" then
        return nil, errors.config("the service-account key " .. path .. " has no " .. k)
      end
    end
    if type(info.token_uri) ~= "string" or info.token_uri == "" then info.token_uri = M.DEFAULT_TOKEN_URI end
  elseif info.type == "authorized_user" then
    for _, k in ipairs{ "client_id", "client_secret", "refresh_token" } do
      if type(info[k]) ~= "string" or info[k] == "" then
        return nil, errors.config("the credentials file " .. path .. " (authorized_user) has no " .. k)
      end
    end
    info.token_uri = type(info.token_uri) == "string" and info.token_uri or M.DEFAULT_TOKEN_URI
  else
    return nil, errors.config("the credentials file " .. path .. " has type '" .. tostring(info.type)
      .. "', which glrun does not support (service_account or authorized_user); use "
      .. "GLRUN_ACCESS_TOKEN_COMMAND='gcloud auth print-access-token' instead")
  end
  return info
end

---------------------------------------------------------------------------
-- the JWT (RFC 7523 assertion)
---------------------------------------------------------------------------

local function jstr(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(ch)
    local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[ch] or ("\\u%04x"):format(ch:byte())
  end) .. '"'
end

-- an object with keys in the given order, spaced as Python's json.dumps
local function jobj(pairs_list)
  local out = {}
  for i = 1, #pairs_list, 2 do
    local v = pairs_list[i + 1]
    out[#out + 1] = jstr(pairs_list[i]) .. ": " .. (type(v) == "number" and ("%d"):format(v) or jstr(v))
  end
  return "{" .. table.concat(out, ", ") .. "}"
end

--- The signed assertion for a service-account key `info` at wall-clock
--- time `now` (seconds). Returns assertion, signing_input, header, claims
--- (the JSON texts), or nil, err.
function M.build_jwt(info, now)
  now = math.floor(now or core.time())
  local header = { "typ", "JWT", "alg", "RS256" }
  if type(info.private_key_id) == "string" and info.private_key_id ~= "" then
    header[#header + 1], header[#header + 2] = "kid", info.private_key_id
  end
  local h = jobj(header)
  local cl = jobj{ "iat", now, "exp", now + M.JWT_LIFETIME, "iss", info.client_email,
                   "aud", M.AUDIENCE, "scope", M.SCOPE }
  local input = crypto.b64url(h) .. "." .. crypto.b64url(cl)
  local sig, err = crypto.rs256_sign(info.private_key, input)
  if not sig then return nil, auth_error("cannot sign the JWT with the service-account key: " .. err.message) end
  -- (not registered as a secret: it lives one hour, and "assertion=" in
  -- a form body is redacted as a carrier anyway)
  return input .. "." .. crypto.b64url(sig), input, h, cl
end

---------------------------------------------------------------------------
-- token requests
---------------------------------------------------------------------------

local function form_escape(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

local RETRYABLE = { [408] = true, [429] = true, [500] = true, [503] = true, [504] = true }

-- POST a form to the token endpoint; retried like google-auth on 408, 429,
-- 500, 503, 504 and on internal_failure / server_error / temporarily_unavailable.
-- Returns token, lifetime (seconds) or nil, err.
local function token_request(uri, body, what)
  local last
  for attempt = 1, 3 do
    M.stats.token_requests = M.stats.token_requests + 1
    local res, err = http.request{ url = uri, method = "POST", body = body, timeout = 30,
      headers = { ["Content-Type"] = "application/x-www-form-urlencoded", Accept = "application/json" } }
    if res then
      local obj = json.decode(res.body)
      if type(obj) ~= "table" or type(obj.access_token) ~= "string" or obj.access_token == "" then
        return nil, auth_error("the token endpoint " .. uri .. " answered without an access_token")
      end
      core.secret(obj.access_token)
      return obj.access_token, tonumber(obj.expires_in) or 3600
    end
    local _, obj = errors.enrich(err) -- the body, decoded once
    local code = type(obj) == "table" and obj.error
    local desc = type(obj) == "table" and obj.error_description
    if type(code) == "table" then desc, code = code.message, code.status end
    local retry = (type(err) == "table" and RETRYABLE[err.status]) or code == "internal_failure"
      or code == "server_error" or code == "temporarily_unavailable"
      or (type(err) == "table" and (err.kind == "connect" or err.kind == "timeout"))
    local msg = ("%s: the token request to %s failed: %s"):format(what, uri,
      code and (tostring(code) .. (desc and (": " .. tostring(desc)) or ""))
        or (type(err) == "table" and err.message or tostring(err)))
    if code == "invalid_grant" then
      msg = msg .. " (is the key revoked or deleted, or the clock off? see docs/vertex-ai.md)"
    end
    last = auth_error(msg, { status = type(err) == "table" and err.status or nil, cause = err })
    if not retry or attempt == 3 then break end
    core.sleep(0.5 * attempt)
  end
  return nil, last
end

local function fetch_service_account(src)
  local info = src.info
  core.secret(info.private_key)          -- keep the key among the newest secrets
  core.secret((info.private_key:gsub("\n", "\\n")))
  local assertion, err = M.build_jwt(info)
  if not assertion then return nil, err end
  return token_request(info.token_uri, "grant_type=" .. form_escape(M.JWT_GRANT) .. "&assertion=" .. assertion,
    "service account " .. info.client_email)
end

local function fetch_authorized_user(src)
  local info = src.info
  return token_request(info.token_uri, "grant_type=refresh_token&client_id=" .. form_escape(info.client_id)
    .. "&client_secret=" .. form_escape(info.client_secret) .. "&refresh_token=" .. form_escape(info.refresh_token),
    "user credentials " .. src.file)
end

local function fetch_command(src)
  local p = io.popen(src.command, "r")
  if not p then return nil, auth_error("cannot run GLRUN_ACCESS_TOKEN_COMMAND") end
  local out = p:read("a") or ""
  local ok, _, code = p:close()
  local tok = out:match("^%s*(%S+)%s*$")
  if not ok or not tok then
    return nil, auth_error(("the access-token command (%s) failed (exit status %s) or printed no token")
      :format(src.source, tostring(code)))
  end
  core.secret(tok)
  return tok, envnum("GLRUN_ACCESS_TOKEN_COMMAND_TTL", 600)
end

---------------------------------------------------------------------------
-- the shared cache
---------------------------------------------------------------------------

local cache = {} -- source key -> { token, expires (core.now), refresh_at, task }

local function source_key(src)
  return src.kind .. ":" .. tostring(src.file or src.command or src.source)
end

local function refresh(src)
  M.stats.refreshes = M.stats.refreshes + 1
  if src.kind == "service_account" then return fetch_service_account(src) end
  if src.kind == "authorized_user" then return fetch_authorized_user(src) end
  if src.kind == "command" then return fetch_command(src) end
  return nil, auth_error("unknown credentials kind " .. tostring(src.kind))
end

--- An access token for the resolved config c (gemini.config, Vertex AI).
--- Returns token or nil, err. Must run in a task when a refresh is due.
function M.token(c)
  local src = c.auth
  if not src then return nil, auth_error("no Vertex AI credentials in this configuration") end
  if src.kind == "token" then return src.token end
  local key = source_key(src)
  local e = cache[key]
  if not e then e = {}; cache[key] = e end
  local now = core.now()
  if e.token and now < e.refresh_at then return e.token end
  if not e.task then
    -- one refresh at a time: it runs as its own task; everyone joins it
    e.task = core.spawn(function()
      local tok, life = refresh(src)
      if tok then
        local t = core.now()
        local skew = math.min(envnum("GLRUN_TOKEN_REFRESH_SKEW", 300), life / 2)
        e.token, e.expires, e.refresh_at = tok, t + life, t + life - skew
      end
      e.task = nil
      return tok, life
    end)
  else
    M.stats.waits = M.stats.waits + 1
  end
  local tok, err = e.task:join()
  if tok then return tok end
  -- the task itself failed: err is its error; a failed refresh returned nil, err
  if e.token and core.now() < e.expires then return e.token end -- still valid: keep going
  return nil, err
end

--- Forget a token the server refused (HTTP 401), so the next call
--- refreshes it. Ready tokens from the environment cannot be refreshed.
function M.invalidate(c, token)
  local src = c.auth
  if not src or src.kind == "token" then return false end
  local e = cache[source_key(src)]
  if e and (token == nil or e.token == token) then e.token = nil end
  return true
end

--- The authentication headers for c: x-goog-api-key (Gemini API, Vertex
--- express mode) or Authorization: Bearer (Vertex AI). Returns the table
--- or nil, err.
function M.headers(c)
  if c.backend ~= "vertex" or c.express then return { ["x-goog-api-key"] = c.api_key } end
  local tok, err = M.token(c)
  if not tok then return nil, err end
  return { Authorization = "Bearer " .. tok }, tok
end

--- The cached token state for a config (tests, --explain-config): {token?,
--- expires_in?} — the token itself is a secret, print it only redacted.
function M.state(c)
  local src = c.auth
  local e = src and cache[source_key(src)]
  if not e or not e.token then return {} end
  return { token = e.token, expires_in = e.expires - core.now() }
end

--- Drop every cached token (tests).
function M.reset() cache = {} end

return M
