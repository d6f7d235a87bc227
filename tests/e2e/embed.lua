-- gemini.embed against glmock: one text over :embedContent, a list over
-- :batchEmbedContents split at the API's limit and run concurrently, the
-- vectors in input order, the request fields the SDKs send, errors as values.
local gemini = require "gemini"
local embed = require "gemini.embed"
local R = require "gemini.resource"

local sent = {}
local call = R.call
R.call = function(c, spec)
  sent[#sent + 1] = spec
  return call(c, spec)
end

-- 1. one text
local v, resp = assert(gemini.embed("What is SSE?", { dimensions = 8, task_type = "RETRIEVAL_QUERY" }))
assert(#v == 8 and math.type(v[1]) == "float", #v)
assert(resp.embedding.values == v)
assert(sent[1].url:find("/v1beta/models/gemini%-embedding%-001:embedContent$"), sent[1].url)
assert(sent[1].body.content.parts[1].text == "What is SSE?")
assert(sent[1].body.taskType == "RETRIEVAL_QUERY" and sent[1].body.outputDimensionality == 8)
-- the same text, the same vector (glmock is deterministic); another text, another one
local again = assert(gemini.embed("What is SSE?", { dimensions = 8 }))
local other = assert(gemini.embed("Something else", { dimensions = 8 }))
assert(embed.cosine(v, again) > 0.9999 and embed.cosine(v, other) < 0.9999)
print("ok - one text over embedContent")

-- 2. a list of 250: three requests of at most 100, in order
sent = {}
local texts = {}
for i = 1, 250 do texts[i] = "text number " .. i end
local vs = assert(gemini.embed(texts, { dimensions = 4, concurrency = 3 }))
assert(#vs == 250, #vs)
assert(#sent == 3, #sent .. " requests")
local sizes = {}
for i, s in ipairs(sent) do
  assert(s.url:find(":batchEmbedContents$"), s.url)
  sizes[i] = #s.body.requests
  assert(s.body.requests[1].model == "models/gemini-embedding-001", "each request names the model")
end
table.sort(sizes)
assert(table.concat(sizes, ",") == "50,100,100", table.concat(sizes, ","))
for _, i in ipairs{ 1, 100, 101, 250 } do
  local single = assert(gemini.embed(texts[i], { dimensions = 4 }))
  assert(embed.cosine(single, vs[i]) > 0.9999, "vector " .. i .. " is out of order")
end
print("ok - 250 texts in 3 concurrent batchEmbedContents, in input order")

-- the service's limit is enforced by glmock: a client that did not split would fail
local over = {}
for i = 1, 101 do over[i] = { model = "models/gemini-embedding-001", content = { parts = { { text = "t" .. i } } } } end
local c = assert(R.config())
local nr, lerr = call(c, { url = require("gemini.rest").url(c, "gemini-embedding-001", "batchEmbedContents"),
  method = "POST", body = { requests = over } })
assert(nr == nil and lerr.status == 400 and lerr.message:find("at most 100 requests", 1, true), tostring(lerr))
assert(#assert(gemini.embed((function() local t = {} for i = 1, 101 do t[i] = "t" .. i end return t end)(),
  { dimensions = 2 })) == 101, "101 texts split in two requests")

-- the Batch API for a large list: one asyncBatchEmbedContent job, vectors in order
sent = {}
local bv = assert(gemini.embed({ "b1", "b2", "b3" }, { batch = true, interval = 0.01, dimensions = 5 }))
assert(#bv == 3 and #bv[1] == 5, #bv)
assert(sent[1].url:find(":asyncBatchEmbedContent$"), sent[1].url)
local er = sent[1].body.batch.inputConfig.requests.requests
assert(#er == 3 and er[2].request.content.parts[1].text == "b2" and er[2].request.outputDimensionality == 5)
print("ok - a list through the Batch API")

-- 3. an empty list, contents, errors as values, misuse raises
assert(#assert(gemini.embed({})) == 0)
assert(#assert(gemini.embed({ { parts = { { text = "a content" } } } }, { dimensions = 3 }))[1] == 3)
local no, err = gemini.embed({ "x", "y" }, { model = "gemini-nonexistent-embed" })
assert(no == nil and err.kind == "http" and err.status == 404, tostring(err))
assert(not pcall(gemini.embed, 42), "a number is misuse")
assert(not pcall(gemini.embed, { "ok", 42 }), "a list with a number is misuse")
R.call = call
print("embed ok")
