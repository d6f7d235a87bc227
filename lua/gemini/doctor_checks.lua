-- gemini.doctor_checks — the doctor's checks that are not Live: the
-- configuration (gemini.config and --explain-config's rows), proxies and
-- TLS as each transport applies them, the key with one cheap
-- authenticated call and the server's clock from its Date header, the
-- models the policy's chain names (models.list through gemini.catalog),
-- one tiny streamed REST answer, and the 429s met on the way.
--
-- Each check takes the run's state `st` (st.c the configuration, st.opts,
-- st.budget, st.add) and adds one row per thing checked (gemini.doctor
-- describes rows). Every request is bounded by st.budget.probe().
local core = require "glrun.core"
local http = require "glrun.http"
local config = require "gemini.config"
local errors = require "gemini.errors"
local diagnose = require "gemini.diagnose"
local doctor = require "gemini.doctor"

local M = {}

local ms_since = doctor.ms_since

local function env(name)
  local v = os.getenv(name)
  if v == "" then return nil end
  return v
end

local function env2(a, b) return env(a) or env(b) end

local function first_line(s) return (tostring(s or ""):match("^[^\n]*")) end

-- ------------------------------------------------------------ configuration

local function loopback(host)
  return host == "localhost" or host:match("^127%.") ~= nil or host == "::1" or host == "[::1]"
end

