-- The default policy: every classification, backoff, the chain, policy
-- loading errors. Pure functions: synthetic error objects, no network.
local policy = require "gemini.policy"

local function E(kind, fields)
  fields = fields or {}
  return gl.error(kind, fields.message or (kind .. " test error"), fields)
end
local live = { transport = "live", model = "gemini-2.5-flash-native-audio-latest" }
local restat = { transport = "rest", model = "gemini-2.5-flash" }

local function check(err, at, action, pattern, extra)
  local d = policy.classify(err, at, policy)
  assert(d.action == action, ("%s: expected %s, got %s (%s)"):format(tostring(err), action, d.action, d.reason))
  assert(type(d.reason) == "string" and d.reason:find(at.model, 1, true), "the reason names the model: " .. d.reason)
  if pattern then assert(d.reason:find(pattern), ("reason [%s] lacks /%s/"):format(d.reason, pattern)) end
  for k, v in pairs(extra or {}) do assert(d[k] == v, ("%s: %s = %s, wanted %s"):format(d.reason, k, tostring(d[k]), tostring(v))) end
  return d
end

-- Live handshake failures
local d = check(E("ws_handshake", { status = 404, url = "wss://h/ws/x" }), live, "fallback", "proxy", { circuit = true })
assert(d.reason:find("not need Vertex", 1, true), "404 is never blamed on Vertex")
assert(d.reason:find("wss://h/ws/x", 1, true), "the reason names the endpoint")
check(E("ws_handshake", { status = 403 }), live, "fallback", "403", { circuit = true })
check(E("ws_handshake", { status = 401 }), live, "fallback", "401", { circuit = true })
-- Live close codes
check(E("ws_closed", { close_code = 1008, reason = "models/x is not found for API version v1beta" }), live,
      "fallback", "1008.*not offered for Live", { circuit = true })
check(E("ws_closed", { close_code = 1007, reason = "API key expired." }), live, "fallback", "1007", { circuit = true })
check(E("ws_closed", { close_code = 1011, reason = "Internal error encountered." }), live, "reconnect", "1011")
check(E("ws_closed", { close_code = 1006 }), live, "reconnect", "1006")
-- reaching Live at all
check(E("connect"), live, "fallback", "cannot reach", { circuit = true })
check(E("tls"), live, "fallback", "tls", { circuit = true })
check(E("dns"), live, "fallback", "dns", { circuit = true })
check(E("timeout"), live, "retry", "in time")
-- REST
check(E("connect"), restat, "retry", "cannot reach")
check(E("http", { status = 400, error = { status = "INVALID_ARGUMENT", message = "API key not valid." } }),
      restat, "fail", "400")
