-- gemini.diagnose — the one place that explains what a failure means.
--
-- diagnose.of(err, ctx) reads an error object (a Live handshake status or
-- close code, an HTTP status with its google.rpc.Status, a timeout, TLS,
-- DNS, a cut stream, ...) and returns a diagnosis:
--
--   { kind      = what happened, one word (the table below),
--     fatal     = true: a configuration problem; trying again cannot help,
--     retryable = true: the same request may work a little later,
--     hint      = what to do (or nil),
--     cause     = err,
--     text      = one line: what failed and the likely cause,
--     message   = the long explanation (a Live error's message) }
--
-- The policy (gemini.policy.classify) decides what to do about a diagnosis
-- (retry, reconnect, fall back, fail); the prose lives here only.
-- diagnose.live(err, ctx) is the error object a Live session returns: the
-- transport's fields kept, message = the long explanation, plus live =
-- true, fatal, retryable, hint, diagnosis (the kind) and summary (the text).
--
-- Kinds. Live handshake: endpoint (404: wrong path or a proxy), refused_upgrade
-- (401/403), proxy_auth (407), redirect (3xx), no_response, busy (429/5xx),
-- handshake, credentials_in_url. Live close codes: model, api_disabled,
-- policy_violation (1008); bad_key, key_expired, region, modality, setup,
-- resume_refused (1007); live_server, live_quota (1011); dropped (1006);
-- going_away (1001); closed (others). HTTP: rate_limit, quota_exhausted
-- (429 that will not heal today), not_found (404), server (5xx, 408),
-- bad_key, key_expired, region, api_disabled (400/403 that say so),
-- refused (other 400/401/403), http. Any transport: cut, timeout,
-- deadline, tls, unreachable, protocol_violation, protocol, config,
-- blocked, malformed_call, too_large; anything else keeps its error kind.
--
-- Evidence: ctx.probes (what `glrun doctor` measured beside the failed
-- request: the same upgrade without the proxy, other paths, other API
-- versions; see M.of) turns a handshake 404 into proxy_upgrade (a proxy
-- strips upgrades), wrong_path or wrong_api_version, and a REST 404 into
-- wrong_api_version, when the measurements say so. M.clock reads a
-- server's Date header against the local clock.
local core = require "glrun.core"
local errors = require "gemini.errors"
local models = require "gemini.models"
local live_url = require "gemini.live_url"

local M = {}

local function first_line(s)
  return (tostring(s or ""):match("^[^\n]*"))
end

local function proxy_in_env(url)
  local tls = url:match("^wss://") ~= nil
  local p
  if tls then p = os.getenv("https_proxy") or os.getenv("HTTPS_PROXY")
  else p = os.getenv("http_proxy") or os.getenv("HTTP_PROXY") end
  p = p or os.getenv("all_proxy") or os.getenv("ALL_PROXY")
  if p == "" then p = nil end
  return p
end

local function list(t) return table.concat(t, ", ") end

local function live_names(ctx)
  local names = models.live_models{ mock = ctx and ctx.mock }
  if #names == 0 then return "(none known: run gemini.models.refresh())" end
  return list(names)
end

-- A 429 that will not heal today: a per-day quota, or a quota limit of 0.
local function quota_will_not_heal(err)
  local qf = errors.detail(err, "QuotaFailure")
  if qf and type(qf.violations) == "table" then
    for _, v in ipairs(qf.violations) do
      if type(v.quotaId) == "string" and v.quotaId:find("PerDay", 1, true) then return "a per-day quota" end
      if tostring(v.quotaValue) == "0" then return "a quota limit of 0" end
    end
  end
  local msg = type(err.error) == "table" and err.error.message or ""
  if type(msg) == "string" and msg:find("limit: 0,", 1, true) then return "a quota limit of 0" end
  return nil
end

-- ------------------------------------------------------------ Live handshake

-- A probe's outcome as words: "101" (upgraded), "HTTP 404", "connect error".
local function outcome(r)
  if r == nil then return "not tried" end
  if type(r) == "number" then return r == 101 and "101 (upgraded)" or ("HTTP " .. r) end
  return tostring(r)
end

-- A handshake 404 (or any refusal through a proxy whose direct twin
-- upgraded) read with the doctor's measurements (ctx.probes):
-- direct (the same upgrade without the proxy), proxy (the one in use),
-- variants ({label, why = "path" | "version", status}, each the upgrade
-- on another URL). True when the evidence names the cause.
local function evidence_404(d, probes, head, st)
  if probes.proxy and probes.direct == 101 then
    d.kind = "proxy_upgrade"
    d.text = "a proxy strips upgrades: through the proxy " .. probes.proxy .. " the upgrade got HTTP " .. st .. ", "
      .. "the same upgrade without it got 101"
    d.hint = "let the proxy pass WebSocket upgrades to the API host, or exempt the host with NO_PROXY"
  else
    local found
    for _, v in ipairs(probes.variants or {}) do
      if v.status == 101 and (not found or (found.why == "version" and v.why == "path")) then found = v end
    end
    if not found then return false end
    if found.why == "path" then
      d.kind = "wrong_path"
      d.text = "wrong path: the Live endpoint answers the upgrade at " .. found.label
        .. ", not at the path built from the base URL"
      d.hint = found.fix or "fix the base URL (GOOGLE_GEMINI_BASE_URL) so that it names the API host only"
    else
      d.kind = "wrong_api_version"
      d.text = "wrong API version: " .. found.label .. " answers the upgrade; the configured version does not"
      d.hint = found.fix or "set GOOGLE_GENAI_API_VERSION to a version the endpoint serves (v1beta by default)"
    end
  end
  d.message = head .. "HTTP " .. st .. " - " .. d.text
  return true
end

local function handshake(d, err, ctx, url)
  local st = err.status or 0
  local head = "Live handshake to " .. url .. " failed: "
  if ctx.probes and (st == 404 or (ctx.probes.proxy and ctx.probes.direct == 101))
     and evidence_404(d, ctx.probes, head, st) then
    return
  elseif st == 404 then
    d.kind = "endpoint"
    local why = {}
    local path = err.path or url
    if path:find("GenerativeService/", 1, true) then
      why[#why + 1] = "the URL uses a slash before the method ('GenerativeService/"
        .. "BidiGenerateContent'); the Gemini API wants a dot: 'GenerativeService.BidiGenerateContent'"
    end
    if path:match("/v1[%w]*/ws/") then
      why[#why + 1] = "the path has a REST version prefix before /ws/"
    end
    local proxy = proxy_in_env(ctx.url or url)
    if proxy then
      why[#why + 1] = "a proxy is configured (" .. core.redact(proxy) .. "); a proxy or gateway "
        .. "that does not pass WebSocket upgrades answers 404"
    end
    local base = (ctx.url or url):match("^wss?://[^/]+") or ""
    if not base:find("generativelanguage.googleapis.com", 1, true) and not ctx.mock then
      why[#why + 1] = "the base URL (" .. base .. ") is not Google's: whatever serves it "
        .. "must implement /ws/google.ai.generativelanguage.<version>.GenerativeService.BidiGenerateContent"
    end
    d.text = "the WebSocket handshake got HTTP 404. The Live path is wrong or a proxy in between does "
      .. "not pass WebSocket upgrades (Live does not need Vertex AI: API keys work with the dot-form path "
      .. "...GenerativeService.BidiGenerateContent)"
    d.message = head .. "HTTP 404 - that path is not a Live endpoint. "
      .. "A wrong path or a proxy/gateway in between causes this; a bad model or key does not "
      .. "(those close the socket after setup with 1008/1007). "
      .. (#why > 0 and ("Here: " .. table.concat(why, "; ") .. ".") or
          "Check the base URL (GOOGLE_GEMINI_BASE_URL) and any proxy between you and the API.")
    d.hint = "use " .. live_url.url({ base_url = "https://generativelanguage.googleapis.com",
                                      api_version = ctx.api_version or "v1beta" })
      .. " with the key in x-goog-api-key or ?key="
  elseif st == 401 or st == 403 then
    d.kind = "refused_upgrade"
    d.text = ("the WebSocket handshake got HTTP %d: a proxy or gateway refused the upgrade, "
      .. "or the credentials were rejected"):format(st)
    d.message = head .. "HTTP " .. st .. " - the request was refused before the upgrade: a proxy that "
      .. "needs authentication, or credentials the endpoint does not accept"
    d.hint = "check the proxy settings and the API key"
  elseif st == 407 then
    d.kind = "proxy_auth"
    d.text = "the WebSocket handshake got HTTP 407: the proxy wants credentials"
    d.message = head .. "HTTP 407 - the proxy wants credentials"
    d.hint = "put user:password in the proxy URL"
  elseif st >= 300 and st < 400 then
    -- never followed (glrun.ws): the host it pointed to, without credentials
    d.kind = "redirect"
    local loc = err.location or ""
    local to = loc:match("^%a[%w+.-]*://([^/?#]+)") or loc:match("^[^?#]+")
    if to then to = to:gsub("^.*@", "") end
    local what = "HTTP " .. st .. " - a proxy or captive portal redirected the WebSocket upgrade"
      .. (to and to ~= "" and (" (to " .. to .. ")") or "")
      .. "; a Live endpoint never redirects, and glrun does not follow it"
    d.text = "the WebSocket handshake got " .. what
    d.message = head .. what
    d.hint = "sign in to the network's portal, or check the proxy settings and GOOGLE_GEMINI_BASE_URL"
  elseif st == 0 then
    -- connected and asked, but no complete HTTP answer came back
    d.kind, d.retryable = "no_response", true
    local why = (err.message or ""):match("%(([^()]*)%)%s*$")
    local what = "the server took the connection but sent no complete HTTP response to the upgrade"
      .. (why and (" (" .. why .. ")") or "")
    d.text = "the WebSocket handshake failed: " .. what
    d.message = head .. what
  elseif st == 429 or st >= 500 then
    d.kind, d.retryable = "busy", true
    d.text = "the WebSocket handshake got HTTP " .. st .. ": the server is overloaded or the quota is "
      .. "exhausted; retry later"
    d.message = head .. "HTTP " .. st .. " - the server is overloaded or the quota is exhausted; retry later"
  else
    d.kind = "handshake"
    d.text = "WebSocket handshake failed: HTTP " .. st
    d.message = head .. "HTTP " .. st
  end
end

-- ------------------------------------------------------------ Live close codes

local function closed(d, err, ctx, url)
  local code, reason = err.close_code or 1006, err.reason or ""
  local rs = reason ~= "" and (" \"" .. reason .. "\"") or ""       -- in the long message
  local rp = reason ~= "" and (" (" .. first_line(reason) .. ")") or "" -- in the one line
  local model = ctx.model and models.id(ctx.model) or "?"
  local ver = ctx.api_version or "v1beta"
  local low = reason:lower()
  -- what: the meaning; the line and the message differ only in how the
  -- server's reason is quoted
  local function say(kind, what, extra)
    d.kind = kind
    d.text = "Live closed the session with " .. code .. rp .. (what and (": " .. what) or "")
    d.message = "Live closed the session with " .. code .. rs .. (what and (": " .. what) or "") .. (extra or "")
  end
  if code == 1008 then
    d.fatal = true
    if reason:find("not found for API version", 1, true) or reason:find("not supported for bidiGenerateContent", 1, true)
       or reason:find("is not found", 1, true) or reason:find("^Publisher Model .* was not f") then
      local ex = models.explain(model)
      say("model", "model " .. model .. " is unknown, retired, or not offered for Live (bidiGenerateContent) "
        .. "on API version " .. ver, "." .. (ex and (" " .. ex .. ".") or "") .. " Live models: " .. live_names(ctx) .. ".")
      d.hint = "pick a Live model (gemini.models.live_models(), or gemini.models.refresh() to ask the server)"
    elseif low:find("not implemented, or supported, or enabled", 1, true) then
      -- the model exists and serves Live; it refuses a combination of
      -- features (docs/protocol.md#gemini-3-live-rules), not the model
      local caps = ctx.caps or models.live_caps(model)
      local async = false
      for _, t in ipairs(type(ctx.setup) == "table" and type(ctx.setup.tools) == "table" and ctx.setup.tools or {}) do
        for _, fd in ipairs(type(t) == "table" and type(t.functionDeclarations) == "table" and t.functionDeclarations or {}) do
          if type(fd) == "table" and fd.behavior == "NON_BLOCKING" then async = true end
        end
      end
      say("feature_unsupported", "model " .. model .. " serves Live, but not this combination of features"
        .. ((async and caps.async_functions == false) and " (asynchronous NON_BLOCKING functions)"
            or " (e.g. audio with tools, or asynchronous functions)") .. "; the model itself exists")
      d.hint = "drop the feature the model does not offer (gemini.models.live_caps), or use another Live model"
    elseif reason:find("has not been used in project", 1, true) or reason:find("disabled", 1, true) then
      say("api_disabled", "the Generative Language API is not enabled for the key's project")
      d.hint = "enable the Generative Language API for the project, or use a key of another project"
    else
      d.kind = "policy_violation"
      d.text = "Live closed the session with 1008 (policy violation)" .. rp
      d.message = "Live closed the session with 1008 (policy violation)" .. rs
    end
  elseif code == 1007 then
    d.fatal = true
    if low:find("api key not found") or low:find("api key not valid") or low:find("key not valid") then
      say("bad_key", "the API key is unknown or malformed")
      d.hint = "check GEMINI_API_KEY / GOOGLE_API_KEY"
    elseif low:find("expired") then
      say("key_expired", "the API key has expired")
      d.hint = "renew the key"
    elseif low:find("location is not supported") then
      say("region", "the API is not offered in the region the request comes from")
    elseif low:find("response modalities") then
      say("modality", "model " .. model .. " does not support the requested response modality; audio-only "
        .. "Live models take responseModalities [\"AUDIO\"] (with outputAudioTranscription for text)")
      d.hint = "connect with modality = \"audio\" (or let glrun choose: leave modality unset)"
    elseif low:find("media_chunks") then
      say("setup", "this model wants realtimeInput.audio/video/text instead of mediaChunks")
    elseif ctx.late_client_content or (ctx.caps and ctx.caps.client_content == "initial_only"
                                       and not ctx.resumed and ctx.phase ~= "setup") then
      -- the Gemini 3.x rule (docs/protocol.md#gemini-3-live-rules): the
      -- message's shape, not the key; a new, seeded session works
      say("live_rule", "model " .. model .. " takes clientContent only to seed the initial history "
        .. "(setup.historyConfig, up to a turnComplete); later text goes as realtimeInput.text"
        .. (ctx.late_client_content and " (a clientContent was sent after that)" or "")
        .. " - not the API key")
      d.hint = "send text with send_text (realtimeInput on this model); seed history with live.connect{history = ...}"
      d.rule = "client_content_initial_only"
    elseif ctx.resumed then
      d.fatal = false
      d.kind = "resume_refused"
      d.text = "Live closed the resumed session with 1007" .. rp .. ": the resumption handle was refused (expired or unknown)"
      d.message = "Live closed the resumed session with 1007" .. rs .. ": the resumption handle was refused (expired or unknown)"
      d.hint = "start a new session (the policy re-seeds it from the transcript)"
    else
      local keys = {}
      for k in pairs(ctx.setup or {}) do keys[#keys + 1] = k end
      table.sort(keys)
      say("setup", "the setup or a message was invalid (invalid argument / precondition)",
        #keys > 0 and ("; setup had: " .. list(keys)) or nil)
    end
  elseif code == 1011 then
    d.retryable = true
    if low:find("quota") or low:find("exhausted") then
      say("live_quota", "quota or concurrency limit; retry after a while")
    else
      say("live_server", "a server-side error; retry")
    end
  elseif code == 1006 then
    d.kind, d.retryable = "dropped", true
    d.text = "the Live connection dropped without a close frame (1006)"
    d.message = "Live connection to " .. url .. " dropped without a close frame (1006); reconnect"
  elseif code == 1000 or code == 1001 then
    d.kind, d.retryable = code == 1001 and "going_away" or "closed", true
    local after = ctx.go_away and ": the connection reached its lifetime after goAway; resume on a new connection" or ""
    d.text = "Live closed the session (" .. code .. ")" .. rp .. after
    d.message = "Live closed the session (" .. code .. ")" .. rs .. after
  else
    d.kind, d.retryable = "closed", code >= 1012 and code <= 1014
    d.text = "Live closed the session with " .. code .. rp
    d.message = "Live closed the session with " .. code .. rs
  end
end

-- ------------------------------------------------------------ HTTP statuses

local function http_status(d, err, ctx)
  local st = err.status
  local gs = errors.google_status(err)
  local gmsg = type(err.error) == "table" and err.error.message or nil
  if st == 429 then
    local why = quota_will_not_heal(err)
    if why then
      d.kind = "quota_exhausted"
      d.text = "HTTP 429 on " .. why .. ", which will not reset soon"
      d.hint = "use another model, or wait for the quota to reset"
    else
      d.kind, d.retryable = "rate_limit", true
      d.text = "HTTP 429 (rate limit)" .. (err.retry_after and (", the server asks to wait " .. err.retry_after .. " s") or "")
    end
  elseif st == 404 and type(ctx.probes) == "table" and ctx.probes.version_ok then
    -- the doctor asked the same of another API version, which answered
    d.kind, d.fatal = "wrong_api_version", true
    d.text = "HTTP 404: API version " .. tostring(ctx.api_version or "?") .. " is not served here; "
      .. ctx.probes.version_ok .. " answers"
    d.hint = "set GOOGLE_GENAI_API_VERSION=" .. ctx.probes.version_ok .. " (or unset it: v1beta is the default)"
  elseif st == 404 then
    d.kind = "not_found"
    d.text = "HTTP 404, the model is not found for this API version or does not serve generateContent"
    d.hint = "check the model name (glrun models lists them)"
  elseif st == 500 or st == 502 or st == 503 or st == 504 or st == 408 then
    d.kind, d.retryable = "server", true
    d.text = ("HTTP %d%s (server side)"):format(st, gs and (" " .. gs) or "")
  elseif st == 400 or st == 401 or st == 403 then
    d.kind, d.fatal = "refused", true
    d.text = ("HTTP %d%s: %s"):format(st, gs and (" " .. gs) or "", first_line(gmsg or err.message))
    local low = type(gmsg) == "string" and gmsg:lower() or ""
    local info = errors.detail(err, "ErrorInfo")
    local reason = type(info) == "table" and info.reason or ""
    if st ~= 400 or low:find("api key", 1, true) then
      d.hint = "check the API key (GEMINI_API_KEY / GOOGLE_API_KEY) and its project's permissions"
    end
    -- the same causes a Live 1007/1008 names, read from the REST answer
    if low:find("location is not supported", 1, true) then
      d.kind = "region"
      d.hint = "the API is not offered where the request comes from: run from a supported region, or use Vertex AI there"
    elseif low:find("expired", 1, true) and (reason == "API_KEY_INVALID" or low:find("api key", 1, true)) then
      d.kind = "key_expired"
      d.hint = "renew the key (aistudio.google.com/apikey)"
    elseif reason == "API_KEY_INVALID" or low:find("api key not valid", 1, true) then
      d.kind = "bad_key"
      d.hint = "check GEMINI_API_KEY / GOOGLE_API_KEY: the key is not valid"
    elseif reason == "SERVICE_DISABLED" or low:find("has not been used in project", 1, true)
           or low:find("is disabled", 1, true) then
      d.kind = "api_disabled"
      d.hint = "enable the Generative Language API for the key's project"
    end
  else
    d.kind = "http"
    d.text = first_line(err.message)
  end
end

-- ------------------------------------------------------------ any error

--- What err means: a diagnosis (see the top of this file). ctx: transport
--- ("live" | "rest"), model, url, api_version, resumed, setup, mock,
--- phase ("setup"), timeout, go_away, turn_deadline (seconds), probes
--- (measurements beside the failure, from `glrun doctor`: proxy, direct,
--- variants = {{label, why = "path"|"version", status, fix}, ...} for a
--- handshake 404; version_ok = another API version that answered, for a
--- REST 404).
function M.of(err, ctx)
  ctx = ctx or {}
  if type(err) ~= "table" then err = errors.new("error", tostring(err)) end
  local d = { cause = err, fatal = false, retryable = false }
  if err.live and err.diagnosis then
    -- diagnosed already (diagnose.live): the same answer
    d.kind, d.fatal, d.retryable, d.hint = err.diagnosis, err.fatal == true, err.retryable == true, err.hint
    d.text, d.message = err.summary or first_line(err.message), err.message
    return d
  end
  local kind = err.kind or "error"
  local live = ctx.transport == "live" or err.live
  local url = err.url or (ctx.url and core.redact(ctx.url)) or "the Live endpoint"
  local msg = err.message or tostring(err)
  if kind == "ws_handshake" then
    handshake(d, err, ctx, url)
  elseif kind == "ws_closed" then
    closed(d, err, ctx, url)
  elseif kind == "http" then
    http_status(d, err, ctx)
  elseif kind == "timeout" then
    if err.deadline then
      d.kind = "deadline"
      d.text = ctx.turn_deadline and ("the turn deadline (%g s) passed before the answer was complete"):format(ctx.turn_deadline)
        or "the deadline passed before the answer was complete"
    elseif ctx.phase == "setup" then
      d.kind, d.retryable = "timeout", true
      local model = ctx.model and models.id(ctx.model) or "?"
      d.text = "no setupComplete within " .. (ctx.timeout or "?") .. " s after setup (model " .. model .. ")"
      d.message = "no setupComplete from " .. url .. " within " .. (ctx.timeout or "?") .. " s after setup "
        .. "(model " .. model .. ")"
    else
      d.kind, d.retryable = "timeout", true
      d.text = "no answer in time"
      d.message = msg
    end
  elseif kind == "tls" then
    d.kind = "tls"
    d.text = "TLS failed (" .. first_line(msg) .. "): a retry cannot fix a certificate this machine does "
      .. "not trust (SSL_CERT_FILE names the CA file both transports use)"
    d.message = msg
    d.hint = "a TLS-intercepting proxy needs its CA in the system store"
  elseif kind == "dns" or kind == "connect" then
    d.kind, d.retryable = "unreachable", true
    d.text = live and ("cannot reach the Live endpoint (" .. kind .. "): " .. first_line(msg))
      or ("cannot reach the server (" .. kind .. ")")
    d.message = msg
  elseif kind == "protocol" and err.protocol_violation then
    -- the server (or something in between) broke RFC 6455: the same
    -- endpoint will do it again, so this is never retried
    d.kind, d.fatal = "protocol_violation", true
    d.message = "Live connection to " .. url .. " failed: protocol violation by the server: "
      .. tostring(err.violation or "a malformed frame") .. " (" .. tostring(err.close_code or 1002) .. ")"
    d.text = first_line(live and d.message or msg)
    d.hint = "a proxy or middlebox that rewrites WebSocket traffic, or a server that is not a Live "
      .. "endpoint, does this; check GOOGLE_GEMINI_BASE_URL and any proxy in between"
  elseif kind == "stream_cut" or kind == "network" then
    d.kind, d.retryable = "cut", true
    d.text = "the stream was cut (" .. first_line(msg) .. ")"
    d.message = msg
  elseif kind == "config" then
    d.kind, d.fatal = "config", true
    d.text = tostring(msg)
  elseif kind == "blocked" then
    d.kind, d.fatal = "blocked", true
    d.text = first_line(msg)
  elseif kind == "malformed_call" then
    d.kind, d.retryable = "malformed_call", true
    d.text = first_line(msg)
  else
    d.kind = kind
    d.text = first_line(tostring(err))
    d.message = msg
  end
  d.message = d.message or d.text
  return d
end

--- A server's clock against ours: skew = server Date minus local time, in
--- seconds; ctx.backend ("vertex": signed JWTs and OAuth tokens depend on
--- it). Returns a diagnosis (kind "clock_skew" when it is off by more than
--- ctx.limit, default 300 s, else "clock_ok").
function M.clock(skew, ctx)
  ctx = ctx or {}
  local limit = ctx.limit or 300
  local d = { fatal = false, retryable = false, kind = "clock_ok" }
  local ahead = skew > 0 and "behind the server" or "ahead of the server"
  if math.abs(skew) <= limit then
    d.text = ("the local clock is within %d s of the server's Date header (%+d s)"):format(limit, math.floor(skew + 0.5))
  else
    d.kind, d.fatal = "clock_skew", true
    d.text = ("the local clock is %d s %s (its Date header): a signed JWT (Vertex AI service accounts) "
      .. "is refused when its iat/exp are off by minutes, and TLS certificates may look not yet valid or expired")
      :format(math.floor(math.abs(skew) + 0.5), ahead)
    d.hint = "set the clock right (NTP: timedatectl set-ntp true)"
  end
  d.message = d.text
  return d
end

--- Turn a transport failure of a Live session into an error that says
--- what it means and what to do. ctx as for M.of (model, url,
--- api_version, resumed, setup, mock, phase, timeout, go_away). The
--- transport's kind and fields are kept; added: live = true, retryable,
--- fatal (never retry: a configuration error), hint, diagnosis (the
--- diagnosis kind), summary (its one line), cause (the transport's error).
function M.live(err, ctx)
  ctx = ctx or {}
  if type(err) ~= "table" then err = errors.new("connect", tostring(err)) end
  if err.live then return err end
  local lctx = {}
  for k, v in pairs(ctx) do lctx[k] = v end
  lctx.transport = "live"
  local d = M.of(err, lctx)
  local f = {}
  for k, v in pairs(err) do
    if k ~= "message" and k ~= "kind" then f[k] = v end
  end
  f.live, f.model, f.cause = true, ctx.model, err
  f.retryable, f.fatal, f.hint = d.retryable, d.fatal, d.hint
  f.diagnosis, f.summary, f.rule = d.kind, d.text, d.rule
  return errors.new(err.kind or "connect", d.message, f)
end

return M
