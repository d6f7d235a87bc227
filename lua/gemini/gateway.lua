-- gemini.gateway — glrun serve: a Gemini-compatible gateway with the
-- policy, the key and the retries on the server (docs/serve.md).
--
--   local gateway = require "gemini.gateway"
--   local g = assert(gateway.new{ host = "127.0.0.1", port = 0 })
--   print(g:url())
--   g:run()                 -- until SIGTERM (or g:stop()): drains, then returns
--
-- The flow of one request: the router (gemini.gateway_router) names the
-- route; the credential is checked (gemini.gateway_auth); the per-client
-- rate limit (gemini.ratelimit); then the route's handler: REST
-- (gemini.gateway_rest), the Live proxy (gemini.gateway_live), the page's
-- chat endpoint (gemini.gateway_chat), ephemeral tokens (gemini.tokens),
-- metrics (gemini.gateway_metrics) or an embedded asset (glrun.assets).
-- Every request ends in one access-log line (gemini.gateway_log) and a
-- count in /metrics. The mechanism (sockets, HTTP, WebSocket, TLS) is the
-- C module glrun.server.
local core = require "glrun.core"
local json = require "glrun.json"
local router = require "gemini.gateway_router"
local gauth = require "gemini.gateway_auth"
local metrics = require "gemini.gateway_metrics"
local glog = require "gemini.gateway_log"

local M = {}

M.defaults = {
  host = "127.0.0.1", port = 8088, max_body = 10 * 1024 * 1024, max_ws_message = 16 * 1024 * 1024,
  drain = 10, retry_wait = 10, rate_limit = 600,
}

local Gateway = {}
Gateway.__index = Gateway

local JSON_TYPE = "application/json; charset=UTF-8"

local function status_body(code, message, status)
  return require("gemini.gateway_rest").status_body(code, message, status)
end

--- Parse a --listen value: "HOST:PORT", "[::1]:PORT", ":PORT" or "PORT".
--- Returns host, port, or nil, err (kind "config").
function M.parse_listen(s)
  if type(s) ~= "string" then error("gateway.parse_listen: the value must be a string", 2) end
  local host, port = s:match("^%[([^%]]+)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]*):(%d+)$") end
  if not host then port = s:match("^(%d+)$"); host = port and "127.0.0.1" end
  port = tonumber(port)
  if not host or not port or port > 65535 then
    return nil, core.error("config", "--listen takes HOST:PORT (e.g. 127.0.0.1:8088), not '" .. s .. "'", { brief = true })
  end
  if host == "" then host = "127.0.0.1" end
  return host, math.tointeger(port)
end

