-- gemini.live — a Live API session (BidiGenerateContent over a WebSocket).
--
--   local live = require "gemini.live"
--   local s = assert(live.connect{ model = "gemini-2.5-flash-native-audio-latest" })
--   s:send_text("Hello")                 -- clientContent turn, turnComplete=true
--   for ev in s:events() do              -- the events of one turn
--     if ev.text then io.write(ev.text) end   -- model text, or the output
--   end                                        -- transcript of an audio model
--   s:close()
--
-- connect builds the endpoint exactly as docs/protocol.md#live-endpoints says (the dot
-- form `...GenerativeService.BidiGenerateContent`), sends `setup` first and
-- waits for `setupComplete`. A text conversation on an audio-only model
-- asks for AUDIO with outputAudioTranscription and yields the transcript as
-- text. Every failure is diagnosed (live.diagnose): what it means and what
-- to do, with `retryable` / `fatal` for the policy.
--
-- Events (tables with `type`): text, output_transcription (also `.text`),
-- input_transcription (`.transcript`), audio (`.audio` = PCM16LE bytes,
-- decoded in C, `.rate`), thought, part, tool_call (`.calls`),
-- tool_call_cancellation (`.ids`), interrupted, generation_complete,
-- turn_complete (`.usage`), usage, go_away (`.time_left` seconds),
-- resumption (`.handle`, `.resumable`), reconnecting, resumed, unknown.
--
-- Resilience is Lua policy: live.policy holds the knobs.
-- The session keeps the latest resumption handle; after a goAway it moves
-- to a new connection at the next turn boundary; after a drop (1006, 1011,
-- a socket error) it reconnects with the handle; after a 1007 on a resumed
-- setup it starts fresh and re-seeds the conversation from its own
-- transcript; a 1008 is a configuration error and is never retried.
local ws = require "glrun.ws"
local core = require "glrun.core"
local json = require "glrun.json"
local config = require "gemini.config"
local errors = require "gemini.errors"
local models = require "gemini.models"

local M = {}

