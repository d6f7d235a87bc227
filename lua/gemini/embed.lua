-- gemini.embed — embeddings as arrays of numbers.
--
--   local v = assert(gemini.embed("What is SSE?"))                -- {0.0123, -0.045, ...}
--   local vs = assert(gemini.embed({ "a", "b", "c" }, { dimensions = 768,
--                                    task_type = "RETRIEVAL_DOCUMENT" }))  -- {{...}, {...}, {...}}
--
-- One text goes to :embedContent; a list to :batchEmbedContents, as the
-- official SDKs send it (each request {model, content, taskType,
-- outputDimensionality}; docs/protocol.md#other-rest-methods), split into
-- requests of at most M.batch_limit texts that run concurrently, the
-- vectors returned in input order.
local core = require "glrun.core"
local errors = require "gemini.errors"
local R = require "gemini.resource"

local M = {}

M.model = "gemini-embedding-001"
M.batch_limit = 100   -- texts per batchEmbedContents request (the API's limit)
M.concurrency = 4     -- batch requests in flight at once

local function content_of(item, i)
  if type(item) == "string" then return { parts = { { text = item } } } end
  if type(item) == "table" and type(item.parts) == "table" then return item end
  error(("gemini.embed: item %d must be a string or a content {parts = ...}, not %s"):format(i, type(item)), 4)
end

local function one_request(model, content, opts)
  return { model = model, content = content, taskType = opts.task_type, title = opts.title,
           outputDimensionality = opts.dimensions }
end

--- Embed one text (a string or a content) or a list of them. opts: model
--- (gemini-embedding-001), task_type ("RETRIEVAL_QUERY",
--- "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
--- "CLUSTERING", ...), dimensions (outputDimensionality), title,
--- batch_limit, concurrency, client, timeout; batch (true: a list goes
--- through the Batch API, see via_batch). Returns the vector (one input)
--- or the list of vectors (a list), or nil, err.
function M.embed(input, opts)
  opts = opts or {}
  local c, cerr = R.config(opts.client)
  if not c then return nil, cerr end
  local model = opts.model or M.model
  local rest = require "gemini.rest"
  if type(input) == "string" or (type(input) == "table" and input.parts) then
    local body = one_request(nil, content_of(input, 1), opts)
    local resp, err = R.call(c, { url = rest.url(c, model, "embedContent"), method = "POST", body = body,
                                  timeout = opts.timeout })
    if not resp then return nil, err end
    local values = type(resp.embedding) == "table" and resp.embedding.values
    if type(values) ~= "table" then
      return nil, errors.new("protocol", "embedContent: the answer has no embedding.values")
    end
    return values, resp
  end
  if type(input) ~= "table" then
    error("gemini.embed: expects a string or a list of strings, not " .. type(input), 2)
  end
  local n = #input
  if n == 0 then return {} end
  if opts.batch then return M.via_batch(input, model, opts) end
  local mpath = rest.model_path(model)
  local limit = math.max(1, opts.batch_limit or M.batch_limit)
  local batches = {}
  for first = 1, n, limit do
    local reqs = {}
    for i = first, math.min(n, first + limit - 1) do reqs[#reqs + 1] = one_request(mpath, content_of(input[i], i), opts) end
    batches[#batches + 1] = { first = first, requests = reqs }
  end
  local out, failed = {}, nil
  local url = rest.url(c, model, "batchEmbedContents")
  local nexti = 1
  local function worker()
    while not failed and nexti <= #batches do
      local b = batches[nexti]
      nexti = nexti + 1
      local resp, err = R.call(c, { url = url, method = "POST", body = { requests = b.requests }, timeout = opts.timeout })
      if not resp then failed = failed or err; return end
      local embs = resp.embeddings
      if type(embs) ~= "table" or #embs ~= #b.requests then
        failed = failed or errors.new("protocol", ("batchEmbedContents: %d embeddings for %d texts")
          :format(type(embs) == "table" and #embs or 0, #b.requests))
        return
      end
      for k, e in ipairs(embs) do out[b.first + k - 1] = e.values end
    end
  end
  local tasks = {}
  for w = 1, math.min(#batches, math.max(1, opts.concurrency or M.concurrency)) do tasks[w] = core.spawn(worker) end
  for _, t in ipairs(tasks) do
    local ok, e = t:join()
    if ok == nil and e ~= nil then failed = failed or e end
  end
  if failed then return nil, failed end
  return out
end

--- A large list through the Batch API (about half the price, answered
--- within a day): one :asyncBatchEmbedContent job, waited for. opts.batch
--- in embed() comes here; opts.interval (seconds between polls, 30),
--- opts.wait_timeout, opts.display_name. Returns the vectors in input
--- order, or nil, err (err.job: the job, to wait for or fetch later).
function M.via_batch(input, model, opts)
  local batches = require "gemini.batches"
  local reqs = {}
  for i, item in ipairs(input) do
    local r = one_request(nil, content_of(item, i), opts)
    reqs[i] = { key = tostring(i), request = r }
  end
  local job, err = batches.create{ model = model, requests = reqs, embed = true, client = opts.client,
                                   display_name = opts.display_name or "glrun embeddings" }
  if not job then return nil, err end
  job, err = batches.wait(job, { interval = opts.interval, timeout = opts.wait_timeout, client = opts.client })
  if not job then return nil, err end
  if job.state ~= "BATCH_STATE_SUCCEEDED" then
    return nil, errors.new("batch", ("%s ended %s"):format(job.name, tostring(job.state)), { job = job })
  end
  local res, rerr = batches.results(job, { client = opts.client })
  if not res then return nil, rerr end
  local out = {}
  for i, r in ipairs(res) do
    local k = tonumber(r.key) or i
    local values = type(r.response) == "table" and type(r.response.embedding) == "table" and r.response.embedding.values
    if not values then
      return nil, errors.new("batch", ("%s: text %d has no embedding (%s)"):format(job.name, k,
        type(r.error) == "table" and tostring(r.error.message) or "no response"), { job = job })
    end
    out[k] = values
  end
  if #out ~= #input then
    return nil, errors.new("batch", ("%s: %d embeddings for %d texts"):format(job.name, #out, #input), { job = job })
  end
  return out
end

--- Cosine similarity of two vectors (a convenience for search examples).
function M.cosine(a, b)
  local dot, na, nb = 0, 0, 0
  for i = 1, #a do
    dot = dot + a[i] * (b[i] or 0)
    na = na + a[i] * a[i]
    nb = nb + (b[i] or 0) * (b[i] or 0)
  end
  if na == 0 or nb == 0 then return 0 end
  return dot / math.sqrt(na * nb)
end

return M
