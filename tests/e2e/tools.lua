-- Function calling through the chat API with Lua functions, over REST and
-- Live: the call runs, its answer goes back, the final answer comes, the
-- history keeps the exchange; several calls run concurrently.
local gemini = require "gemini"
local json = require "glrun.json"

local calls = {}
local tools = {
  get_weather = {
    description = "Get the weather",
    parameters = { type = "OBJECT", properties = { location = { type = "STRING" } } },
    fn = function(args)
      calls[#calls + 1] = args.location
      return { location = args.location, forecast = "sunny" }
    end,
  },
}
local broken = { description = "always fails", fn = function() error("tool exploded") end }

for _, transport in ipairs{ "rest", "live" } do
  calls = {}
  local chat = gemini.chat{ quiet = true, transport = transport, tools = tools, live_model = "gemini-live-text-test" }
  local out = {}
  for piece in assert(chat:stream("What is the weather in Paris?")) do out[#out + 1] = piece end
  local text = table.concat(out)
  assert(#calls == 1 and calls[1] == "Paris", transport .. ": the Lua function ran once with the model's args")
  local payload = text:match("({.*})$")
  local obj = assert(json.decode(payload or ""), transport .. ": the answer carries the function's result: " .. text)
  assert(obj.forecast == "sunny" and obj.location == "Paris", transport .. ": " .. text)
  -- history: user, model(functionCall), user(functionResponse), model(text)
  assert(#chat.history == 4, transport .. ": history has " .. #chat.history .. " entries")
  assert(chat.history[2].parts[1].functionCall.name == "get_weather")
  assert(chat.history[3].parts[1].functionResponse.response.forecast == "sunny")
  assert(chat.history[4].role == "model")
  if transport == "live" then
    assert(chat.history[2].parts[1].functionCall.id, "Live calls carry ids")
    assert(chat.history[3].parts[1].functionResponse.id == chat.history[2].parts[1].functionCall.id)
  end
  chat:close()
end

-- several calls run concurrently: each waits (bounded) for the other to start
local chat = gemini.chat{ quiet = true, transport = "rest" }
local started = {}
chat.tool_fns.a = function()
  started.a = true
  for _ = 1, 200 do if started.b then return { saw = "b" } end gl.sleep(0.005) end
  return { saw = "nothing" }
end
chat.tool_fns.b = function()
  started.b = true
  for _ = 1, 200 do if started.a then return { saw = "a" } end gl.sleep(0.005) end
  return { saw = "nothing" }
end
local parts = chat:_run_tools{ { name = "a", args = {} }, { name = "b", args = {} }, { name = "nope", args = {} } }
assert(parts[1].functionResponse.response.saw == "b" and parts[2].functionResponse.response.saw == "a",
       "both functions were running at the same time")
assert(parts[3].functionResponse.response.error:find("unknown function"), "an unknown function answers an error")
local bp = chat:_run_tools{ { name = "broken", args = {} } }
assert(bp[1].functionResponse.response.error, "a failing function answers an error")
chat.tool_fns.broken = broken.fn
bp = chat:_run_tools{ { name = "broken", args = {} } }
assert(bp[1].functionResponse.response.error:find("tool exploded"), "with its message")

-- a tool without fn is misuse
assert(not pcall(gemini.chat, { tools = { x = { description = "no fn" } } }))
print("tools ok")
