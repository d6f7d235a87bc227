-- Structured output: gemini.ask{schema = S} sends responseJsonSchema with
-- responseMimeType application/json, returns the decoded value checked
-- against S, asks once more (with what was wrong) when the reply does not
-- fit, then fails with kind "schema" carrying the raw text; and the checks
-- of gemini.schema one by one.
local gemini = require "gemini"
local schema = require "gemini.schema"
local rest = require "gemini.rest"
local json = require "glrun.json"

-- 1. the validator
local S = { type = "object", required = { "name", "tags" }, additionalProperties = false, properties = {
  name = { type = "string", minLength = 2 },
  tags = { type = "array", items = { type = "string", enum = { "a", "b" } }, minItems = 1, maxItems = 3 },
  n = { type = "integer", minimum = 0, maximum = 10 },
  ratio = { type = "number", exclusiveMaximum = 1 },
  kind = { anyOf = { { type = "string" }, { type = "null" } } },
  ref = { ["$ref"] = "#/$defs/point" } },
  ["$defs"] = { point = { type = "object", required = { "x" }, properties = { x = { type = "number" } } } } }
local function problems(v)
  local ok, errs = schema.validate(v, S)
  return ok and "" or table.concat(errs, "; ")
end
assert(problems{ name = "ok", tags = { "a" } } == "")
assert(problems{ name = "ok", tags = { "a", "b" }, n = 3, ratio = 0.5, kind = json.null, ref = { x = 1.5 } } == "")
assert(problems{ tags = { "a" } } == "$.name: required, missing")
assert(problems{ name = 5, tags = { "a" } } == "$.name: an integer (5), expected string", problems{ name = 5, tags = { "a" } })
assert(problems{ name = "x", tags = { "a" } } == "$.name: 1 characters, at least 2 expected")
assert(problems{ name = "ok", tags = { "c" } } == '$.tags[0]: "c" is not one of "a", "b"')
assert(problems{ name = "ok", tags = { "a", "a", "a", "a" } } == "$.tags: 4 items, at most 3 allowed")
assert(problems{ name = "ok", tags = { "a" }, n = 2.5 } == "$.n: a number (2.5), expected integer")
assert(problems{ name = "ok", tags = { "a" }, n = 11 } == "$.n: 11 is above the maximum 10")
assert(problems{ name = "ok", tags = { "a" }, ratio = 1 } == "$.ratio: 1 must be below 1")
assert(problems{ name = "ok", tags = { "a" }, extra = 1 } == "$.extra: not allowed (no such property in the schema)")
assert(problems{ name = "ok", tags = { "a" }, kind = 3 }:find("matches none of the anyOf", 1, true))
assert(problems{ name = "ok", tags = { "a" }, ref = { y = 1 } } == "$.ref.x: required, missing")
assert(problems("text") == '$: a string ("text"), expected object')
-- OpenAPI spellings (responseSchema) and nullable
assert(schema.validate({ a = "x" }, { type = "OBJECT", properties = { a = { type = "STRING" } } }))
assert(schema.validate(json.null, { type = "STRING", nullable = true }))
assert(not schema.validate(json.null, { type = "STRING" }))
-- replies: JSON, fenced JSON, not JSON
assert(schema.decode('{"name": "ok", "tags": ["b"]}', S).tags[1] == "b")
assert(schema.decode('```json\n{"name": "ok", "tags": ["b"]}\n```', S).name == "ok")
local nv, why = schema.decode("Sure! Here it is.", S)
assert(nv == nil and why.kind == "schema" and why.message:find("not JSON", 1, true), tostring(why))
assert(not pcall(schema.validate, {}, "not a table"), "a schema that is not a table is misuse")
print("ok - the validator")

-- 2. ask with a schema: the request carries it, the value comes back decoded
local sent = {}
local orig = rest.generate
rest.generate = function(req, o) sent[#sent + 1] = req; return orig(req, o) end
local R = { type = "object", required = { "colours", "count" }, properties = {
  colours = { type = "array", items = { type = "string", enum = { "red", "green", "blue" } }, minItems = 3 },
  count = { type = "integer", minimum = 3 }, note = { type = "string" } } }
local resp, rerr = gemini.generate("Name three primary colours.", { schema = R, generation = { temperature = 0 } })
assert(resp, tostring(rerr))
local v = resp.parsed -- gemini.generate: the whole response, the decoded value in .parsed
assert(type(v) == "table", tostring(resp.text))
assert(#v.colours == 3 and v.colours[1] == "red" and v.count == 3, json.encode(v))
assert(v.note == "echo: Name three primary colours.", v.note)
assert(resp.candidates[1].finishReason == "STOP")
local gc = sent[1].generationConfig
assert(gc.responseMimeType == "application/json" and gc.responseJsonSchema == R and gc.temperature == 0)
assert(#sent == 1, "a reply that fits is not asked again")
print("ok - ask{schema}: responseJsonSchema sent, the value decoded and checked")

-- 3. a reply that does not fit is asked for once more, saying what was wrong
sent = {}
local v2 = assert(gemini.ask("colours", { schema = R, model = "gemini-2.5-flash-schemaflaky" }))
assert(#sent == 2, #sent .. " requests")
local retry = sent[2].contents
assert(#retry == 3 and retry[2].role == "model" and retry[2].parts[1].text == '{"unexpected": true}')
assert(retry[3].parts[1].text:find("$.colours: required, missing", 1, true), retry[3].parts[1].text)
assert(#v2.colours == 3)
print("ok - one retry with the validation error")

-- 4. still wrong after the retry: kind "schema", the raw text kept
sent = {}
local v3, err = gemini.ask("colours", { schema = R, model = "gemini-2.5-flash-schemabad" })
assert(v3 == nil and err.kind == "schema", tostring(err))
assert(err.raw == '{"unexpected": true}' and err.first == '{"unexpected": true}')
assert(err.message:find("$.colours: required, missing", 1, true), err.message)
assert(#sent == 2, "exactly one retry")
local v4, err4 = gemini.ask("colours", { schema = R, model = "gemini-2.5-flash-schemanotjson" })
assert(v4 == nil and err4.kind == "schema" and err4.message:find("not JSON", 1, true), tostring(err4))
print("ok - kind schema after the retry, with the raw text")

-- 5. misuse raises one clear line
local ok, e = pcall(gemini.ask, "x", { schema = "not a table" })
assert(not ok and tostring(e):find("schema must be a table", 1, true) and not tostring(e):find("\n"), tostring(e))
rest.generate = orig

-- 6. a schema with no object at the top
local arr = assert(gemini.ask("list", { schema = { type = "array", items = { type = "integer" }, minItems = 4 } }))
assert(#arr == 4 and arr[1] == 1)
print("structured output ok")
