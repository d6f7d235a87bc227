-- Integers stay integers wherever glrun decodes JSON (REST bodies, SSE
-- events, Live messages, glrun.json) and encode back unchanged; larger
-- numbers and fractions stay floats; null is cjson.null; the `cjson` module
-- scripts use is lua-cjson, unchanged.
local gemini = require "gemini"
local rest = require "gemini.rest"
local http = require "glrun.http"
local json = require "glrun.json"
local cjson = require "cjson"

local function int(v, what)
  assert(math.type(v) == "integer", ("%s: %s is a %s, not an integer"):format(what, tostring(v), math.type(v) or type(v)))
end

-- REST (generateContent): the body through glrun.json
local resp = assert(gemini.generate("how many tokens"))
int(resp.usageMetadata.totalTokenCount, "REST usageMetadata.totalTokenCount")
int(resp.usageMetadata.promptTokenCount, "REST usageMetadata.promptTokenCount")
int(resp.candidates[1].index, "REST candidates[1].index")
assert(tostring(resp.usageMetadata.totalTokenCount):find("^%d+$"), "prints without .0")
local n = assert(rest.count_tokens(gemini.request("a b c d")))
int(n, "countTokens totalTokens")

-- SSE through gemini.rest.stream: every chunk
local chunks = 0
for chunk in assert(rest.stream(gemini.request("one two three four"))) do
  chunks = chunks + 1
  int(chunk.usageMetadata.totalTokenCount, "stream chunk " .. chunks .. " totalTokenCount")
end
assert(chunks >= 3, chunks)

-- SSE through glrun.http.sse: each ev.json decoded in C
local url = gl.options.mock_url .. "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
local body = json.encode_strict(gemini.request("five six seven"))
local events = 0
for ev in assert(http.sse{ url = url, method = "POST", body = body,
                           headers = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" } }) do
  events = events + 1
  int(ev.json.usageMetadata.totalTokenCount, "http.sse event " .. events .. " totalTokenCount")
  int(ev.json.usageMetadata.promptTokensDetails[1].tokenCount, "http.sse nested tokenCount")
end
assert(events >= 3, events)

-- Live: the server's messages through glrun.json
local ok_ws = pcall(require, "glrun.ws")
if ok_ws then
  local live = require "gemini.live"
  local s = assert(live.connect{ model = "gemini-live-text-test" })
  assert(s:send_text("count these tokens"))
  local text, _, tc = s:receive_turn(10)
  assert(text == "echo: count these tokens", text)
  int(tc.usage.totalTokenCount, "Live usageMetadata.totalTokenCount")
  int(tc.usage.responseTokenCount, "Live usageMetadata.responseTokenCount")
  s:close()
else
  print("json_integers: no glrun.ws in this build; Live part skipped")
end

-- glrun.json: exact round trips
local big = json.decode("12345678901234567")
int(big, "12345678901234567")
assert(big == 12345678901234567)
assert(json.encode(big) == "12345678901234567", json.encode(big))
assert(json.encode(json.decode('{"n":12345678901234567}')) == '{"n":12345678901234567}')
assert(json.encode{ math.maxinteger, math.mininteger } == "[9223372036854775807,-9223372036854775808]")
int(json.decode("-9223372036854775808"), "min integer")
-- larger than 64 bits, fractions and exponents: floats
assert(math.type(json.decode("9223372036854775808")) == "float")
assert(math.type(json.decode("1.5")) == "float" and json.decode("1.5") == 1.5)
assert(math.type(json.decode("3.0")) == "float")
assert(math.type(json.decode("1e2")) == "float" and json.decode("1e2") == 100)
local fl = json.decode("0.30000000000000004")
assert(fl == 0.1 + 0.2 and json.encode(fl) == "0.30000000000000004", json.encode(fl))
assert(json.encode(0.1) == "0.1" and json.encode(2.5) == "2.5")
assert(json.encode(1 / 3) and json.decode(json.encode(1 / 3)) == 1 / 3, "floats round-trip exactly")
-- null, and what encoding keeps from lua-cjson
local v = json.decode('{"a":null,"b":[1,null]}')
assert(v.a == json.null and v.a == cjson.null and v.b[2] == json.null)
assert(json.encode(v.b) == "[1,null]")
assert(json.encode{ p = "a/b" } == '{"p":"a\\/b"}')
-- errors: nil and where
local bad, err = json.decode("[1,")
assert(bad == nil and gl.is_error(err) and err.kind == "json" and err.pos == 4, tostring(err))
assert(err.message:find("^invalid JSON at byte 4: "), err.message)
bad, err = json.decode('{"a":01}')
assert(bad == nil and err.message:find("leading zero", 1, true), tostring(err))
local nope, eerr = json.encode{ f = print }
assert(nope == nil and eerr.kind == "json" and eerr.message:find("cannot encode", 1, true), tostring(eerr))
local sok, serr = pcall(json.decode_strict, "nope")
assert(not sok and gl.is_error(serr) and serr.kind == "json", tostring(serr))
assert(not pcall(json.decode_strict, "nope"))
-- scripts that require "cjson" get lua-cjson as it is (every number a float)
assert(math.type(cjson.decode("3")) == "float")
print("json integers ok")
