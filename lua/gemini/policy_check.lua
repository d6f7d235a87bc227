-- gemini.policy_check — `glrun policy check [FILE]`: load a policy the way
-- a chat does, check every knob and function, and describe the policy in
-- force with where each value came from (the default, FILE:LINE, the
-- environment).
--
-- Functions are called on representative inputs (M.samples: the errors
-- each transport really returns, built the way the transports build
-- them) in a coroutine with an instruction budget, so a function that
-- raises, returns the wrong shape or never returns is named, not hit
-- later in the middle of a conversation.
local core = require "glrun.core"
local errors = require "gemini.errors"
local policy = require "gemini.policy"

local M = {}

-- The knobs, in the order they are shown: name, section, check(v) -> nil | "what is wrong".
local function num(lo, int)
  return function(v)
    if type(v) ~= "number" or v ~= v or v == math.huge then return "must be a number" end
    if int and math.type(v) ~= "integer" and v ~= math.floor(v) then return "must be a whole number" end
    if v < lo then return ("must be at least %g"):format(lo) end
  end
end
local function bool(v) if type(v) ~= "boolean" then return "must be true or false" end end
local function fn(v) if type(v) ~= "function" then return "must be a function" end end
local function chain_check(v)
  if type(v) ~= "table" then return "must be a table {live = {...}, rest = {...}}" end
  for k, list in pairs(v) do
    if k ~= "live" and k ~= "rest" then return ("has the key %s: only live and rest"):format(tostring(k)) end
    if type(list) ~= "table" then return ("%s must be a list of models"):format(k) end
    for i, e in ipairs(list) do
      if type(e) ~= "string" and type(e) ~= "table" then
        return ("%s[%d] is a %s: a model id, {model = ..., tier = ...} or a catalog query"):format(k, i, type(e))
      end
      if type(e) == "table" and e.tier ~= nil and type(e.tier) ~= "string" then
        return ("%s[%d].tier must be a string (\"flex\", \"standard\", ...)"):format(k, i)
      end
    end
  end
end

M.KNOBS = {
  { "transports", "transport", function(v)
      if type(v) ~= "table" or #v == 0 then return "must be a non-empty list of \"live\" / \"rest\"" end
      for i, t in ipairs(v) do
        if t ~= "live" and t ~= "rest" then return ("[%d] is %s: \"live\" or \"rest\""):format(i, tostring(t)) end
      end
    end },
  { "chain", "transport", chain_check },
  { "vertex_chain", "transport", chain_check },
  { "turn_deadline", "deadlines", function(v) return num(0)(v) or (v <= 0 and "must be more than 0") or nil end },
  { "flex_timeout", "deadlines", num(0) },
  { "max_attempts", "retries", num(1, true) },
  { "max_retries_per_model", "retries", num(0, true) },
  { "backoff_base", "retries", num(0) },
  { "backoff_cap", "retries", num(0) },
  { "malformed_call_retries", "retries", num(0, true) },
  { "restart_after_text", "retries", bool },
  { "continuation", "retries", bool },
  { "max_continuation_hops", "retries", num(1, true) },
  { "max_resume_without_progress", "retries", num(0, true) },
  { "batch_remainder_tier", "tiers", function(v)
      if v ~= nil and v ~= false and type(v) ~= "string" then return "must be a serviceTier name or nil" end
    end },
  { "circuit_cooldown", "circuits", num(0) },
  { "replace_retired", "circuits", bool },
  { "ratelimit", "rate limits", function(v)
      if v ~= nil and type(v) ~= "table" then return "must be a table {backend, url, pool, limits, window}" end
    end },
  { "choose", "functions", fn },
  { "classify", "functions", fn },
  { "backoff", "functions", fn },
  { "diagnose", "functions", fn },
  { "random", "functions", function(v) if v ~= nil then return fn(v) end end },
}
local KNOWN = {}
for _, k in ipairs(M.KNOBS) do KNOWN[k[1]] = k end
-- gemini.policy's own functions: a file may carry them (copied from it), never a problem
for _, k in ipairs{ "required", "with", "check", "load", "file", "resolve", "entry" } do KNOWN[k] = true end

