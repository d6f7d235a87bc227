-- bench/json_decode.lua — decoding alone, no network: one streamed event's
-- JSON (the shape bench/sse100k.sh replays) decoded N times by lua-cjson
-- (the `cjson` module) and by glrun.json (runtime/jsondec.c, what http.sse,
-- gemini.rest and gemini.live use), and the same table built by hand in Lua
-- (a floor: the tables and strings every decoder must create).
--   glrun bench/json_decode.lua [N]        (default 100000)
-- Prints one line per decoder: microseconds per event, median of 5 rounds.
-- GLRUN_MALLOC=system runs it on malloc instead of glrun's allocator.
local cjson = require "cjson"
local json = require "glrun.json"

local N = tonumber(arg and arg[1]) or 100000
local ev = '{"candidates": [{"content": {"parts": [{"text": "the of and a to in "}],"role": "model"},"index": 0}],'
  .. '"usageMetadata": {"promptTokenCount": 9,"candidatesTokenCount": 120,"totalTokenCount": 129},'
  .. '"modelVersion": "gemini-2.5-flash","responseId": "Xk9lZcWmNqbD7M8Psw"}'

local texts = {}
for i = 1, 64 do texts[i] = "the of and a to in " .. i end -- a new string per event, as decoding makes

local function by_hand(i)
  return { candidates = { { content = { parts = { { text = texts[i % 64 + 1] .. "" } }, role = "model" }, index = 0 } },
           usageMetadata = { promptTokenCount = 9, candidatesTokenCount = 120, totalTokenCount = 129 },
           modelVersion = "gemini-2.5-flash", responseId = "Xk9lZcWmNqbD7M8Psw" }
end

local function round(f)
  collectgarbage()
  local t0 = os.clock()
  for i = 1, N do
    local v = f(i)
    if v.candidates[1].content.parts[1].text == nil then error("no text") end
  end
  return (os.clock() - t0) / N * 1e6
end

local function median(f)
  local r = {}
  for k = 1, 5 do
    r[k] = round(f)
    gl.sleep(0) -- let the scheduler see a yield (no "ran without yielding" warning)
  end
  table.sort(r)
  return r[3]
end

assert(math.type(json.decode(ev).usageMetadata.totalTokenCount) == "integer")
local rows = {
  { "lua-cjson 2.1.0 (cjson.decode)", function() return cjson.decode(ev) end },
  { "glrun.json.decode (jsondec)", function() return json.decode(ev) end },
  { "the same tables built in Lua", by_hand },
}
print(("event: %d bytes, %d decodes per round, CPU time (os.clock), median of 5"):format(#ev, N))
for _, r in ipairs(rows) do print(("%-34s %6.2f us/event"):format(r[1], median(r[2]))) end
