-- gemini.live_session — the resumable Live session (gemini.live.connect
-- returns one).
--
-- The session keeps the latest resumption handle; after a goAway it moves
-- to a new connection at the next turn boundary; after a drop (1006, 1011,
-- a socket error) it reconnects with the handle; after a 1007 on a resumed
-- setup it starts fresh and re-seeds the conversation from its own
-- transcript; a 1008 is a configuration error and is never retried.
-- Every failure is explained by gemini.diagnose.
--
-- The model's rules (s.caps, gemini.models.live_caps) decide the shape of
-- what is sent (docs/protocol.md#gemini-3-live-rules). On the Gemini 3.x
-- Live models clientContent only seeds the initial history: a connection
-- that is seeded has setup.historyConfig = {initialHistoryInClientContent
-- = true} and gets the history as one clientContent with turnComplete
-- true (no model turn); user text then goes as realtimeInput.text, and no
-- clientContent is ever sent again on that connection (the server closes
-- it with 1007). The 2.5 models take clientContent at any time.
local ws = require "glrun.ws"
local core = require "glrun.core"
local json = require "glrun.json"
local errors = require "gemini.errors"
local diagnose = require "gemini.diagnose"
local live_url = require "gemini.live_url"
local live_setup = require "gemini.live_setup"

local M = {}

--- Session resilience knobs (the defaults of every session; a session's
--- own copy is s.policy, from connect{policy = {...}}).
M.defaults = {
  resume = true,              -- ask for sessionResumption handles
  reconnect = true,           -- reconnect after a drop / goAway
  max_failures = 3,           -- consecutive failed reconnects before giving up
  backoff = 0.5,              -- seconds before the 2nd attempt, doubled each time
  backoff_max = 8,
  stable_after = 30,          -- a connection this old resets the failure count
  setup_timeout = 20,         -- seconds to wait for setupComplete
  connect_timeout = 30,       -- WebSocket handshake
  reseed = true,              -- after 1007 on resume: fresh session + transcript
  max_turn_bytes = 8 * 1024 * 1024, -- model text of one turn; past it the turn fails ("too_large")
  history_turns = 200,        -- the session's transcript keeps the latest contents only:
  history_bytes = 16 * 1024 * 1024, -- at most this many, and about this many bytes of text
}

local Session = {}
Session.__index = Session

local function encode(msg)
  local s, err = json.encode(msg)
  if not s then error("gemini.live: cannot encode the message: " .. err.message, 3) end
  return s
end

local function initial_only(s) return s.caps and s.caps.client_content == "initial_only" end

-- Open one connection and complete the setup. Returns conn, setup_events
-- (messages that arrived with/before setupComplete) or nil, err (diagnosed).
-- seed (contents, never with a handle): the history the new connection
-- starts from, sent right after setupComplete (see the header).
local function open(s, handle, seed)
  local setup = {}
  for k, v in pairs(s.setup) do setup[k] = v end
  if s.policy.resume then
    setup.sessionResumption = handle and { handle = handle } or {}
  end
  if seed and #seed == 0 then seed = nil end
  local window = not handle and initial_only(s) and (seed ~= nil or s.seed_window)
  if window then setup.historyConfig = { initialHistoryInClientContent = true } end
  local ctx = { url = s.url, model = s.model, api_version = s.api_version, resumed = handle ~= nil,
                setup = setup, mock = s.mock, timeout = s.policy.setup_timeout }
  local hdrs, herr = live_url.auth_headers(s.client)
  if not hdrs then return nil, herr end
  local wopts = { url = s.url, headers = hdrs, timeout = s.policy.connect_timeout,
                  insecure = s.client.insecure, max_message = s.max_message or 64 * 1024 * 1024,
                  queue = s.queue, ping = s.ping, idle_timeout = s.idle_timeout }
  for k, v in pairs(s.ws_opts or {}) do wopts[k] = v end
  local okc, conn, err = pcall(ws.connect, wopts)
  if not okc then
    -- glrun.ws raises on a URL or proxy it cannot use: misuse in a script,
    -- but here both come from the configuration
    local why = type(conn) == "string" and conn:match("ws%.connect: (.*)") or ""
    if why:find("URL", 1, true) or why:find("proxy scheme", 1, true) or why:find("bad proxy", 1, true) then
      return nil, diagnose.live(errors.new("config", "Live endpoint " .. core.redact(s.url) .. ": " .. why), ctx)
    end
    error(conn, 0)
  end
  if not conn then return nil, diagnose.live(err, ctx) end
  local ok, serr = conn:send(encode{ setup = setup })
  if not ok then conn:close(); return nil, diagnose.live(serr, ctx) end
  local early = {}
  local t0 = core.now()
  while true do
    local left = s.policy.setup_timeout - (core.now() - t0)
    if left <= 0 then left = 0 end
    local data, rerr = conn:recv(left)
    if not data then
      conn:close()
      ctx.phase = "setup"
      return nil, diagnose.live(rerr, ctx)
    end
    local msg, jerr = json.decode(data)
    if type(msg) ~= "table" then
      conn:close()
      return nil, diagnose.live(errors.new("protocol", "Live server sent a message that is not a JSON object: " .. (jerr and jerr.message or type(msg))), ctx)
    end
    if msg.setupComplete then
      s.session_id = type(msg.setupComplete) == "table" and msg.setupComplete.sessionId or s.session_id
      -- the seeding window of this connection: open until a clientContent
      -- with turnComplete (only on initial-only models)
      s.window_open = window and true or false
      s.sent_client_content = false
      if seed then
        local tc = initial_only(s) -- 3.x: ends the window, starts no turn; 2.5: context only
        local sok, serr = conn:send(encode{ clientContent = { turns = seed, turnComplete = tc } })
        if not sok then conn:close(); return nil, diagnose.live(serr, ctx) end
        if tc then s.window_open = false end
      end
      return conn, early
    end
    -- buffered like the JS SDK does; delivered after setupComplete
    early[#early + 1] = msg
  end
  -- not reached
end

--- Open a Live session. opts: model (default config live_model), client
--- (gemini.config options), modality ("text"|"audio"; unset = text when

--- Start a session: fields are the session's state as gemini.live.connect
--- resolved it (client, model, setup, text_via, skip_audio, api_version,
--- mock, url, policy, ws_opts, max_message, queue, ping, idle_timeout,
--- handle). Opens the first connection (a refused handle starts fresh).
--- Returns the session, or nil, err (diagnosed).
function M.start(fields)
  local s = setmetatable(fields, Session)
  s.q, s.qh, s.qt = {}, 1, 0              -- normalized events not yet delivered
  s.unacked, s.unacked_bytes = {}, 0      -- client messages sent after the last handle
  s.hist_at_handle = 0
  s.history = {}                          -- text transcript: {role, parts={{text}}}
  s.model_text = {}                       -- the model's text of the current turn
  s.failures, s.connects = 0, 0
  local seed = s.seed
  s.seed = nil
  for i, c in ipairs(seed or {}) do s.history[i] = c end
  s.hist_at_handle = #s.history           -- the seed is the state a fresh connection starts from
  local pol = s.policy
  local conn, early = open(s, s.handle, not s.handle and seed or nil)
  if not conn and s.handle and early.kind == "ws_closed" and early.close_code == 1007 and pol.reseed then
    -- the handle given to resume was refused: start a fresh session
    s.handle = nil
    conn, early = open(s, nil, seed)
    if conn then s:_push{ type = "resumed", resumed = false, reason = "handle refused" } end
  end
  if not conn then return nil, early end
  s:_attach(conn, early)
  return s
end

function Session:_attach(conn, early)
  self.conn = conn
  self.connected_at = core.now()
  self.connects = self.connects + 1
  self.go_away = nil
  for _, msg in ipairs(early or {}) do self:_push_message(msg) end
end

function Session:_push(ev)
  -- a turn that ends (or is abandoned by a reconnect) starts the count over
  if ev.type == "turn_complete" or ev.type == "interrupted" then self.turn_bytes = 0 end
  self.qt = self.qt + 1
  self.q[self.qt] = ev
end

-- Bytes of text and inline data in a content (for the history window).
local function content_bytes(c)
  local n = 0
  for _, p in ipairs(type(c) == "table" and type(c.parts) == "table" and c.parts or {}) do
    if type(p) == "table" then
      if type(p.text) == "string" then n = n + #p.text end
      if type(p.inlineData) == "table" and type(p.inlineData.data) == "string" then n = n + #p.inlineData.data end
    end
  end
  return n
end

-- content -> its bytes, each content measured once (trim_history runs
-- after every turn; history contents are not changed once appended).
local sizes = setmetatable({}, { __mode = "k" })
local function content_bytes_cached(c)
  if type(c) ~= "table" then return 0 end
  local n = sizes[c]
  if not n then n = content_bytes(c); sizes[c] = n end
  return n
end

-- Keep the transcript a window: the latest policy.history_turns contents,
-- within policy.history_bytes, starting with a user turn. What falls out
-- is counted in history_dropped (a re-seed after a refused handle then
-- sends the window only).
-- The window kept is the longest run of latest contents with at most
-- history_turns of them and, beyond the latest one, at most history_bytes.
-- The bytes of the history are carried from the last trim (self._window)
-- when the history only grew since, so a turn costs what it added and
-- dropped, not a walk over the whole window (bench/live_cost.sh: that walk
-- was most of a turn's Lua).
local function trim_history(self)
  local h, pol = self.history, self.policy
  local max_turns, max_bytes = pol.history_turns or 200, pol.history_bytes or 16 * 1024 * 1024
  local n, w = #h, self._window
  local total, from = 0, 1
  if w and w.list == h and w.n <= n and (w.n == 0 or h[w.n] == w.last) then total, from = w.bytes, w.n + 1 end
  for i = from, n do
    local c = h[i]
    total = total + (sizes[c] or content_bytes_cached(c))
  end
  local drop = 0
  while drop < n and (n - drop > max_turns or (n - drop > 1 and total > max_bytes)) do
    drop = drop + 1
    local c = h[drop]
    total = total - (sizes[c] or content_bytes_cached(c))
  end
  while drop < n and type(h[drop + 1]) == "table" and h[drop + 1].role == "model" do
    drop = drop + 1
    total = total - content_bytes_cached(h[drop])
  end
  if drop > 0 then
    table.move(h, drop + 1, n, 1)
    for i = n - drop + 1, n do h[i] = nil end
    self.hist_at_handle = math.max(0, (self.hist_at_handle or 0) - drop)
    self.history_dropped = (self.history_dropped or 0) + drop
  end
  w = w or {}
  w.list, w.n, w.last, w.bytes = h, n - drop, h[n - drop], total
  self._window = w
end

-- The model's turn passed policy.max_turn_bytes of text without ending (a
-- server streaming forever): the turn fails with what came so far in
-- err.partial, and the connection is closed, since it would go on
-- streaming that turn.
local function turn_too_large(self, cap)
  local partial = table.concat(self.model_text)
  self.model_text, self.turn_bytes, self.turn_open = {}, 0, false
  self.failed = errors.new("too_large", ("Live %s: the answer passed %d bytes without turnComplete "
    .. "(policy.max_turn_bytes); the turn is abandoned and the session closed"):format(tostring(self.model), cap),
    { partial = partial, limit = cap, live = true, model = self.model, retryable = false, fatal = false })
  if self.conn then self.conn:close() end
end

function Session:_push_message(msg)
  if self.failed then return end -- a failed turn's connection: nothing more is taken from it
  local evs = {}
  live_setup.normalize(self, msg, evs)
  for _, ev in ipairs(evs) do
    if ev.type == "resumption" and ev.resumable ~= false and type(ev.handle) == "string" and ev.handle ~= "" then
      -- the server has everything sent so far: nothing to replay before this
      self.handle = ev.handle
      self.unacked, self.unacked_bytes = {}, 0
      self.hist_at_handle = #self.history
    elseif ev.type == "go_away" then
      self.go_away = ev
    elseif ev.type == "text" or ev.type == "output_transcription" then
      local cap = self.policy.max_turn_bytes or 8 * 1024 * 1024
      local bytes = (self.turn_bytes or 0) + #ev.text
      if bytes > cap then return turn_too_large(self, cap) end
      self.turn_bytes = bytes
      self.model_text[#self.model_text + 1] = ev.text
      self.turn_open = true
    elseif ev.type == "turn_complete" or ev.type == "interrupted" then
      if #self.model_text > 0 then
        self.history[#self.history + 1] = { role = "model", parts = { { text = table.concat(self.model_text) } } }
      end
      self.model_text, self.turn_bytes = {}, 0
      trim_history(self)
      if ev.type == "turn_complete" then
        self.turn_open = false
        self.failures = 0       -- a turn went through: the connection is good
      end
    end
    self:_push(ev)
  end
end

-- Resend what the server may not have seen (sent after the last handle).
local function replay(s, conn)
  for _, text in ipairs(s.unacked) do
    local ok, err = conn:send(text)
    if not ok then return nil, err end
  end
  return true
end

-- A new connection after a drop or a goAway: with the resumption handle,
-- replaying the client messages sent after it; if the handle is refused
-- (1007), a fresh session re-seeded from the session's own transcript.
-- Bounded by policy.max_failures consecutive failures. Returns true or nil, err.
function Session:_reconnect(cause)
  local pol = self.policy
  if self.connected_at and core.now() - self.connected_at >= pol.stable_after then self.failures = 0 end
  local open_turn = self.turn_open
  if open_turn then
    -- the partial reply of the current turn is abandoned; the turn is
    -- replayed on the new connection and answered from the start
    self.model_text = {}
    self:_push{ type = "interrupted", reason = "reconnect" }
  end
  local last_err = cause
  while self.failures < pol.max_failures do
    if self.failures > 0 then
      core.sleep(math.min(pol.backoff * 2 ^ (self.failures - 1), pol.backoff_max))
    end
    self.failures = self.failures + 1
    self:_push{ type = "reconnecting", attempt = self.failures, cause = cause }
    local handle = pol.resume and self.handle or nil
    -- the transcript up to the last acknowledged point: what a fresh
    -- connection must be seeded with (the messages after it are replayed)
    local seed = {}
    for i = 1, math.min(self.hist_at_handle or #self.history, #self.history) do seed[i] = self.history[i] end
    local reseeded = false
    -- a fresh connection to an initial-only model knows nothing, and cannot
    -- be told later: seed it now
    local fresh_seed = not handle and initial_only(self) and #seed > 0 and seed or nil
    local conn, early = open(self, handle, fresh_seed)
    reseeded = conn ~= nil and fresh_seed ~= nil
    if not conn and handle and early.kind == "ws_closed" and early.close_code == 1007 and pol.reseed then
      self.handle = nil
      handle = nil
      conn, early = open(self, nil, seed)
      reseeded = conn ~= nil and #seed > 0
    end
    if conn then
      local ok, rerr = replay(self, conn)
      if ok then
        if self.conn then self.conn:close() end
        self:_attach(conn, early)
        self:_push{ type = "resumed", resumed = handle ~= nil, reseeded = reseeded,
                    replayed = #self.unacked }
        if open_turn and #self.unacked == 0 then
          -- nothing to replay: the interrupted turn ends here
          self.turn_open = false
          self:_push{ type = "turn_complete", reason = "reconnect" }
        end
        return true
      end
      conn:close()
      early = diagnose.live(rerr, { url = self.url, model = self.model })
    end
    last_err = early
    if early.fatal then break end
  end
  self.failed = last_err
  return nil, last_err
end

-- May this failure be repaired by a new connection?
function Session:_recoverable(err)
  if not self.policy.reconnect or self.closed then return false end
  if err.fatal then return false end
  if err.kind == "ws_closed" or err.kind == "connect" or err.kind == "dns" then return true end
  return err.retryable == true and err.kind ~= "timeout"
end

-- After a goAway, move to a new connection while no turn is in flight.
function Session:_maybe_rotate()
  if self.go_away and not self.turn_open and self.policy.reconnect and self.policy.resume
     and self.handle and not self.failed then
    local ok, err = self:_reconnect("go_away")
    if not ok then self.failed = err end
  end
end

function Session:_ctx()
  return { url = self.url, model = self.model, api_version = self.api_version,
           go_away = self.go_away ~= nil, mock = self.mock, caps = self.caps,
           -- a clientContent went out after the seeding window (only a raw send() can do that)
           late_client_content = self.late_client_content }
end

--- The next event, or nil, err. timeout (seconds) bounds the wait; a
--- timeout returns nil, err (kind "timeout") and the session goes on.
function Session:recv(timeout)
  while true do
    if self.qh <= self.qt then
      local ev = self.q[self.qh]
      self.q[self.qh] = nil
      self.qh = self.qh + 1
      return ev
    end
    if self.failed then return nil, self.failed end
    if self.closed then error("gemini.live: the session is closed", 2) end
    self:_maybe_rotate()
    if self.qh > self.qt and not self.failed then
      local data, err = self.conn:recv(timeout)
      if not data then
        if err.kind == "timeout" and not err.close_code then return nil, err end
        local derr = diagnose.live(err, self:_ctx())
        if self:_recoverable(derr) then
          local ok, rerr = self:_reconnect(derr)
          if not ok then self.failed = rerr end
        else
          self.failed = derr
        end
      else
        local msg, jerr = json.decode(data)
        if type(msg) ~= "table" then
          self:_push{ type = "error",
            error = errors.new("protocol", "Live server sent a message that is not a JSON object: " .. (jerr and jerr.message or type(msg))) }
        else
          self:_push_message(msg)
        end
      end
    end
  end
end

--- Iterate events. By default it stops after the current turn's
--- turn_complete (which it yields); opts.all = true streams until the
--- session ends. Returns nil, err when the session has already failed
--- (for ev in assert(s:events()) do); the iterator raises a failure that
--- comes later (a for loop cannot carry it). opts.timeout bounds each
--- wait (a timeout raises too).
function Session:events(opts)
  if self.closed then error("gemini.live: the session is closed", 2) end
  if self.failed then return nil, self.failed end
  opts = opts or {}
  local done = false
  return function()
    if done then return nil end
    local ev, err = self:recv(opts.timeout)
    if not ev then errors.raise(err) end
    if ev.type == "turn_complete" and not opts.all then done = true end
    return ev
  end
end

--- Collect one turn: returns text (model text or transcript), audio (PCM
--- bytes, when any), the turn_complete event — or nil, err.
--- The session bounds the text (policy.max_turn_bytes: nil, err of kind
--- "too_large", err.partial the text so far); the audio collected here is
--- bounded by policy.max_turn_audio_bytes (default 256 MiB, ~90 min).
function Session:receive_turn(timeout)
  local text, audio, audio_bytes = {}, {}, 0
  local audio_cap = self.policy.max_turn_audio_bytes or 256 * 1024 * 1024
  while true do
    local ev, err = self:recv(timeout)
    if not ev then return nil, err end
    if ev.type == "text" or ev.type == "output_transcription" then text[#text + 1] = ev.text
    elseif ev.type == "audio" then
      audio_bytes = audio_bytes + #ev.audio
      if audio_bytes > audio_cap then
        return nil, errors.new("too_large", ("Live %s: the answer's audio passed %d bytes without turnComplete "
          .. "(policy.max_turn_audio_bytes); use events() to stream it"):format(tostring(self.model), audio_cap),
          { partial = table.concat(text), limit = audio_cap, live = true, model = self.model })
      end
      audio[#audio + 1] = ev.audio
    elseif ev.type == "turn_complete" then
      if ev.reason == "reconnect" then
        -- the connection dropped after the server had taken the turn: the
        -- answer is incomplete and cannot be replayed; never pass it off
        -- as a whole answer
        return nil, errors.new("stream_cut", "Live " .. tostring(self.model)
          .. ": the connection dropped mid-answer and the turn could not be replayed; send it again",
          { partial = table.concat(text) })
      end
      return table.concat(text), (#audio > 0 and table.concat(audio) or nil), ev
    end
  end
end

-- ---------------------------------------------------------------- sending

--- Send a raw client message (a Lua table: {clientContent = ...} etc.).
--- Returns true or nil, err. A dropped connection is repaired first when
--- the policy allows.
function Session:send(msg)
  if self.closed then error("gemini.live: the session is closed", 2) end
  if self.failed then return nil, self.failed end
  self:_maybe_rotate()
  if self.failed then return nil, self.failed end
  if type(msg) == "table" and msg.clientContent ~= nil then
    if initial_only(self) and not self.window_open then self.late_client_content = true end
    if type(msg.clientContent) == "table" and msg.clientContent.turnComplete then self.window_open = false end
  elseif type(msg) == "table" and msg.realtimeInput ~= nil then
    self.window_open = false
  end
  local text = encode(msg)
  local ok, err = self.conn:send(text)
  if not ok then
    local derr = diagnose.live(err, self:_ctx())
    if not self:_recoverable(derr) then
      self.failed = derr
      return nil, derr
    end
    -- queued for the replay that follows the reconnect
  end
  -- (a seed on an initial-only model is never replayed: a new connection
  -- is seeded from the transcript instead, a resumed one already has it)
  if self.policy.resume and not (msg.clientContent ~= nil and initial_only(self)) then
    self.unacked[#self.unacked + 1] = text
    self.unacked_bytes = self.unacked_bytes + #text
    if self.unacked_bytes > (self.policy.replay_max or 32 * 1024 * 1024) then
      -- too much to replay (long audio without a handle update): give up on replay
      self.unacked, self.unacked_bytes = {}, 0
    end
  end
  if not ok then
    local rok, rerr = self:_reconnect(err)
    if not rok then return nil, rerr end
    if not self.policy.resume then return self.conn:send(text) end
  end
  return true
end

-- A message that starts a model turn.
function Session:_send_turn(msg)
  local ok, err = self:send(msg)
  if ok then self.turn_open = true end
  return ok, err
end

--- A user turn: clientContent on the 2.5 models (opts.turn_complete,
--- default true), realtimeInput.text on the models whose clientContent is
--- initial only (Gemini 3.x), where it always starts a model turn (so
--- turn_complete = false is misuse there).
function Session:send_text(text, opts)
  if type(text) ~= "string" then error("gemini.live: send_text wants a string", 2) end
  opts = opts or {}
  local turn = { role = "user", parts = { { text = text } } }
  local tc = opts.turn_complete ~= false
  if self.caps and self.caps.text_input == "realtime_input" then
    if not tc then
      error("gemini.live: " .. tostring(self.model) .. " takes text as realtimeInput.text, which always "
        .. "starts a model turn: send_text{turn_complete = false} cannot be sent (seed history with "
        .. "live.connect{history = ...})", 2)
    end
    self.history[#self.history + 1] = turn
    return self:_send_turn{ realtimeInput = { text = text } }
  end
  self.history[#self.history + 1] = turn
  local msg = { clientContent = { turns = { turn }, turnComplete = tc } }
  if tc then return self:_send_turn(msg) end
  return self:send(msg)
end

--- Several turns ({role=, parts=} contents) as one clientContent. On a
--- model whose clientContent is initial only (Gemini 3.x) this is only the
--- initial history, while the connection's seeding window is open
--- (live.connect{history_config = true}, nothing else sent yet); it
--- starts no model turn there. Afterwards it returns nil, err and sends
--- nothing (the server would close the session with 1007).
function Session:send_turns(turns, turn_complete)
  if initial_only(self) then
    if not self.window_open then
      return nil, errors.new("live_rule", ("Live %s: clientContent only seeds the initial history on this "
        .. "model (docs/protocol.md#gemini-3-live-rules); pass the history as live.connect{history = ...}, "
        .. "then send text with send_text"):format(tostring(self.model)),
        { live = true, model = self.model, rule = "client_content_initial_only" })
    end
    for _, t in ipairs(turns) do self.history[#self.history + 1] = t end
    local ok, err = self:send{ clientContent = { turns = turns, turnComplete = turn_complete ~= false } }
    if ok then self.hist_at_handle = math.max(self.hist_at_handle or 0, #self.history) end
    return ok, err
  end
  for _, t in ipairs(turns) do self.history[#self.history + 1] = t end
  local msg = { clientContent = { turns = turns, turnComplete = turn_complete ~= false } }
  if turn_complete ~= false then return self:_send_turn(msg) end
  return self:send(msg)
end

--- Realtime audio: PCM16LE mono bytes (16 kHz unless opts.rate), base64 in C.
function Session:send_audio(pcm, opts)
  opts = opts or {}
  local rate = opts.rate or 16000
  return self:send{ realtimeInput = { audio = { data = core.b64encode(pcm),
                                                mimeType = opts.mime or ("audio/pcm;rate=" .. rate) } } }
end

--- Realtime video frame (JPEG by default).
function Session:send_video(bytes, mime)
  return self:send{ realtimeInput = { video = { data = core.b64encode(bytes), mimeType = mime or "image/jpeg" } } }
end

--- Realtime text (VAD decides the turn). It enters the session's
--- transcript as a user turn.
function Session:send_realtime_text(text)
  if type(text) ~= "string" then error("gemini.live: send_realtime_text wants a string", 2) end
  self.history[#self.history + 1] = { role = "user", parts = { { text = text } } }
  return self:_send_turn{ realtimeInput = { text = text } }
end

function Session:activity_start() return self:send{ realtimeInput = { activityStart = {} } } end
function Session:activity_end() return self:_send_turn{ realtimeInput = { activityEnd = {} } } end
function Session:audio_stream_end() return self:_send_turn{ realtimeInput = { audioStreamEnd = true } } end

--- Answer a tool_call: responses = { {id=, name=, response={...}}, ... }
--- (a single response table is accepted too). The Gemini API needs the id
--- of each call (docs/protocol.md#live-client-messages).
function Session:send_tool_response(responses)
  if responses.id or responses.name then responses = { responses } end
  for _, r in ipairs(responses) do
    if not r.id then
      error("gemini.live: a function response needs the `id` of its tool call", 2)
    end
    if r.response == nil then r.response = {} end
  end
  return self:send{ toolResponse = { functionResponses = responses } }
end

--- Close the session (idempotent).
function Session:close()
  if self.closed then return end
  self.closed = true
  if self.conn then self.conn:close() end
end
Session.__close = Session.close
Session.__gc = Session.close

function Session:__tostring()
  return ("gemini.live.session (%s) %s %s"):format(self.closed and "closed" or self.failed and "failed" or "open",
    self.model, core.redact(self.url))
end

--- Stats of the session and its connection.
function Session:stats()
  local st = self.conn and not self.closed and self.conn:stats() or {}
  st.connects = self.connects
  st.handle = self.handle
  st.turns = #self.history
  return st
end

M.Session = Session
return M
