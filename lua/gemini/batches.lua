-- gemini.batches — the Batch API (Gemini API only): many requests in one
-- job, answered within a day at about half the price.
--
--   local job = assert(gemini.batches.create{ model = "gemini-2.5-flash", requests = {
--     { key = "q1", request = gemini.request("Why is the sky blue?") },
--     { key = "q2", request = gemini.request("What is SSE?") } } })
--   job = assert(gemini.batches.wait(job, { interval = 60 }))
--   for _, r in ipairs(assert(gemini.batches.results(job))) do print(r.key, r.text or r.error.message) end
--
-- Wire shapes as python-genai's batches.py sends and reads them
-- (docs/protocol.md#batch-api): POST models/{m}:batchGenerateContent with
-- {"batch": {"displayName", "inputConfig": {"requests": {"requests": [{"request",
-- "metadata": {"key"}}]}}}}, or "inputConfig": {"fileName": "files/..."} for a
-- JSONL file of {"key", "request"} lines (used by itself above the inline
-- limit); a job is an operation whose metadata holds state, batchStats and
-- output (inlinedResponses.inlinedResponses, or responsesFile).
local json = require "glrun.json"
local core = require "glrun.core"
local errors = require "gemini.errors"
local R = require "gemini.resource"

local M = {}

M.inline_max = 19 * 1024 * 1024  -- request bytes sent inline; above: a JSONL file (the API allows 20 MB inline)
M.interval = 30                  -- seconds between polls in wait

local TERMINAL = { BATCH_STATE_SUCCEEDED = true, BATCH_STATE_FAILED = true, BATCH_STATE_CANCELLED = true,
                   BATCH_STATE_EXPIRED = true }

local function setup(opts, what)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, what .. " (the Batch API)")
  if not c then return nil, cerr end
  return c, opts
end

-- the job with convenience fields: state, stats (batchStats, numbers), display_name, model
local function decorate(job)
  if type(job) ~= "table" then return job end
  local md = type(job.metadata) == "table" and job.metadata or {}
  job.state = md.state
  job.display_name = md.displayName
  job.model = md.model
  local st = type(md.batchStats) == "table" and md.batchStats or {}
  job.stats = { requests = tonumber(st.requestCount) or 0, pending = tonumber(st.pendingRequestCount) or 0,
                succeeded = tonumber(st.successfulRequestCount) or 0, failed = tonumber(st.failedRequestCount) or 0 }
  return job
end

--- True when a job (or a state string) is finished: SUCCEEDED, FAILED,
--- CANCELLED or EXPIRED.
function M.done(job)
  local s = type(job) == "table" and (job.state or (job.metadata or {}).state) or job
  return TERMINAL[s] == true
end

--- Create a job. opts: model, requests (a list of {key =, request = a
--- GenerateContentRequest}; keys name the answers), or file (a File or
--- "files/..." holding JSONL lines {"key", "request"}), display_name,
--- embed (true: an embedding job, :asyncBatchEmbedContent, each request
--- {content, taskType, outputDimensionality}), client. Inline requests
--- above M.inline_max bytes go up as a JSONL file first. Returns the job
--- (the operation, plus state, stats), or nil, err.
function M.create(opts)
  local c, o = setup(opts, "batches.create")
  if not c then return nil, o end
  opts = o
  local rest = require "gemini.rest"
  local model = opts.model or c.model
  local input
  if opts.file then
    input = { fileName = R.name("files", opts.file) }
  elseif type(opts.requests) == "table" and #opts.requests > 0 then
    local list, size = {}, 0
    for i, r in ipairs(opts.requests) do
      if type(r) ~= "table" or type(r.request) ~= "table" then
        error(("batches.create: requests[%d] must be {key = ..., request = {...}}"):format(i), 2)
      end
      local entry = { request = r.request }
      if r.key ~= nil then entry.metadata = { key = tostring(r.key) } end
      list[i] = entry
      size = size + #assert(json.encode(entry)) + 1
    end
    if size <= M.inline_max then
      input = { requests = { requests = list } }
    else -- too big to send inline: a JSONL file through the Files API
      local path = os.tmpname()
      local f = assert(io.open(path, "wb"))
      for i, r in ipairs(opts.requests) do
        f:write(assert(json.encode{ key = r.key ~= nil and tostring(r.key) or tostring(i), request = r.request }), "\n")
      end
      f:close()
      local file, ferr = require("gemini.files").upload(path, { mime_type = "application/jsonl", client = opts.client,
        display_name = (opts.display_name or "glrun batch") .. " input", progress = opts.progress })
      os.remove(path)
      if not file then return nil, ferr end
      input = { fileName = file.name }
    end
  else
    error("batches.create: give requests (a non-empty list) or file", 2)
  end
  local body = { batch = { displayName = opts.display_name, inputConfig = input } }
  local method = opts.embed and "asyncBatchEmbedContent" or "batchGenerateContent"
  local job, err = R.call(c, { url = rest.url(c, model, method), method = "POST", body = body,
                               timeout = opts.timeout })
  if not job then return nil, err end
  return decorate(job)
