-- gemini.gateway_rest — the Gemini-compatible REST routes of glrun serve
-- (docs/serve.md#rest-routes): generateContent, streamGenerateContent,
-- countTokens, embeddings and models.list/get, answered from the upstream
-- the gateway is configured with (gemini.config: key, Vertex AI, base URL,
-- --mock). The client's credential is never forwarded; upstream headers
-- are not copied (only the content type); error bodies reach the client
-- in the google.rpc.Status shape, redacted.
--
-- What the user's policy adds (gemini.policy, --policy FILE):
--   * retries after a retryable failure (RetryInfo's delay first), within
--     a bounded total wait (the gateway's retry_wait), then the upstream's
--     error as it was;
--   * model fallback: a model that is an entry of the policy's REST chain
--     falls forward along that chain; a model outside every chain is
--     passed through;
--   * Live first: a model of the policy's Live chain, asked over REST,
--     is answered over Live (gemini.chat), falling back to the REST chain
--     on a Live failure; the answer is still REST-shaped.
-- Response headers: x-glrun-transport (live|rest), and on a fallback
-- x-glrun-fallback (one line: why).
local core = require "glrun.core"
local http = require "glrun.http"
local json = require "glrun.json"
local auth = require "gemini.auth"
local errors = require "gemini.errors"

local M = {}

local CANON = { [400] = "INVALID_ARGUMENT", [401] = "UNAUTHENTICATED", [403] = "PERMISSION_DENIED",
                [404] = "NOT_FOUND", [413] = "INVALID_ARGUMENT", [429] = "RESOURCE_EXHAUSTED",
                [500] = "INTERNAL", [502] = "UNAVAILABLE", [503] = "UNAVAILABLE", [504] = "DEADLINE_EXCEEDED" }

--- A google.rpc.Status body: {"error": {"code", "message", "status"}}.
function M.status_body(code, message, status)
  return assert(json.encode{ error = { code = code, message = core.redact(message),
                                       status = status or CANON[code] or "UNKNOWN" } })
end

local JSON_TYPE = "application/json; charset=UTF-8"

--- What of an upstream text may reach a client: redacted (gl.redact), and
--- when it is JSON with escapes (`\u0041IzaSy...`, which a byte-level
--- redaction cannot see but any JSON parser turns back into the secret),
--- its canonical encoding checked and redacted too.
function M.scrub(s)
  if type(s) ~= "string" then error("gateway_rest.scrub: a string expected", 2) end
  s = core.redact(s)
  if s:find("\\u", 1, true) then -- a key ([A-Za-z0-9_-]) can only hide behind \uXXXX
    local v = json.decode(s)
    if v ~= nil then
      local e = json.encode(v)
      if e and core.redact(e) ~= e then return core.redact(e) end
    end
  end
  return s
end
local scrub = M.scrub

-- the one-line form of a reason, for a header
local function one_line(s)
  s = core.redact(tostring(s)):gsub("[%c]", " ")
  if #s > 300 then s = s:sub(1, 300) .. "..." end
  return s
end

-- the upstream URL of a model method (the route's API version on the
-- Gemini API; Vertex AI keeps its own)
local function upstream_url(c, route, model, method, query)
  local cc = c
  if c.backend ~= "vertex" then cc = setmetatable({ api_version = route.version }, { __index = c }) end
  return require("gemini.rest").url(cc, model, method, query)
end

-- upstream request headers: the gateway's own credential, never the client's
local function upstream_headers(c)
  local h, err = auth.headers(c)
  if not h then return nil, err end
  local out = {}
  for k, v in pairs(h) do out[k] = v end
  out["Content-Type"] = "application/json"
  return out
end

--- The models a request for `model` may be answered by: the rest of the
--- policy's REST chain from that model on, when it is an entry of it;
--- else the model alone.
function M.candidates(model, p)
  if type(model) ~= "string" then error("gateway_rest.candidates: the model must be a string", 2) end
  local chain = type(p) == "table" and type(p.chain) == "table" and p.chain.rest or nil
  local entry = type(p) == "table" and p.entry or require("gemini.policy").entry
  local names = {}
  for _, e in ipairs(type(chain) == "table" and chain or {}) do
    local m = entry(e)
    if type(m) == "string" then names[#names + 1] = m end
  end
  for i, m in ipairs(names) do
    if m == model then return { table.unpack(names, i) } end
  end
  return { model }
end

--- Is `model` one the policy serves Live first (an entry of its Live
--- chain, with Live before REST in its transports)?
function M.live_first(model, p)
  if type(p) ~= "table" or type(p.chain) ~= "table" or type(p.chain.live) ~= "table" then return false end
  if type(p.transports) == "table" and p.transports[1] ~= "live" then return false end
  local entry = p.entry or require("gemini.policy").entry
  for _, e in ipairs(p.chain.live) do
    if entry(e) == model then return true end
  end
  return false
end

-- answer an upstream failure to the client: its status and google.rpc.Status
-- body (redacted by the runtime), or a 502/504 of our own for a failure
-- that is not an HTTP answer
local function relay_error(req, err, extra)
  local h = { ["Content-Type"] = JSON_TYPE }
  for k, v in pairs(extra or {}) do h[k] = v end
  if type(err) == "table" and err.kind == "http" and (err.status or 0) >= 400 then
    local body = type(err.body) == "string" and err.body or ""
    local ok = body:find("^%s*[%[{]") and json.decode(body)
    if type(ok) == "table" and #ok == 1 and type(ok[1]) == "table" then ok = ok[1] end -- [{"error": ...}]
    if type(ok) == "table" and type(ok.error) == "table" then
      body = assert(json.encode(ok))
    else
      body = M.status_body(err.status, "upstream: HTTP " .. err.status)
    end
    req:respond(err.status, h, scrub(body))
    return err.status
  end
  local kind = type(err) == "table" and err.kind or "network"
  if kind == "unsupported" then -- e.g. ephemeral tokens on Vertex AI
    req:respond(501, h, M.status_body(501, "glrun serve: " .. tostring(err.message), "UNIMPLEMENTED"))
    return 501
  end
  local code = kind == "timeout" and 504 or 502
  req:respond(code, h, M.status_body(code, "glrun serve: the upstream Gemini API did not answer (" .. kind .. ")"))
  return code
end
M.relay_error = relay_error

-- One REST exchange upstream with retries and fallback (before any byte
-- reaches the client). send(model) -> result | nil, err. Returns result,
-- model, fallback_reason | nil, err.
local function with_policy(g, ctx, models, send)
  local p = ctx.policy
  local t_end = core.now() + (g.retry_wait or 10)
  local tries, i, attempts = {}, 1, 0
  local fallback, last_err
  while i <= #models do
    local model = models[i]
    attempts = attempts + 1
    local res, err = send(model)
    if res then return res, model, fallback end
    last_err = err
    if type(err) == "table" and (err.kind == "interrupted" or err.kind == "cancelled") then return nil, err end
    local ok, d = pcall(p.classify, err, { transport = "rest", model = model }, p)
    if not ok or type(d) ~= "table" then d = { action = "fail", reason = tostring(d) } end
    local action = d.action
    if action == "retry" or action == "reconnect" then
      tries[model] = (tries[model] or 0) + 1
      if tries[model] > (d.fallback_after or p.max_retries_per_model or 3) then
        action = "fallback"
      else
        local dok, delay = pcall(p.backoff, tries[model], err, p)
        delay = dok and type(delay) == "number" and delay or 1
        if d.delay and d.delay > delay then delay = d.delay end
        if core.now() + delay <= t_end and attempts < (p.max_attempts or 8) then
          ctx.metrics:inc("glrun_gateway_retries_total", { model = model })
          if delay > 0 then core.sleep(delay) end
          goto continue
        end
        action = "fallback" -- the wait would pass the bound: the next model, or the error as it is
      end
    end
    if action == "fallback" and i < #models then
      fallback = ("%s; answered by %s"):format(d.reason or ("model " .. model .. " failed"), models[i + 1])
      ctx.metrics:inc("glrun_gateway_fallbacks_total", { from = "rest", to = "rest" })
      i = i + 1
    else
      return nil, last_err
    end
    ::continue::
  end
  return nil, last_err
end

local function base_headers(ctype, transport, fallback)
  local h = { ["Content-Type"] = ctype, ["x-glrun-transport"] = transport }
  if fallback then h["x-glrun-fallback"] = one_line(fallback) end
  return h
end

-- the query the client may pass on (never its key)
local function safe_query(query, allowed)
  local out = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local k = pair:match("^([^=]*)")
    if allowed[k] then out[#out + 1] = pair end
  end
  return #out > 0 and table.concat(out, "&") or nil
end

---------------------------------------------------------------------------
-- the client, watched while the upstream works
---------------------------------------------------------------------------
-- A task waits in req:wait_closed() (glrun.server wakes it when the
-- client's connection closes; nothing polls) and then closes the upstream
-- request in flight at once, so that a request nobody waits for any more
-- neither runs on nor holds its upstream connection until the idle
-- timeout. w.hold is an on_start: it is given each attempt's request;
-- on_leave (optional) is called too when the client leaves. The task ends
-- when the request does (wait_closed returns false).
local function watch(req, on_leave)
  local w = { left = false }
  function w.hold(hd)
    w.inflight = hd
    if w.left then hd:close() end
  end
  core.spawn(function()
    local ok, gone = pcall(req.wait_closed, req)
    if ok and gone then
      w.left = true
      if w.inflight then w.inflight:close() end
      if on_leave then on_leave() end
    end
  end)
  return w
end

local function client_left()
  return core.error("cancelled", "the client went away before the answer")
end

-- the client left first (nginx's 499): logged and counted
local function cancelled(ctx)
  ctx.log.error = "cancelled"
  ctx.metrics:inc("glrun_serve_cancelled_total")
  return 499
end

---------------------------------------------------------------------------
-- unary: generateContent, countTokens, embedContent
---------------------------------------------------------------------------
local function unary(req, route, ctx, g, body)
  local c = ctx.config
  local models = route.kind == "generate" and M.candidates(route.model, ctx.policy) or { route.model }
  local t0 = core.now()
  -- a client that goes away before the answer closes the upstream request
  -- at once (499), rather than when the upstream answers
  local w = watch(req)
  local res, model, fallback = with_policy(g, ctx, models, function(m)
    if req:closed() then return nil, client_left() end
    local h, herr = upstream_headers(c)
    if not h then return nil, herr end
    local r, err = http.request{ url = upstream_url(c, route, m, route.method), method = "POST", headers = h,
                                 body = body, timeout = c.timeout, insecure = c.insecure, on_start = w.hold }
    if not r and req:closed() then return nil, client_left() end
    if not r then return nil, (errors.enrich(err)) end
    return r
  end)
  ctx.log.model = route.model
  ctx.log.transport = "rest"
  if not res and req:closed() then return cancelled(ctx) end
  if not res then return relay_error(req, model, base_headers(JSON_TYPE, "rest")) end
  ctx.log.model = model
  ctx.log.first_token = core.now() - t0
  ctx.log.fallback = fallback
  ctx.metrics:observe("glrun_gateway_upstream_first_token_seconds", core.now() - t0, { transport = "rest" })
  local ctype = res.headers and res.headers["content-type"] or JSON_TYPE
  req:respond(res.status, base_headers(ctype, "rest", fallback), scrub(res.body))
  return res.status
end

---------------------------------------------------------------------------
-- streamGenerateContent (SSE, or the JSON-array stream without alt=sse)
---------------------------------------------------------------------------
local function stream(req, route, ctx, g, body)
  local c = ctx.config
  local sse = (req.query or ""):find("alt=sse", 1, true) ~= nil
  local t0 = core.now()
  local models = M.candidates(route.model, ctx.policy)
  -- a client that goes away closes the upstream request at once, before
  -- the first event (on_start hands the request over as soon as it is
  -- sent) as well as between two events of a slow stream
  local w = watch(req)
  local opened, model, fallback = with_policy(g, ctx, models, function(m)
    if req:closed() then return nil, client_left() end
    local h, herr = upstream_headers(c)
    if not h then return nil, herr end
    local url = upstream_url(c, route, m, "streamGenerateContent", sse and "alt=sse" or nil)
    local spec = { url = url, method = "POST", headers = h, body = body, timeout = c.timeout, insecure = c.insecure,
                   on_start = w.hold }
    local it, handle = (sse and http.sse or http.stream)(spec)
    if not it and req:closed() then return nil, client_left() end
    if not it then return nil, (errors.enrich(handle)) end
    -- the first event: an error before it is still retryable
    local ok, first = pcall(it)
    if not ok then
      if handle then handle:close() end
      if req:closed() then return nil, client_left() end
      return nil, (errors.enrich(first))
    end
    return { it = it, handle = handle, first = first }
  end)
  ctx.log.model = route.model
  ctx.log.transport = "rest"
  if not opened and req:closed() then return cancelled(ctx) end
  if not opened then return relay_error(req, model, base_headers(JSON_TYPE, "rest")) end
  ctx.log.model = model
  ctx.log.fallback = fallback
  ctx.log.first_token = core.now() - t0
  ctx.metrics:observe("glrun_gateway_upstream_first_token_seconds", core.now() - t0, { transport = "rest" })
  local handle = opened.handle
  local ctype = sse and "text/event-stream" or (handle and handle:headers() or {})["content-type"] or JSON_TYPE
  req:respond(200, base_headers(ctype, "rest", fallback))
  local function out(piece)
    if sse then return req:write("data: " .. scrub(piece.data) .. "\r\n\r\n") end
    return req:write(core.redact(piece))
  end
  local ok, err = pcall(function()
    local piece = opened.first
    while piece ~= nil do
      if not out(piece) then return "client" end
      piece = opened.it()
    end
  end)
  if (not ok or err == "client") and req:closed() then
    -- the client left mid-answer: the upstream stream is closed (by the
    -- watcher, or below); what was sent stays the status (200)
    if handle then handle:close() end
    cancelled(ctx)
  elseif not ok then
    -- a failure mid-stream: an error the upstream sent inside the stream
    -- goes on as it came (the raw google.rpc.Status, as the service does)
    local e = errors.enrich(err)
    if type(e) == "table" and e.midstream and type(e.body) == "string" and e.body:find("^%s*[%[{]") then
      req:write(scrub(e.body))
    end
    ctx.log.error = type(e) == "table" and e.kind or tostring(e)
  end
  if handle then handle:close() end
  req:finish()
  return 200
end

---------------------------------------------------------------------------
-- Live first: a REST-shaped turn answered over Live (gemini.chat), with
-- the REST chain behind it
---------------------------------------------------------------------------
local function chunk_json(text, finish, model)
  local cand = { content = { role = "model", parts = { { text = text } } }, index = 0 }
  if finish then cand.finishReason = finish end
  return assert(json.encode{ candidates = { cand }, modelVersion = model })
end

local function live_first(req, route, ctx, g, body)
  local request, jerr = json.decode(body)
  if type(request) ~= "table" or type(request.contents) ~= "table" or #request.contents == 0 then
    req:respond(400, { ["Content-Type"] = JSON_TYPE }, M.status_body(400,
      "Invalid JSON payload received: " .. (jerr and jerr.message or "a request with contents expected")))
    return 400
  end
  local p = ctx.policy
  local history = {}
  for i = 1, #request.contents - 1 do history[i] = request.contents[i] end
  local last = request.contents[#request.contents]
  local system = request.systemInstruction or request.system_instruction
  local sys_text = type(system) == "table" and require("gemini.rest").parts_text(system.parts) or nil
  local chatmod = require "gemini.chat"
  -- a turn whose client left tries nothing more (no retry, no fallback)
  local left = false
  local choose = (type(p) == "table" and p.choose) or require("gemini.policy").choose
  local overrides = { choose = function(cc, pp)
    if left then return nil end
    return choose(cc, pp)
  end }
  -- a streamed answer cannot take back what it sent: no restart after text
  -- there (the stream then ends without a finishReason, as a cut one does)
  if route.kind == "stream" then overrides.restart_after_text = false end
  local chat, cerr = chatmod.new{ transport = "auto", quiet = true, ratelimit = false,
    chain = { live = { route.model }, rest = (type(p.chain) == "table" and p.chain.rest) or {} },
    history = history, system = sys_text ~= "" and sys_text or nil,
    generation = request.generationConfig or request.generation_config,
    policy = overrides }
  if not chat then return relay_error(req, cerr, base_headers(JSON_TYPE, "rest")) end
  -- a client that goes away cancels the turn at once: its REST request is
  -- closed, its Live session dropped
  watch(req, function()
    left = true
    chat:_cancel_inflight()
  end)
  local transport, served, fallback = "live", route.model, nil
  -- which attempt is running (the chat's attempts, seen from here)
  local attempt_live, attempt_rest = chat._attempt_live, chat._attempt_rest
  chat._attempt_live = function(self, model, ...) transport, served = "live", model; return attempt_live(self, model, ...) end
  chat._attempt_rest = function(self, model, ...) transport, served = "rest", model; return attempt_rest(self, model, ...) end
  chat:on("fallback", function(ev)
    fallback = fallback or ev.line or ev.reason
    ctx.metrics:inc("glrun_gateway_fallbacks_total", { from = ev.transport or "live", to = ev.to and ev.to.transport or "none" })
  end)
  chat:on("retry", function() ctx.metrics:inc("glrun_gateway_retries_total", { model = served }) end)
  local t0 = core.now()
  local it, err, _, closer = chat:stream(last)
  ctx.log.model = route.model
  if not it then
    ctx.log.transport = transport
    chat:close()
    if req:closed() then return cancelled(ctx) end
    local e = type(err) == "table" and err.cause or err
    local last_attempt = type(err) == "table" and type(err.attempts) == "table" and err.attempts[#err.attempts]
    if type(e) ~= "table" or e.kind ~= "http" then e = err end
    local code = relay_error(req, e, base_headers(JSON_TYPE, last_attempt and last_attempt.transport or transport, fallback))
    return code
  end
  if fallback == nil and transport == "rest" then fallback = "Live " .. route.model .. " skipped: its circuit is open after a recent failure" end
  ctx.log.first_token = core.now() - t0
  ctx.log.transport, ctx.log.model, ctx.log.fallback = transport, served, fallback
  ctx.metrics:observe("glrun_gateway_upstream_first_token_seconds", core.now() - t0, { transport = transport })
  local is_stream = route.kind == "stream"
  local sse = (req.query or ""):find("alt=sse", 1, true) ~= nil
  if is_stream then
    req:respond(200, base_headers(sse and "text/event-stream" or JSON_TYPE, transport, fallback))
    if not sse then req:write("[") end
  end
  local pieces, n, done = {}, 0, false
  local ok, serr = pcall(function()
    -- the closing value: a client gone mid-answer cancels the turn upstream
    for piece, kind in it, nil, nil, closer do
      if kind == "break" then pieces, n = {}, 0 end -- restarted: the answer is what follows
      if kind == "text" and piece ~= "" then
        if is_stream then
          local chunk = chunk_json(piece, nil, served)
          local w = sse and ("data: " .. chunk .. "\r\n\r\n") or ((n > 0 and ",\r\n" or "") .. chunk)
          if not req:write(w) then return end
        else
          pieces[#pieces + 1] = piece
        end
        n = n + 1
      end
    end
    done = true
  end)
  chat:close()
  local finish = chat.last_turn and chat.last_turn.finish_reason or "STOP"
  if req:closed() and (not done or left) then -- the client left before the answer ended
    cancelled(ctx)
    if is_stream then req:finish() return 200 end
    return 499
  end
  if is_stream then
    if ok then
      local chunk = chunk_json("", finish, served)
      req:write(sse and ("data: " .. chunk .. "\r\n\r\n") or ((n > 0 and ",\r\n" or "") .. chunk .. "]"))
    else
      ctx.log.error = type(serr) == "table" and serr.kind or tostring(serr)
    end
    req:finish()
    return 200
  end
  if not ok then return relay_error(req, serr, base_headers(JSON_TYPE, transport, fallback)) end
  req:respond(200, base_headers(JSON_TYPE, transport, fallback), chunk_json(table.concat(pieces), finish, served))
  return 200
end

---------------------------------------------------------------------------
-- models.list / models.get
---------------------------------------------------------------------------
local function models(req, route, ctx)
  local c = ctx.config
  local h, herr = upstream_headers(c)
  if not h then return relay_error(req, herr) end
  h["Content-Type"] = nil
  local url
  if route.model then
    url = c.base_url .. "/" .. route.version .. "/models/" .. route.model
  else
    local q = safe_query(req.query, { pageSize = true, pageToken = true, page_size = true, page_token = true })
    url = c.base_url .. "/" .. route.version .. "/models" .. (q and ("?" .. q) or "")
  end
  local res, err = http.request{ url = url, headers = h, timeout = c.timeout, insecure = c.insecure }
  if not res then return relay_error(req, errors.enrich(err)) end
  req:respond(res.status, { ["Content-Type"] = res.headers["content-type"] or JSON_TYPE }, scrub(res.body))
  return res.status
end

--- Answer one REST route (a router match of name "rest" or "models").
--- g: the gateway (retry_wait); ctx: the request's
--- context (config, policy, metrics, log). Returns the HTTP status sent.
function M.handle(req, route, ctx, g)
  if route.name == "models" then return models(req, route, ctx) end
  local body, berr = req:body()
  if not body then
    ctx.log.error = "body"
    return relay_error(req, berr)
  end
  if (route.kind == "generate" or route.kind == "stream") and M.live_first(route.model, ctx.policy) then
    return live_first(req, route, ctx, g, body)
  end
  if route.kind == "stream" then return stream(req, route, ctx, g, body) end
  return unary(req, route, ctx, g, body)
end

return M