--- A gateway, not yet listening... then listening: opts host, port, cert,
--- key (PEM paths: TLS), tokens (a list: the access tokens; nil: none, and
--- only a loopback host is allowed), max_body, max_ws_message,
--- max_connections (past it: 503; nil or 0: no limit),
--- max_connections_per_ip (the same, per client address), cors (an
--- origin), access_log (a path; nil: stderr; false: none), drain
--- (seconds), retry_wait (seconds of retries per request), rate_limit
--- (requests per minute per client, default 600; 0: off), policy (a policy table),
--- client (gemini.config options). Returns the gateway, or nil, err
--- (kind "config": a non-loopback listen without tokens, a bad policy, no
--- key; or the listen failure).
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then error("gateway.new: the options must be a table", 2) end
  opts = opts or {}
  local g = setmetatable({}, Gateway)
  for k, v in pairs(M.defaults) do g[k] = v end
  for k, v in pairs(opts) do g[k] = v end
  if g.tokens ~= nil and (type(g.tokens) ~= "table" or #g.tokens == 0) then
    error("gateway.new: tokens must be a non-empty list of access tokens", 2)
  end
  if g.tokens == nil and not gauth.loopback(g.host) then
    return nil, core.error("config", ("glrun serve: --listen %s is not a loopback address: it needs "
      .. "--access-token-file (clients must present a token)"):format(g.host), { brief = true })
  end
  local c, cerr = require("gemini.config").get(g.client)
  if not c then return nil, cerr end
  g.config = c
  if g.policy == nil then
    local p, perr = require("gemini.policy").resolve()
    if not p then return nil, perr end
    g.policy = p
  end
  g.metrics = g.metrics or metrics.new()
  if g.access_log ~= false then
    local lg, lerr = glog.open(g.access_log)
    if not lg then return nil, lerr end
    g.log = lg
  end
  if (g.rate_limit or 0) > 0 then
    g.limiter = require("gemini.ratelimit").new{ replace = true, limits = { default = { rpm = g.rate_limit } } }
  end
  local ok_assets, assets = pcall(require, "glrun.assets")
  g.assets = ok_assets and type(assets) == "table" and assets or nil
  local server = require "glrun.server"
  local srv, serr = server.listen{ host = g.host, port = g.port, cert = g.cert, key = g.key,
                                   max_body = g.max_body, max_ws_message = g.max_ws_message,
                                   max_connections = g.max_connections,
                                   max_connections_per_ip = g.max_connections_per_ip,
                                   stop_signals = g.stop_signals ~= false }
  if not srv then return nil, serr end
  g.srv = srv
  g.open = 0
  return g
end

--- The URL the gateway listens on ("http://127.0.0.1:PORT").
function Gateway:url() return self.srv:url() end

--- Stop accepting (open requests go on).
function Gateway:stop()
  self.stopping = true
  self.srv:close()
end

-- a request seen through a thin wrapper: it remembers the status sent,
-- adds CORS headers when configured, and is what handlers get
local function wrap(g, real, st)
  local w = { method = real.method, path = real.path, query = real.query or "", peer = real.peer,
              websocket = real.websocket }
  local function cors(h)
    if g.cors then
      local origin = real:header("origin")
      if g.cors == "*" or origin == g.cors then
        h["Access-Control-Allow-Origin"] = g.cors == "*" and "*" or origin
        h["Vary"] = "Origin"
        h["Access-Control-Expose-Headers"] = "x-glrun-transport, x-glrun-fallback"
      end
    end
    return h
  end
  function w.respond(_, status, headers, body)
    st.status, st.started = status, true
    local h = {}
    for k, v in pairs(headers or {}) do h[k] = v end
    return real:respond(status, cors(h), body)
  end
  function w.write(_, chunk) return real:write(chunk) end
  function w.finish(_) return real:finish() end
  function w.body(_) return real:body() end
  function w.header(_, name) return real:header(name) end
  function w.headers(_) return real:headers() end
  function w.closed(_) return real:closed() end
  function w.wait_closed(_, timeout) return real:wait_closed(timeout) end
  function w.upgrade(_, proto)
    st.status, st.started = 101, true
    return real:upgrade(proto)
  end
  return w
end

local function json_reply(req, code, obj)
  req:respond(code, { ["Content-Type"] = JSON_TYPE, ["Cache-Control"] = "no-store" }, assert(json.encode(obj)))
  return code
end

local function not_found(req)
  req:respond(404, { ["Content-Type"] = JSON_TYPE }, status_body(404, "Requested entity was not found."))
  return 404
end

-- POST /token: an ephemeral Live token (gemini.tokens) for a front end
local function token_route(req, ctx)
  local body = req:body() or ""
  local o = body:find("%S") and json.decode(body) or {}
  if type(o) ~= "table" then
    req:respond(400, { ["Content-Type"] = JSON_TYPE }, status_body(400, "the body must be a JSON object"))
    return 400
  end
  local setup
  if type(o.model) == "string" then
    setup = { model = o.model }
    if o.modality == "audio" or o.modality == "text" then
      setup.generationConfig = { responseModalities = { o.modality:upper() } }
    end
  end
  local uses = math.tointeger(o.uses) or 1
  local ok, tok, err = pcall(require("gemini.tokens").create, { uses = uses >= 1 and uses <= 100 and uses or 1,
    expire = type(o.ttl) == "string" and o.ttl or 30 * 60, setup = setup, lock = setup and {} or nil })
  if not ok then
    req:respond(400, { ["Content-Type"] = JSON_TYPE }, status_body(400, "bad token request: " .. tostring(tok)))
    return 400
  end
  if not tok then return require("gemini.gateway_rest").relay_error(req, err) end
  ctx.log.model = setup and setup.model
  return json_reply(req, 200, { name = tok.name, expireTime = tok.expireTime,
                                newSessionExpireTime = tok.newSessionExpireTime, uses = tok.uses })
end

local function asset_route(g, req, route)
  local a = g.assets
  local e = a and (a[route.asset] or a[route.asset:sub(2)])
  if type(e) ~= "table" or type(e.body) ~= "string" then return not_found(req) end
  req:respond(200, { ["Content-Type"] = e.type or "application/octet-stream", ["Cache-Control"] = "no-cache",
                     ["X-Content-Type-Options"] = "nosniff",
                     -- the page runs no inline script and loads nothing from elsewhere
                     ["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'",
                     ["Referrer-Policy"] = "no-referrer" }, req.method == "HEAD" and "" or e.body)
  return 200
end

local GEMINI = { rest = true, models = true, live = true }

-- one request, start to end
function Gateway:_handle(real)
  local t0 = core.now()
  local st = {}
  local req = wrap(self, real, st)
  local route = router.match(req.method, req.path)
  local ctx = { client = req.peer, metrics = self.metrics, log = {}, policy = self.policy, config = self.config }
  local ok, err = pcall(function()
    if self.cors and req.method == "OPTIONS" then
      req:respond(204, { ["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS",
        ["Access-Control-Allow-Headers"] = "Authorization, Content-Type, x-goog-api-key, x-goog-api-client",
        ["Access-Control-Max-Age"] = "600" })
      return
    end
    if not route then return not_found(req) end
    if route.name ~= "asset" then
      local cred = gauth.credential(function(n) return real:header(n) end, req.query)
      if self.tokens then
        local found
        for i, t in ipairs(self.tokens) do
          if cred and gauth.equal(t, cred) then found = found or i end
        end
        if not found then
          ctx.log.error = "auth"
          if route.name == "live" then return require("gemini.gateway_live").refuse(req) end
          if GEMINI[route.name] then
            return json_reply(req, 400, gauth.API_KEY_INVALID)
          end
          return json_reply(req, 401, { error = { code = 401, status = "UNAUTHENTICATED",
            message = "glrun serve: a valid access token is needed (Authorization: Bearer TOKEN)" } })
        end
        ctx.client = "token#" .. found
      end
      if self.limiter and route.name ~= "metrics" then
        local okl, lerr = self.limiter:acquire("client:" .. ctx.client, 0, self.limiter.clock())
        if not okl then
          self.metrics:inc("glrun_gateway_rate_limited_total")
          local wait = type(lerr) == "table" and lerr.retry_after or 60
          return json_reply(req, 429, { error = { code = 429, status = "RESOURCE_EXHAUSTED",
            message = ("glrun serve: this client's rate limit (%d requests per minute) is spent"):format(self.rate_limit),
            details = { { ["@type"] = "type.googleapis.com/google.rpc.RetryInfo",
                          retryDelay = ("%ds"):format(math.max(1, math.ceil(wait))) } } } })
        end
      end
    end
    local name = route.name
    if name == "rest" or name == "models" then
      return require("gemini.gateway_rest").handle(req, route, ctx, self)
    elseif name == "live" then
      if not req.websocket then return not_found(req) end
      return require("gemini.gateway_live").handle(req, route, ctx, self)
    elseif name == "chat" then
      local okc, chat = pcall(require, "gemini.gateway_chat")
      if not okc then return not_found(req) end
      return chat.handle(req, ctx)
    elseif name == "token" then
      return token_route(req, ctx)
    elseif name == "metrics" then
      local okst, sstats = pcall(self.srv.stats, self.srv)
      if okst and type(sstats) == "table" and sstats.out_queued_max then
        self.metrics:set("glrun_gateway_client_queue_max_bytes", sstats.out_queued_max)
      end
      req:respond(200, { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" }, self.metrics:text())
      return 200
    elseif name == "asset" then
      return asset_route(self, req, route)
    end
    return not_found(req)
  end)
  if not ok then
    ctx.log.error = type(err) == "table" and err.kind or "internal"
    if type(err) ~= "table" or err.kind ~= "interrupted" then
      core.log("error", "glrun serve: " .. req.method .. " " .. req.path .. ": " .. core.redact(tostring(err)), "gateway")
    end
    if not st.started then
      pcall(req.respond, req, 500, { ["Content-Type"] = JSON_TYPE }, status_body(500, "glrun serve: internal error"))
    end
  end
  pcall(real.finish, real) -- a streamed answer a handler left open
  -- nothing sent: the handler's own word (499: the client left first), else 500
  local status = st.status or (ok and math.type(err) == "integer" and err) or 500
  self.metrics:inc("glrun_gateway_requests_total", { route = router.label(route), status = tostring(status) })
  if self.log then
    self.log:write{ time = core.time(), client = ctx.client, method = req.method, path = req.path,
                    model = ctx.log.model, transport = ctx.log.transport, status = status,
                    first_token = ctx.log.first_token, total = core.now() - t0, fallback = ctx.log.fallback }
  end
end

--- Serve until stopped (g:stop(), or SIGTERM): accept requests, one task
--- each; then let open requests finish within g.drain seconds. Returns
--- true (a clean stop), or nil, err.
function Gateway:run()
  local tasks = {}
  while true do
    local req, err = self.srv:accept()
    if not req then
      -- "stopping": SIGTERM/SIGINT/SIGHUP (glrun.server's stop_signals), no task interrupted
      if type(err) == "table" and (err.kind == "closed" or err.kind == "stopping" or err.kind == "interrupted") then
        if err.kind == "stopping" then
          core.log("info", ("glrun serve: %s: draining %d open request(s), at most %g s")
            :format(tostring(err.signal), self.open, self.drain or 10), "gateway")
        end
        break
      end
      core.log("warn", "glrun serve: accept: " .. tostring(err), "gateway")
      break
    end
    self.open = self.open + 1
    local t
    t = core.spawn(function()
      local ok, e = pcall(self._handle, self, req)
      if not ok then core.log("error", "glrun serve: " .. core.redact(tostring(e)), "gateway") end
      self.open = self.open - 1
      tasks[t] = nil
    end)
    tasks[t] = true
  end
  self.srv:close()
  -- drain: the open answers finish, or the deadline passes
  local t_end = core.now() + (self.drain or 10)
  while self.open > 0 and core.now() < t_end do
    local ok = pcall(core.sleep, 0.05)
    if not ok then break end
  end
  if self.log then self.log:close() end
  return true
end

return M