end

--- A job by name ("batches/ID", "ID" or the job), or nil, err.
function M.get(name, opts)
  local c, o = setup(opts, "batches.get")
  if not c then return nil, o end
  local job, err = R.call(c, { url = R.url(c, R.name("batches", name)), timeout = o.timeout })
  if not job then return nil, err end
  return decorate(job)
end

--- Every job (all pages), newest first, or nil, err.
function M.list(opts)
  local c, o = setup(opts, "batches.list")
  if not c then return nil, o end
  local jobs, err = R.pages(c, "batches", "operations", { page_size = o.page_size or 50, timeout = o.timeout,
                                                           max_items = o.max })
  if not jobs then return nil, err end
  for _, j in ipairs(jobs) do decorate(j) end
  return jobs
end

--- Cancel a job: true, or nil, err.
function M.cancel(name, opts)
  local c, o = setup(opts, "batches.cancel")
  if not c then return nil, o end
  local ok, err = R.call(c, { url = R.url(c, R.name("batches", name) .. ":cancel"), method = "POST", body = "",
                              timeout = o.timeout })
  if not ok then return nil, err end
  return true
end

--- Delete a job: true, or nil, err.
function M.delete(name, opts)
  local c, o = setup(opts, "batches.delete")
  if not c then return nil, o end
  local ok, err = R.call(c, { url = R.url(c, R.name("batches", name)), method = "DELETE", timeout = o.timeout })
  if not ok then return nil, err end
  return true
end

--- Poll until the job is finished. opts: interval (seconds, M.interval),
--- timeout (seconds; then nil, err of kind "timeout" with err.job the last
--- state), on_poll (function(job), after every poll). Returns the finished
--- job (whatever its state), or nil, err.
function M.wait(name, opts)
  opts = opts or {}
  local deadline = opts.timeout and core.now() + opts.timeout
  local interval = opts.interval or M.interval
  while true do
    local job, err = M.get(name, opts)
    if not job then return nil, err end
    if opts.on_poll then opts.on_poll(job) end
    if M.done(job) then return job end
    if deadline and core.now() + interval > deadline then
      return nil, errors.new("timeout", ("%s is still %s after %g s"):format(job.name, tostring(job.state), opts.timeout),
        { job = job })
    end
    core.sleep(interval)
  end
end

local function entry(e)
  local md = type(e.metadata) == "table" and e.metadata or {}
  local out = { key = e.key or md.key, response = e.response, error = e.error }
  if type(out.response) == "table" then out.text = require("gemini.rest").text_of(out.response) end
  return out
end

--- The answers of a job, in the order the job gives them: a list of {key,
--- response, text} or {key, error} (an error is kept on its own entry).
--- Reads metadata.output: the inline answers, or the responses file
--- (downloaded and read line by line; a line that is not JSON becomes an
--- entry with error.message saying so). A job without output gives {}.
function M.results(job, opts)
  opts = opts or {}
  if type(job) ~= "table" or not job.metadata then
    local err
    job, err = M.get(job, opts)
    if not job then return nil, err end
  end
  local out = type(job.metadata.output) == "table" and job.metadata.output
    or type(job.response) == "table" and job.response or {}
  local list = {}
  local inl = out.inlinedResponses or out.inlinedEmbedContentResponses
  if type(inl) == "table" then
    for _, e in ipairs(inl.inlinedResponses or {}) do list[#list + 1] = entry(e) end
    return list
  end
  if type(out.responsesFile) == "string" then
    local data, err = require("gemini.files").download(out.responsesFile, opts)
    if not data then return nil, err end
    local n = 0
    for line in data:gmatch("[^\n]+") do
      n = n + 1
      if line:find("%S") then
        local v = json.decode(line)
        if type(v) == "table" then
          list[#list + 1] = entry(v)
        else
          list[#list + 1] = { error = { message = ("line %d of %s is not JSON"):format(n, out.responsesFile) } }
        end
      end
    end
  end
  return list
end

return M
