-- glrun.ws_replay — `glrun.ws` under `glrun --replay DIR`: the same API
-- (connect, conn:send/recv/close/stats/state), served from the WebSocket
-- sessions `glrun --record` wrote, with no network. A recorded server
-- message recorded after the client's k-th message is released only once
-- the script has sent k messages, at the recorded delay after it; the
-- session then ends as it ended when recorded (close code and reason).
local core = require "glrun.core"
local cassette = require "glrun.cassette"

local M = {}
local Conn = {}
Conn.__index = Conn

local STEP = 0.002 -- polling step while a recorded message is not due yet

local function err_of(ex, fallback_kind)
  local fields = { close_code = math.tointeger(ex.close_code), reason = ex.reason, url = ex.request.url }
  if ex.response and ex.response.status ~= 101 then fields.status = math.tointeger(ex.response.status) end
  return core.error(ex.error_kind or fallback_kind, ex.error or "the recorded session ended", fields)
end

function M.connect(opts)
  if type(opts) ~= "table" or type(opts.url) ~= "string" then
    error("ws.connect: 'url' (string) is required", 2)
  end
  local ex, msg = cassette.peek_ws(opts.url)
  if not ex then return nil, core.error("replay", "replay: " .. msg, { url = core.redact(opts.url) }) end
  local resp_t = ex.response and ex.response.t or ex.t or 0
  if resp_t > 0 then gl.sleep(resp_t) end
  if not ex.response or ex.response.status ~= 101 then -- the handshake failed when recorded
    cassette.use(ex)
    return nil, err_of(ex, "connect")
  end
  -- which recorded session this is becomes clear with the first message
  return setmetatable({ url = opts.url, t0 = gl.now() - resp_t, i = 1, sent = 0, last_send_t = 0,
                        state_ = "open", received = 0 }, Conn)
end

function Conn:_bind(first)
  if self.ex then return true end
  local ex, msg = cassette.take_ws(self.url, first)
  if not ex then
    self.state_ = "failed"
    self.err = core.error("replay", "replay: " .. msg)
    return nil, self.err
  end
  self.ex = ex
  return true
end

-- the next recorded event that is a server message; skips client sends,
-- counting them as gates
function Conn:_next_recv()
  local evs = self.ex.events
  local gates = 0
  local gate_t = 0
  for j = 1, #evs do
    local ev = evs[j]
    if ev.dir == "send" then
      gates = gates + 1
      gate_t = ev.t
    elseif j >= self.i then
      return ev, j, gates, gate_t
    end
  end
  return nil
end

function Conn:send(data, kind)
  if type(data) ~= "string" then error("conn:send: data must be a string", 2) end
  if self.state_ ~= "open" then return nil, self.err or core.error("ws_closed", "send on a closed connection") end
  local ok, err = self:_bind(data)
  if not ok then return nil, err end
  self.sent = self.sent + 1
  self.last_send_t = gl.now()
  return true
end

function Conn:recv(timeout)
  if self.state_ ~= "open" then
    return nil, self.err or core.error("ws_closed", "recv on a closed connection")
  end
  local ok, err = self:_bind(nil)
  if not ok then return nil, err end
  local deadline = timeout and (gl.now() + timeout) or math.huge
  local ev, j, gates, gate_t = self:_next_recv()
  while true do
    local due
    if ev then
      if self.sent >= gates then
        -- released by the send it followed, at the recorded distance
        due = math.max(self.t0 + ev.t, gates > 0 and (self.last_send_t + (ev.t - gate_t)) or 0)
        if gates > 0 and self.sent > gates then due = self.t0 + ev.t end
      end
    else
      due = self.t0 + (self.ex.t or 0)
    end
    local now = gl.now()
    if due and now >= due then break end
    if now >= deadline then
      return nil, core.error("timeout", ("ws recv: nothing within %g s (replay)"):format(timeout))
    end
    gl.sleep(math.min(STEP, math.max(0, (due or math.huge) - now), math.max(0, deadline - now)))
  end
  if not ev then -- the session ended as recorded
    self.state_ = "failed"
    self.err = err_of(self.ex, "ws_closed")
    if not self.ex.error then
      self.err = core.error("replay", "replay: the recorded session has no more messages (the script closed it "
        .. "at this point when it was recorded)")
    end
    return nil, self.err
  end
  self.i = j + 1
  self.received = self.received + 1
  return ev.bytes, ev.type or "text"
end

function Conn:close()
  if self.state_ == "open" then self.state_ = "closed" end
  return true
end

function Conn:state() return self.state_ end

function Conn:stats()
  return { in_messages = 0, in_bytes = 0, out_messages = 0, out_bytes = 0, received = self.received,
           sent = self.sent, paused = false }
end

Conn.__close = Conn.close
Conn.__tostring = function(c) return ("ws.conn (%s, replay) %s"):format(c.state_, core.redact(c.url)) end

return M