check(E("http", { status = 401 }), restat, "fail", "401")
check(E("http", { status = 403, error = { status = "PERMISSION_DENIED", message = "no" } }), restat, "fail", "403")
check(E("http", { status = 404 }), restat, "fallback", "404")
check(E("http", { status = 429, retry_after = 53.016342224,
  error = { details = { { ["@type"] = "type.googleapis.com/google.rpc.QuotaFailure",
    violations = { { quotaId = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier" } } } } } }),
  restat, "retry", "429", { delay = 53.016342224 })
check(E("http", { status = 429, retry_after = 47,
  error = { details = { { ["@type"] = "type.googleapis.com/google.rpc.QuotaFailure",
    violations = { { quotaId = "GenerateRequestsPerDayPerProjectPerModel-FreeTier", quotaValue = "20" } } } } } }),
  restat, "fallback", "per%-day")
check(E("http", { status = 429, error = { message = "Quota exceeded for metric: x, limit: 0, model: y" } }),
  restat, "fallback", "limit of 0")
check(E("http", { status = 500 }), restat, "retry", "500")
check(E("http", { status = 503, error = { status = "UNAVAILABLE" } }), restat, "retry", "503 UNAVAILABLE")
check(E("http", { status = 504 }), restat, "retry", "504")
check(E("http", { status = 503, midstream = true }), restat, "retry", "503")
check(E("stream_cut"), restat, "retry", "cut")
check(E("stream_cut"), live, "reconnect", "cut")
-- a certificate that is not trusted does not heal: no retry, no other
-- model of the same transport (same endpoint)
check(E("tls", { message = "SSL certificate problem: self-signed certificate" }), restat, "fallback", "TLS failed",
      { transport_down = true })
check(E("tls"), live, "fallback", "TLS failed", { transport_down = true, circuit = true })
-- a timeout that is the turn deadline passing is final; an idle one is retried once
check(E("timeout", { deadline = 3 }), restat, "fail", "turn deadline")
check(E("timeout"), restat, "retry", "in time", { fallback_after = 1 })
check(E("config", { message = "no API key" }), restat, "fail")

-- backoff: honours retry_after (capped), grows, has jitter within bounds
local p = policy.with{ random = function() return 1 end }
assert(policy.backoff(1, { retry_after = 1.5 }, p) == 1.5)
assert(policy.backoff(1, { retry_after = 1000 }, p) == p.backoff_cap)
assert(policy.backoff(1, {}, p) == 1 and policy.backoff(3, {}, p) == 4, "exponential")
assert(policy.backoff(20, {}, p) == p.backoff_cap, "capped")
local p0 = policy.with{ random = function() return 0 end }
assert(policy.backoff(3, {}, p0) == 2, "full jitter lower bound is half")

-- choose: Live first, circuit open skips Live, skip moves down the chain
-- (the default chain is catalog queries: glmock's catalog answers them)
local ctx = { transport = "auto", skip = {}, circuit = { live = "closed" } }
local c = policy.choose(ctx, policy)
assert(c.transport == "live" and c.model == "gemini-3.8-live", c.model)
ctx.circuit.live = "open"
c = policy.choose(ctx, policy)
assert(c.transport == "rest" and c.model == "gemini-3.8-flash", "open circuit skips Live")
ctx.skip["rest:gemini-3.8-flash"] = true
assert(policy.choose(ctx, policy).model == "gemini-3.5-flash-lite", "down the chain")
ctx.skip["rest:gemini-3.5-flash-lite"] = true
assert(policy.choose(ctx, policy) == nil, "nothing left")
-- chain entries: an id, an alias, {model, tier}, a capability query
assert(policy.entry("gemini-flash-latest") == "gemini-flash-latest", "an alias is the server's to resolve")
local m, tier = policy.entry{ model = "gemini-3.8-flash", tier = "flex" }
assert(m == "gemini-3.8-flash" and tier == "flex")
assert(policy.entry{ method = "generateContent", family = "pro" } == "gemini-4-argon")
local tc = policy.choose({ transport = "rest", skip = {}, circuit = { live = "closed" },
  chain = { rest = { { model = "gemini-3.8-flash", tier = "flex" }, "gemini-3.8-flash" } } }, policy)
assert(tc.model == "gemini-3.8-flash" and tc.tier == "flex")
tc = policy.choose({ transport = "rest", skip = { ["rest:gemini-3.8-flash@flex"] = true }, circuit = { live = "closed" },
  chain = { rest = { { model = "gemini-3.8-flash", tier = "flex" }, "gemini-3.8-flash" } } }, policy)
assert(tc.model == "gemini-3.8-flash" and tc.tier == nil, "the flex entry skipped, the standard one next")
for _, list in pairs(policy.chain) do
  for _, e in ipairs(list) do assert(type(e) == "table", "no model id is hard-coded in the default chain") end
end
assert(policy.choose({ transport = "rest", skip = {}, circuit = { live = "closed" } }, policy).transport == "rest")
-- a failure that takes a transport down (TLS) skips its other models
local tls_down = { transport = "rest", model = "gemini-2.5-flash", decision = { action = "fallback", transport_down = true } }
local ctx2 = { transport = "rest", skip = { ["rest:gemini-2.5-flash"] = true }, circuit = { live = "closed" },
               failures = { tls_down } }
assert(policy.choose(ctx2, policy) == nil, "REST down: no other REST model")
local ctx3 = { transport = "auto", skip = { ["rest:gemini-2.5-flash"] = true }, circuit = { live = "closed" },
               failures = { tls_down } }
local rest_first = policy.with{ transports = { "rest", "live" } }
assert(policy.choose(ctx3, rest_first).transport == "live", "REST down: Live is still tried, not REST's next model")

-- loading a policy file: clear errors naming the file and the function
local dir = os.tmpname()
os.remove(dir)
local function write(name, text)
  local path = dir .. "-" .. name
  local f = assert(io.open(path, "w")); f:write(text); f:close()
  return path
end
local good = write("good.lua", "return { circuit_cooldown = 5 }")
local lp = assert(policy.load(good))
assert(lp.circuit_cooldown == 5 and lp.classify == policy.classify, "a partial file keeps the defaults")
local _, e1 = policy.load(write("notable.lua", "return 42"))
assert(e1.kind == "config" and e1.message:find("must return a table") and e1.message:find("notable.lua"), e1.message)
local _, e2 = policy.load(write("nofn.lua", "return { choose = 'x' }"))
assert(e2.message:find("no function 'choose'") and e2.message:find("nofn.lua"), e2.message)
local _, e3 = policy.load(write("syntax.lua", "return {"))
assert(e3.message:find("syntax.lua"), e3.message)
local _, e4 = policy.load(write("raise.lua", "error('bad policy')"))
assert(e4.message:find("failed while loading") and e4.message:find("bad policy"), e4.message)
local _, e5 = policy.load(dir .. "-missing.lua")
assert(e5.message:find("missing.lua"), e5.message)
for _, n in ipairs{ "good.lua", "notable.lua", "nofn.lua", "syntax.lua", "raise.lua" } do os.remove(dir .. "-" .. n) end
print("policy ok")
