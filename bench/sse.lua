-- bench/sse.lua — SSE throughput: STREAMS long streams in a row, every
-- event decoded, timed inside the process (start-up excluded).
--   glrun bench/sse.lua sse|rest BODYFILE STREAMS MODEL
-- sse:  glrun.http.sse, each event's JSON (ev.json, decoded in C) read
-- rest: gemini.rest.stream, each chunk a table with .text
-- Prints: seconds=S events=E chars=C (C = reply characters seen)
local http = require "glrun.http"
local rest = require "gemini.rest"
local json = require "glrun.json"

local mode, bodyfile, streams, model = arg[1], arg[2], tonumber(arg[3] or "1"), arg[4] or "gemini-many"
local f = assert(io.open(bodyfile, "rb")); local body = f:read("a"); f:close()
local base = assert(os.getenv("GOOGLE_GEMINI_BASE_URL"))
local url = base .. "/v1beta/models/" .. model .. ":streamGenerateContent?alt=sse"
local key = os.getenv("GEMINI_API_KEY") or "bench-key"
local req = mode == "rest" and json.decode_strict(body) or nil

local events, chars = 0, 0
local t0 = gl.now()
for _ = 1, streams do
  if mode == "sse" then
    for ev in assert(http.sse{ url = url, method = "POST", body = body,
                               headers = { ["x-goog-api-key"] = key, ["Content-Type"] = "application/json" } }) do
      events = events + 1
      chars = chars + #ev.json.candidates[1].content.parts[1].text
    end
  else
    for chunk in assert(rest.stream(req, { model = model })) do
      events = events + 1
      chars = chars + #chunk.text
    end
  end
end
local dt = gl.now() - t0
print(("seconds=%.6f events=%d chars=%d"):format(dt, events, chars))
