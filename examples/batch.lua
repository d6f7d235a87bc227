-- batch.lua — answer a file of prompts concurrently, under the rate limits,
-- and write the results as JSON lines in input order.
--
--   glrun --mock examples/batch.lua prompts.txt               # results on stdout
--   glrun examples/batch.lua prompts.txt -o answers.jsonl --workers 4 --model gemini-2.5-flash-lite
--
-- prompts.txt: one prompt per line (blank lines are skipped). A line that is
-- a JSON object gives its own fields: {"prompt": "...", "model": "...",
-- "system": "..."}.
--
-- Each output line is {"index": i, "line": n, "prompt": ..., "model": ...,
-- "text": ...} or, for a prompt that got no answer, {..., "error": "...",
-- "kind": ...}: a failure is recorded on its line, never lost. Lines are
-- written as soon as every earlier line is done. A progress line
-- (done/total, rate, ETA) goes to stderr: redrawn in place on a terminal,
-- plain lines otherwise. Exit status 1 when any prompt failed; Ctrl-C stops
-- the batch (status 130) after writing a line for every prompt, answered or not.
--
-- Every request goes through gemini.chat (so the policy's retries apply,
-- e.g. a 429 waits for the server's retryDelay) and the process-wide rate
-- limiter, gemini.ratelimit.shared(): eight workers never exceed the
-- model's requests/tokens per minute, they wait instead. Each prompt is
-- answered by one model (no fallback to another model: the answers of a
-- batch should come from the model it names).
local gemini = require "gemini"
local json = require "glrun.json"
local core = require "glrun.core"
local ratelimit = require "gemini.ratelimit"

local function usage(msg)
  io.stderr:write("batch.lua: ", msg, "\n",
    "usage: glrun examples/batch.lua PROMPTS_FILE [-o OUT.jsonl] [--workers N] [--model NAME] [--system TEXT]\n")
  os.exit(2)
end

-- options -------------------------------------------------------------------
local args = { ... }
local input, out_path, workers, model, system
local i = 1
while i <= #args do
  local a = args[i]
  if a == "-o" or a == "--workers" or a == "--model" or a == "--system" then
    local v = args[i + 1] or usage(a .. " needs a value")
    if a == "-o" then out_path = v
    elseif a == "--workers" then workers = tonumber(v) or usage("--workers takes a number")
    elseif a == "--model" then model = v
    else system = v end
    i = i + 2
  elseif a:sub(1, 1) == "-" and a ~= "-" then
    usage("unknown option " .. a)
  else
    if input then usage("one prompts file only") end
    input = a
    i = i + 1
  end
end
if not input then usage("no prompts file") end
workers = math.max(1, math.floor(workers or 8))
if not model then -- the configured default (GLRUN_MODEL, else gemini-2.5-flash)
  local ok, c = pcall(require("gemini.config").get)
  model = ok and c.model or "gemini-2.5-flash"
end

-- the prompts -----------------------------------------------------------------
local jobs = {}
do
  local f = input == "-" and io.stdin or io.open(input, "r") or usage("cannot read " .. input)
  local n = 0
  for line in f:lines() do
    n = n + 1
    if line:match("%S") then
      local job = { line = n, prompt = line }
      if line:match("^%s*{") then -- a JSON object with its own fields
        local t = json.decode(line)
        if type(t) == "table" and type(t.prompt) == "string" then
          job.prompt, job.model, job.system = t.prompt, t.model, t.system
        end
      end
      jobs[#jobs + 1] = job
    end
  end
  if f ~= io.stdin then f:close() end
end
local total = #jobs

local out = out_path and assert(io.open(out_path, "w")) or io.stdout

-- progress on stderr -------------------------------------------------------------
local tty = core.isatty(2)
local t0 = gl.now()
local done, failed, last_draw, last_step = 0, 0, 0, -1

local function progress(final)
  local now = gl.now()
  local elapsed = math.max(now - t0, 1e-6)
  local rate = done / elapsed
  local eta = rate > 0 and (total - done) / rate or 0
  local line = ("batch: %d/%d done, %d failed, %.1f/s, ETA %s"):format(done, total, failed, rate,
    done == total and "0 s" or (rate > 0 and ("%.0f s"):format(eta) or "?"))
  if tty then
    if final or now - last_draw >= 0.1 then
      io.stderr:write("\r", line, "\27[K", final and "\n" or "")
      last_draw = now
    end
  else
    -- plain lines: one per 10 % (and the last one)
    local step = total > 0 and math.floor(done * 10 / total) or 10
    if step > last_step or (final and last_step < 0) then
      io.stderr:write(line, "\n")
      last_step = step
    end
  end
end

-- results, written in input order as soon as possible -------------------------
local results, next_out = {}, 1

local function emit(idx, rec)
  results[idx] = rec
  while results[next_out] do
    out:write(assert(json.encode(results[next_out])), "\n")
    results[next_out] = nil
    next_out = next_out + 1
  end
  out:flush()
end

local function reason(err)
  if type(err) == "table" and type(err.attempts) == "table" and #err.attempts > 0 then
    return err.attempts[#err.attempts].reason
  end
  return (tostring(type(err) == "table" and err.message or err):match("^[^\n]*"))
end

local stopped = false -- Ctrl-C: no new prompts; every line is still written

local function record(idx, rec)
  if rec.error then failed = failed + 1 end
  done = done + 1
  emit(idx, rec)
  progress(false)
end

local function answer(idx)
  local job = jobs[idx]
  local m = job.model or model
  local rec = { index = idx, line = job.line, prompt = job.prompt, model = m }
  -- a chat per prompt: no shared history; a failure of any kind (even a
  -- bug) becomes this line's error instead of ending the batch
  local ok, text, err = pcall(function()
    local chat, cerr = gemini.chat{ transport = "rest", chain = { live = {}, rest = { m } },
                                    system = job.system or system, quiet = true,
                                    ratelimit = ratelimit.shared() }
    if not chat then return nil, cerr end
    return chat:send(job.prompt)
  end)
  if not ok then text, err = nil, text end
  if text then
    rec.text = text
  else
    rec.error = reason(err)
    rec.kind = type(err) == "table" and err.kind or "error"
    if rec.kind == "interrupted" then
      stopped = true
      rec.error = "interrupted before the answer came"
    end
  end
  record(idx, rec)
end

-- the workers: each takes the next prompt until none is left -------------------
gl.trap_interrupts(true) -- Ctrl-C stops the batch cleanly (see `stopped`)
local next_job = 1
local tasks = {}
for w = 1, math.min(workers, total) do
  tasks[w] = gl.spawn(function()
    while next_job <= total and not stopped do
      local idx = next_job
      next_job = next_job + 1
      answer(idx)
    end
  end)
end
for _, t in ipairs(tasks) do
  -- a Ctrl-C interrupts this wait too: wait again, the workers are finishing
  while not pcall(t.join, t) do stopped = true end
end
for idx = next_job, total do -- prompts never started (after Ctrl-C)
  record(idx, { index = idx, line = jobs[idx].line, prompt = jobs[idx].prompt, model = jobs[idx].model or model,
                error = "not run: the batch was interrupted", kind = "interrupted" })
end
progress(true)
if out ~= io.stdout then out:close() end
if stopped then
  io.stderr:write("batch: interrupted; every prompt has its line\n")
  os.exit(130)
end
if failed > 0 then os.exit(1) end
