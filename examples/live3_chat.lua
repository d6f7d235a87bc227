-- live3_chat.lua — a conversation on a Gemini 3.x Live model that stays on
-- Live across a REST turn. Run it offline:
--
--   glrun --mock examples/live3_chat.lua
--
-- The 3.x Live models (gemini-3.1-flash-live-preview, gemini-3.8-live) take
-- clientContent only to seed a session's initial history, and user text as
-- realtimeInput.text (docs/live.md, "Gemini 3.x Live"). glrun's chat does
-- that for you: when the conversation comes back to Live after a REST turn,
-- it opens a new Live session seeded with the whole history, so the model
-- knows everything said so far. glmock proves it: its 3.x models end their
-- echo with "(history: N turns)", the turns the seeded session saw.
local gemini = require "gemini"

-- the default chain's Live model is the catalog's newest flash Live model
-- (gemini-3.8-live); name another one as the first argument
local chat = assert(gemini.chat{ quiet = true, live_model = arg[1] })

local function turn(question, transport)
  chat.transport = transport or "auto"
  local answer = assert(chat:send(question))
  print("> " .. question)
  print(answer)
  print(("  [%s %s]"):format(chat.last_turn.transport, chat.last_turn.model))
end

turn("My name is Ann.")
turn("What is the capital of France?", "rest") -- one turn over REST
turn("What is my name?")                       -- back on Live, the history seeded
print(#chat.history .. " messages in the conversation")
chat:close()