local function distance(a, b)
  local d = {}
  for i = 0, #a do d[i] = { [0] = i } end
  for j = 0, #b do d[0][j] = j end
  for i = 1, #a do
    for j = 1, #b do
      d[i][j] = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a:sub(i, i) == b:sub(j, j) and 0 or 1))
    end
  end
  return d[#a][#b]
end

local function suggest(name)
  local best, bd
  for _, k in ipairs(M.KNOBS) do
    local dd = distance(name, k[1])
    if dd <= 3 and (not bd or dd < bd) then best, bd = k[1], dd end
  end
  return best and (" (did you mean " .. best .. "?)") or ""
end

-- Where each top-level name is set in the file's text: line numbers.
local function lines_of(path)
  local f = io.open(path, "r")
  if not f then return {} end
  local at, n = {}, 0
  for line in f:lines() do
    n = n + 1
    local code = line:gsub("%-%-.*$", "")
    for name in code:gmatch("function%s+[%w_]+[.:]([%w_]+)%s*%(") do at[name] = at[name] or n end
    for name in code:gmatch("[%w_]+%.([%w_]+)%s*=[^=]") do at[name] = at[name] or n end
    local lead = code:match("^%s*([%a_][%w_]*)%s*=[^=]")
    if lead then at[lead] = at[lead] or n end
    for name in code:gmatch("[{,]%s*([%a_][%w_]*)%s*=[^=]") do at[name] = at[name] or n end
    for name in code:gmatch("%[%s*[\"']([%w_]+)[\"']%s*%]%s*=") do at[name] = at[name] or n end
  end
  f:close()
  return at
end

--- Call fn(...) in its own coroutine with an instruction budget. Returns
--- true, results... or false, "what went wrong".
function M._call(f, ...)
  local co = coroutine.create(f)
  debug.sethook(co, function() error("did not return (still running after 20 million instructions)", 0) end, "", 20000000)
  local r = table.pack(coroutine.resume(co, ...))
  if not r[1] then
    local e = r[2]
    return false, type(e) == "table" and tostring(e.message or e) or tostring(e)
  end
  if coroutine.status(co) ~= "dead" then return false, "yielded: a policy function must decide at once" end
  return true, table.unpack(r, 2, r.n)
end

---------------------------------------------------------------------------
-- representative errors, as the transports return them
---------------------------------------------------------------------------

local URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
local WSURL = "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"

local function http_err(status, retry, quota)
  local body = require("glrun.inject").error_body(status, URL, retry, quota)
  local headers = { ["content-type"] = "application/json; charset=UTF-8" }
  if status == 429 and quota ~= "day" then headers["retry-after"] = tostring(math.ceil(retry or 1.5)) end
  local e = core.error("http", ("POST %s: HTTP %d"):format(URL, status),
    { status = status, body = body, headers = headers, method = "POST", url = URL })
  return (errors.enrich(e))
end

local function live_err(kind, fields, msg)
  fields.url = WSURL
  return require("gemini.diagnose").live(core.error(kind, msg, fields), { transport = "live", model = "gemini-3.8-live" })
end

--- The sample failures: { name, transport, tier?, err } each; built
--- lazily (the diagnoses read the model catalog).
function M.samples()
  local closed = function(code, reason)
    return live_err("ws_closed", { close_code = code, reason = reason },
      ("WebSocket %s closed by the server: %d %s"):format(WSURL, code, reason))
  end
  return {
    { name = "REST 429 per minute, RetryInfo 1.5 s", transport = "rest", err = http_err(429, 1.5) },
    { name = "REST 429 per day", transport = "rest", err = http_err(429, 47, "day") },
    { name = "REST 503 overloaded", transport = "rest", err = http_err(503) },
    { name = "REST 503 on the flex tier", transport = "rest", tier = "flex", err = http_err(503) },
    { name = "REST 500 internal", transport = "rest", err = http_err(500) },
    { name = "REST 404 model not found", transport = "rest", err = http_err(404) },
    { name = "REST 400 bad request", transport = "rest", err = http_err(400) },
    { name = "REST stream cut", transport = "rest", err = core.error("stream_cut",
        "POST " .. URL .. ": the stream was cut after 2 event(s): transfer closed with outstanding read data remaining",
        { url = URL, method = "POST", curl_code = 18, status = 200 }) },
    { name = "REST no response in time", transport = "rest",
      err = core.error("timeout", "POST " .. URL .. ": no response within 30 s", { url = URL, method = "POST", curl_code = 28 }) },
    { name = "REST connection refused", transport = "rest",
      err = core.error("connect", "POST " .. URL .. ": Could not connect to server", { url = URL, method = "POST", curl_code = 7 }) },
    { name = "REST answer blocked (SAFETY)", transport = "rest",
      err = core.error("blocked", "the answer was blocked (finishReason SAFETY)", { finish_reason = "SAFETY" }) },
    { name = "Live handshake 404 (path or proxy)", transport = "live",
      err = live_err("ws_handshake", { status = 404 }, ("WebSocket handshake to %s failed: HTTP 404"):format(WSURL)) },
    { name = "Live 1008 model not found", transport = "live", err = closed(1008,
        "models/gemini-3.8-live is not found for API version v1beta, or is not supported for bidiGenerateContent.") },
    { name = "Live 1007 modality refused", transport = "live", err = closed(1007,
        "The requested combination of response modalities (TEXT) is not supported by the model.") },
    { name = "Live 1011 mid-turn", transport = "live", err = closed(1011, "Internal error encountered.") },
    { name = "Live dropped (1006)", transport = "live", err = live_err("ws_closed", { close_code = 1006 },
        ("WebSocket %s dropped without a close frame (1006)"):format(WSURL)) },
    { name = "Live closed after goAway (1000)", transport = "live", err = closed(1000, "") },
  }
end

---------------------------------------------------------------------------
-- checking
---------------------------------------------------------------------------

local ACTIONS = { retry = true, reconnect = true, fallback = true, fail = true }

--- Check a decision of classify; nil or what is wrong.
function M._check_decision(d)
  if type(d) ~= "table" then return "returned " .. type(d) .. ", not a decision table" end
  if not ACTIONS[d.action] then return ("action %s: retry, reconnect, fallback or fail"):format(tostring(d.action)) end
  if type(d.reason) ~= "string" then return "the decision has no reason (a string the chat prints)" end
  if d.delay ~= nil and (type(d.delay) ~= "number" or d.delay < 0 or d.delay ~= d.delay) then
    return "delay " .. tostring(d.delay) .. ": a number of seconds, at least 0"
  end
  if d.fallback_after ~= nil and (type(d.fallback_after) ~= "number" or d.fallback_after < 0) then
    return "fallback_after " .. tostring(d.fallback_after) .. ": a count, at least 0"
  end
end

--- The wait a decision imposes before the next attempt (seconds): its
--- delay, else the policy's backoff for the `attempt`-th retry; 0 for a
--- fallback or a failure. Returns secs or nil, "what went wrong".
function M._wait_of(p, d, err, attempt)
  if d.action ~= "retry" and d.action ~= "reconnect" then return 0 end
  if d.delay then return d.delay end
  local pp = p
  if p.random == nil then -- the default jitter: its middle, so that two runs agree
    pp = {}
    for k, v in pairs(p) do pp[k] = v end
    pp.random = function() return 0.5 end
  end
  local ok, w = M._call(p.backoff, attempt or 1, err, pp)
  if not ok then return nil, "backoff raised: " .. w end
  if type(w) ~= "number" or w < 0 or w ~= w or w == math.huge then
    return nil, "backoff returned " .. tostring(w) .. ", not a number of seconds"
  end
  return w
end

-- chain entries -> model ids (as a chat resolves them, offline)
local function resolve_chain(p, chain, problems, warnings)
  local out = { live = {}, rest = {} }
  for _, tr in ipairs{ "live", "rest" } do
    for i, e in ipairs(type(chain) == "table" and type(chain[tr]) == "table" and chain[tr] or {}) do
      local ok, id, tier = M._call(policy.entry, e)
      if not ok then
        problems[#problems + 1] = ("chain.%s[%d]: %s"):format(tr, i, id)
      elseif not id and warnings then
        warnings[#warnings + 1] = ("chain.%s[%d] matches no model of the catalog today: a chat skips it"):format(tr, i)
      elseif id then
        out[tr][#out[tr] + 1] = tier and { model = id, tier = tier } or id
      end
    end
  end
  return out
end

-- (internal) the chain a chat would resolve from p.chain: {live = ids, rest = ids}
function M._chain(p)
  return resolve_chain(p, p.chain, {})
end

local function show(v, depth)
  depth = depth or 0
  if type(v) == "string" then return v end
  if type(v) == "function" then return "function" end
  if type(v) ~= "table" then return tostring(v) end
  if depth > 2 then return "{...}" end
  local parts, n = {}, #v
  for i = 1, n do parts[#parts + 1] = show(v[i], depth + 1) end
  local keys = {}
  for k in pairs(v) do if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. " = " .. show(v[k], depth + 1) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- Load and check a policy. path: a policy file, or nil for the one a
--- chat would use (gemini.policy.file()), or false for the defaults.
--- Returns a report { path, policy (merged; nil when it cannot load),
--- rows = {{section, knob, value, from}}, decisions = {{sample, decision |
--- nil, wait, problem}}, problems = {...}, warnings = {...} }.
function M.run(path)
  if path ~= nil and path ~= false and type(path) ~= "string" then
    error("policy_check.run: path must be a string, nil or false", 2)
  end
  if path == nil then path = policy.file() or false end
  local report = { path = path or nil, rows = {}, decisions = {}, problems = {}, warnings = {} }
  local problems, warnings = report.problems, report.warnings
  local overrides = {}
  if path then
    local chunk, lerr = loadfile(path)
    if not chunk then
      problems[#problems + 1] = "cannot load: " .. tostring(lerr)
      return report
    end
    local ok, t = M._call(chunk)
    if not ok then
      problems[#problems + 1] = ("%s failed while loading: %s"):format(path, t)
      return report
    end
    if type(t) ~= "table" then
      problems[#problems + 1] = ("%s must return a table, it returned %s"):format(path, type(t))
      return report
    end
    overrides = t
  end
  local p = policy.with(overrides)
  report.policy = p
  local at = path and lines_of(path) or {}
  local function from(k)
    if rawget(overrides, k) == nil then return "default" end
    return at[k] and (path .. ":" .. at[k]) or path
  end
  -- unknown names
  local unknown = {}
  for k in pairs(overrides) do
    if type(k) ~= "string" then
      problems[#problems + 1] = ("%s: a key that is not a name (%s)"):format(path, tostring(k))
    elseif not KNOWN[k] and not k:match("^_") then
      unknown[#unknown + 1] = k
    end
  end
  table.sort(unknown)
  for _, k in ipairs(unknown) do
    problems[#problems + 1] = ("%s: unknown knob %s%s (a private helper's name starts with _)"):format(from(k), k, suggest(k))
  end
  -- each knob: its type and range
  for _, kn in ipairs(M.KNOBS) do
    local k, section, check = kn[1], kn[2], kn[3]
    local v = p[k]
    local why = check(v)
    if why then
      local is = show(v)
      problems[#problems + 1] = ("%s: %s %s%s"):format(from(k), k, why, #is <= 60 and (" (it is " .. is .. ")") or "")
    end
    local src = from(k)
    if k == "ratelimit" and rawget(overrides, k) == nil and os.getenv("GLRUN_REDIS_URL") then
      src = "env GLRUN_REDIS_URL"
    end
    if (k == "chain" or k == "vertex_chain") and not why then
      local ids = resolve_chain(p, v, problems, k == "chain" and warnings or nil)
      for _, tr in ipairs{ "live", "rest" } do
        local names = {}
        for i, e in ipairs(v[tr] or {}) do
          local id = ids[tr][i]
          local shown = show(e)
          if type(e) == "table" and e.model == nil then
            shown = (id and show(type(id) == "table" and id.model or id) or "(nothing matches)") .. " <- " .. shown
          end
          names[#names + 1] = shown
        end
        report.rows[#report.rows + 1] = { section, k .. "." .. tr, #names > 0 and table.concat(names, ", ") or "(none)", src }
        if tr == "rest" and k == "chain" and #ids.rest == 0 then
          warnings[#warnings + 1] = "chain.rest resolves to no model: a chat has no REST fallback"
        end
      end
    elseif v ~= nil or section ~= "functions" then
      report.rows[#report.rows + 1] = { section, k, type(v) == "function" and "function" or show(v), src }
    end
  end
  if type(p.backoff_base) == "number" and type(p.backoff_cap) == "number" and p.backoff_cap < p.backoff_base then
    problems[#problems + 1] = ("%s: backoff_cap (%g) is below backoff_base (%g)"):format(from("backoff_cap"),
      p.backoff_cap, p.backoff_base)
  end
  if type(p.turn_deadline) == "number" and p.turn_deadline > 3600 then
    warnings[#warnings + 1] = ("turn_deadline is %g s: a turn may wait more than an hour"):format(p.turn_deadline)
  end
  if #problems > 0 and (type(p.choose) ~= "function" or type(p.classify) ~= "function" or type(p.backoff) ~= "function") then
    return report
  end
  -- the functions on sample inputs
  if type(p.random) == "function" then
    local ok, r = M._call(p.random)
    if not ok or type(r) ~= "number" or r < 0 or r >= 1 then
      problems[#problems + 1] = ("%s: random() must return a number in [0, 1), got %s"):format(from("random"),
        ok and tostring(r) or ("an error: " .. r))
    end
  end
  local chain = resolve_chain(p, p.chain, problems)
  for _, tr in ipairs{ "auto", "live", "rest" } do
    local ctx = { transport = tr, chain = chain, skip = {}, circuit = { live = "closed" }, attempt = 1,
                  failures = {}, retries = {} }
    local ok, c = M._call(p.choose, ctx, p)
    if not ok then
      problems[#problems + 1] = ("%s: choose raised on a fresh %s turn: %s"):format(from("choose"), tr, c)
    elseif c ~= nil and (type(c) ~= "table" or (c.transport ~= "live" and c.transport ~= "rest") or type(c.model) ~= "string") then
      problems[#problems + 1] = ("%s: choose returned %s on a fresh %s turn: {transport = \"live\"|\"rest\", model = ID} or nil")
        :format(from("choose"), show(c), tr)
    elseif c == nil and tr == "auto" then
      problems[#problems + 1] = ("%s: choose picks nothing on a fresh turn: a chat would never answer"):format(from("choose"))
    end
  end
  local same, order = {}, {}
  for _, s in ipairs(M.samples()) do
    local row = { sample = s }
    local ok, d = M._call(p.classify, s.err, { transport = s.transport, model = "gemini-3.8-flash", tier = s.tier }, p)
    if not ok then
      row.problem = "classify raised: " .. d
    else
      local why = M._check_decision(d)
      if why then
        row.problem = "classify: " .. why
      else
        row.decision = d
        local w, werr = M._wait_of(p, d, s.err, 1)
        row.wait, row.problem = w, werr
      end
    end
    if row.problem then
      local key = (row.problem:match("^backoff") and from("backoff") or from("classify")) .. ": " .. row.problem
      if not same[key] then
        same[key] = {}
        order[#order + 1] = key
      end
      table.insert(same[key], s.name)
    end
    report.decisions[#report.decisions + 1] = row
  end
  -- one line per distinct problem, naming the errors it happens on
  for _, key in ipairs(order) do
    local names = same[key]
    local where, what = key:match("^(.-): (classify.*)$")
    if not where then where, what = key:match("^(.-): (backoff.*)$") end
    problems[#problems + 1] = ("%s: %s (on %s%s)"):format(where, what, names[1],
      #names > 1 and (" and %d other sample error%s"):format(#names - 1, #names > 2 and "s" or "") or "")
  end
  return report
end

--- A decision in a few words: "retry in 1.5 s", "fall back", "fail".
function M.describe(d, wait)
  if not d then return "?" end
  local a = d.action
  local s = a == "retry" and "retry" or a == "reconnect" and "reconnect" or a == "fallback" and "fall back" or "fail"
  if (a == "retry" or a == "reconnect") and wait then s = s .. (" in %.1f s"):format(wait) end
  if d.fallback_after and (a == "retry" or a == "reconnect") then s = s .. (" (x%d, then fall back)"):format(d.fallback_after) end
  if d.circuit then s = s .. ", Live off for a while" end
  if d.transport_down then s = s .. ", transport down" end
  return s
end

return M
