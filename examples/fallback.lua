-- fallback.lua — the situation glrun was born from, in its two real forms,
-- and what the default policy does about each: one precise line on stderr
-- (what failed, the likely cause, what happens instead), then the answer.
-- Run it offline:
--
--   glrun --mock examples/fallback.lua
--
-- 1. A proxy between you and Google that does not pass WebSocket
--    upgrades: the Live handshake gets HTTP 404 (glmock plays that proxy
--    under the /proxy/ prefix). It is not "Live needs Vertex AI".
-- 2. The Live model `gemini-2.5-flash-live`, which does not exist: the
--    handshake succeeds and the server closes the session with 1008. The
--    policy takes the model catalog's newest Live model of the same family
--    in its place (the line names it), and Live answers.
local gemini = require "gemini"

local base = gl.options.mock_url
if not base then
  io.stderr:write("fallback.lua reproduces glmock's faults: run it with glrun --mock\n")
  os.exit(2)
end

local function demo(title, opts)
  print("== " .. title)
  local chat = assert(gemini.chat(opts))
  for piece in assert(chat:stream("What is a WebSocket?")) do io.write(piece) end
  print()
  print(("(answered over %s %s)"):format(chat.last_turn.transport, chat.last_turn.model))
end

demo("a proxy that answers the WebSocket upgrade with 404",
     { client = { base_url = base .. "/proxy" } })
demo("the nonexistent Live model gemini-2.5-flash-live",
     { live_model = "gemini-2.5-flash-live" })
