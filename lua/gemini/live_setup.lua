-- gemini.live_setup — the Live setup message and the normalisation of
-- server messages into events.
--
-- build_setup(model, opts) builds the inside of {"setup": ...}: a text
-- conversation on an audio-only model asks for AUDIO with
-- outputAudioTranscription and yields the transcript as text.
-- normalize(s, msg, out) turns one server message into events (tables
-- with `type`; the list is in gemini/live.lua's header).
local core = require "glrun.core"
local models = require "gemini.models"

local M = {}

function M.modality_of(opts)
  local m = opts.modality or opts.response
  if m then
    m = tostring(m):upper()
    if m ~= "TEXT" and m ~= "AUDIO" then error("gemini.live: modality must be \"text\" or \"audio\"", 3) end
  end
  return m
end

--- Build the setup message (the inside of {"setup": ...}) for opts and
--- say how text reaches the script: "text" (TEXT modality) or
--- "transcript" (AUDIO + outputAudioTranscription). The model's Live
--- capabilities (gemini.models.live_caps) decide the modality when opts
--- do not. historyConfig is not set here: the session adds it to the
--- setup of a connection it seeds (docs/protocol.md#gemini-3-live-rules).
function M.build_setup(model, opts)
  opts = opts or {}
  local want = M.modality_of(opts)
  local id = models.id(model)
  local caps = models.live_caps(id)
  local setup = { model = model:find("/", 1, true) and model or ("models/" .. id) }
  local gen = {}
  local base = opts.generation
  if base == nil then base = opts.generation_config end -- the old name
  if base ~= nil and type(base) ~= "table" then
    error("gemini.live: generation (generationConfig) must be a table, not " .. type(base), 3)
  end
  for k, v in pairs(base or {}) do gen[k] = v end
  local text_via
  if want == "AUDIO" then
    gen.responseModalities = { "AUDIO" }
    text_via = opts.transcribe == false and "none" or "transcript"
  elseif want == "TEXT" or caps.text then
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

local function duration_secs(s)
  if type(s) == "number" then return s end
  if type(s) ~= "string" then return nil end
  local n = tonumber(s:match("^([%d%.]+)s$"))
  return n
end


--- Turn one server message into events (appended to out). s is the
--- session (skip_audio, audio_skipped are read and written).
function M.normalize(s, msg, out)
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

return M
