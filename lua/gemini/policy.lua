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
--- map per transport, tried in order. An entry is a model id or alias
--- ("gemini-flash-latest"), `{model = ..., tier = "flex"}` (the request's
--- serviceTier), or a gemini.catalog capability query: the newest model of
--- the catalog that matches (resolved when a chat starts). The defaults
--- are queries, so no release of glrun names a model Google retires
--- (offline, from the built-in list: gemini-3.8-live; gemini-3.8-flash,
--- gemini-3.5-flash-lite).
P.chain = {
  live = { { method = "bidiGenerateContent", family = "flash" } },
  rest = { { method = "generateContent", family = "flash" }, { method = "generateContent", family = "flash-lite" } },
}

--- The chain on Vertex AI (its Live models have their own ids, docs/protocol.md#live-models);
--- used instead of `chain` when the backend is Vertex AI (whose catalog is
--- the built-in list: models.list is not read there).
P.vertex_chain = {
  live = { "gemini-live-2.5-flash-native-audio" },
  rest = { { method = "generateContent", family = "flash" }, { method = "generateContent", family = "flash-lite" } },
}

P.turn_deadline = 90        -- seconds for one turn, retries and fallbacks included
P.max_attempts = 8          -- attempts per turn, all transports together
P.max_retries_per_model = 3 -- retries of one transport+model before moving on
P.backoff_base = 1.0        -- seconds
P.backoff_cap = 30.0
P.circuit_cooldown = 60     -- seconds Live is skipped after a failure that will not heal by itself
P.restart_after_text = true -- a failure after text was shown restarts the turn (marked visibly)
P.continuation = true       -- a long answer (finishReason CONTINUATION) is continued with its token
P.max_continuation_hops = 16 -- requests one continued answer may take
P.max_resume_without_progress = 3 -- resumptions in a row from a checkpoint that bring nothing new
P.flex_timeout = 900        -- seconds a serviceTier "flex" request may wait (it queues for minutes)
P.malformed_call_retries = 1 -- a refused function call (malformed_call) is asked again this often
P.replace_retired = true    -- a model the server says is gone gives way to the catalog's newest of its family
P.batch_remainder_tier = "flex" -- `glrun batch wait --deadline`: the prompts a batch did not answer are
                            -- asked on this serviceTier first (half price, may queue; a 503 falls to
                            -- the standard tier); nil: the standard tier only

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
      for _, e in ipairs((ctx.chain or p.chain)[tr] or {}) do
        local m, tier = P.entry(e)
        if m and not ctx.skip[tr .. ":" .. m .. (tier and ("@" .. tier) or "")] then
          return { transport = tr, model = m, tier = tier }
        end
      end
    end
  end
  return nil
end

--- A chain entry's model id and serviceTier: a string is an id or alias;
--- {model = ..., tier = ...}; a capability query table is resolved by
--- gemini.catalog (nil when nothing matches).
function P.entry(e)
  if type(e) == "string" then return e, nil end
  if type(e) ~= "table" then return nil end
  if type(e.model) == "string" then return e.model, e.tier end
  local q = {}
  for k, v in pairs(type(e.model) == "table" and e.model or e) do
    if k ~= "tier" and k ~= "model" then q[k] = v end
  end
  local id = require("gemini.catalog").resolve(q, { offline = true }) -- no request: memory, cache, built-in list
  return id, e.tier
end

---------------------------------------------------------------------------
-- classify: what an error means and what to do
---------------------------------------------------------------------------

--- What an error means (gemini.diagnose.of): a diagnosis {kind, fatal,
--- retryable, hint, cause, text}. classify decides on it; a policy may
--- replace this function to explain errors its own way.
P.diagnose = function(err, ctx) return require("gemini.diagnose").of(err, ctx) end

-- Diagnoses that mean Live cannot be had at this endpoint for now: leave
-- it (fall back) and skip it for a cool-down (the circuit).
local LIVE_REFUSED = {
  endpoint = true, refused_upgrade = true, proxy_auth = true, redirect = true, no_response = true,
  busy = true, handshake = true, credentials_in_url = true,                 -- the handshake
  model = true, api_disabled = true, policy_violation = true, feature_unsupported = true, -- 1008
  bad_key = true, key_expired = true, region = true, modality = true, setup = true,
  resume_refused = true,                                                    -- 1007
}
-- Live connections that dropped: reconnect.
local LIVE_DROPPED = { live_server = true, live_quota = true, dropped = true, going_away = true }

--- err: an error object; at: { transport, model, url, tier }.
--- Returns { action = "retry"|"reconnect"|"fallback"|"fail", delay = secs?,
---           circuit = true (stop using Live for a cool-down)?,
---           transport_down = true (no other model of this transport either, this turn)?,
---           fallback_after = n (retries of this model before falling back)?,
---           diagnosis = the diagnosis (p.diagnose),
---           reason = "one line: what failed, the likely cause, what now" }
--- The words are the diagnosis's (gemini.diagnose); the decision is the policy's.
function P.classify(err, at, p)
  p = p or P
  local where = at.url or (type(err) == "table" and (err.url or err.path)) or nil
  local what = ("%s %s%s"):format(at.transport == "live" and "Live" or "REST", at.model,
                                  where and (" at " .. where) or "")
  local d = (p.diagnose or P.diagnose)(err, { transport = at.transport, model = at.model, url = at.url,
                                              turn_deadline = p.turn_deadline })
  local k, live = d.kind, at.transport == "live"
  local function decide(t)
    t.reason, t.diagnosis = what .. ": " .. d.text, d
    return t
  end

  if live and LIVE_REFUSED[k] then return decide{ action = "fallback", circuit = true } end
  if live and LIVE_DROPPED[k] then return decide{ action = "reconnect", delay = p.backoff_base } end
  if k == "closed" then return decide{ action = "fallback" } end
  -- a message shape this Live model's rules refuse (Gemini 3.x 1007), or a
  -- turn it cannot take: REST answers it; a new, seeded session works, so no circuit
  if k == "live_rule" then return decide{ action = "fallback" } end
  if k == "rate_limit" then
    -- the client-side day budget (gemini.ratelimit rpd) comes back at midnight Pacific: another model
    if type(err) == "table" and err.per_day then return decide{ action = "fallback" } end
    return decide{ action = "retry", delay = type(err) == "table" and err.retry_after or nil }
  end
  if k == "quota_exhausted" or k == "not_found" then return decide{ action = "fallback" } end
  if k == "server" then
    if at.tier == "flex" and err.status == 503 then
      -- the flex tier is out of capacity: the next entry of the chain
      return decide{ action = "fallback" }
    end
    return decide{ action = "retry", delay = err.retry_after, fallback_after = p.max_retries_per_model }
  end
  if k == "cut" then
    return decide{ action = live and "reconnect" or "retry", fallback_after = p.max_retries_per_model }
  end
  if k == "timeout" then return decide{ action = "retry", fallback_after = 1 } end
  if k == "tls" then
    -- a certificate that is not trusted (or a handshake the server
    -- refuses) does not heal by retrying, nor on another model at the same
    -- endpoint: leave this transport for the turn
    return decide{ action = "fallback", circuit = live or nil, transport_down = true }
  end
  if k == "unreachable" then
    if live then return decide{ action = "fallback", circuit = true } end
    return decide{ action = "retry", fallback_after = 2 }
  end
  -- the Live server (or a middlebox) broke RFC 6455: it will again, REST may work
  if k == "protocol_violation" and live then return decide{ action = "fallback", circuit = true } end
  -- the model's function call was refused: once more, then the next model
  if k == "malformed_call" then return decide{ action = "retry", fallback_after = p.malformed_call_retries or 1 } end
  -- refused, blocked, deadline, config, ...: trying again cannot help
  return decide{ action = "fail" }
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

--- The policy file in force: `glrun --policy FILE`, else
--- $XDG_CONFIG_HOME/glrun/policy.lua (~/.config/glrun/policy.lua) when it
--- exists; nil when there is none.
function P.file()
  local core = require "glrun.core"
  if core.options and core.options.policy then return core.options.policy end
  local base = os.getenv("XDG_CONFIG_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME")
    if not home then return nil end
    base = home .. "/.config"
  end
  local path = base .. "/glrun/policy.lua"
  local f = io.open(path, "r")
  if not f then return nil end
  f:close()
  return path
end

--- The policy in force: overrides (a table, e.g. chat{policy=...}) over
--- the policy file (P.file()) over the defaults. Returns the policy, or
--- nil, err (kind "config") naming the file and the problem.
function P.resolve(overrides)
  local path = P.file()
  local p = P
  if path then
    local loaded, err = P.load(path)
    if not loaded then return nil, err end
    p = loaded
  end
  if overrides ~= nil then
    if type(overrides) ~= "table" then return nil, errors.config("chat{policy=...} must be a table") end
    local merged = {}
    for k, v in pairs(p) do merged[k] = v end
    for k, v in pairs(overrides) do merged[k] = v end
    local ok, err = P.check(merged, "chat{policy=...}")
    if not ok then return nil, err end
    p = merged
  end
  return p
end

return P
