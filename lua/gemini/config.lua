-- gemini.config — where requests go and with which credentials.
--
-- Reads the environment variables of Google's official SDKs
-- (PROTOCOL.md §5.4): GOOGLE_API_KEY wins over GEMINI_API_KEY;
-- GOOGLE_GEMINI_BASE_URL overrides the base URL (an http:// base URL on
-- loopback is how tests point glrun at glmock); GOOGLE_GENAI_API_VERSION
-- the API version. Explicit options beat the environment. `glrun --mock`
-- sets GLRUN_MOCK, which beats everything and uses no real key.
local core = require "glrun.core"
local errors = require "gemini.errors"

local M = {}

M.defaults = {
  api_version = "v1beta",
  model = "gemini-2.5-flash",
  live_model = "gemini-2.5-flash-native-audio-latest",
  base_url = "https://generativelanguage.googleapis.com",
  timeout = 60,        -- seconds without any byte from the server
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

local NO_KEY = "no API key: set GEMINI_API_KEY (or GOOGLE_API_KEY), or the Vertex AI "
  .. "settings (GOOGLE_GENAI_USE_VERTEXAI=true, GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION), "
  .. "or run with --mock to use glmock, the offline Gemini"

--- Resolve a configuration. `opts` may set api_key, base_url, api_version,
--- model, live_model, timeout, vertexai. Returns the config table, or
--- nil, err (kind "config") when it is incomplete.
function M.resolve(opts)
  opts = opts or {}
  local c = {
    api_version = opts.api_version or env("GOOGLE_GENAI_API_VERSION") or M.defaults.api_version,
    model = opts.model or env("GLRUN_MODEL") or M.defaults.model,
    live_model = opts.live_model or env("GLRUN_LIVE_MODEL") or M.defaults.live_model,
    timeout = opts.timeout or tonumber(env("GLRUN_TIMEOUT") or "") or M.defaults.timeout,
    backend = "gemini",
  }
  if c.api_version == "beta" then c.api_version = "v1beta" end
  local mock = env("GLRUN_MOCK")
  if mock then
    c.base_url = strip_slash(opts.base_url or mock)
    c.api_key = opts.api_key or "mock-key"
    c.mock = true
    c.source = "--mock"
    return c
  end
  local vertex = opts.vertexai
  if vertex == nil then
    vertex = truthy(env("GOOGLE_GENAI_USE_ENTERPRISE") or env("GOOGLE_GENAI_USE_VERTEXAI"))
  end
  if vertex then
    return nil, errors.config("Vertex AI was asked for (GOOGLE_GENAI_USE_VERTEXAI), but this glrun "
      .. "build does not support Vertex AI yet; unset it to use an API key, or run with --mock")
  end
  local gk, mk = env("GOOGLE_API_KEY"), env("GEMINI_API_KEY")
  if gk and mk and gk ~= mk and not opts.api_key then
    core.log("warn", "Both GOOGLE_API_KEY and GEMINI_API_KEY are set. Using GOOGLE_API_KEY.", "config")
  end
  c.api_key = opts.api_key or gk or mk
  c.source = opts.api_key and "option api_key" or gk and "GOOGLE_API_KEY" or mk and "GEMINI_API_KEY"
  if not c.api_key and env("GLRUN_REPLAY") then -- replaying: nothing is sent anywhere
    c.api_key, c.source = "replay-key", "--replay"
  end
  if not c.api_key then return nil, errors.config(NO_KEY) end
  core.secret(c.api_key)
  c.base_url = strip_slash(opts.base_url or env("GOOGLE_GEMINI_BASE_URL") or M.defaults.base_url)
  -- TLS verification stays on unless the user names this base URL in
  -- GLRUN_INSECURE_TLS (comma-separated base URLs).
  for u in (env("GLRUN_INSECURE_TLS") or ""):gmatch("[^,%s]+") do
    if strip_slash(u) == c.base_url then c.insecure = true end
  end
  return c
end

local cached
--- The process-wide default configuration (resolved once). Raises the
--- configuration error if there is none.
function M.get(opts)
  if opts and next(opts) then
    local c, err = M.resolve(opts)
    if not c then errors.raise(err) end
    return c
  end
  if not cached then
    local c, err = M.resolve()
    if not c then errors.raise(err) end
    cached = c
  end
  return cached
end

--- Forget the cached default (after changing the environment).
function M.reset()
  cached = nil
end

return M
