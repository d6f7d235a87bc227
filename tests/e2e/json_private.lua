-- glrun does not share the `cjson` module's state with scripts: a script
-- that tunes lua-cjson (depth limits, number precision, sparse arrays,
-- invalid numbers) changes nothing glrun sends or reads. glrun decodes and
-- encodes with its own C code (glrun.json / glrun.jsonc).
local cjson = require "cjson"
local json = require "glrun.json"
local gemini = require "gemini"
local live = require "gemini.live"

-- the script makes lua-cjson as strict as it can
cjson.decode_max_depth(2)
cjson.encode_max_depth(2)
cjson.encode_number_precision(3)
cjson.decode_invalid_numbers(false)
cjson.encode_invalid_numbers(false)
cjson.encode_sparse_array(false, 1, 1)
-- ... and those settings hold for lua-cjson itself
assert(not pcall(cjson.decode, '{"a":{"b":{"c":1}}}'), "cjson: decode_max_depth(2) is in force")
assert(not pcall(cjson.encode, { a = { b = { c = 1 } } }), "cjson: encode_max_depth(2) is in force")
assert(cjson.encode(1 / 3) == "0.333", cjson.encode(1 / 3))

-- glrun.json: deep values, full precision, sparse arrays as before
local deep = json.decode('{"a":{"b":{"c":{"d":[1,[2,[3]]]}}}}')
assert(deep.a.b.c.d[2][2][1] == 3, "glrun.json decodes past cjson's depth")
assert(json.decode(json.encode(1 / 3)) == 1 / 3, "full precision: " .. json.encode(1 / 3))
assert(json.encode{ a = { b = { c = { d = 1 } } } } == '{"a":{"b":{"c":{"d":1}}}}')
assert(json.encode{ [1] = 1, [3] = 3 } == "[1,null,3]", json.encode{ [1] = 1, [3] = 3 })
print("ok - glrun.json ignores the cjson settings")

-- REST: a response nests deeper than 2 (candidates[1].content.parts[1].text)
assert(gemini.ask("hello there") == "echo: hello there", "gemini.ask works under a strict cjson")
local resp = assert(gemini.generate("hello there", { generation = { temperature = 0.123456789 } }))
assert(resp.candidates[1].content.parts[1].text == "echo: hello there")
local pieces = {}
for piece in assert(gemini.stream("one two three")) do pieces[#pieces + 1] = piece end
assert(table.concat(pieces) == "echo: one two three", table.concat(pieces))
print("ok - gemini.ask, generate and stream")

-- a chat over REST and a Live session
local chat = assert(gemini.chat{ quiet = true, transport = "rest", ratelimit = false })
assert(chat:send("a chat turn") == "echo: a chat turn")
local s = assert(live.connect{ model = "gemini-live-text-test" })
assert(s:send_text("over live"))
assert(s:receive_turn(10) == "echo: over live")
s:close()
print("ok - chat and Live")
print("json private ok")
