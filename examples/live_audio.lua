-- Talk to the Live API with audio: send a WAV (or raw PCM16LE 16 kHz mono)
-- file, save the spoken reply as a WAV file and print its transcript.
--
--   glrun --mock examples/live_audio.lua question.wav reply.wav
--   glrun --mock examples/live_audio.lua - reply.wav      (1 s of silence as input)
local live = require "gemini.live"
local audio = require "gemini.audio"   -- WAV files

local input, output = ...
output = output or "reply.wav"

local pcm, rate = nil, 16000
if not input or input == "-" then
  pcm = ("\0\0"):rep(16000)
else
  local f = assert(io.open(input, "rb"))
  local bytes = f:read("a")
  f:close()
  if bytes:sub(1, 4) == "RIFF" then
    local ch
    pcm, rate, ch = assert(audio.unwav(bytes))
    assert(ch == 1, "the input must be mono")
  else
    pcm = bytes                          -- raw PCM16LE mono 16 kHz
  end
end

local s = assert(live.connect{ model = os.getenv("GLRUN_LIVE_MODEL"), modality = "audio",
                               input_transcription = true })
-- stream the input in 100 ms chunks, like a microphone would
local step = rate // 10 * 2
for i = 1, #pcm, step do
  assert(s:send_audio(pcm:sub(i, i + step - 1), { rate = rate }))
end
assert(s:audio_stream_end())

local out, out_rate, transcript = {}, 24000, {}
for ev in assert(s:events{ timeout = 60 }) do
  if ev.type == "input_transcription" then io.write("you: ", ev.transcript, "\n") end
  if ev.type == "audio" then out[#out + 1] = ev.audio; out_rate = ev.rate end
  if ev.type == "output_transcription" then transcript[#transcript + 1] = ev.text end
end
s:close()

local reply = table.concat(out)
local f = assert(io.open(output, "wb"))
f:write(audio.wav(reply, out_rate))
f:close()
io.write("model: ", table.concat(transcript), "\n")
io.write(("wrote %s: %.1f s of %d Hz audio\n"):format(output, #reply / 2 / out_rate, out_rate))
