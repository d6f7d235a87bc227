-- glrun.inject — `glrun --replay DIR --inject SPEC`: a recorded exchange
-- turned into the failure the real service would have sent, so one
-- recorded session becomes a family of deterministic failure tests.
-- runtime/inject.c parses the specs (glrun.core.options.inject);
-- glrun.cassette asks here for each exchange it serves, and the replay
-- transports (http_play.c, ws_play.c) serve the changed copy exactly as
-- they serve a recorded failure, so scripts see the same error objects.
--
-- An injected failure never uses up the recorded exchange: a client that
-- retries (or reconnects with the same setup) gets the recorded answer.
-- Requests and Live sessions are counted from 1 in the order the script
-- makes them (every HTTP request counts, models.list too).
local core = require "glrun.core"
local json = require "glrun.json"

local M = {}

local specs = core.options.inject or {}
local n_http, n_ws, ws_pending = 0, 0, nil

M.active = #specs > 0

local REASON = { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
                 [408] = "Request Timeout", [429] = "Too Many Requests", [500] = "Internal Server Error",
                 [502] = "Bad Gateway", [503] = "Service Unavailable", [504] = "Gateway Timeout" }
-- google.rpc.Status of each status, with the words the service uses
local STATUS = {
  [400] = { "INVALID_ARGUMENT", "Request contains an invalid argument." },
  [401] = { "UNAUTHENTICATED", "Request had invalid authentication credentials." },
  [403] = { "PERMISSION_DENIED", "The caller does not have permission" },
  [404] = { "NOT_FOUND", "Requested entity was not found." },
  [408] = { "DEADLINE_EXCEEDED", "The request timed out." },
  [429] = { "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details." },
  [500] = { "INTERNAL", "Internal error encountered." },
  [502] = { "UNAVAILABLE", "Bad gateway." },
  [503] = { "UNAVAILABLE", "The model is overloaded. Please try again later." },
  [504] = { "DEADLINE_EXCEEDED", "Deadline expired before operation could complete." },
}

local function fmt_secs(s) return (("%.3f"):format(s):gsub("0+$", ""):gsub("%.$", "")) .. "s" end

local function model_of(url)
  return (url or ""):match("/models/([^:/?]+)") or "unknown"
end

