-- gemini.explain — `glrun --explain-config`: which backend, project,
-- location, credentials, base URL, API version and models a run would use,
-- and which setting decided each. Nothing is sent anywhere; every secret
-- is redacted. An incomplete configuration raises its one-line error
-- (exit status 1).
local core = require "glrun.core"
local config = require "gemini.config"
local errors = require "gemini.errors"

local M = {}

local function credentials_line(c)
  local a = c.auth
  if c.mock then return "none (glmock needs no key)" end
  if c.backend ~= "vertex" then return "API key " .. core.redact("key=" .. tostring(c.api_key)):sub(5) end
  if not a then return "?" end
  if a.kind == "api_key" then return "API key *** (Vertex AI express mode)" end
  if a.kind == "token" then return "a ready access token ***" end
  if a.kind == "command" then return "an access token printed by the command: " .. a.command end
  if a.kind == "service_account" then
    return ("service account %s, key %s, file %s (token from %s)"):format(a.info.client_email,
      tostring(a.info.private_key_id or "(no id)"), a.file, a.info.token_uri)
  end
  if a.kind == "authorized_user" then
    return ("user credentials (refresh token ***), file %s (token from %s)"):format(a.file, a.info.token_uri)
  end
  return a.kind
end

-- Variables that are set but do not count, and why.
local function ignored(c)
  local out = {}
  local function note(name, why) if os.getenv(name) and os.getenv(name) ~= "" then out[#out + 1] = name .. ": " .. why end end
  if c.mock then
    note("GOOGLE_GENAI_USE_VERTEXAI", "--mock talks to glmock with the Gemini API")
  elseif c.backend == "vertex" then
    if not c.express then
      note("GOOGLE_API_KEY", "Vertex AI with a project uses OAuth, not an API key")
      note("GEMINI_API_KEY", "Vertex AI with a project uses OAuth, not an API key")
    end
    note("GOOGLE_GEMINI_BASE_URL", "Vertex AI reads GOOGLE_VERTEX_BASE_URL")
  else
    note("GOOGLE_CLOUD_PROJECT", "a Vertex AI setting; the Gemini API is in use")
    note("GOOGLE_CLOUD_LOCATION", "a Vertex AI setting; the Gemini API is in use")
    note("GOOGLE_APPLICATION_CREDENTIALS", "a Vertex AI setting; the Gemini API is in use")
    note("GOOGLE_VERTEX_BASE_URL", "a Vertex AI setting; the Gemini API is in use")
    if os.getenv("GOOGLE_API_KEY") and os.getenv("GEMINI_API_KEY") then
      out[#out + 1] = "GEMINI_API_KEY: GOOGLE_API_KEY wins when both are set"
    end
  end
  return out
end

--- The report as a list of {label, value, why} rows (value redacted).
function M.rows(c)
  local why = c.why or {}
  local rest = require "gemini.rest"
  local live = require "gemini.live"
  local rows = {}
  local function row(label, value, because)
    if value == nil then return end
    rows[#rows + 1] = { label, core.redact(tostring(value)), because and core.redact(because) or nil }
  end
  row("backend", c.mock and "glmock (the offline Gemini)" or c.backend == "vertex"
    and ("Vertex AI" .. (c.express and " (express mode)" or "")) or "Gemini API", why.backend)
  if c.backend == "vertex" then
    row("project", c.project or "(none: express mode)", why.project)
    row("location", c.location or "(none: express mode)", why.location)
  end
  row("credentials", credentials_line(c), why.credentials)
  row("base URL", c.base_url, why.base_url)
  row("API version", c.api_version, why.api_version)
  -- the catalog's answer from memory, its cache or the built-in list: nothing is sent
  local rest_model = config.default_model(c)
  local live_model = config.default_live_model(c)
  row("REST model", rest_model, why.model)
  row("Live model", live_model, why.live_model)
  row("REST URL", rest.url(c, rest_model, "streamGenerateContent", "alt=sse"))
  row("Live URL", live.url(c))
  if c.backend == "vertex" then row("Live setup.model", config.vertex_model_path(c, live_model)) end
  local ok, chat = pcall(require, "gemini.chat")
  if ok then
    local pok, p = pcall(chat.policy)
    if pok and p then
      local ch = (c.backend == "vertex" and p.vertex_chain) or p.chain
      local names = chat.chain_names(ch, { offline = true })
      row("chat chain", "Live " .. table.concat(names.live, ", ") .. "; REST " .. table.concat(names.rest, ", "),
        core.options and core.options.policy and ("--policy " .. core.options.policy) or "gemini.policy")
    end
  end
  if c.insecure then row("TLS", "verification OFF", "GLRUN_INSECURE_TLS") end
  return rows
end

--- Print the report; raises the configuration error when there is none.
function M.main(out)
  out = out or io.stdout
  local c, err = config.resolve()
  if not c then errors.raise(err) end
  local rows = M.rows(c)
  local w = 0
  for _, r in ipairs(rows) do w = math.max(w, #r[1]) end
  out:write("glrun configuration (nothing was sent; secrets are shown as ***)\n")
  for _, r in ipairs(rows) do
    out:write(("  %-" .. w .. "s  %s\n"):format(r[1], r[2]))
    if r[3] then out:write(("  %-" .. w .. "s    why: %s\n"):format("", r[3])) end
  end
  local ign = ignored(c)
  if #ign > 0 then
    out:write("set but not used:\n")
    for _, l in ipairs(ign) do out:write("  " .. core.redact(l) .. "\n") end
  end
  return c
end

return M
