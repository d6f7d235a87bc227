-- gemini.batches against glmock: inline jobs and JSONL-file jobs (chosen by
-- size), states through wait, results in order with per-request errors kept,
-- get / list / cancel / delete, a job stuck in PENDING, Vertex refused.
local gemini = require "gemini"
local batches = require "gemini.batches"
local R = require "gemini.resource"

local sent = {}
local call = R.call
R.call = function(c, spec) sent[#sent + 1] = spec; return call(c, spec) end

local function reqs(words)
  local out = {}
  for i, w in ipairs(words) do out[i] = { key = "k" .. i, request = gemini.request(w) } end
  return out
end

-- 1. inline: the SDKs' body, a PENDING job
local job = assert(batches.create{ model = "gemini-2.5-flash", display_name = "three",
  requests = reqs{ "alpha", "beta batch-error", "gamma" } })
local body = sent[#sent].body
assert(sent[#sent].url:find("/v1beta/models/gemini%-2%.5%-flash:batchGenerateContent$"), sent[#sent].url)
assert(body.batch.displayName == "three")
local rr = body.batch.inputConfig.requests.requests
assert(#rr == 3 and rr[1].metadata.key == "k1" and rr[1].request.contents[1].parts[1].text == "alpha")
assert(job.name:match("^batches/[a-z0-9]+$"), job.name)
assert(job.state == "BATCH_STATE_PENDING" and job.stats.requests == 3 and job.stats.pending == 3)
assert(job.display_name == "three" and job.model == "models/gemini-2.5-flash")
assert(not batches.done(job))
print("ok - create inline")

-- 2. wait: every state seen, then the results in order, the error kept on its entry
local states = {}
local done = assert(batches.wait(job, { interval = 0.01, timeout = 30,
  on_poll = function(j) states[#states + 1] = j.state end }))
assert(done.state == "BATCH_STATE_SUCCEEDED" and batches.done(done))
assert(table.concat(states, " ") == "BATCH_STATE_RUNNING BATCH_STATE_SUCCEEDED", table.concat(states, " "))
assert(done.stats.succeeded == 2 and done.stats.failed == 1)
local res = assert(batches.results(done))
assert(#res == 3)
assert(res[1].key == "k1" and res[1].text == "echo: alpha" and res[1].response.candidates[1].finishReason == "STOP")
assert(res[2].key == "k2" and res[2].error and res[2].error.code == 400 and res[2].text == nil)
assert(res[3].key == "k3" and res[3].text == "echo: gamma")
assert(#assert(batches.results(done.name)) == 3, "results by name")
print("ok - wait, results in order, a per-request error kept")

-- 3. above the inline limit: a JSONL file through the Files API
batches.inline_max = 200
sent = {}
local fjob = assert(batches.create{ model = "gemini-2.5-flash", requests = reqs{ "one", "two", "three", "four" } })
batches.inline_max = 19 * 1024 * 1024
local fname = sent[#sent].body.batch.inputConfig.fileName
assert(fname and fname:match("^files/"), "inputConfig.fileName")
assert(sent[#sent].body.batch.inputConfig.requests == nil)
fjob = assert(batches.wait(fjob, { interval = 0.01, timeout = 30 }))
assert(fjob.metadata.output.responsesFile:match("^files/"), "results in a file")
local fres = assert(batches.results(fjob))
assert(#fres == 4 and fres[4].key == "k4" and fres[4].text == "echo: four", fres[4].text)
local uploaded = assert(gemini.files.get(fname))
assert(uploaded.mimeType == "application/jsonl")
print("ok - a large job goes up as a JSONL file; results downloaded")

-- 4. get, list, cancel, delete; a job stuck in PENDING
local stuck = assert(batches.create{ model = "gemini-2.5-flash", display_name = "stuck pending", requests = reqs{ "x" } })
local w, werr = batches.wait(stuck, { interval = 0.01, timeout = 0.2 })
assert(w == nil and werr.kind == "timeout" and werr.job.state == "BATCH_STATE_PENDING", tostring(werr))
assert(batches.cancel(stuck) == true)
local cj = assert(batches.get(stuck))
assert(cj.state == "BATCH_STATE_CANCELLED" and batches.done(cj))
local all = assert(batches.list())
local names = {}
for _, j in ipairs(all) do names[j.name] = j.state end
assert(names[job.name] == "BATCH_STATE_SUCCEEDED" and names[stuck.name] == "BATCH_STATE_CANCELLED")
assert(batches.delete(stuck) == true)
local gone, gerr = batches.get(stuck)
assert(gone == nil and gerr.status == 404, tostring(gerr))
assert(#assert(batches.results(cj)) == 0, "a cancelled job without output has no results")
print("ok - get, list, cancel, delete, stuck in PENDING")

-- 5. a job that stops half way: cancelling keeps the half it answered
local half = assert(batches.create{ model = "gemini-2.5-flash", display_name = "half", requests = reqs{ "a", "b", "c", "d" } })
local _, herr = batches.wait(half, { interval = 0.01, timeout = 0.2 })
assert(herr and herr.job.stats.succeeded == 2 and herr.job.stats.pending == 2, tostring(herr))
assert(batches.cancel(half))
local hres = assert(batches.results(assert(batches.get(half))))
assert(#hres == 2 and hres[1].key == "k1" and hres[2].key == "k2")
print("ok - a cancelled job keeps what it answered")

-- 6. misuse raises; Vertex AI is refused in one line
assert(not pcall(batches.create, { model = "m" }), "no requests is misuse")
assert(not pcall(batches.create, { model = "m", requests = { "not a table" } }))
local nv, verr = batches.create{ client = { vertexai = true, api_key = "vertex-express-key" }, requests = reqs{ "x" } }
assert(nv == nil and verr.kind == "unsupported" and not tostring(verr):find("\n"), tostring(verr))
local nm, merr = batches.create{ model = "gemini-nonexistent", requests = reqs{ "x" } }
assert(nm == nil and merr.status == 404, tostring(merr))
R.call = call
print("batches ok")