--- The body and extra headers of an HTTP error `status` as the Gemini API
--- sends it (a google.rpc.Status; a 429 with QuotaFailure and RetryInfo).
function M.error_body(status, url, retry, quota)
  local s = STATUS[status] or { status >= 500 and "UNKNOWN" or "FAILED_PRECONDITION", "HTTP " .. status }
  local e = { code = status, status = s[1], message = s[2] }
  local extra = ""
  if status == 429 then
    local day = quota == "day"
    retry = retry or (day and 47 or 1.5)
    e.details = {
      { ["@type"] = "type.googleapis.com/google.rpc.QuotaFailure", violations = { {
        quotaMetric = "generativelanguage.googleapis.com/generate_content_free_tier_requests",
        quotaId = day and "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
          or "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        quotaDimensions = { location = "global", model = model_of(url) },
        quotaValue = day and "20" or "10" } } },
      { ["@type"] = "type.googleapis.com/google.rpc.RetryInfo", retryDelay = fmt_secs(retry) },
    }
    e.message = e.message .. " Please retry in " .. fmt_secs(retry) .. "."
    if not day then extra = ("Retry-After: %d\r\n"):format(math.ceil(retry)) end
  end
  local body = json.encode{ error = e }
  local head = ("HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: %d\r\n%s")
    :format(status, REASON[status] or "Error", #body, extra)
  return body, head
end

local function find(transport, key, n)
  for _, s in ipairs(specs) do
    if s.transport == transport and s[key] == n then return s end
  end
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

--- The next HTTP request: the exchange to serve instead of `ex` (the
--- recorded match, or nil when the cassette has none), and whether `ex`
--- stays unused. Returns ex unchanged when no spec names this request.
function M.http(ex, method, url)
  n_http = n_http + 1
  local s = find("rest", "request", n_http)
  if not s then return ex, false end
  core.log("info", ("--inject %s: HTTP request %d (%s %s)"):format(s.spec, n_http, method, core.redact(url)), "replay")
  if s.status then
    local body, head = M.error_body(s.status, url, s.retry, s.quota)
    local t = ex and ex.response and ex.response.t or 0.001
    return { kind = "http", file = "--inject " .. s.spec, injected = s,
             request = ex and ex.request or { method = method, url = url },
             response = { status = s.status, headers = head, t = t },
             events = { { t = t, dir = "recv", bytes = body } }, result = 0, t = t }, true
  end
  -- cut: the recorded answer up to `cut` bytes of its body, then the
  -- connection closes in the middle of the chunked body, as curl reports it
  if not ex then return nil, false end
  local out, left = {}, s.cut
  local t_end = ex.response and ex.response.t or 0
  for _, ev in ipairs(ex.events or {}) do
    if left <= 0 then break end
    local b = ev.bytes
    if #b > left then b = b:sub(1, left) end
    left = left - #b
    out[#out + 1] = { t = ev.t, dir = ev.dir, bytes = b }
    t_end = ev.t
  end
  local c = copy(ex)
  c.injected, c.events, c.t, c.used = s, out, t_end, nil
  c.result, c.error = 18, "transfer closed with outstanding read data remaining"
  return c, true
end

--- A Live connection (glrun.cassette.peek_ws): an injected handshake
--- refusal, or ex unchanged. Also numbers the session for M.ws_session.
function M.ws_connect(ex, url)
  n_ws = n_ws + 1
  ws_pending = n_ws
  local s = find("live", "session", n_ws)
  if not (s and s.status) then return ex end
  core.log("info", ("--inject %s: Live session %d refused at the handshake"):format(s.spec, n_ws), "replay")
  return { kind = "ws", file = "--inject " .. s.spec, injected = s,
           request = ex and ex.request or { method = "GET", url = url },
           response = { status = s.status, headers = "", t = 0.005 }, events = {}, result = 0, t = 0.005,
           error = ("WebSocket handshake to %s failed: HTTP %d"):format(core.redact(url), s.status),
           error_kind = "ws_handshake" }
end

--- The recorded session bound to a Live connection (glrun.cassette.take_ws):
--- the copy with the injected close or goAway, and whether ex stays unused.
function M.ws_session(ex)
  local n = ws_pending
  local s
  for _, x in ipairs(specs) do
    if x.transport == "live" and x.session == n and x.frame then s = x end
  end
  if not s then return ex, false end
  local out, recv, t_at = {}, 0, nil
  local evs = ex.events or {}
  local i = 1
  while i <= #evs do
    local ev = evs[i]
    if ev.dir == "recv" then
      recv = recv + 1
      if recv == s.frame then t_at = ev.t; break end
    end
    out[#out + 1] = ev
    i = i + 1
  end
  t_at = t_at or ex.t or (evs[#evs] and evs[#evs].t) or 0
  local c = copy(ex)
  c.injected, c.events, c.used = s, out, nil
  local url = core.redact(ex.request.url)
  if s.close then
    core.log("info", ("--inject %s: Live session %d closed with %d at server message %d"):format(
      s.spec, n, s.close, s.frame), "replay")
    local reason = s.reason or (s.close == 1011 and "Internal error encountered.")
      or (s.close == 1007 and "Request contains an invalid argument.") or ""
    c.t, c.close_code, c.reason, c.closed_by = t_at, s.close, reason, nil
    c.error = ("WebSocket %s closed by the server: %d%s"):format(url, s.close, reason ~= "" and (" " .. reason) or "")
    c.error_kind = "ws_closed"
    return c, true
  end
  -- goAway: the message before server message `frame`; the server closes
  -- (1000) `goaway` seconds later unless the session ended before
  core.log("info", ("--inject %s: goAway in Live session %d before server message %d"):format(
    s.spec, n, s.frame), "replay")
  local ga = { t = t_at, dir = "recv", type = "binary",
               bytes = json.encode{ goAway = { timeLeft = fmt_secs(s.goaway) } } .. "\n" }
  out[#out + 1] = ga
  local close_at = t_at + s.goaway
  local cut = false
  while i <= #evs do
    if evs[i].t > close_at then cut = true; break end
    out[#out + 1] = evs[i]
    i = i + 1
  end
  if cut or (ex.t or 0) > close_at then
    c.t, c.close_code, c.reason, c.closed_by = close_at, 1000, "", nil
    c.error = ("WebSocket %s closed by the server: 1000"):format(url)
    c.error_kind = "ws_closed"
  end
  return c, cut
end

return M
