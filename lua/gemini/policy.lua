-- gemini.policy — the default fallback and retry policy: a plain table of
-- small functions and knobs that a chat consults. Replace it whole with
-- `glrun --policy FILE` or a policy.lua in $XDG_CONFIG_HOME/glrun/, or
-- override fields from a script: chat{ policy = { classify = my_fn } }.
-- A policy file returns a table; the fields it leaves out keep their
-- defaults (so a file may change one knob).
--
-- Grounded in what users of the official SDKs hit (docs/protocol.md#live-close-codes,
-- #live-handshake-404, #rate-limits-and-retries): a Live handshake 404 is a wrong path or a proxy in the way
-- (not "Live needs Vertex AI"); close 1008 is an unknown or retired model
-- for Live (configuration: never retried); 1007 a key, region, setup or
-- modality problem; 1011 and drops are server-side (reconnect); a 429 on a
-- per-day quota or a quota limit of 0 will not heal today (fall back down
-- the chain); a per-minute 429 waits for RetryInfo.retryDelay.
local errors = require "gemini.errors"

local P = {}

---------------------------------------------------------------------------
-- knobs
---------------------------------------------------------------------------

--- Transport order for "auto": Live first, then REST.
P.transports = { "live", "rest" }

--- The model chain. Live models do not serve REST, so it is an explicit
--- map per transport, tried in order.
P.chain = {
  live = { "gemini-2.5-flash-native-audio-latest" },
  rest = { "gemini-2.5-flash", "gemini-2.5-flash-lite" },
}

--- The chain on Vertex AI (its Live models have their own ids, docs/protocol.md#live-models);
--- used instead of `chain` when the backend is Vertex AI.
P.vertex_chain = {
  live = { "gemini-live-2.5-flash-native-audio" },
  rest = { "gemini-2.5-flash", "gemini-2.5-flash-lite" },
}

P.turn_deadline = 90        -- seconds for one turn, retries and fallbacks included
P.max_attempts = 8          -- attempts per turn, all transports together
P.max_retries_per_model = 3 -- retries of one transport+model before moving on
P.backoff_base = 1.0        -- seconds
P.backoff_cap = 30.0
P.circuit_cooldown = 60     -- seconds Live is skipped after a failure that will not heal by itself
P.restart_after_text = true -- a failure after text was shown restarts the turn (marked visibly)

---------------------------------------------------------------------------
-- choose: which transport and model for the next attempt
---------------------------------------------------------------------------

--- ctx = { transport = "auto"|"live"|"rest", chain = {live=..., rest=...},
---         skip = { ["rest:gemini-x"] = true, ... } (models given up on this turn),
---         circuit = { live = "closed"|"open"|"half_open" },
---         last = { transport, model } (the previous attempt, for retries),
---         retry = bool (the last decision was a retry),
---         failures = { {transport, model, err, decision}, ... } (this turn's) }
--- Returns { transport = ..., model = ... } or nil when nothing is left.
--- (Every policy function gets the whole policy as its last argument, so
--- overriding a knob changes what the default functions do.)
function P.choose(ctx, p)
  p = p or P
  if ctx.retry and ctx.last then return ctx.last end
  local order = ctx.transport == "auto" and p.transports or { ctx.transport }
  local down = {} -- transports whose endpoint failed for good this turn (classify: transport_down)
  for _, f in ipairs(ctx.failures or {}) do
    if type(f.decision) == "table" and f.decision.transport_down then down[f.transport] = true end
  end
  for _, tr in ipairs(order) do
    local usable = not down[tr] and (tr ~= "live" or ctx.circuit.live ~= "open" or ctx.transport == "live")
    if usable then
      for _, m in ipairs((ctx.chain or p.chain)[tr] or {}) do
        if not ctx.skip[tr .. ":" .. m] then return { transport = tr, model = m } end
      end
    end
  end
  return nil
end

---------------------------------------------------------------------------
-- classify: what an error means and what to do
---------------------------------------------------------------------------

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

local function first_line(s)
  s = tostring(s or "")
  return (s:match("^[^\n]*"))
end

--- err: an error object; at: { transport, model, url }.
--- Returns { action = "retry"|"reconnect"|"fallback"|"fail", delay = secs?,
---           circuit = true (stop using Live for a cool-down)?,
---           transport_down = true (no other model of this transport either, this turn)?,
---           reason = "one line: what failed, the likely cause, what now" }
function P.classify(err, at, p)
  p = p or P
  local where = at.url or (type(err) == "table" and (err.url or err.path)) or nil
  local what = ("%s %s%s"):format(at.transport == "live" and "Live" or "REST", at.model,
                                  where and (" at " .. where) or "")
  local k = type(err) == "table" and err.kind or "error"
  local st, cc = err.status, err.close_code

  if k == "ws_handshake" then
    if st == 404 then
      return { action = "fallback", circuit = true, reason = what .. ": the WebSocket handshake got HTTP 404. "
        .. "The Live path is wrong or a proxy in between does not pass WebSocket upgrades "
        .. "(Live does not need Vertex AI: API keys work with the dot-form path "
        .. "...GenerativeService.BidiGenerateContent)" }
    elseif st == 401 or st == 403 then
      return { action = "fallback", circuit = true, reason = what .. (": the WebSocket handshake got HTTP %d: "
        .. "a proxy or gateway refused the upgrade, or the credentials were rejected"):format(st) }
    end
    return { action = "fallback", circuit = true, reason = what .. ": WebSocket handshake failed: " .. first_line(err.message) }
  end

  if k == "ws_closed" then
    local reason = first_line(err.reason or "")
    if cc == 1008 then
      return { action = "fallback", circuit = true, reason = what .. ": Live closed the session with 1008 ("
        .. reason .. "): the model is unknown, retired, or not offered for Live (bidiGenerateContent) "
        .. "on this API version; check the model name (gemini.models lists the Live models)" }
    elseif cc == 1007 then
      return { action = "fallback", circuit = true, reason = what .. ": Live closed the session with 1007 ("
        .. reason .. "): the API key, the region, the setup or a response modality was refused" }
    elseif cc == 1011 or cc == 1006 or cc == 1001 then
      return { action = "reconnect", delay = p.backoff_base, reason = what .. (": the Live connection dropped (%s%s): "
        .. "server side or network"):format(cc, reason ~= "" and ", " .. reason or "") }
    end
    return { action = "fallback", reason = what .. (": Live closed the session (%s %s)"):format(tostring(cc), reason) }
  end

  if k == "http" then
    if st == 429 then
      local why = quota_will_not_heal(err)
      if why then
        return { action = "fallback", reason = what .. ": HTTP 429 on " .. why
          .. ", which will not reset soon" }
      end
      return { action = "retry", delay = err.retry_after,
               reason = what .. ": HTTP 429 (rate limit)" .. (err.retry_after and (", the server asks to wait " .. err.retry_after .. " s") or "") }
    elseif st == 404 then
      return { action = "fallback", reason = what .. ": HTTP 404, the model is not found for this API version "
        .. "or does not serve generateContent" }
    elseif st == 500 or st == 502 or st == 503 or st == 504 or st == 408 then
      return { action = "retry", delay = err.retry_after, fallback_after = p.max_retries_per_model,
               reason = what .. (": HTTP %d %s (server side)"):format(st, errors.google_status(err) or "") }
    elseif st == 400 or st == 401 or st == 403 then
      return { action = "fail", reason = what .. (": HTTP %d %s: %s"):format(st, errors.google_status(err) or "",
        first_line(type(err.error) == "table" and err.error.message or err.message)) }
    end
    return { action = "fail", reason = what .. ": " .. first_line(err.message) }
  end

  if k == "stream_cut" or k == "network" then
    return { action = at.transport == "live" and "reconnect" or "retry", fallback_after = p.max_retries_per_model,
             reason = what .. ": the stream was cut (" .. first_line(err.message) .. ")" }
  end
  if k == "timeout" then
    if err.deadline then -- the attempt was given what was left of the turn
      return { action = "fail", reason = what .. (": the turn deadline (%g s) passed before the answer was complete")
        :format(p.turn_deadline) }
    end
    return { action = "retry", fallback_after = 1, reason = what .. ": no answer in time" }
  end
  if k == "tls" then
    -- a certificate that is not trusted (or a handshake the server
    -- refuses) does not heal by retrying, nor on another model at the same
    -- endpoint: leave this transport for the turn
    return { action = "fallback", circuit = at.transport == "live" or nil, transport_down = true,
             reason = what .. ": TLS failed (" .. first_line(err.message) .. "): a retry cannot fix "
               .. "a certificate this machine does not trust (SSL_CERT_FILE names the CA file both transports use)" }
  end
  if k == "connect" or k == "dns" then
    if at.transport == "live" then
      return { action = "fallback", circuit = true, reason = what .. ": cannot reach the Live endpoint (" .. k .. "): "
        .. first_line(err.message) }
    end
    return { action = "retry", fallback_after = 2, reason = what .. ": cannot reach the server (" .. k .. ")" }
  end
  if k == "protocol" and err.protocol_violation and at.transport == "live" then
    -- the Live server (or a middlebox) broke RFC 6455: it will again, REST may work
    return { action = "fallback", circuit = true, reason = what .. ": " .. first_line(err.message) }
  end
  if k == "config" then return { action = "fail", reason = what .. ": " .. tostring(err.message) } end
  return { action = "fail", reason = what .. ": " .. first_line(tostring(err)) }
end

---------------------------------------------------------------------------
-- backoff
---------------------------------------------------------------------------

--- Seconds to wait before attempt number `attempt` (1 = the first retry).
--- Honours the server's retry_after; exponential with full jitter; capped.
function P.backoff(attempt, err, p)
  p = p or P
  if type(err) == "table" and type(err.retry_after) == "number" then
    return math.min(err.retry_after, p.backoff_cap)
  end
  local d = math.min(p.backoff_cap, p.backoff_base * 2 ^ (attempt - 1))
  return d / 2 + (p.random or math.random)() * d / 2
end

---------------------------------------------------------------------------
-- loading a policy file
---------------------------------------------------------------------------

P.required = { "choose", "classify", "backoff" }

--- Merge overrides (a table) over the defaults. Returns a new policy.
function P.with(overrides)
  local p = {}
  for k, v in pairs(P) do p[k] = v end
  for k, v in pairs(overrides or {}) do p[k] = v end
  return p
end

--- Check a policy's shape; returns p or nil, err naming what is wrong.
function P.check(p, where)
  if type(p) ~= "table" then
    return nil, errors.config(where .. ": a policy must be a table, got " .. type(p))
  end
  for _, name in ipairs(P.required) do
    if type(p[name]) ~= "function" then
      return nil, errors.config(where .. ": the policy has no function '" .. name .. "'"
        .. (p[name] ~= nil and (" (it is a " .. type(p[name]) .. ")") or ""))
    end
  end
  return p
end

--- Load a policy file: it returns a table of overrides. Returns the merged
--- policy, or nil, err (kind "config") naming the file and the problem.
function P.load(path)
  local chunk, lerr = loadfile(path)
  if not chunk then return nil, errors.config("policy " .. lerr) end
  local ok, t = pcall(chunk)
  if not ok then return nil, errors.config("policy " .. path .. " failed while loading: " .. tostring(t)) end
  if type(t) ~= "table" then
    return nil, errors.config("policy " .. path .. " must return a table, it returned " .. type(t))
  end
  return P.check(P.with(t), "policy " .. path)
end

return P
