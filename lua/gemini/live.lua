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
-- text. Every failure is diagnosed (gemini.diagnose): what it means and
-- what to do, with `retryable` / `fatal` for the policy.
--
-- Events (tables with `type`): text, output_transcription (also `.text`),
-- input_transcription (`.transcript`), audio (`.audio` = PCM16LE bytes,
-- decoded in C, `.rate`), thought, part, tool_call (`.calls`),
-- tool_call_cancellation (`.ids`), interrupted, generation_complete,
-- turn_complete (`.usage`), usage, go_away (`.time_left` seconds),
-- resumption (`.handle`, `.resumable`), reconnecting, resumed, unknown.
--
-- Resilience is Lua policy: live.policy holds the knobs (the session's
-- reconnect, resume and re-seed rules are described in gemini.live_session).
--
-- This module is the public face; the parts live in gemini.live_url (the
-- endpoint and its auth), gemini.diagnose (what a failure means),
-- gemini.live_setup (the setup message, events), gemini.live_session (the
-- resumable session) and gemini.audio (WAV files).
local core = require "glrun.core"
local config = require "gemini.config"
local errors = require "gemini.errors"
local models = require "gemini.models"
local live_url = require "gemini.live_url"
local diagnose = require "gemini.diagnose"
local live_setup = require "gemini.live_setup"
local session = require "gemini.live_session"
local audio = require "gemini.audio"

local M = {}

--- Session resilience knobs (the defaults of every session; a session's
--- own copy is s.policy, from connect{policy = {...}}).
M.policy = session.defaults

M.url = live_url.url
M.diagnose = diagnose.live
M.build_setup = live_setup.build_setup
M.Session = session.Session
M.wav, M.unwav = audio.wav, audio.unwav   -- WAV is not Live: gemini.audio

--- Open a Live session. opts: model (default config live_model), client
--- (gemini.config options), modality ("text"|"audio"; unset = text when
--- the model can, else audio + transcript), system, voice, language, tools,
--- temperature/topP/topK/maxOutputTokens/seed, generation
--- (generationConfig; `generation_config` is its old name),
--- input_transcription, transcribe (false: no output transcript on audio),
--- keep_audio (decode audio even when it only carries a transcript),
--- realtime_input_config, context_window_compression, setup (raw members),
--- api_version, policy (overrides of live.policy), handle (resume a
--- session), ws (extra glrun.ws.connect options), max_message, ping,
--- idle_timeout, history (contents the conversation already holds: the
--- session is seeded with them; on a model whose clientContent is initial
--- only — Gemini 3.x — the setup carries historyConfig and the history
--- goes as one clientContent with turnComplete true, which starts no model
--- turn; on the 2.5 models as context with turnComplete false),
--- history_config (true: open the seeding window without history, for a
--- first send_turns), token (an ephemeral token from gemini.tokens.create,
--- its name or the table: the session uses it instead of the API key, on
--- the v1alpha Constrained endpoint). Returns the session, or nil, err
--- (diagnosed).
function M.connect(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("gemini.live.connect: the options must be a table, not " .. type(opts), 2)
  end
  opts = opts or {}
  local client = opts.client
  if opts.token ~= nil then
    local name = type(opts.token) == "table" and opts.token.name or opts.token
    if type(name) ~= "string" or not name:match("^auth_tokens/") then
      error("gemini.live.connect: token must be an ephemeral token (auth_tokens/...) or its table", 2)
    end
    client = {}
    for k, v in pairs(opts.client or {}) do client[k] = v end
    client.api_key = name
  end
  local c, cerr = config.get(client)
  if not c then return nil, cerr end
  local model = opts.model or config.default_live_model(c, client)
  local pol = {}
  for k, v in pairs(M.policy) do pol[k] = v end
  for k, v in pairs(opts.policy or {}) do pol[k] = v end
  if opts.setup_timeout then pol.setup_timeout = opts.setup_timeout end
  if opts.timeout then pol.connect_timeout = opts.timeout end
  local setup, text_via = live_setup.build_setup(model, opts)
  if c.backend == "vertex" then setup.model = config.vertex_model_path(c, models.id(model)) end
  local api_version = opts.api_version or c.api_version
  local url = live_url.url(c, { api_version = opts.api_version })
  local authority = url:match("^wss?://([^/?#]*)") or ""
  if authority:find("@", 1, true) then
    -- credentials in the base URL (REST sends them as Basic auth): a Live
    -- upgrade does not carry them; fail this attempt (a chat falls back)
    local shown = core.redact((url:gsub("^(wss?://)[^/?#]*@", "%1***@")))
    return nil, errors.new("ws_handshake", "Live handshake to " .. shown .. " not attempted: the "
      .. "base URL carries credentials (user:password@host), which glrun does not send on a "
      .. "WebSocket upgrade", { url = shown, live = true, model = models.id(model),
        retryable = false, fatal = true, diagnosis = "credentials_in_url",
        summary = "the base URL carries credentials (user:password@host), which a WebSocket upgrade does not send",
        hint = "put the credentials in a proxy URL (HTTPS_PROXY), or use the REST transport" })
  end
  if opts.history ~= nil and type(opts.history) ~= "table" then
    error("gemini.live: connect{history = ...} must be a list of contents", 2)
  end
  return session.start{
    client = c, model = models.id(model), setup = setup, text_via = text_via,
    caps = models.live_caps(model),    -- how to talk to it: text_input, client_content, ...
    seed = opts.history and #opts.history > 0 and opts.history or nil,
    seed_window = opts.history_config == true,
    -- audio that only carries a transcript is not decoded unless asked for
    skip_audio = text_via == "transcript" and live_setup.modality_of(opts) ~= "AUDIO" and not opts.keep_audio,
    api_version = api_version, mock = c.mock,
    url = url, policy = pol,
    ws_opts = opts.ws, max_message = opts.max_message, queue = opts.queue,
    ping = opts.ping, idle_timeout = opts.idle_timeout,
    handle = opts.handle,             -- resume this session (sessionResumptionUpdate.newHandle)
  }
end

return M
