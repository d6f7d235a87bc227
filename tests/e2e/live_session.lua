-- gemini.live against glmock: URL, setup, text and audio turns, audio-only
-- models used for text, tools, transcription, resumption handles, usage.
local live = require "gemini.live"
local models = require "gemini.models"

-- the endpoint is the dot form of docs/protocol.md#live-endpoints
local u = live.url{ base_url = "https://generativelanguage.googleapis.com", api_version = "v1beta" }
assert(u == "wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent", u)
assert(live.url{ base_url = "http://127.0.0.1:9/", api_version = "v1alpha" }:match("^ws://127%.0%.0%.1:9/ws/google%.ai%.generativelanguage%.v1alpha%.GenerativeService%.BidiGenerateContent$"))
assert(live.url{ base_url = "https://h", api_key = "auth_tokens/abc" }:find("v1alpha.GenerativeService.BidiGenerateContentConstrained", 1, true))

-- setup: TEXT where the model can, AUDIO + output transcription otherwise
local setup, via = live.build_setup("gemini-live-text-test", {})
assert(setup.model == "models/gemini-live-text-test" and via == "text")
assert(setup.generationConfig.responseModalities[1] == "TEXT")
setup, via = live.build_setup("gemini-2.5-flash-native-audio-latest", { system = "Be brief." })
assert(via == "transcript" and setup.generationConfig.responseModalities[1] == "AUDIO")
assert(setup.outputAudioTranscription and setup.systemInstruction.parts[1].text == "Be brief.")
assert(not models.supports_text("gemini-3.1-flash-live-preview"))
assert(not models.supports_text("some-future-live-model"), "unknown models are taken as audio-only")

-- 1. a text turn, event by event
local s = assert(live.connect{ model = "gemini-live-text-test" })
assert(tostring(s):find("(open)", 1, true))
assert(s:send_text("Hello there my friend"))
local types, text = {}, {}
for ev in s:events{ timeout = 10 } do
  types[#types + 1] = ev.type
  if ev.text then text[#text + 1] = ev.text end
end
assert(table.concat(text) == "echo: Hello there my friend", table.concat(text))
assert(types[#types] == "turn_complete" and types[#types - 1] == "generation_complete", table.concat(types, ","))

-- a second turn on the same session; usage rides on turn_complete
assert(s:send_text("and again"))
local t, audio, tc = s:receive_turn(10)
assert(t == "echo: and again" and audio == nil, t)
assert(tc.usage and tc.usage.responseTokenCount, "usageMetadata on turn_complete")
-- the resumption handle is kept
assert(type(s.handle) == "string" and s.handle ~= "", "resumption handle kept")
s:close()
s:close()

-- 2. an audio-only model for a text chat: AUDIO + transcript, audio not decoded
s = assert(live.connect{ model = "gemini-2.5-flash-native-audio-latest" })
assert(s:send_text("What is up"))
t, audio = s:receive_turn(10)
assert(t == "echo: What is up", t)
assert(audio == nil, "carrier audio is not decoded unless asked for")
s:close()

-- 3. audio out: PCM16LE 24 kHz decoded in C (100 ms per word in glmock)
s = assert(live.connect{ model = "gemini-2.5-flash-native-audio-preview-09-2025", modality = "audio" })
assert(s:send_text("one two three"))
local chunks, transcript, rate = 0, {}, nil
for ev in s:events{ timeout = 10 } do
  if ev.type == "audio" then chunks = chunks + #ev.audio; rate = ev.rate end
  if ev.type == "output_transcription" then transcript[#transcript + 1] = ev.text end
end
assert(rate == 24000, tostring(rate))
assert(chunks == 4 * 4800, "PCM bytes " .. chunks)           -- "echo: one two three" = 4 words
assert(table.concat(transcript) == "echo: one two three")

-- audio in: realtime PCM 16 kHz, base64 in C; input transcription
s:close()
s = assert(live.connect{ model = "gemini-live-text-test", input_transcription = true })
local pcm = ("\0\0"):rep(16000)                             -- one second
assert(s:send_audio(pcm))
assert(s:audio_stream_end())
local saw_input
for ev in s:events{ timeout = 10 } do
  if ev.type == "input_transcription" then saw_input = ev.transcript end
end
assert(saw_input == "1000 ms of audio", tostring(saw_input))
s:close()

-- 4. tools: a tool_call, answered by id, then the model goes on
s = assert(live.connect{ model = "gemini-live-text-test",
  tools = { { functionDeclarations = { { name = "get_weather", description = "weather",
    parameters = { type = "OBJECT", properties = { location = { type = "STRING" } } } } } } } })
assert(s:send_text("What is the weather in Oslo?"))
local call
for ev in s:events{ timeout = 10 } do
  if ev.type == "tool_call" then
    call = ev.calls[1]
    break
  end
end
assert(call and call.name == "get_weather" and call.id, "tool call")
assert(call.args.location == "Oslo", tostring(call.args.location))
assert(not pcall(s.send_tool_response, s, { name = "get_weather", response = {} }), "id is required")
assert(s:send_tool_response{ id = call.id, name = call.name, response = { temperature = 21 } })
t = s:receive_turn(10)
assert(t:find("get_weather", 1, true) and t:find("21", 1, true), t)
s:close()
-- 5. WAV files for the audio examples
local pcm16 = ("\1\0\255\127"):rep(1000)
local wav = live.wav(pcm16, 24000)
assert(#wav == 44 + #pcm16 and wav:sub(1, 4) == "RIFF" and wav:sub(9, 12) == "WAVE")
local back, r, ch = live.unwav(wav)
assert(back == pcm16 and r == 24000 and ch == 1)
assert(live.unwav("not a wav") == nil)
print("live_session ok")
