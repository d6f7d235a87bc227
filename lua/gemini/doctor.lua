-- gemini.doctor — `glrun doctor`: probe the configuration a default chat
-- would use, step by step, and say for each step what was seen, what it
-- means and what to do. The question it answers: "REST works, Live does
-- not: why?", by measuring instead of guessing.
--
--   local doctor = require "gemini.doctor"
--   local report = doctor.run{ timeout = 5 }      -- every probe bounded
--   io.write(doctor.render(report))                -- or doctor.render(report, {json = true})
--   os.exit(report.ok and 0 or 1)
--
-- The checks (gemini.doctor_checks: configuration, proxies and TLS, the key
-- and the server's clock, the models, REST, quota, ephemeral tokens;
-- gemini.doctor_live: the Live upgrade, the 404 probes, setup and one
-- turn per Live model) each return a row {name, ok, saw, cause, fix, ms}.
-- What a failure means is gemini.diagnose's (the probes give it the
-- evidence); this module only names the cause in the report's words
-- (M.causes) and keeps time. Nothing here prints a secret: the report
-- goes through the runtime's redaction (gemini.doctor_report).
local core = require "glrun.core"

local M = {}

--- The causes the report can name: id -> {title, fix}. The title is what
--- the report prints after "cause:"; fix the default advice (a diagnosis's
--- own hint wins). docs/doctor.md has the evidence behind each.
M.causes = {
  proxy_upgrade = { title = "a proxy strips upgrades",
    fix = "let the proxy pass WebSocket upgrades to the API host, or exempt the host with NO_PROXY" },
  wrong_path = { title = "wrong path",
    fix = "set GOOGLE_GEMINI_BASE_URL to the API host only (no path): glrun builds the Live path itself" },
  wrong_api_version = { title = "wrong API version",
    fix = "unset GOOGLE_GENAI_API_VERSION (v1beta is the default) or set a version the server serves" },
  no_live_endpoint = { title = "no Live endpoint at this URL (404)",
    fix = "point GOOGLE_GEMINI_BASE_URL at the API (https://generativelanguage.googleapis.com) or at a "
      .. "gateway that passes WebSocket upgrades" },
  model_not_found = { title = "model not found (1008)",
    fix = "pick a Live model the server lists (glrun models --live)" },
  no_api = { title = "no Gemini API at this URL (404)",
    fix = "point GOOGLE_GEMINI_BASE_URL at the Gemini API (https://generativelanguage.googleapis.com) or unset it" },
  rest_model_not_found = { title = "model not found (404)",
    fix = "pick a model the server lists (glrun models)" },
  modality = { title = "model does not support Live / modality (1007)",
    fix = "ask an audio-only Live model for AUDIO with outputAudioTranscription (glrun does when the modality is left unset)" },
  feature = { title = "model does not support this feature combination (1008)",
    fix = "drop the feature the model does not offer (gemini.models.live_caps)" },
  region = { title = "region",
    fix = "the API is not offered where the request comes from: run from a supported region, or use Vertex AI there" },
  bad_key = { title = "key invalid", fix = "check GEMINI_API_KEY / GOOGLE_API_KEY" },
  key_expired = { title = "key expired", fix = "renew the key" },
  api_disabled = { title = "API disabled", fix = "enable the Generative Language API for the key's project" },
  refused = { title = "request refused", fix = "check the key or credentials and the project's permissions" },
  auth = { title = "credentials refused", fix = "check the Vertex AI credentials (glrun --explain-config)" },
  clock_skew = { title = "clock skew", fix = "set the clock right (NTP: timedatectl set-ntp true)" },
  quota_minute = { title = "quota: per-minute limit (429)",
    fix = "wait for the delay the server asks (the policy does), or spread the requests" },
  quota_day = { title = "quota: per-day limit (429)",
    fix = "use another model (the policy falls back) or wait for the reset at midnight Pacific" },
  tls = { title = "TLS", fix = "a TLS-intercepting proxy needs its CA in the CA set (SSL_CERT_FILE)" },
  unreachable = { title = "unreachable", fix = "check the network, DNS and the proxy settings" },
  timeout = { title = "no answer in time", fix = "the server or a proxy in between does not answer; try again, check the proxy" },
  proxy_auth = { title = "proxy wants credentials", fix = "put user:password in the proxy URL" },
  redirect = { title = "redirected (captive portal or proxy)", fix = "sign in to the network's portal, or check the proxy" },
  server = { title = "server error", fix = "transient on the server's side: try again later" },
  config = { title = "configuration", fix = "see glrun --explain-config" },
  key_in_url = { title = "a key in the base URL",
    fix = "put the key in GEMINI_API_KEY, not in GOOGLE_GEMINI_BASE_URL" },
  other = { title = "other", fix = nil },
}

