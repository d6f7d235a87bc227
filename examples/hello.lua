-- hello.lua — stream a short answer from gemini-2.5-flash over REST
-- (streamGenerateContent?alt=sse), token by token, to stdout.
--
--   glrun --mock examples/hello.lua            # offline, against glmock
--   GEMINI_API_KEY=... glrun examples/hello.lua "Why is the sky blue?"
local gemini = require "gemini"

local prompt = arg[1] or "Say hello to a new glrun user in one short sentence."
for piece in assert(gemini.stream(prompt, { model = "gemini-2.5-flash" })) do
  io.write(piece)
  io.flush()
end
io.write("\n")
