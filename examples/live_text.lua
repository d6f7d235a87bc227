-- A text conversation over the Live API.
--
--   glrun --mock examples/live_text.lua "Hello there" "And one more thing"
--   GEMINI_API_KEY=... glrun examples/live_text.lua "What is a WebSocket?"
--
-- With an audio-only Live model (the default), glrun asks for AUDIO with
-- output transcription and prints the transcript: the script does not
-- need to know. GLRUN_LIVE_MODEL picks another model.
local live = require "gemini.live"

local prompts = { ... }
if #prompts == 0 then prompts = { "Hello! In one sentence: what can you do?" } end

local s, err = live.connect{ model = os.getenv("GLRUN_LIVE_MODEL"), system = "Answer briefly." }
if not s then
  io.stderr:write(tostring(err), "\n")
  if err.hint then io.stderr:write("hint: ", err.hint, "\n") end
  os.exit(1)
end
for _, prompt in ipairs(prompts) do
  io.write("> ", prompt, "\n")
  assert(s:send_text(prompt))
  for ev in assert(s:events{ timeout = 60 }) do
    if ev.text then io.write(ev.text) io.flush() end
    if ev.type == "reconnecting" then io.stderr:write("\n[reconnecting]\n") end
    if ev.type == "turn_complete" and ev.usage then
      io.write(("\n[%d tokens]\n"):format(ev.usage.totalTokenCount or 0))
    end
  end
end
s:close()