--- Session resilience knobs (the defaults of every session; a session's
--- own copy is s.policy, from connect{policy = {...}}).
M.policy = {
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

local LIVE_METHOD = "BidiGenerateContent"

-- ---------------------------------------------------------------- URLs

--- The Live endpoint for a resolved config c (gemini.config): base URL with
--- ws(s):// and the dot form of the method (docs/protocol.md#live-endpoints).
function M.url(c, opts)
  opts = opts or {}
  local base = c.base_url:gsub("/+$", "")
  base = base:gsub("^https://", "wss://"):gsub("^http://", "ws://")
  local version, method = c.api_version or "v1beta", LIVE_METHOD
  if (c.api_key or ""):match("^auth_tokens/") then
    -- ephemeral tokens: v1alpha only, the Constrained method
    version, method = "v1alpha", "BidiGenerateContentConstrained"
  end
  version = opts.api_version or version
  if c.backend == "vertex" then
    -- Vertex AI: its own service, and a slash before the method (docs/protocol.md#vertex-live)
    return base .. "/ws/google.cloud.aiplatform." .. version .. ".LlmBidiService/BidiGenerateContent"
  end
  return base .. "/ws/google.ai.generativelanguage." .. version .. ".GenerativeService." .. method
end

-- Returns the upgrade's auth headers, or nil, err (a Vertex AI token
-- refresh failed).
local function auth_headers(c)
  if c.backend == "vertex" then return require("gemini.auth").headers(c) end
  local key = c.api_key or ""
  if key:match("^auth_tokens/") then return { Authorization = "Token " .. key } end
  return { ["x-goog-api-key"] = key }
end

-- ---------------------------------------------------------------- errors

local function proxy_in_env(url)
  local tls = url:match("^wss://") ~= nil
  local p
  if tls then p = os.getenv("https_proxy") or os.getenv("HTTPS_PROXY")
  else p = os.getenv("http_proxy") or os.getenv("HTTP_PROXY") end
  p = p or os.getenv("all_proxy") or os.getenv("ALL_PROXY")
  if p == "" then p = nil end
  return p
end

local function list(t) return table.concat(t, ", ") end

local function live_names(ctx)
  local names = models.live_models{ mock = ctx and ctx.mock }
  if #names == 0 then return "(none known: run gemini.models.refresh())" end
  return list(names)
end

--- Turn a transport failure of a Live session into an error that says
--- what it means and what to do. ctx = {url, model, api_version, resumed,
--- setup, mock}. The transport's kind and fields are kept; added: live =
--- true, retryable, fatal (never retry: a configuration error), hint.
function M.diagnose(err, ctx)
  ctx = ctx or {}
  if type(err) ~= "table" then err = errors.new("connect", tostring(err)) end
  if err.live then return err end
  local kind = err.kind or "connect"
  local f = {}
  for k, v in pairs(err) do
    if k ~= "message" and k ~= "kind" then f[k] = v end
  end
  f.live, f.model, f.cause = true, ctx.model, err
  local model = ctx.model and models.id(ctx.model) or "?"
  local ver = ctx.api_version or "v1beta"
  local msg, hint, retryable, fatal = err.message or tostring(err), nil, false, false
  local url = err.url or (ctx.url and core.redact(ctx.url)) or "the Live endpoint"

  if kind == "ws_handshake" then
    local st = err.status or 0
    if st == 404 then
      local why = {}
      local path = err.path or url
      if path:find("GenerativeService/", 1, true) then
        why[#why + 1] = "the URL uses a slash before the method ('GenerativeService/"
          .. "BidiGenerateContent'); the Gemini API wants a dot: 'GenerativeService.BidiGenerateContent'"
      end
      if path:match("^/v1[%w]*/ws/") or path:match("/v1[%w]*/ws/") then
        why[#why + 1] = "the path has a REST version prefix before /ws/"
      end
      local proxy = proxy_in_env(ctx.url or url)
      if proxy then
        why[#why + 1] = "a proxy is configured (" .. core.redact(proxy) .. "); a proxy or gateway "
          .. "that does not pass WebSocket upgrades answers 404"
      end
      local base = (ctx.url or url):match("^wss?://[^/]+") or ""
      if not base:find("generativelanguage.googleapis.com", 1, true) and not ctx.mock then
        why[#why + 1] = "the base URL (" .. base .. ") is not Google's: whatever serves it "
          .. "must implement /ws/google.ai.generativelanguage.<version>.GenerativeService.BidiGenerateContent"
      end
      msg = "Live handshake to " .. url .. " failed: HTTP 404 - that path is not a Live endpoint. "
        .. "A wrong path or a proxy/gateway in between causes this; a bad model or key does not "
        .. "(those close the socket after setup with 1008/1007). "
        .. (#why > 0 and ("Here: " .. table.concat(why, "; ") .. ".") or
            "Check the base URL (GOOGLE_GEMINI_BASE_URL) and any proxy between you and the API.")
      hint = "use " .. M.url({ base_url = "https://generativelanguage.googleapis.com",
                               api_version = ver }) .. " with the key in x-goog-api-key or ?key="
    elseif st == 401 or st == 403 then
      msg = "Live handshake to " .. url .. " failed: HTTP " .. st
        .. " - the request was refused before the upgrade: a proxy that needs authentication, "
        .. "or credentials the endpoint does not accept"
      hint = "check the proxy settings and the API key"
    elseif st == 407 then
      msg = "Live handshake to " .. url .. " failed: HTTP 407 - the proxy wants credentials"
      hint = "put user:password in the proxy URL"
    elseif st >= 300 and st < 400 then
      -- never followed (glrun.ws): the host it pointed to, without credentials
      local loc = err.location or ""
      local to = loc:match("^%a[%w+.-]*://([^/?#]+)") or loc:match("^[^?#]+")
      if to then to = to:gsub("^.*@", "") end
      msg = "Live handshake to " .. url .. " failed: HTTP " .. st .. " - a proxy or captive portal "
        .. "redirected the WebSocket upgrade" .. (to and to ~= "" and (" (to " .. to .. ")") or "")
        .. "; a Live endpoint never redirects, and glrun does not follow it"
      hint = "sign in to the network's portal, or check the proxy settings and GOOGLE_GEMINI_BASE_URL"
    elseif st == 0 then
      -- connected and asked, but no complete HTTP answer came back
      local why = (err.message or ""):match("%(([^()]*)%)%s*$")
      msg = "Live handshake to " .. url .. " failed: the server took the connection but sent no "
        .. "complete HTTP response to the upgrade" .. (why and (" (" .. why .. ")") or "")
      retryable = true
    elseif st == 429 or st >= 500 then
      msg = "Live handshake to " .. url .. " failed: HTTP " .. st .. " - the server is overloaded "
        .. "or the quota is exhausted; retry later"
      retryable = true
    else
      msg = "Live handshake to " .. url .. " failed: HTTP " .. st
    end
  elseif kind == "ws_closed" then
    local code, reason = err.close_code or 1006, err.reason or ""
    local rs = reason ~= "" and (" \"" .. reason .. "\"") or ""
    if code == 1008 then
      fatal = true
      if reason:find("not found for API version", 1, true) or reason:find("not supported for bidiGenerateContent", 1, true)
         or reason:find("is not found", 1, true) then
        local ex = models.explain(model)
        msg = "Live closed the session with 1008" .. rs .. ": model " .. model
          .. " is not offered for Live (bidiGenerateContent) on API version " .. ver .. "."
          .. (ex and (" " .. ex .. ".") or "")
          .. " Live models: " .. live_names(ctx) .. "."
        hint = "pick a Live model (gemini.models.live_models(), or gemini.models.refresh() to ask the server)"
      elseif reason:find("has not been used in project", 1, true) or reason:find("disabled", 1, true) then
        msg = "Live closed the session with 1008" .. rs .. ": the Generative Language API is not "
          .. "enabled for the key's project"
        hint = "enable the Generative Language API for the project, or use a key of another project"
      else
        msg = "Live closed the session with 1008 (policy violation)" .. rs
      end
    elseif code == 1007 then
      local low = reason:lower()
      if low:find("api key not found") or low:find("api key not valid") or low:find("key not valid") then
        msg = "Live closed the session with 1007" .. rs .. ": the API key is unknown or malformed"
        hint = "check GEMINI_API_KEY / GOOGLE_API_KEY"
        fatal = true
      elseif low:find("expired") then
        msg = "Live closed the session with 1007" .. rs .. ": the API key has expired"
        hint = "renew the key"
        fatal = true
      elseif low:find("location is not supported") then
        msg = "Live closed the session with 1007" .. rs .. ": the API is not offered in the region "
          .. "the request comes from"
        fatal = true
      elseif low:find("response modalities") then
        msg = "Live closed the session with 1007" .. rs .. ": model " .. model .. " does not support the "
          .. "requested response modality; audio-only Live models take responseModalities [\"AUDIO\"] "
          .. "(with outputAudioTranscription for text)"
        hint = "connect with modality = \"audio\" (or let glrun choose: leave modality unset)"
        fatal = true
      elseif low:find("media_chunks") then
        msg = "Live closed the session with 1007" .. rs .. ": this model wants realtimeInput.audio/"
          .. "video/text instead of mediaChunks"
        fatal = true
      elseif ctx.resumed then
        msg = "Live closed the resumed session with 1007" .. rs .. ": the resumption handle was "
          .. "refused (expired or unknown)"
        hint = "start a new session (the policy re-seeds it from the transcript)"
      else
        msg = "Live closed the session with 1007" .. rs .. ": the setup or a message was invalid "
          .. "(invalid argument / precondition)"
        if ctx.setup then
          local keys = {}
          for k in pairs(ctx.setup) do keys[#keys + 1] = k end
          table.sort(keys)
          msg = msg .. "; setup had: " .. list(keys)
        end
        fatal = true
      end
    elseif code == 1011 then
      retryable = true
      local low = reason:lower()
      if low:find("quota") or low:find("exhausted") then
        msg = "Live closed the session with 1011" .. rs .. ": quota or concurrency limit; retry "
          .. "after a while"
      else
        msg = "Live closed the session with 1011" .. rs .. ": a server-side error; retry"
      end
    elseif code == 1006 then
      retryable = true
      msg = "Live connection to " .. url .. " dropped without a close frame (1006); reconnect"
    elseif code == 1000 or code == 1001 then
      retryable = true
      msg = "Live closed the session (" .. code .. ")" .. rs
        .. (ctx.go_away and ": the connection reached its lifetime after goAway; resume on a new connection" or "")
    else
      msg = "Live closed the session with " .. code .. rs
      retryable = code >= 1012 and code <= 1014
    end
  elseif kind == "timeout" then
    retryable = true
    if ctx.phase == "setup" then
      msg = "no setupComplete from " .. url .. " within " .. (ctx.timeout or "?") .. " s after setup "
        .. "(model " .. model .. ")"
    end
  elseif kind == "tls" then
    hint = "a TLS-intercepting proxy needs its CA in the system store"
  elseif kind == "dns" or kind == "connect" then
    retryable = true
  elseif kind == "protocol" and err.protocol_violation then
    -- the server (or something in between) broke RFC 6455: the same
    -- endpoint will do it again, so this is never retried
    fatal = true
    msg = "Live connection to " .. url .. " failed: protocol violation by the server: "
      .. tostring(err.violation or "a malformed frame") .. " (" .. tostring(err.close_code or 1002) .. ")"
    hint = "a proxy or middlebox that rewrites WebSocket traffic, or a server that is not a Live "
      .. "endpoint, does this; check GOOGLE_GEMINI_BASE_URL and any proxy in between"
  elseif kind == "protocol" then
    fatal = false
  end
  f.retryable, f.fatal, f.hint = retryable, fatal, hint
  return errors.new(kind, msg, f)
end

-- ---------------------------------------------------------------- setup

local function modality_of(opts)
  local m = opts.modality or opts.response
  if m then
    m = tostring(m):upper()
    if m ~= "TEXT" and m ~= "AUDIO" then error("gemini.live: modality must be \"text\" or \"audio\"", 3) end
  end
  return m
end

--- Build the setup message (the inside of {"setup": ...}) for opts and
--- say how text reaches the script: "text" (TEXT modality) or
--- "transcript" (AUDIO + outputAudioTranscription).
function M.build_setup(model, opts)
  opts = opts or {}
  local want = modality_of(opts)
  local id = models.id(model)
  local setup = { model = model:find("/", 1, true) and model or ("models/" .. id) }
  local gen = {}
  for k, v in pairs(opts.generation_config or {}) do gen[k] = v end
  local text_via
  if want == "AUDIO" then
    gen.responseModalities = { "AUDIO" }
    text_via = opts.transcribe == false and "none" or "transcript"
  elseif want == "TEXT" or models.supports_text(id) then
    gen.responseModalities = { "TEXT" }
    text_via = "text"
  else
    gen.responseModalities = { "AUDIO" }
    text_via = "transcript"
  end
  if opts.voice then
    gen.speechConfig = { voiceConfig = { prebuiltVoiceConfig = { voiceName = opts.voice } },
                         languageCode = opts.language }
  end
  for _, k in ipairs{ "temperature", "topP", "topK", "maxOutputTokens", "seed" } do
    if opts[k] ~= nil then gen[k] = opts[k] end
  end
  setup.generationConfig = gen
  if opts.system then
    setup.systemInstruction = type(opts.system) == "table" and opts.system
      or { parts = { { text = opts.system } } }
  end
  if opts.tools then setup.tools = opts.tools end
  if text_via == "transcript" then setup.outputAudioTranscription = {} end
  if opts.input_transcription then setup.inputAudioTranscription = {} end
  if opts.realtime_input_config then setup.realtimeInputConfig = opts.realtime_input_config end
  if opts.context_window_compression then
    setup.contextWindowCompression = opts.context_window_compression
  end
  for k, v in pairs(opts.setup or {}) do setup[k] = v end   -- raw members win
  return setup, text_via
end

-- ---------------------------------------------------------------- events

local function duration_secs(s)
  if type(s) == "number" then return s end
  if type(s) ~= "string" then return nil end
  local n = tonumber(s:match("^([%d%.]+)s$"))
  return n
end

-- Turn one server message into events (appended to out).
local function normalize(s, msg, out)
  local function push(ev) out[#out + 1] = ev end
  if msg.setupComplete then
    push{ type = "setup_complete", session_id = type(msg.setupComplete) == "table" and msg.setupComplete.sessionId or nil }
  end
  local sc = msg.serverContent
  if type(sc) == "table" then
    local turn = sc.modelTurn
    if type(turn) == "table" and type(turn.parts) == "table" then
      for _, p in ipairs(turn.parts) do
        if type(p) ~= "table" then
        elseif p.thought and p.text then
          push{ type = "thought", thought = p.text }
        elseif type(p.text) == "string" then
          push{ type = "text", text = p.text }
        elseif type(p.inlineData) == "table" and tostring(p.inlineData.mimeType or ""):match("^audio/") then
          local mime = p.inlineData.mimeType
          if s.skip_audio then
            s.audio_skipped = (s.audio_skipped or 0) + #(p.inlineData.data or "")
          else
            local pcm, derr = core.b64decode(p.inlineData.data or "")
            if not pcm then
              push{ type = "error", error = derr }
            else
              push{ type = "audio", audio = pcm, mime = mime,
                    rate = tonumber(mime:match("rate=(%d+)")) or 24000 }
            end
          end
        else
          push{ type = "part", part = p }
        end
      end
    end
    if type(sc.inputTranscription) == "table" and sc.inputTranscription.text then
      push{ type = "input_transcription", transcript = sc.inputTranscription.text,
            finished = sc.inputTranscription.finished }
    end
    if type(sc.outputTranscription) == "table" and sc.outputTranscription.text then
      push{ type = "output_transcription", text = sc.outputTranscription.text,
            finished = sc.outputTranscription.finished }
    end
    if sc.groundingMetadata or sc.urlContextMetadata then
      push{ type = "metadata", grounding = sc.groundingMetadata, url_context = sc.urlContextMetadata }
    end
    if sc.interrupted then push{ type = "interrupted" } end
    if sc.generationComplete then push{ type = "generation_complete" } end
    if sc.turnComplete then
      push{ type = "turn_complete", usage = msg.usageMetadata, reason = sc.turnCompleteReason }
    elseif msg.usageMetadata then
      push{ type = "usage", usage = msg.usageMetadata }
    end
  elseif msg.usageMetadata then
    push{ type = "usage", usage = msg.usageMetadata }
  end
  if type(msg.toolCall) == "table" then
    push{ type = "tool_call", calls = msg.toolCall.functionCalls or {} }
  end
  if type(msg.toolCallCancellation) == "table" then
    push{ type = "tool_call_cancellation", ids = msg.toolCallCancellation.ids or {} }
  end
  if type(msg.goAway) == "table" then
    push{ type = "go_away", time_left = duration_secs(msg.goAway.timeLeft), raw_time_left = msg.goAway.timeLeft }
  end
  if type(msg.sessionResumptionUpdate) == "table" then
    local u = msg.sessionResumptionUpdate
    push{ type = "resumption", handle = u.newHandle, resumable = u.resumable,
          last_consumed = u.lastConsumedClientMessageIndex }
  end
  if msg.voiceActivityDetectionSignal or msg.voiceActivity then
    push{ type = "voice_activity", signal = msg.voiceActivityDetectionSignal or msg.voiceActivity }
  end
  if #out == 0 then push{ type = "unknown", message = msg } end
end

-- ---------------------------------------------------------------- session

local Session = {}
Session.__index = Session

local function encode(msg)
  local s, err = json.encode(msg)
  if not s then error("gemini.live: cannot encode the message: " .. err, 3) end
  return s
end

-- Open one connection and complete the setup. Returns conn, setup_events
-- (messages that arrived with/before setupComplete) or nil, err (diagnosed).
local function open(s, handle)
  local setup = {}
  for k, v in pairs(s.setup) do setup[k] = v end
  if s.policy.resume then
    setup.sessionResumption = handle and { handle = handle } or {}
  end
  local ctx = { url = s.url, model = s.model, api_version = s.api_version, resumed = handle ~= nil,
                setup = setup, mock = s.mock, timeout = s.policy.setup_timeout }
  local hdrs, herr = auth_headers(s.client)
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
      return nil, M.diagnose(errors.new("config", "Live endpoint " .. core.redact(s.url) .. ": " .. why), ctx)
    end
    error(conn, 0)
  end
  if not conn then return nil, M.diagnose(err, ctx) end
  local ok, serr = conn:send(encode{ setup = setup })
  if not ok then conn:close(); return nil, M.diagnose(serr, ctx) end
  local early = {}
  local t0 = core.now()
  while true do
    local left = s.policy.setup_timeout - (core.now() - t0)
    if left <= 0 then left = 0 end
    local data, rerr = conn:recv(left)
    if not data then
      conn:close()
      ctx.phase = "setup"
      return nil, M.diagnose(rerr, ctx)
    end
    local msg, jerr = json.decode(data)
    if type(msg) ~= "table" then
      conn:close()
      return nil, M.diagnose(errors.new("protocol", "Live server sent a message that is not JSON: " .. tostring(jerr)), ctx)
    end
    if msg.setupComplete then
      s.session_id = type(msg.setupComplete) == "table" and msg.setupComplete.sessionId or s.session_id
      return conn, early
    end
    -- buffered like the JS SDK does; delivered after setupComplete
    early[#early + 1] = msg
  end
  -- not reached
end

--- Open a Live session. opts: model (default config live_model), client
--- (gemini.config options), modality ("text"|"audio"; unset = text when
--- the model can, else audio + transcript), system, voice, language, tools,
--- temperature/topP/topK/maxOutputTokens/seed, generation_config,
--- input_transcription, transcribe (false: no output transcript on audio),
--- keep_audio (decode audio even when it only carries a transcript),
--- realtime_input_config, context_window_compression, setup (raw members),
--- api_version, policy (overrides of live.policy), handle (resume a
--- session), ws (extra glrun.ws.connect options), max_message, ping,
--- idle_timeout. Returns the session, or nil, err (diagnosed).
function M.connect(opts)
  opts = opts or {}
  local ok, c = pcall(config.get, opts.client)
  if not ok then
    if errors.is(c) then return nil, c end
    error(c, 0)
  end
  local model = opts.model or c.live_model or models.default_live
  local pol = {}
  for k, v in pairs(M.policy) do pol[k] = v end
  for k, v in pairs(opts.policy or {}) do pol[k] = v end
  if opts.setup_timeout then pol.setup_timeout = opts.setup_timeout end
  if opts.timeout then pol.connect_timeout = opts.timeout end
  local setup, text_via = M.build_setup(model, opts)
  if c.backend == "vertex" then setup.model = config.vertex_model_path(c, models.id(model)) end
  local api_version = opts.api_version or c.api_version
  local url = M.url(c, { api_version = opts.api_version })
  local authority = url:match("^wss?://([^/?#]*)") or ""
  if authority:find("@", 1, true) then
    -- credentials in the base URL (REST sends them as Basic auth): a Live
    -- upgrade does not carry them; fail this attempt (a chat falls back)
    local shown = core.redact((url:gsub("^(wss?://)[^/?#]*@", "%1***@")))
    return nil, errors.new("ws_handshake", "Live handshake to " .. shown .. " not attempted: the "
      .. "base URL carries credentials (user:password@host), which glrun does not send on a "
      .. "WebSocket upgrade", { url = shown, live = true, model = models.id(model),
        retryable = false, fatal = true,
        hint = "put the credentials in a proxy URL (HTTPS_PROXY), or use the REST transport" })
  end
  local s = setmetatable({
    client = c, model = models.id(model), setup = setup, text_via = text_via,
    -- audio that only carries a transcript is not decoded unless asked for
    skip_audio = text_via == "transcript" and modality_of(opts) ~= "AUDIO" and not opts.keep_audio,
    api_version = api_version, mock = c.mock,
    url = url, policy = pol,
    ws_opts = opts.ws, max_message = opts.max_message, queue = opts.queue,
    ping = opts.ping, idle_timeout = opts.idle_timeout,
    q = {}, qh = 1, qt = 0,           -- normalized events not yet delivered
    unacked = {}, unacked_bytes = 0,  -- client messages sent after the last handle
    hist_at_handle = 0,
    handle = opts.handle,             -- latest sessionResumptionUpdate.newHandle
    history = {},                     -- text transcript: {role, parts={{text}}}
    model_text = {},                  -- the model's text of the current turn
    failures = 0, connects = 0,
  }, Session)
  local conn, early = open(s, s.handle)
  if not conn and s.handle and early.kind == "ws_closed" and early.close_code == 1007 and pol.reseed then
    -- the handle given to resume was refused: start a fresh session
    s.handle = nil
    conn, early = open(s, nil)
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

-- Keep the transcript a window: the latest policy.history_turns contents,
-- within policy.history_bytes, starting with a user turn. What falls out
-- is counted in history_dropped (a re-seed after a refused handle then
-- sends the window only).
local function trim_history(self)
  local h, pol = self.history, self.policy
  local max_turns, max_bytes = pol.history_turns or 200, pol.history_bytes or 16 * 1024 * 1024
  local n, keep, bytes = #h, 0, 0
  for i = n, 1, -1 do
    local b = content_bytes(h[i])
    if keep >= max_turns or (keep > 0 and bytes + b > max_bytes) then break end
    keep, bytes = keep + 1, bytes + b
  end
  local drop = n - keep
  while drop < n and type(h[drop + 1]) == "table" and h[drop + 1].role == "model" do drop = drop + 1 end
  if drop == 0 then return end
  table.move(h, drop + 1, n, 1)
  for i = n - drop + 1, n do h[i] = nil end
  self.hist_at_handle = math.max(0, (self.hist_at_handle or 0) - drop)
  self.history_dropped = (self.history_dropped or 0) + drop
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
  normalize(self, msg, evs)
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
    local conn, early = open(self, handle)
    local reseeded = false
    if not conn and handle and early.kind == "ws_closed" and early.close_code == 1007 and pol.reseed then
      self.handle = nil
      handle = nil
      conn, early = open(self, nil)
      if conn then
        local seed = {}
        for i = 1, self.hist_at_handle or #self.history do seed[i] = self.history[i] end
        if #seed > 0 then
          local ok, serr = conn:send(encode{ clientContent = { turns = seed, turnComplete = false } })
          if not ok then conn:close(); conn, early = nil, M.diagnose(serr, { url = self.url, model = self.model }) end
          reseeded = true
        end
      end
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
      early = M.diagnose(rerr, { url = self.url, model = self.model })
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
           go_away = self.go_away ~= nil, mock = self.mock }
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
        local derr = M.diagnose(err, self:_ctx())
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
            error = errors.new("protocol", "Live server sent a message that is not JSON: " .. tostring(jerr)) }
        else
          self:_push_message(msg)
        end
      end
    end
  end
end

--- Iterate events. By default it stops after the current turn's
--- turn_complete (which it yields); opts.all = true streams until the
--- session ends. Raises a session failure (a for loop cannot carry it).
--- opts.timeout bounds each wait (a timeout raises too).
function Session:events(opts)
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
  local text = encode(msg)
  local ok, err = self.conn:send(text)
  if not ok then
    local derr = M.diagnose(err, self:_ctx())
    if not self:_recoverable(derr) then
      self.failed = derr
      return nil, derr
    end
    -- queued for the replay that follows the reconnect
  end
  if self.policy.resume then
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

--- A user turn (clientContent). opts.turn_complete defaults to true.
function Session:send_text(text, opts)
  if type(text) ~= "string" then error("gemini.live: send_text wants a string", 2) end
  opts = opts or {}
  local turn = { role = "user", parts = { { text = text } } }
  local tc = opts.turn_complete ~= false
  self.history[#self.history + 1] = turn
  local msg = { clientContent = { turns = { turn }, turnComplete = tc } }
  if tc then return self:_send_turn(msg) end
  return self:send(msg)
end

--- Several turns ({role=, parts=} contents) as one clientContent.
function Session:send_turns(turns, turn_complete)
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

--- Realtime text (VAD decides the turn).
function Session:send_realtime_text(text)
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

-- ---------------------------------------------------------------- audio files

--- A WAV file (RIFF, PCM16LE) holding pcm: bytes of 16-bit samples.
function M.wav(pcm, rate, channels)
  rate, channels = rate or 24000, channels or 1
  return string.pack("<c4I4c4c4I4I2I2I4I4I2I2c4I4", "RIFF", 36 + #pcm, "WAVE", "fmt ", 16, 1, channels,
                     rate, rate * channels * 2, channels * 2, 16, "data", #pcm) .. pcm
end

--- The PCM16 samples of a WAV file's bytes: pcm, rate, channels — or
--- nil, message when it is not 16-bit PCM WAV.
function M.unwav(bytes)
  if #bytes < 12 or bytes:sub(1, 4) ~= "RIFF" or bytes:sub(9, 12) ~= "WAVE" then
    return nil, "not a WAV file"
  end
  local pos, rate, channels, bits = 13, nil, nil, nil
  while pos + 8 <= #bytes + 1 do
    local id, size = string.unpack("<c4I4", bytes, pos)
    local body = pos + 8
    if id == "fmt " then
      local fmt
      fmt, channels, rate = string.unpack("<I2I2I4", bytes, body)
      bits = string.unpack("<I2", bytes, body + 14)
      if fmt ~= 1 or bits ~= 16 then return nil, "only 16-bit PCM WAV is supported" end
    elseif id == "data" then
      if not rate then return nil, "WAV data before its fmt chunk" end
      return bytes:sub(body, body + size - 1), rate, channels
    end
    pos = body + size + (size % 2)
  end
  return nil, "no data chunk in the WAV file"
end

M.Session = Session
return M
