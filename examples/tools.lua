-- tools.lua — function calling with functions written in Lua, over REST
-- and over Live, through the same chat API. When the model asks for
-- several functions at once they run concurrently, each in its own task.
--
--   glrun --mock examples/tools.lua
local gemini = require "gemini"

local tools = {
  get_weather = {
    description = "Get the current weather in a given location",
    parameters = { type = "OBJECT", required = { "location" },
                   properties = { location = { type = "STRING", description = "The city" } } },
    fn = function(args)
      gl.sleep(0.01) -- a tool may wait for the network: it runs in its own task
      return { location = args.location, forecast = "sunny", celsius = 21 }
    end,
  },
  local_time = {
    description = "The local time in a city",
    parameters = { type = "OBJECT", properties = { city = { type = "STRING" } } },
    fn = function(args) return { city = args.city, time = "12:00" } end,
  },
}

for _, transport in ipairs{ "rest", "live" } do
  local chat = assert(gemini.chat{ transport = transport, tools = tools,
                                   live_model = "gemini-live-text-test" }) -- a Live model that answers in TEXT
  chat:on("tool", function(e) print(("  [%s called %s]"):format(transport, e.name)) end)
  for piece in assert(chat:stream("What is the weather in Paris?")) do io.write(piece) end
  print()
end