--- The configuration: which backend, credentials, base URL and API
--- version were chosen and from where (gemini.explain's rows), and a key
--- written into the base URL. Returns the configuration, or nil.
function M.config(st)
  local t0 = core.now()
  local c, err = config.resolve(st.opts.client)
  if not c then
    st.add(doctor.failed("config", "no usable configuration", diagnose.of(err), err, ms_since(t0)))
    return nil
  end
  st.c = c
  local rows = require("gemini.explain").rows(c)
  local function row(label)
    for _, r in ipairs(rows) do
      if r[1] == label then return r[2] .. (r[3] and (" (" .. r[3] .. ")") or "") end
    end
    return "?"
  end
  local saw = ("%s; credentials: %s; base URL %s; API version %s"):format(row("backend"), row("credentials"),
    row("base URL"), row("API version"))
  local scheme, authority, path = c.base_url:match("^(%a[%w+.-]*)://([^/?#]*)([^#]*)$")
  if (path or ""):find("[?&]key=") or (authority or ""):find("@", 1, true) then
    st.add({ name = "config", ok = false, saw = saw, cause_id = "key_in_url",
             cause = doctor.causes.key_in_url.title .. ": the base URL carries a key or credentials, which end up "
               .. "in logs and are not sent on a WebSocket upgrade",
             fix = doctor.causes.key_in_url.fix, ms = ms_since(t0) })
    return c
  end
  local host = (authority or ""):gsub(":%d+$", "")
  if (scheme == "http" or scheme == "ws") and not loopback(host) then
    saw = saw .. "; the key goes to " .. host .. " in clear text (GLRUN_ALLOW_PLAINTEXT_HOSTS)"
  end
  st.add({ name = "config", ok = true, saw = saw, ms = ms_since(t0) })
  M.policy(st)
  return c
end

--- The policy a default chat uses (--policy FILE, the config directory's
--- policy.lua, the defaults): it loads, and which transports and chain it
--- names (queries resolved without a request).
function M.policy(st)
  local t0 = core.now()
  local file = require("gemini.policy").file()
  local p, err = require("gemini.chat").policy()
  if not p then
    st.add(doctor.failed("policy", "the policy file " .. tostring(file) .. " does not load", diagnose.of(err), err, ms_since(t0)))
    return
  end
  local ch = M.chain(st)
  st.add({ name = "policy", ok = true, ms = ms_since(t0),
           saw = (file and ("file " .. file) or "the defaults (gemini.policy)") .. "; transports "
             .. table.concat(type(p.transports) == "table" and p.transports or {}, ", ")
             .. "; Live " .. (#ch.live > 0 and table.concat(ch.live, ", ") or "(none)")
             .. "; REST " .. (#ch.rest > 0 and table.concat(ch.rest, ", ") or "(none)") })
end

-- ------------------------------------------------------------ proxies, TLS

-- curl's NO_PROXY rule: "*" matches everything; an entry matches the host
-- itself or a domain below it (a leading dot is optional); ports ignored.
local function no_proxy(host)
  local list = env2("no_proxy", "NO_PROXY")
  if not list then return nil end
  host = host:lower():gsub("^%[(.*)%]$", "%1")
  for e in list:gmatch("[^,%s]+") do
    e = e:lower():gsub(":%d+$", ""):gsub("^%.", ""):gsub("^%[(.*)%]$", "%1")
    if e == "*" or host == e or host:sub(-(#e + 1)) == "." .. e then return e end
  end
  return nil
end

local function shown(p) return (p:gsub("^(%a[%w+.-]*://)[^@/]*@", "%1***@")) end

-- The proxy a transport uses for url, as curl (REST) and glrun.ws (Live)
-- choose it: {url, shown, var} or nil, and why none.
local function proxy_for(url, transport)
  local scheme, authority = url:match("^(%a[%w+.-]*)://([^/?#]*)")
  local host = (authority or ""):gsub("^.*@", ""):gsub(":%d+$", "")
  local np = no_proxy(host)
  if np then return nil, "NO_PROXY matches " .. np end
  local tls = scheme == "https" or scheme == "wss"
  local p, var
  if tls then
    p, var = env("https_proxy"), "https_proxy"
    if not p then p, var = env("HTTPS_PROXY"), "HTTPS_PROXY" end
  elseif transport == "rest" then
    p, var = env("http_proxy"), "http_proxy"   -- curl reads only the lower-case one for http://
  else
    p, var = env("http_proxy"), "http_proxy"
    if not p then p, var = env("HTTP_PROXY"), "HTTP_PROXY" end
  end
  if not p then
    p, var = env("all_proxy"), "all_proxy"
    if not p then p, var = env("ALL_PROXY"), "ALL_PROXY" end
  end
  if not p then return nil, "no proxy variable applies" end
  local cred = p:match("^%a[%w+.-]*://([^@/]*)@") or p:match("^([^@/]*)@")
  if cred and cred ~= "" then core.secret(cred) end
  return { url = p, shown = shown(p), var = var }
end

--- Proxies and TLS: the proxy each transport uses for the base URL (REST
--- by curl's rules, Live by glrun.ws's: a CONNECT tunnel), NO_PROXY, and
--- the CA set both trust.
function M.proxy(st)
  local c = st.c
  local t0 = core.now()
  local live_url = require("gemini.live_url").url(c)
  local rp, rwhy = proxy_for(c.base_url, "rest")
  local lp, lwhy = proxy_for(live_url, "live")
  st.rest_proxy, st.live_proxy = rp, lp
  local parts = {}
  parts[#parts + 1] = "REST: " .. (rp and ("via proxy " .. rp.shown .. " (" .. rp.var .. ")") or ("direct (" .. rwhy .. ")"))
  parts[#parts + 1] = "Live: " .. (lp and ("via proxy " .. lp.shown .. " (" .. lp.var .. ", a CONNECT tunnel)")
    or ("direct (" .. lwhy .. ")"))
  if c.base_url:match("^https") then
    local ca = env("CURL_CA_BUNDLE") and ("CURL_CA_BUNDLE=" .. env("CURL_CA_BUNDLE"))
      or env("SSL_CERT_FILE") and ("SSL_CERT_FILE=" .. env("SSL_CERT_FILE")) or "the system store"
    if env("SSL_CERT_DIR") then ca = ca .. " + SSL_CERT_DIR=" .. env("SSL_CERT_DIR") end
    parts[#parts + 1] = "CA set: " .. ca .. (c.insecure and "; TLS verification OFF (GLRUN_INSECURE_TLS)" or "")
  else
    parts[#parts + 1] = "no TLS (a plain-text base URL)"
  end
  local saw = table.concat(parts, "; ")
  if lp and lp.url:match("^%a[%w+.-]*://") and not lp.url:lower():match("^http://") then
    st.add({ name = "proxy", ok = false, saw = saw, cause_id = "config",
             cause = doctor.causes.config.title .. ": the WebSocket client tunnels through http:// proxies only, not "
               .. lp.url:match("^(%a[%w+.-]*)://"),
             fix = "give " .. lp.var .. " an http:// proxy, or exempt the API host with NO_PROXY", ms = ms_since(t0) })
    return
  end
  st.add({ name = "proxy", ok = true, saw = saw, ms = ms_since(t0) })
end

-- ------------------------------------------------------------ key and clock

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

--- An HTTP date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as epoch
--- seconds, or nil.
function M.http_date(s)
  local d, mon, y, h, mi, sec = tostring(s or ""):match("(%d+) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d)")
  if not d or not MONTHS[mon] then return nil end
  y, mon, d = tonumber(y), MONTHS[mon], tonumber(d)
  -- days from the civil date (H. Hinnant's algorithm), no time zone involved
  if mon <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mon + (mon > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

local function header(t, name)
  if type(t) ~= "table" then return nil end
  return t[name] or t[name:lower()]
end

-- other API versions the Gemini API serves, for the wrong-version probe
local VERSIONS = { "v1beta", "v1alpha", "v1" }

--- What a REST failure means (gemini.diagnose), with what the run has
--- learnt so far: another API version that answers, no API at the base
--- URL, Vertex AI credentials refused.
function M.reading(st, err, model)
  local c = st.c
  if st.no_api and type(err) == "table" and err.status == 404 then
    return { kind = "no_api", text = "HTTP 404: the base URL does not serve the Gemini API (models.list is missing too)" }
  end
  local d = diagnose.of(err, { transport = "rest", model = model, api_version = c.api_version,
                               probes = st.version_ok and { version_ok = st.version_ok } or nil })
  if d.kind == "refused" and type(err) == "table" and err.status == 401 and c.backend == "vertex" and not c.express then
    d.kind = "auth"
    d.hint = "the access token was refused: check GLRUN_ACCESS_TOKEN / GOOGLE_APPLICATION_CREDENTIALS (glrun --explain-config)"
  end
  return d
end

--- The key or token: one cheap authenticated call (models.list's first
--- page; countTokens on Vertex AI), and the server's clock from its Date
--- header (a row of its own).
function M.key(st)
  local c = st.c
  local t0 = core.now()
  local t = st.budget.probe()
  local h, herr = require("gemini.auth").headers(c)
  if not h then
    st.add(doctor.failed("key", "no access token: " .. first_line(herr and herr.message), diagnose.of(herr), herr, ms_since(t0)))
    return
  end
  local req
  if c.backend == "vertex" then
    local model = (st.opts.model or config.default_model(c, st.opts.client))
    h["Content-Type"] = "application/json"
    req = { url = require("gemini.rest").url(c, model, "countTokens"), method = "POST", headers = h,
            body = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}' }
  else
    req = { url = c.base_url .. "/" .. c.api_version .. "/models?pageSize=1", method = "GET", headers = h }
  end
  req.timeout, req.deadline, req.insecure = t, t, c.insecure
  local what = req.method .. " " .. core.redact(req.url:gsub("^%a+://[^/]*", ""))
  local res, err = http.request(req)
  local at = core.time()
  local ms = ms_since(t0)
  local hdrs = res and res.headers or (type(err) == "table" and err.headers)
  local date = header(hdrs, "date")
  if date then st.date = { value = date, at = at } end
  if res and res.status >= 200 and res.status < 300 then
    st.add({ name = "key", ok = true, saw = what .. ": HTTP " .. res.status .. " (the "
      .. (c.backend == "vertex" and not c.express and "access token" or "key") .. " was accepted)", ms = ms })
  elseif res then
    st.add({ name = "key", ok = false, saw = what .. ": HTTP " .. res.status, cause_id = "other",
             cause = "an unexpected answer (HTTP " .. res.status .. ")", ms = ms })
  else
    err = errors.enrich(err)
    local saw = what .. ": " .. (err.status and err.status > 0 and ("HTTP " .. err.status
      .. (errors.google_status(err) and (" " .. errors.google_status(err)) or "")) or err.kind)
    if err.status == 429 then
      -- quota is counted after authentication: the key works
      st.quota[#st.quota + 1] = { err = err, where = "models.list" }
      st.add({ name = "key", ok = true, saw = saw .. " (the key was accepted; quota is counted after it)", ms = ms })
    else
      local probes
      if err.status == 404 and c.backend ~= "vertex" then
        -- the same call on the other API versions: one that answers names the cause
        probes = {}
        local notes = {}
        for _, v in ipairs(VERSIONS) do
          if v ~= c.api_version and st.budget.left() > 0 then
            local r = http.request{ url = c.base_url .. "/" .. v .. "/models?pageSize=1", headers = h,
                                    timeout = st.budget.probe(), deadline = st.budget.probe(), insecure = c.insecure }
            notes[#notes + 1] = v .. ": " .. (r and ("HTTP " .. r.status) or "no answer")
            if r and r.status == 200 and not probes.version_ok then probes.version_ok = v end
          end
        end
        saw = saw .. "; " .. table.concat(notes, ", ")
        st.version_ok = probes.version_ok
      end
      local d = M.reading(st, err)
      if err.status == 404 and not st.version_ok then
        -- models.list itself is missing: not a model, the whole API
        st.no_api = true
        d = { kind = "no_api", text = "models.list answers HTTP 404 on every API version tried: "
          .. "the base URL does not serve the Gemini API's REST methods" }
      end
      st.add(doctor.failed("key", saw, d, err, ms))
    end
  end
  M.clock(st)
end

--- The server's clock (its Date header) against the local one.
function M.clock(st)
  if not st.date then
    st.add({ name = "clock", ok = nil, skipped = true, saw = "not compared: no answer with a Date header" })
    return
  end
  local server = M.http_date(st.date.value)
  if not server then
    st.add({ name = "clock", ok = nil, skipped = true, saw = "not compared: Date header '" .. st.date.value .. "' does not parse" })
    return
  end
  local skew = server - st.date.at
  local d = diagnose.clock(skew, { backend = st.c.backend })
  local saw = ("server Date %s, local clock %s (%+d s)"):format(st.date.value,
    os.date("!%a, %d %b %Y %H:%M:%S GMT", math.floor(st.date.at)), math.floor(skew + 0.5))
  if d.kind == "clock_ok" then
    st.add({ name = "clock", ok = true, saw = saw })
  else
    st.add(doctor.failed("clock", saw, d))
  end
end

-- ------------------------------------------------------------ models

local function dedupe(list)
  local out, seen = {}, {}
  for _, m in ipairs(list) do
    m = tostring(m):gsub(" %(%a+%)$", "") -- "id (flex)": a chain entry with a tier
    if m ~= "" and not seen[m] then seen[m] = true; out[#out + 1] = m end
  end
  return out
end

--- The models a default chat would use ({rest = ..., live = ...}: a model
--- given to the doctor, or GLRUN_MODEL / GLRUN_LIVE_MODEL, first; then the
--- policy's chain), resolved from what the catalog knows without a request.
function M.chain(st)
  local c, opts = st.c, st.opts
  local chat = require "gemini.chat"
  local p = chat.policy()
  local names = { live = {}, rest = {} }
  local uses_live = true
  if p then
    local ch = (c.backend == "vertex" and p.vertex_chain) or p.chain
    names = chat.chain_names(ch, { client = opts.client, offline = true })
    uses_live = false
    for _, tr in ipairs(type(p.transports) == "table" and p.transports or {}) do
      if tr == "live" then uses_live = true end
    end
  end
  local rest, live = {}, {}
  local m = opts.model or env("GLRUN_MODEL")
  if m then rest[1] = m end
  local lm = opts.live_model or env("GLRUN_LIVE_MODEL")
  if lm then live[1] = lm end
  for _, x in ipairs(names.rest) do rest[#rest + 1] = x end
  for _, x in ipairs(names.live) do live[#live + 1] = x end
  -- a policy whose chat never tries Live (REST only) does not need it
  return { rest = dedupe(rest), live = dedupe(live), uses_live = lm ~= nil or (uses_live and #names.live > 0) }
end

--- The models: models.list (every page, through gemini.catalog, which
--- also refreshes its cache), then one row per model of the chain: listed,
--- serving the method its transport needs, retired or re-routed.
function M.models(st)
  local c, opts = st.c, st.opts
  local t0 = core.now()
  local catalog = require "gemini.catalog"
  local models = require "gemini.models"
  local list, err
  if c.backend ~= "vertex" then
    list, err = catalog.refresh{ client = opts.client, timeout = st.budget.probe() }
  end
  local ch = M.chain(st)
  st.rest_models, st.live_models, st.uses_live = ch.rest, ch.live, ch.uses_live
  if c.backend == "vertex" then
    st.add({ name = "models", ok = nil, skipped = true,
             saw = "Vertex AI: models.list is not read there; the chain is " .. table.concat(ch.live, ", ")
               .. " (Live), " .. table.concat(ch.rest, ", ") .. " (REST), from the built-in list" })
    return
  end
  if not list then
    err = errors.enrich(err)
    if type(err) == "table" and err.status == 429 then st.quota[#st.quota + 1] = { err = err, where = "models.list" } end
    local d = M.reading(st, err)
    st.add(doctor.failed("models", "models.list: " .. first_line(err and err.message or err), d, err, ms_since(t0)))
    return
  end
  local ms = ms_since(t0)
  local function check(id, method, transport)
    local name = "model " .. id
    local e = catalog.peek(id, { client = opts.client })
    if not e then
      local why = models.explain(id)
      local te = models.info(id)
      local d = { kind = transport == "live" and "model" or "not_found",
                  text = id .. " is not in models.list (" .. #list .. " models)" .. (why and ("; " .. why) or ""),
                  hint = te and te.replacement and ("use " .. te.replacement) or nil }
      st.add(doctor.failed(name, "not listed by models.list (" .. #list .. " models)" .. (why and ("; " .. why) or ""), d, nil, ms))
      return
    end
    local note = ""
    if e.alias and e.target and e.target ~= id then note = "; an alias, re-routed to " .. e.target end
    if not e.has[method] then
      local d = { kind = transport == "live" and "modality" or "not_found",
                  text = id .. " does not list " .. method .. " (it lists " .. table.concat(e.methods or {}, ", ") .. ")",
                  hint = transport == "live" and "pick a Live model (glrun models --live)" or "pick a model that serves generateContent (glrun models)" }
      st.add(doctor.failed(name, "listed without " .. method, d, nil, ms))
      return
    end
    st.add({ name = name, ok = true, saw = "listed, serves " .. method .. " (" .. transport .. ")" .. note, ms = ms })
  end
  for _, id in ipairs(ch.rest) do check(models.id(id), "generateContent", "rest") end
  if ch.uses_live then
    for _, id in ipairs(ch.live) do check(models.id(id), "bidiGenerateContent", "live") end
  end
end

-- ------------------------------------------------------------ REST

--- REST: one tiny streamed answer (a few tokens at most) on the first
--- model of the chain, with the time to the first chunk and to the end.
function M.rest(st)
  local c, opts = st.c, st.opts
  local rest = require "gemini.rest"
  local model = (st.rest_models or {})[1] or config.default_model(c, opts.client)
  local t = st.budget.probe()
  local t0 = core.now()
  local first, n, text, version = nil, 0, {}, nil
  local req = { contents = { { role = "user", parts = { { text = "Say OK." } } } },
                generationConfig = { maxOutputTokens = 16, temperature = 0 } }
  local it, handle, _, closing = rest.stream(req, { model = model, client = opts.client, timeout = t, deadline = t,
                                                   continuation = false })
  local err = not it and handle or nil
  if it then
    local ok, e = pcall(function()
      for chunk in it, handle, nil, closing do
        n = n + 1
        first = first or core.now()
        text[#text + 1] = chunk.text or ""
        version = version or chunk.modelVersion
      end
    end)
    if not ok then err = e end
  end
  local ms = ms_since(t0)
  local name = "rest " .. model
  if err and not (errors.is(err) and err.kind == "protocol" and err.empty) then
    if not errors.is(err) then err = errors.new("error", tostring(err)) end
    err = errors.enrich(err)
    if err.status == 429 then st.quota[#st.quota + 1] = { err = err, where = "REST " .. model, model = model } end
    local saw = "streamGenerateContent: " .. (err.status and err.status > 0 and ("HTTP " .. err.status
      .. (errors.google_status(err) and (" " .. errors.google_status(err)) or "")) or err.kind)
      .. (n > 0 and (" after " .. n .. " chunk(s)") or "")
      .. (st.rest_proxy and (" via proxy " .. st.rest_proxy.shown) or "")
    st.add(doctor.failed(name, saw, M.reading(st, err, model), err, ms))
    st.rest_ok = false
    return
  end
  local answer = table.concat(text):gsub("%s+", " ")
  if #answer > 40 then answer = answer:sub(1, 37) .. "..." end
  local saw = ("streamed %d chunk(s): first after %d ms, complete after %d ms%s"):format(n,
    first and math.floor((first - t0) * 1000 + 0.5) or ms, ms, answer ~= "" and (", \"" .. answer .. "\"") or "")
  if version and require("gemini.models").id(version) ~= require("gemini.models").id(model) then
    saw = saw .. "; answered by " .. version .. " (re-routed)"
  end
  if st.rest_proxy then saw = saw .. "; via proxy " .. st.rest_proxy.shown end
  st.rest_ok = true
  st.add({ name = name, ok = true, saw = saw, ms = ms })
end

-- ------------------------------------------------------------ quota

--- Quota: the 429s met by the other checks, their QuotaFailure (per
--- minute or per day) and RetryInfo, and what the policy will do.
function M.quota(st)
  if #st.quota == 0 then
    st.add({ name = "quota", ok = true, saw = "no 429 met" })
    return
  end
  local q = st.quota[1]
  local err = q.err
  local qf = errors.detail(err, "QuotaFailure")
  local ids = {}
  for _, v in ipairs(qf and type(qf.violations) == "table" and qf.violations or {}) do
    if type(v) == "table" and v.quotaId then ids[#ids + 1] = tostring(v.quotaId) .. (v.quotaValue and (" = " .. tostring(v.quotaValue)) or "") end
  end
  local saw = "HTTP 429 on " .. q.where .. (#ids > 0 and ("; QuotaFailure " .. table.concat(ids, ", ")) or "; no QuotaFailure")
    .. (err.retry_after and ("; RetryInfo " .. err.retry_after .. " s") or "")
  local p = require("gemini.chat").policy()
  local fix
  if p then
    local dec = p.classify(err, { transport = "rest", model = q.model or "?" }, p)
    if dec.action == "retry" then
      fix = ("the policy retries after %s s (the server's RetryInfo), then falls back down the chain"):format(
        tostring(dec.delay or p.backoff(1, err, p)))
    elseif dec.action == "fallback" then
      local left = require("gemini.ratelimit").next_reset(core.time()) - core.time()
      fix = ("the policy falls back to the next model of the chain; this model's quota resets at midnight Pacific "
        .. "(in %d h %02d min)"):format(math.floor(left / 3600), math.floor(left % 3600 / 60))
    else
      fix = "the policy gives up on this turn (" .. tostring(dec.action) .. ")"
    end
  end
  local d = diagnose.of(err, { transport = "rest" })
  local row = doctor.failed("quota", saw, d, err)
  row.fix = fix or row.fix
  st.add(row)
end

return M