-- diagnosis kind (gemini.diagnose) -> cause id
local BY_KIND = {
  proxy_upgrade = "proxy_upgrade", wrong_path = "wrong_path", wrong_api_version = "wrong_api_version",
  endpoint = "no_live_endpoint", model = "model_not_found", not_found = "rest_model_not_found",
  modality = "modality", feature_unsupported = "feature", live_rule = "feature",
  bad_key = "bad_key", key_expired = "key_expired", region = "region", api_disabled = "api_disabled",
  refused = "refused", refused_upgrade = "refused", setup = "refused", auth = "auth",
  clock_skew = "clock_skew", rate_limit = "quota_minute", quota_exhausted = "quota_day", live_quota = "quota_minute",
  tls = "tls", unreachable = "unreachable", timeout = "timeout", deadline = "timeout", no_response = "timeout",
  proxy_auth = "proxy_auth", redirect = "redirect", config = "config", credentials_in_url = "key_in_url",
  server = "server", busy = "server", live_server = "server", dropped = "server",
  no_api = "no_api", policy_violation = "refused",
}

--- The cause id of a diagnosis (or of an error's QuotaFailure): one of
--- M.causes. err: the error diagnosed, when any.
function M.cause_of(d, err)
  local errors = require "gemini.errors"
  local qf = err and errors.detail(err, "QuotaFailure")
  if qf and type(qf.violations) == "table" then
    for _, v in ipairs(qf.violations) do
      local id = type(v) == "table" and tostring(v.quotaId or "") or ""
      if id:find("PerDay", 1, true) then return "quota_day" end
      if id:find("PerMinute", 1, true) then return "quota_minute" end
    end
  end
  return BY_KIND[d and d.kind or ""] or "other"
end

--- A failed row for a diagnosis: the cause's title and the diagnosis's
--- words, the diagnosis's hint or the cause's fix.
function M.failed(name, saw, d, err, ms)
  local id = M.cause_of(d, err)
  local c = M.causes[id]
  local text = d and d.text
  local cause = c.title
  if text and text:sub(1, #c.title):lower() == c.title:lower() then cause = text
  elseif text then cause = c.title .. ": " .. text end
  return { name = name, ok = false, saw = saw, cause_id = id, cause = cause,
           fix = (d and d.hint) or c.fix, ms = ms }
end

--- Milliseconds since t0 (a core.now() time), rounded: a row's ms.
function M.ms_since(t0) return math.floor((core.now() - t0) * 1000 + 0.5) end

-- A clock for the run: each probe gets min(timeout, what is left).
local function budget(opts)
  local t0 = core.now()
  local total = opts.deadline or 60
  local b = { t0 = t0 }
  function b.left() return total - (core.now() - t0) end
  function b.probe() return math.max(0.5, math.min(opts.timeout or 5, b.left())) end
  function b.over() return b.left() <= 0 end
  return b
end

--- Run every check. opts: client (gemini.config options), timeout (seconds
--- per probe, default 5), deadline (seconds for the whole run, default
--- 60), model / live_model (models to check first), modality ("text" or
--- "audio": what the Live setup asks for; default what a chat would ask),
--- ephemeral (also mint an ephemeral token and open a Live session with
--- it), max_live_models (default 2). Returns the report: {ok, ms, checks
--- = {{name, ok, saw, cause, cause_id, fix, ms, skipped}, ...}, backend,
--- base_url, api_version}. A check that could not run is skipped (ok nil)
--- and does not count against ok. Misuse (options not a table) raises.
function M.run(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("gemini.doctor.run: the options must be a table, not " .. type(opts), 2)
  end
  opts = opts or {}
  local checks = require "gemini.doctor_checks"
  local live = require "gemini.doctor_live"
  local st = { opts = opts, budget = budget(opts), rows = {}, quota = {} }
  local function add(row)
    if row then st.rows[#st.rows + 1] = row end
    return row
  end
  st.add = add
  local c = checks.config(st)
  if c then
    local steps = { { "proxy", checks.proxy }, { "key", checks.key }, { "models", checks.models },
                    { "rest", checks.rest }, { "live upgrade", live.upgrade }, { "live setup", live.setups },
                    { "quota", checks.quota } }
    if opts.ephemeral then steps[#steps + 1] = { "ephemeral token", live.ephemeral } end
    for _, s in ipairs(steps) do
      if st.budget.over() then
        add({ name = s[1], ok = nil, skipped = true, saw = "not run: the run's deadline passed" })
      else
        s[2](st)
      end
    end
  end
  local ok = true
  for _, r in ipairs(st.rows) do if r.ok == false then ok = false end end
  return { ok = ok, ms = M.ms_since(st.budget.t0), checks = st.rows,
           backend = c and (c.mock and "glmock" or c.backend) or nil,
           base_url = c and core.redact(c.base_url) or nil, api_version = c and c.api_version or nil }
end

--- The report as text: one line per check (✓ / ✗, or ASCII with
--- opts.ascii), what was seen, the cause and the fix; opts.json: one JSON
--- document; opts.color: ANSI colours. Secrets redacted.
function M.render(report, opts)
  return require("gemini.doctor_report").render(report, opts)
end

return M
