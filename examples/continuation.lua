-- continuation.lua — a long answer that takes several requests, read as
-- one. Run it offline:
--
--   glrun --mock examples/continuation.lua
--
-- A long answer may end with finishReason CONTINUATION and a
-- continuationToken; the same request with that token goes on
-- (docs/protocol.md#continuation-tokens). gemini.rest does it for you
-- (gemini.stream, gemini.ask and chats too): the pieces read as one
-- answer, a stream cut after a checkpoint resumes from it without showing
-- any text twice, and usageMetadata counts every request. glmock's
-- "longdecode" models answer in hops of four words.
local gemini = require "gemini"
local rest = require "gemini.rest"

local model = gl.options.mock_url and "gemini-2.5-flash-longdecode" or nil
local question = arg[1] or "one two three four five six seven eight nine ten"

-- one answer, streamed; the handle says how many requests it took
local it, handle = assert(rest.stream(gemini.request(question), { model = model }))
local last
for chunk in it do
  io.write(chunk.text)
  last = chunk
end
print()
print(("%d requests, %d tokens in all (the prompt counts once per request), finishReason %s")
  :format(handle:hops(), last.usageMetadata.totalTokenCount, last.candidates[1].finishReason))

-- continuation off: the first part only, and it says it is not the end
local part = assert(rest.generate(gemini.request(question), { model = model, continuation = false }))
print(part.text)
print("finishReason " .. part.candidates[1].finishReason)
