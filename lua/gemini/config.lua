-- gemini.config — where requests go and with which credentials.
--
-- Reads the environment variables of Google's official SDKs
-- (docs/protocol.md#environment-variables): GOOGLE_API_KEY wins over GEMINI_API_KEY;
-- GOOGLE_GEMINI_BASE_URL overrides the base URL (an http:// base URL on
-- loopback is how tests point glrun at glmock); GOOGLE_GENAI_API_VERSION
-- the API version. Explicit options beat the environment. `glrun --mock`
-- sets core.options.mock_url, which beats the environment and uses no real key.
--
-- Vertex AI (backend "vertex") when GOOGLE_GENAI_USE_VERTEXAI (or its newer
-- alias GOOGLE_GENAI_USE_ENTERPRISE, which wins) is true, or when only
-- Vertex AI settings are present (a project or a credentials file, no API
-- key). Every resolved config carries `why`: for each setting, what
-- decided it (glrun --explain-config prints it).
--
-- A key or token is never sent in clear text by mistake: a plain-text base
-- URL (http://, ws://, or no scheme, which curl takes as http) is refused
-- unless its host is this machine (127.0.0.0/8, ::1, localhost) or is named
-- in GLRUN_ALLOW_PLAINTEXT_HOSTS (comma-separated hosts).
local core = require "glrun.core"
local errors = require "gemini.errors"

local M = {}

M.defaults = {
  api_version = "v1beta",
  -- model, live_model: no fixed id (Google retires them); unless an option
  -- or GLRUN_MODEL / GLRUN_LIVE_MODEL names one, the model catalog answers
  -- the queries below (M.default_model, M.default_live_model)
  base_url = "https://generativelanguage.googleapis.com",
  timeout = 60,        -- seconds without any byte from the server
}

--- What the default models are, as gemini.catalog capability queries
--- (the newest matching model of the catalog), and the alias used when
--- the catalog has nothing that matches.
M.default_queries = {
  model = { query = { method = "generateContent", family = "flash" }, alias = "gemini-flash-latest",
            why = "catalog: the newest flash model serving generateContent" },
  live_model = { query = { method = "bidiGenerateContent", family = "flash" }, alias = nil,
                 why = "catalog: the newest flash model serving bidiGenerateContent" },
}

local function env(name)
  local v = os.getenv(name)
  if v then v = v:match("^%s*(.-)%s*$") end
  if v == "" then return nil end
  return v
end

local function truthy(v)
  v = v and v:lower()
  return v == "true" or v == "1"
end

local function strip_slash(u)
  return (u:gsub("/+$", ""))
end

-- The scheme (lower case, nil when there is none) and the host (lower
-- case, no brackets, port or trailing dot) of a URL.
local function scheme_host(u)
  local scheme, rest = u:match("^(%a[%w+.-]*)://(.*)$")
  local auth = (rest or u):match("^[^/?#]*"):gsub("^.*@", "")
  local host = auth:match("^%[(.-)%]") or auth:gsub(":%d*$", "")
  return scheme and scheme:lower(), (host:lower():gsub("%.$", ""))
end

local function loopback(host)
  local v4 = host:match("^::ffff:(%d+%.%d+%.%d+%.%d+)$") or host
  local a, b, c, d = v4:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if a then
    return tonumber(a) == 127 and tonumber(b) < 256 and tonumber(c) < 256 and tonumber(d) < 256
  end
  return host == "localhost" or (host:find(":", 1, true) ~= nil and host:match("^[0:]*1$") ~= nil) -- ::1
end

local function allowed_plaintext(host)
  for h in (env("GLRUN_ALLOW_PLAINTEXT_HOSTS") or ""):gmatch("[^,%s]+") do
    h = h:lower()
    h = h:match("^%[(.-)%]") or (select(2, h:gsub(":", "")) == 1 and h:gsub(":%d*$", "")) or h
    if h:gsub("%.$", "") == host then return true end
  end
  return false
end

--- nil, or the configuration error when c would send `what` (its key or
--- token) in clear text to a host that is not this machine nor allowed.
local function check_plaintext(c, what)
  if core.options.replay then return nil end -- replaying sends nothing anywhere
  local scheme, host = scheme_host(c.base_url)
  if scheme == "https" or scheme == "wss" then return nil end
  if scheme and scheme ~= "http" and scheme ~= "ws" then return nil end -- curl refuses the rest
  if loopback(host) or allowed_plaintext(host) then return nil end
  return errors.config(("%s is %s: the %s would be sent in clear text to %s; use https://, or, if that is "
    .. "intended, name the host in GLRUN_ALLOW_PLAINTEXT_HOSTS"):format(c.why.base_url or "the base URL",
    c.base_url, what, host ~= "" and host or "?"))
end

local NO_KEY = "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or the Vertex AI "
  .. "settings (GOOGLE_GENAI_USE_VERTEXAI=true, GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION, "
  .. "GOOGLE_APPLICATION_CREDENTIALS; see docs/vertex-ai.md), or run with --mock to use glmock, the offline Gemini"

M.vertex_defaults = {
  api_version = "v1beta1",                          -- the SDKs' Vertex default
  live_model = "gemini-live-2.5-flash-native-audio", -- Vertex's GA Live model
  location = "global",
}

-- Multi-region locations have their own host (docs/protocol.md#vertex-rest-urls).
local MULTI_REGION = { us = true, eu = true }

--- The Vertex AI host for a location (no trailing slash).
function M.vertex_host(location)
  if not location or location == "global" then return "https://aiplatform.googleapis.com" end
  if MULTI_REGION[location] then return "https://aiplatform." .. location .. ".rep.googleapis.com" end
  return "https://" .. location .. "-aiplatform.googleapis.com"
end

--- The Vertex resource name of a model: "gemini-2.5-flash" ->
--- "projects/P/locations/L/publishers/google/models/gemini-2.5-flash"
--- (express mode: "publishers/google/models/..."). "models/x" and
--- "publisher/model" forms are converted as the SDKs do; a full
--- "projects/..." name passes.
function M.vertex_model_path(c, model)
  model = tostring(model)
  local path
  if model:match("^projects/") then return model
  elseif model:match("^publishers/") then path = model
  elseif model:match("^models/") then path = "publishers/google/" .. model
  elseif model:find("/", 1, true) then
    local pub, m = model:match("^([^/]+)/(.+)$")
    path = "publishers/" .. pub .. "/models/" .. m
  else path = "publishers/google/models/" .. model end
  if c.project then
    return "projects/" .. c.project .. "/locations/" .. (c.location or "global") .. "/" .. path
  end
  return path
end

-- The access-token source for Vertex AI (not express mode), first match:
-- a ready token (option, GOOGLE_OAUTH_ACCESS_TOKEN, GLRUN_ACCESS_TOKEN),
-- a command that prints one (GLRUN_ACCESS_TOKEN_COMMAND), a credentials
-- file (option, GOOGLE_APPLICATION_CREDENTIALS, gcloud's ADC file).
local function credentials(opts)
  if opts.access_token then return { kind = "token", token = opts.access_token, source = "option access_token" } end
  for _, n in ipairs{ "GOOGLE_OAUTH_ACCESS_TOKEN", "GLRUN_ACCESS_TOKEN" } do
    local t = env(n)
    if t then return { kind = "token", token = t, source = n } end
  end
  local cmd = opts.access_token_command or env("GLRUN_ACCESS_TOKEN_COMMAND")
  if cmd then
    return { kind = "command", command = cmd,
             source = opts.access_token_command and "option access_token_command" or "GLRUN_ACCESS_TOKEN_COMMAND" }
  end
  local file, source = opts.credentials, "option credentials"
  if not file then file, source = env("GOOGLE_APPLICATION_CREDENTIALS"), "GOOGLE_APPLICATION_CREDENTIALS" end
  if not file then
    local dir = env("CLOUDSDK_CONFIG") or (env("HOME") and env("HOME") .. "/.config/gcloud")
    local adc = dir and dir .. "/application_default_credentials.json"
    local f = adc and io.open(adc, "r")
    if f then
      f:close()
      file, source = adc, "gcloud application-default credentials (" .. adc .. ")"
    end
  end
  if not file then return nil end
  local info, err = require("gemini.auth").load_file(file)
  if not info then return nil, err end
  return { kind = info.type, file = file, source = source, info = info }
end

local function vertex_resolve(c, opts, why, flag_why)
  c.backend = "vertex"
  why.backend = flag_why
  c.api_version = opts.api_version or env("GOOGLE_GENAI_API_VERSION") or M.vertex_defaults.api_version
  why.api_version = opts.api_version and "option api_version" or env("GOOGLE_GENAI_API_VERSION")
    and "GOOGLE_GENAI_API_VERSION" or "default for Vertex AI"
  if c.api_version == "beta" then c.api_version = "v1beta1" end
  if not (opts.live_model or env("GLRUN_LIVE_MODEL")) then
    c.live_model = M.vertex_defaults.live_model
    why.live_model = "default for Vertex AI"
  end
  local gk, mk = env("GOOGLE_API_KEY"), env("GEMINI_API_KEY")
  local env_key = gk or mk
  local env_key_name = gk and "GOOGLE_API_KEY" or "GEMINI_API_KEY"
  local env_project = env("GOOGLE_CLOUD_PROJECT") or env("GCLOUD_PROJECT")
  local env_project_name = env("GOOGLE_CLOUD_PROJECT") and "GOOGLE_CLOUD_PROJECT" or "GCLOUD_PROJECT"
  local env_location = env("GOOGLE_CLOUD_LOCATION")
  -- Precedence (docs/protocol.md#environment-variables, the Python SDK): explicit credentials or
  -- project/location beat an env API key; an explicit API key beats env
  -- project/location; env project/location beat an env API key.
  if opts.api_key and (opts.project or opts.location) then
    return nil, errors.config("Vertex AI: an API key (express mode) and a project/location are mutually "
      .. "exclusive; pass one or the other")
  end
  local express
  if opts.api_key then express = "option api_key"
  elseif opts.project or opts.location or opts.credentials or opts.access_token then express = nil
  elseif env_project or env_location then express = nil
    if env_key then
      core.log("info", "Vertex AI: " .. env_key_name .. " is ignored because a project/location is set", "config")
    end
  elseif env_key then express = env_key_name end
  c.base_url = opts.base_url or env("GOOGLE_VERTEX_BASE_URL")
  why.base_url = opts.base_url and "option base_url" or c.base_url and "GOOGLE_VERTEX_BASE_URL" or nil
  if express then
    c.api_key, c.express = opts.api_key or env_key, true
    core.secret(c.api_key)
    c.auth = { kind = "api_key", source = express }
    why.credentials = express .. " (Vertex AI express mode: an API key, no project)"
    if not c.base_url then c.base_url, why.base_url = M.vertex_host(nil), "express mode host" end
    c.base_url = strip_slash(c.base_url)
    local perr = check_plaintext(c, "API key")
    if perr then return nil, perr end
    return c
  end
  local cred, cerr = credentials(opts)
  if cerr then return nil, cerr end
  c.auth = cred
  c.project = opts.project or env_project or (cred and cred.info and cred.info.project_id)
  why.project = opts.project and "option project" or env_project and env_project_name
    or c.project and ("project_id in " .. cred.file) or nil
  c.location = opts.location or env_location
  why.location = opts.location and "option location" or env_location and "GOOGLE_CLOUD_LOCATION" or nil
  if not c.location then c.location, why.location = M.vertex_defaults.location, "default (no GOOGLE_CLOUD_LOCATION)" end
  if not c.project then
    return nil, errors.config("Vertex AI needs a project: set GOOGLE_CLOUD_PROJECT (Vertex AI was chosen by "
      .. flag_why .. ")")
  end
  if not cred then
    return nil, errors.config("Vertex AI needs credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
      .. "JSON key file, or GLRUN_ACCESS_TOKEN / GLRUN_ACCESS_TOKEN_COMMAND (e.g. 'gcloud auth "
      .. "print-access-token'); see docs/vertex-ai.md")
  end
  if cred.kind == "token" then core.secret(cred.token) end
  why.credentials = cred.source
  if not c.base_url then c.base_url, why.base_url = M.vertex_host(c.location), "host of location " .. c.location end
  c.base_url = strip_slash(c.base_url)
  local perr = check_plaintext(c, "access token")
  if perr then return nil, perr end
  return c
end

--- Resolve a configuration. `opts` may set api_key, base_url, api_version,
--- model, live_model, timeout, vertexai, and for Vertex AI project,
--- location, credentials (a JSON key file), access_token,
--- access_token_command. Returns the config table, or nil, err (kind
--- "config", printed as one line) when it is incomplete.
function M.resolve(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("gemini.config.resolve: the options must be a table, not " .. type(opts), 2)
  end
  opts = opts or {}
  local why = {}
  local c = {
    api_version = opts.api_version or env("GOOGLE_GENAI_API_VERSION") or M.defaults.api_version,
    model = opts.model or env("GLRUN_MODEL") or M.defaults.model,
    live_model = opts.live_model or env("GLRUN_LIVE_MODEL") or M.defaults.live_model,
    timeout = opts.timeout or tonumber(env("GLRUN_TIMEOUT") or "") or M.defaults.timeout,
    backend = "gemini",
    why = why,
  }
  why.model = opts.model and "option model" or env("GLRUN_MODEL") and "GLRUN_MODEL"
    or M.default_queries.model.why
  why.live_model = opts.live_model and "option live_model" or env("GLRUN_LIVE_MODEL") and "GLRUN_LIVE_MODEL"
    or M.default_queries.live_model.why
  why.api_version = opts.api_version and "option api_version" or env("GOOGLE_GENAI_API_VERSION")
    and "GOOGLE_GENAI_API_VERSION" or "default"
  if c.api_version == "beta" then c.api_version = "v1beta" end
  local mock = core.options.mock_url
  if mock and opts.vertexai == nil then
    c.base_url = strip_slash(opts.base_url or mock)
    c.api_key = opts.api_key or "mock-key"
    c.mock = true
    c.source = "--mock"
    why.backend, why.base_url, why.credentials = "--mock (glmock, the offline Gemini)", "--mock", "--mock (no key)"
    if opts.api_key then -- a key of the script's own: the same rule as without --mock
      why.base_url = opts.base_url and "option base_url" or why.base_url
      local perr = check_plaintext(c, "API key")
      if perr then return nil, perr end
    end
    return c
  end
  -- which backend
  local vertex, flag_why = opts.vertexai, "option vertexai"
  if vertex == nil then
    local ent, vx = env("GOOGLE_GENAI_USE_ENTERPRISE"), env("GOOGLE_GENAI_USE_VERTEXAI")
    if ent and vx and truthy(ent) ~= truthy(vx) then
      core.log("warn", "GOOGLE_GENAI_USE_ENTERPRISE and GOOGLE_GENAI_USE_VERTEXAI disagree; "
        .. "using GOOGLE_GENAI_USE_ENTERPRISE", "config")
    end
    if ent then vertex, flag_why = truthy(ent), "GOOGLE_GENAI_USE_ENTERPRISE=" .. ent
    elseif vx then vertex, flag_why = truthy(vx), "GOOGLE_GENAI_USE_VERTEXAI=" .. vx end
    if vertex == nil and not (opts.api_key or env("GOOGLE_API_KEY") or env("GEMINI_API_KEY")) then
      -- only Vertex AI settings are present
      local only = env("GOOGLE_CLOUD_PROJECT") and "GOOGLE_CLOUD_PROJECT"
        or env("GOOGLE_APPLICATION_CREDENTIALS") and "GOOGLE_APPLICATION_CREDENTIALS"
        or opts.project and "option project"
      if only then vertex, flag_why = true, "no API key, and " .. only .. " is set (only Vertex AI settings)" end
    end
  end
  if vertex then
    local vc, verr = vertex_resolve(c, opts, why, flag_why)
    if not vc then return nil, verr end
    if env("GLRUN_INSECURE_TLS") then
      for u in env("GLRUN_INSECURE_TLS"):gmatch("[^,%s]+") do
        if strip_slash(u) == c.base_url then c.insecure = true end
      end
    end
    return c
  end
  if opts.project or opts.location then
    return nil, errors.config("project/location are Vertex AI settings: the Gemini API does not support them "
      .. "(pass vertexai = true, or drop them)")
  end
  why.backend = vertex == false and (flag_why .. " (Gemini API)") or "an API key is set (Gemini API)"
  local gk, mk = env("GOOGLE_API_KEY"), env("GEMINI_API_KEY")
  if gk and mk and gk ~= mk and not opts.api_key then
    core.log("warn", "Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY.", "config")
  end
  c.api_key = opts.api_key or gk or mk
  c.source = opts.api_key and "option api_key" or gk and "GOOGLE_API_KEY" or mk and "GEMINI_API_KEY"
  if not c.api_key and core.options.replay then -- replaying: nothing is sent anywhere
    c.api_key, c.source = "replay-key", "--replay"
  end
  if not c.api_key then return nil, errors.config(NO_KEY) end
  why.credentials = c.source
  core.secret(c.api_key)
  c.base_url = strip_slash(opts.base_url or env("GOOGLE_GEMINI_BASE_URL") or M.defaults.base_url)
  why.base_url = opts.base_url and "option base_url" or env("GOOGLE_GEMINI_BASE_URL") and "GOOGLE_GEMINI_BASE_URL"
    or "default"
  -- TLS verification stays on unless the user names this base URL in
  -- GLRUN_INSECURE_TLS (comma-separated base URLs).
  for u in (env("GLRUN_INSECURE_TLS") or ""):gmatch("[^,%s]+") do
    if strip_slash(u) == c.base_url then c.insecure = true end
  end
  local perr = check_plaintext(c, "API key")
  if perr then return nil, perr end
  return c
end

-- The model a default query stands for (see M.default_queries): the
-- newest match in the model catalog as this process, the cache file or the
-- built-in list knows it. No request is made for it (a script that names
-- no model costs no models.list); the catalog is asked when a model turns
-- out to be gone (gemini.chat) or when a script or `glrun models` asks.
local function resolve_default(c, which, client)
  local fixed = c[which]
  if fixed then return fixed end
  local d = M.default_queries[which]
  local q = {}
  for k, v in pairs(d.query) do q[k] = v end
  local catalog = require "gemini.catalog"
  local id = catalog.resolve(q, { client = client, offline = true })
  if not id and which == "live_model" then id = require("gemini.models").default_live end
  return id or d.alias
end

--- The REST model of a configuration: c.model (an option or GLRUN_MODEL),
--- else the catalog's newest flash model serving generateContent
--- (gemini-flash-latest when the catalog has none). client: the options c
--- was resolved from (for the catalog). Never asks the network.
function M.default_model(c, client)
  return resolve_default(c, "model", client)
end

--- The Live model of a configuration: c.live_model (an option,
--- GLRUN_LIVE_MODEL, Vertex AI's default), else the catalog's newest
--- flash model serving bidiGenerateContent.
function M.default_live_model(c, client)
  return resolve_default(c, "live_model", client)
end

local cached
--- The configuration for opts (client options, as for M.resolve), or with
--- none the process-wide default (resolved once). Returns the config, or
--- nil, err (kind "config") when there is none.
function M.get(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("gemini.config.get: the client options must be a table, not " .. type(opts), 2)
  end
  if opts and next(opts) then return M.resolve(opts) end
  if not cached then
    local c, err = M.resolve()
    if not c then return nil, err end
    cached = c
  end
  return cached
end

--- Forget the cached default (after changing the environment).
function M.reset()
  cached = nil
end

return M
