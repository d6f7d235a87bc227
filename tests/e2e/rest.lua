-- The REST client against glmock: generate, stream, countTokens,
-- models.list with pagination, convenience ask/stream, history.
local gemini = require "gemini"
local rest = require "gemini.rest"

-- ask: the deterministic echo of glmock
local text, extra = gemini.ask("hello there my friend")
assert(text == "echo: hello there my friend", text)
assert(extra == nil, "gemini.ask returns the text only")
-- generate: the whole response
local resp = assert(gemini.generate("hello there my friend"))
assert(resp.text == text and resp.candidates[1].finishReason == "STOP")
assert(resp.usageMetadata and resp.usageMetadata.totalTokenCount > 0)
-- (no model named: the catalog's newest flash model)
assert(resp.modelVersion == "gemini-3.8-flash", tostring(resp.modelVersion))

-- stream: several chunks that add up to the same text
local chunks, pieces = 0, {}
local it = assert(rest.stream(gemini.request("one two three four five six")))
for chunk in it do
  chunks = chunks + 1
  pieces[#pieces + 1] = chunk.text
  assert(chunk.usageMetadata, "every chunk carries usageMetadata")
end
assert(chunks >= 3, "streamed in " .. chunks .. " chunks")
assert(table.concat(pieces) == "echo: one two three four five six", table.concat(pieces))

-- gemini.stream yields only text pieces
local all = {}
for piece in assert(gemini.stream("alpha beta gamma")) do all[#all + 1] = piece end
assert(table.concat(all) == "echo: alpha beta gamma")

-- the reply echoes the LAST user turn; history and system are sent
local t2 = gemini.ask("second", { system = "Be brief.",
  history = { { role = "user", parts = { { text = "first" } } },
              { role = "model", parts = { { text = "echo: first" } } } } })
assert(t2 == "echo: second", t2)

-- model choice goes into the URL
local r3 = assert(gemini.generate("x", { model = "gemini-2.5-flash-lite" }))
assert(r3.modelVersion == "gemini-2.5-flash-lite", r3.modelVersion)

-- countTokens
local n, ct = rest.count_tokens(gemini.request("a b c d"))
assert(n == 4, "countTokens = " .. tostring(n))
assert(ct.totalTokens == 4)

-- models.list walks every page
local all_models = assert(rest.list_models())
local paged = assert(rest.list_models{ page_size = 2 })
assert(#all_models >= 5, "catalog has " .. #all_models .. " models")
assert(#paged == #all_models, ("page_size=2 gives %d models, default %d"):format(#paged, #all_models))
local seen = {}
for _, m in ipairs(paged) do
  assert(not seen[m.name], "model listed twice: " .. m.name)
  seen[m.name] = true
end
assert(seen["models/gemini-2.5-flash"])

-- concurrency: 50 asks at once
local tasks = {}
for i = 1, 50 do tasks[i] = gl.spawn(gemini.ask, "question " .. i) end
for i = 1, 50 do assert(tasks[i]:join() == "echo: question " .. i) end
print("rest ok")
