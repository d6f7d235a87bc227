-- gemini.gateway_live — the Live WebSocket proxy of glrun serve
-- (docs/serve.md#live-proxy): a client WebSocket on the gateway's Live
-- path <-> one upstream Live session opened with the gateway's own
-- credential, pumped by two tasks (client -> upstream, upstream -> client);
-- each send yields while the other side is slow, so nothing buffers
-- without bound.
--
-- Resumption:
--   * the client's setup asks for sessionResumption: the client manages
--     it; setup, goAway and sessionResumptionUpdate pass through as they are;
--   * it does not: the gateway adds sessionResumption upstream, keeps the
--     latest handle, hides goAway and the updates, and on a goAway or an
--     upstream drop (1006, 1001, 1011) reconnects upstream with that
--     handle, transparently; a turn the drop cut is asked again (after an
--     `interrupted` when part of its answer had reached the client).
-- Any other upstream close (1008 not found, 1007, ...) reaches the client
-- as the same code and a redacted reason.
local core = require "glrun.core"
local json = require "glrun.json"
local ws = require "glrun.ws"
local live_url = require "gemini.live_url"
local scrub = require("gemini.gateway_rest").scrub

local M = {}

M.reconnect_attempts = 3
M.setup_timeout = 15

-- close codes after which the upstream session is resumed (when the
-- gateway manages resumption)
local RESUMABLE = { [1001] = true, [1006] = true, [1011] = true }

local function close_code(err)
  return type(err) == "table" and (err.close_code or err.code) or nil
end

-- a close reason fit for a client: redacted, one line, at most 123 bytes,
-- never cut inside a UTF-8 sequence
function M.reason(s)
  if s == nil then return "" end
  s = core.redact(tostring(s)):gsub("[%c]", " ")
  if #s > 123 then
    local n = 123
    while n > 0 and (s:byte(n + 1) or 0) & 0xC0 == 0x80 do n = n - 1 end
    s = s:sub(1, n)
  end
  return s
end

-- the upstream Live endpoint for the route's API version
local function upstream(c, version)
  local cc = c
  if c.backend ~= "vertex" then cc = setmetatable({ api_version = version }, { __index = c }) end
  return live_url.url(cc, { api_version = c.backend ~= "vertex" and version or nil })
end

local function connect(ctx, route, g)
  local c = ctx.config
  local hdrs, herr = live_url.auth_headers(c)
  if not hdrs then return nil, herr end
  local ok, conn, err = pcall(ws.connect, { url = upstream(c, route.version), headers = hdrs, timeout = g.live_connect_timeout or 15,
                                            insecure = c.insecure, max_message = 64 * 1024 * 1024 })
  if not ok then return nil, core.error("config", "Live endpoint: " .. core.redact(tostring(conn))) end
  return conn, err
end

--- Refuse a Live client whose credential is wrong the way the service
--- does: the upgrade, then close 1007 (at once: an unauthenticated client
--- holds nothing while the gateway waits for its setup).
function M.refuse(req)
  local cl = req:upgrade()
  if not cl then return 101 end
  cl:close(1007, "API key not valid. Please pass a valid API key.")
  return 101
end

--- Proxy one Live session. Returns the status for the access log (101
--- when the upgrade happened).
function M.handle(req, route, ctx, g)
  local up, uerr = connect(ctx, route, g)
  if not up then
    -- the upstream refused the handshake: the client gets the same status
    local st = type(uerr) == "table" and math.tointeger(uerr.status) or nil
    local code = st and st >= 400 and st < 600 and st or 502
    ctx.log.transport, ctx.log.error = "live", type(uerr) == "table" and uerr.kind or "connect"
    req:respond(code, { ["Content-Type"] = "application/json; charset=UTF-8" },
      require("gemini.gateway_rest").status_body(code, "glrun serve: the upstream Live handshake failed ("
        .. (st and ("HTTP " .. st) or (type(uerr) == "table" and tostring(uerr.kind) or "error")) .. ")"))
    return code
  end
  local cl, cerr = req:upgrade()
  if not cl then
    up:close()
    ctx.log.error = type(cerr) == "table" and cerr.kind or "upgrade"
    return 400
  end
  ctx.log.transport = "live"
  ctx.metrics:add("glrun_gateway_live_sessions_open", 1)
  local ok, err = pcall(M._session, cl, up, route, ctx, g)
  ctx.metrics:add("glrun_gateway_live_sessions_open", -1)
  if not ok then
    ctx.log.error = type(err) == "table" and err.kind or tostring(err)
    cl:close(1011, "glrun serve: internal error")
    up:close()
  end
  return 101
end

function M._session(cl, up, route, ctx, g)
  -- the setup: the first client message
  local data, kind = cl:recv()
  if not data then up:close(); return end
  local setup_msg = json.decode(data)
  local setup = type(setup_msg) == "table" and type(setup_msg.setup) == "table" and setup_msg.setup or nil
  if setup and type(setup.model) == "string" then ctx.log.model = setup.model:gsub("^models/", "") end
  local S = {
    up = up, managed = setup ~= nil and setup.sessionResumption == nil, handle = nil,
    in_turn = false, chunks = 0, last_turn = nil, reconnecting = false, done = false,
    turn_t0 = nil, setup_done = false,
  }
  local function setup_with(handle)
    local s = {}
    for k, v in pairs(setup) do s[k] = v end
    s.sessionResumption = handle and { handle = handle } or {}
    return assert(json.encode{ setup = s })
  end
  local sok = up:send(S.managed and setup_with(nil) or data, kind)
  if not sok then
    cl:close(1011, "glrun serve: the upstream Live session could not be set up")
    up:close()
    return
  end

  -- open a new upstream connection resuming the session; true once it
  -- answered setupComplete
  local function reconnect()
    S.reconnecting = true
    local old = S.up
    for attempt = 1, M.reconnect_attempts do
      if S.done then break end -- the client left: nothing to resume for
      local nu = connect(ctx, route, g)
      if nu then
        if nu:send(setup_with(S.handle), "text") then
          local t_end = core.now() + M.setup_timeout
          while true do
            local d = nu:recv(math.max(0.001, t_end - core.now()))
            if not d then break end
            local m = json.decode(d)
            if type(m) == "table" and m.setupComplete then
              S.up = nu
              S.reconnecting = false
              old:close(1000)
              ctx.metrics:inc("glrun_gateway_live_reconnects_total")
              return true
            end
            if type(m) == "table" and type(m.sessionResumptionUpdate) == "table"
               and m.sessionResumptionUpdate.newHandle then
              S.handle = m.sessionResumptionUpdate.newHandle
            end
          end
        end
        nu:close()
      end
      core.sleep(0.2 * attempt)
    end
    S.reconnecting = false
    return false
  end

  -- client -> upstream
  local pump = core.spawn(function()
    while true do
      local d, k = cl:recv()
      if not d then
        S.done = true
        S.client_close = close_code(k)
        S.up:close(1000)
        return
      end
      if S.managed and (d:find("clientContent", 1, true) or d:find("realtimeInput", 1, true)) then
        local m = json.decode(d)
        if type(m) == "table" then
          local cc, ri = m.clientContent or m.client_content, m.realtimeInput or m.realtime_input
          local starts = (type(cc) == "table" and (cc.turnComplete or cc.turn_complete))
            or (type(ri) == "table" and (ri.text ~= nil or ri.audioStreamEnd or ri.activityEnd))
          if starts then
            S.in_turn, S.chunks, S.last_turn, S.turn_t0, S.resent = true, 0, { d, k }, core.now(), nil
          end
        end
      elseif not S.managed and not S.turn_t0 then
        S.turn_t0 = core.now()
      end
      -- send on the current upstream; while it is being replaced, wait
      local t_end = core.now() + 60
      while not S.done do
        if not S.reconnecting and S.up:send(d, k) then break end
        if S.resent == d then break end -- the reconnection already asked this turn again
        if core.now() >= t_end then S.done = true; return end
        core.sleep(0.02)
      end
      if S.done then return end
    end
  end)

  -- upstream -> client
  local first_setup = true
  while true do
    local d, k = S.up:recv()
    if not d then
      if S.done then break end
      local code = close_code(k)
      if S.managed and (RESUMABLE[code] or code == nil or S.going_away) then
        S.going_away = false
        S.reconnects = (S.reconnects or 0) + 1 -- within one turn: a turn that always breaks is not asked for ever
        if S.reconnects <= M.reconnect_attempts and reconnect() then
          if S.in_turn and S.last_turn then
            if S.chunks > 0 then
              cl:send('{"serverContent":{"interrupted":true}}', "text")
            end
            S.chunks = 0
            S.resent = S.last_turn[1]
            S.up:send(S.last_turn[1], S.last_turn[2])
          end
          goto continue
        end
      end
      local reason = type(k) == "table" and k.reason or nil
      if code == nil or code == 1005 or code == 1006 or code == 1015 then
        code, reason = 1011, "glrun serve: the upstream Live connection was lost"
      end
      cl:close(code, M.reason(reason))
      break
    end
    if S.managed then
      local m = json.decode(d)
      if type(m) == "table" then
        if m.setupComplete then
          if not first_setup then goto continue end
          first_setup = false
        end
        local sru = m.sessionResumptionUpdate
        if type(sru) == "table" then
          if type(sru.newHandle) == "string" and sru.newHandle ~= "" then S.handle = sru.newHandle end
          -- a goAway that came during a turn: move now that the turn is over
          -- and its handle is known
          if S.going_away and not S.in_turn and reconnect() then S.going_away = false end
          goto continue
        end
        if m.goAway then
          -- move to a new connection between turns: now, or once the turn in
          -- progress is answered (the old connection lives for timeLeft);
          -- if it closes first, the close is resumed like a drop
          S.going_away = true
          if not S.in_turn and reconnect() then S.going_away = false end
          goto continue
        end
        local sc = m.serverContent
        if type(sc) == "table" then
          if sc.modelTurn then
            S.chunks = S.chunks + 1
            if S.turn_t0 then
              ctx.metrics:observe("glrun_gateway_upstream_first_token_seconds", core.now() - S.turn_t0, { transport = "live" })
              ctx.log.first_token = ctx.log.first_token or (core.now() - S.turn_t0)
              S.turn_t0 = nil
            end
          end
          if sc.turnComplete then S.in_turn, S.chunks, S.reconnects = false, 0, 0 end
        end
      end
    elseif S.turn_t0 and d:find("modelTurn", 1, true) then
      ctx.metrics:observe("glrun_gateway_upstream_first_token_seconds", core.now() - S.turn_t0, { transport = "live" })
      ctx.log.first_token = ctx.log.first_token or (core.now() - S.turn_t0)
      S.turn_t0 = nil
    end
    if not cl:send(scrub(d), k) then
      S.done = true
      break
    end
    ::continue::
  end
  S.done = true
  S.up:close(1000)
  cl:close(1000)
  pump:join()
end

return M
