-- custom_policy.lua — a changed policy, working without a rebuild.
--
--   glrun --mock --policy examples/policies/rest_on_weekdays.lua examples/custom_policy.lua
--
-- With the policy file, a weekday conversation goes straight to REST and a
-- 1008 from Live is reported instead of hidden by a fallback. The same
-- overrides can be given from a script: gemini.chat{ policy = { ... } }.
local gemini = require "gemini"

local chat = assert(gemini.chat{ system = "Be brief." })
chat:on("fallback", function(e) print("fallback: " .. e.reason) end)
local text, err = chat:send("What is a WebSocket?")
if text then
  print(text)
  print(("(over %s %s)"):format(chat.last_turn.transport, chat.last_turn.model))
else
  print("failed: " .. tostring(err))
  os.exit(1)
end

-- a 1008 (an unknown Live model): the default policy takes the model
-- catalog's newest Live model of its family instead (one line says so);
-- rest_on_weekdays.lua on a weekend reports the 1008 instead
local live_chat = assert(gemini.chat{ live_model = "gemini-2.5-flash-live", quiet = true })
local t2, e2 = live_chat:send("And SSE?")
print(t2 and ("answered over " .. live_chat.last_turn.transport) or ("refused: " .. e2.message))
