-- batch_job.lua — the Batch API from a script: many requests as one job at
-- about half the price, answers by key. (`glrun batch` does the same for a
-- file of prompts, with a journal and a deadline.)
--
--   glrun --mock examples/batch_job.lua
local batches = require "gemini.batches"

local questions = { "Why is the sky blue?", "What is SSE?", "Name a prime number." }
local requests = {}
for i, q in ipairs(questions) do requests[i] = { key = "q" .. i, request = gemini.request(q) } end

local job = assert(batches.create{ model = "gemini-2.5-flash", requests = requests, display_name = "example" })
print(job.name .. " " .. job.state)

-- real jobs take minutes to hours: poll every minute (glmock needs only two polls)
job = assert(batches.wait(job, { interval = gl.options.mock and 0.05 or 60,
  on_poll = function(j) io.stderr:write(("%s: %d/%d done\n"):format(j.state, j.stats.succeeded + j.stats.failed, j.stats.requests)) end }))
print(job.name .. " " .. job.state)

for _, r in ipairs(assert(batches.results(job))) do
  print(r.key, r.text or ("error: " .. tostring(r.error and r.error.message)))
end
