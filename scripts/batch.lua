-- glrun batch — a file of prompts as one Batch API job (about half the
-- price, answered within a day), with a journal so that a job is never paid
-- for twice, and a deadline after which glrun answers the rest itself.
--
--   glrun batch submit prompts.txt              # prints batches/...
--   glrun batch wait batches/abc --deadline 6h  # the rest answered here after 6 h
--   glrun batch fetch batches/abc -o out.jsonl  # one line per input line, in order
--
-- The input is the file examples/batch.lua reads: one prompt per line, or a
-- JSON object {"prompt", "system"} per line; blank lines are skipped. A line
-- that cannot be read is named by its number and becomes an error line of the
-- output; the other lines still run.
--
-- State ($XDG_STATE_HOME/glrun, else ~/.local/state/glrun): batches.jsonl is
-- the journal of submissions (input hash -> job); batches/ID.input.jsonl the
-- lines a job holds; batches/ID.merged.jsonl the answers of a job finished by
-- `wait --deadline`.
local gemini = require "gemini"
local json = require "glrun.json"
local core = require "glrun.core"
local crypto = require "glrun.crypto"
local cli = require "glrun.cli"
local atomic = require "glrun.atomic"
local batches = require "gemini.batches"
local ratelimit = require "gemini.ratelimit"
local R = require "gemini.resource"

local USAGE = [[
usage: glrun batch submit [--model M] [--display-name NAME] [--new] IN
       glrun batch status JOB
       glrun batch wait JOB [--deadline DURATION] [--interval DURATION] [-o OUT.jsonl]
       glrun batch fetch JOB [-o OUT.jsonl]
       glrun batch cancel JOB
       glrun batch delete JOB
       glrun batch list

Runs a file of prompts as a Gemini Batch API job. IN: one prompt per line, or
a JSON object {"prompt": ..., "system": ...} per line ('-' reads standard input).

  submit   create the job and print its name (batches/...). The same input
           submitted again (the journal knows it by its hash) is not paid for
           twice: the existing job's name is printed instead (--new: submit anyway)
  status   the job's state and counts
  wait     poll until the job is done (progress on a terminal). --deadline D:
           at D (e.g. 6h) cancel the job and answer the prompts it has not
           answered here, synchronously, under the rate limits; `fetch` then
           returns both, each line saying its route ("batch" or "sync")
  fetch    the answers, one JSON line per input line, in input order:
           {"index", "line", "key", "prompt", "text" | "error", "route"}
  cancel   cancel the job;  delete: delete the job (its results go with it);
  list     every job

exit status: 0 done, 1 failed (or a line without an answer), 2 usage error]]

local args = { ... }
local sub = table.remove(args, 1)
local function usage_error(msg) cli.usage_error("glrun batch", msg) end
if sub == "--help" or sub == "-h" then print(USAGE) os.exit(0) end
if not sub then usage_error("which command? submit, status, wait, fetch, cancel, delete or list") end

local function fail(msg)
  io.stderr:write("glrun batch: ", (tostring(type(msg) == "table" and msg.message or msg):match("^[^\n]*")), "\n")
  os.exit(1)
end

-- state files ---------------------------------------------------------------
local function state_dir()
  local base = os.getenv("XDG_STATE_HOME")
  if not base or base == "" then base = (os.getenv("HOME") or ".") .. "/.local/state" end
  return base .. "/glrun"
end
local function mkdirs(d) os.execute("mkdir -p '" .. d:gsub("'", "'\\''") .. "'") end
local function job_id(name) return (tostring(name):match("batches/([^/:]+)") or name) end
local function job_file(name, what) return state_dir() .. "/batches/" .. job_id(name) .. "." .. what .. ".jsonl" end

local function journal_entries()
  local f = io.open(state_dir() .. "/batches.jsonl", "r")
  if not f then return {} end
  local out = {}
  for line in f:lines() do
    local v = json.decode(line)
    if type(v) == "table" then out[#out + 1] = v end -- a torn last line (a crash) is skipped
  end
  f:close()
  return out
end

local function journal_add(entry)
  mkdirs(state_dir())
  local f = assert(io.open(state_dir() .. "/batches.jsonl", "a"))
  f:write(assert(json.encode(entry)), "\n")
  f:close()
end

local function write_lines(path, list)
  mkdirs(path:match("^(.*)/"))
  local w, err = atomic.open(path)
  if not w then return nil, err end
  for _, v in ipairs(list) do w:write(assert(json.encode(v)), "\n") end
  return w:commit()
end

local function read_lines(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local out = {}
  for line in f:lines() do
    local v = json.decode(line)
    if type(v) == "table" then out[#out + 1] = v end
  end
  f:close()
  return out
end

-- the input: the format of examples/batch.lua ------------------------------------
local function read_input(path)
  local f = path == "-" and io.stdin or io.open(path, "rb")
  if not f then fail("cannot read " .. path) end
  local data = f:read("a") or ""
  if f ~= io.stdin then f:close() end
  local lines, n = {}, 0
  for line in (data:gsub("\r\n", "\n") .. (data:sub(-1) == "\n" and "" or "\n")):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("%S") then
      local rec = { index = #lines + 1, line = n, key = "line-" .. n, prompt = line }
      if line:match("^%s*{") then
        local t, jerr = json.decode(line)
        if type(t) ~= "table" then
          rec.prompt, rec.error, rec.kind = nil, ("line %d: not JSON (%s)"):format(n, jerr and jerr.message or "?"), "input"
        elseif type(t.prompt) ~= "string" then
          rec.prompt, rec.error, rec.kind = nil, ("line %d: a JSON line needs a \"prompt\" string"):format(n), "input"
        else
          rec.prompt, rec.system, rec.model = t.prompt, t.system, t.model
        end
      end
      lines[#lines + 1] = rec
    end
  end
  return lines, data
end

local function hex(s) return (s:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)) end

-- submit ----------------------------------------------------------------------
local function submit(a)
  local opts, words = cli.parse(a, { name = "glrun batch submit", usage = USAGE, words = true,
    values = { ["--model"] = "model", ["--display-name"] = "display_name" }, flags = { ["--new"] = "new" } })
  if #words ~= 1 then usage_error("submit takes one input file") end
  local input = words[1]
  local c = R.config()
  local model = opts.model or (c and c.model) or "gemini-2.5-flash"
  local lines, data = read_input(input)
  local hash = hex(crypto.sha256(model .. "\0" .. (opts.display_name or "") .. "\0" .. data)):sub(1, 16)
  local tag = "[glrun:" .. hash .. "]"
  local display = (opts.display_name or ("glrun " .. (input == "-" and "stdin" or input:match("([^/]+)$")))) .. " " .. tag
  local bad = 0
  for _, l in ipairs(lines) do
    if not l.error and l.model and l.model ~= model then
      l.error, l.kind = ("line %d: model %s differs from the batch's model %s (a job runs one model)")
        :format(l.line, l.model, model), "input"
    end
    if l.error then
      bad = bad + 1
      io.stderr:write("glrun batch: ", l.error, "\n")
    end
  end
  if bad == #lines then fail(#lines == 0 and "the input has no prompt" or "no line of the input can be sent") end

  if not opts.new then -- submitted before? resume watching that job instead of paying twice
    local pending = false
    local entries = journal_entries()
    for i = #entries, 1, -1 do
      local e = entries[i]
      if e.hash == hash then
        if e.job then
          local job = batches.get(e.job)
          if job and job.state ~= "BATCH_STATE_FAILED" and job.state ~= "BATCH_STATE_EXPIRED"
             and job.state ~= "BATCH_STATE_CANCELLED" then
            io.stderr:write(("glrun batch: this input was submitted already as %s (%s, %s); not submitting it "
              .. "again (--new to submit anyway)\n"):format(e.job, job.state, e.time or "?"))
            io.stdout:write(e.job, "\n")
            return
          end
          break
        elseif e.event == "pending" then
          pending = true
          break
        end
      end
    end
    if pending then -- a crash between the request and the journal: find the job by its tag
      local jobs = batches.list() or {}
      for _, job in ipairs(jobs) do
        if type(job.display_name) == "string" and job.display_name:find(tag, 1, true) then
          journal_add{ event = "submit", hash = hash, job = job.name, input = input, model = model,
                       time = R.rfc3339(), lines = #lines, recovered = true }
          if not io.open(job_file(job.name, "input")) then write_lines(job_file(job.name, "input"), lines) end
          io.stderr:write("glrun batch: found ", job.name, ", submitted before a crash; watching it\n")
          io.stdout:write(job.name, "\n")
          return
        end
      end
    end
  end

  local requests = {}
  for _, l in ipairs(lines) do
    if not l.error then
      requests[#requests + 1] = { key = l.key, request = gemini.request(l.prompt, { system = l.system }) }
    end
  end
  journal_add{ event = "pending", hash = hash, input = input, model = model, time = R.rfc3339() }
  local job, err = batches.create{ model = model, requests = requests, display_name = display }
  if not job then fail(err) end
  local ok, werr = write_lines(job_file(job.name, "input"), lines)
  if not ok then fail("cannot write " .. job_file(job.name, "input") .. ": " .. tostring(werr)) end
  journal_add{ event = "submit", hash = hash, job = job.name, input = input, model = model, time = R.rfc3339(),
               lines = #lines }
  io.stdout:write(job.name, "\n")
  if bad > 0 then os.exit(1) end
end

-- status ----------------------------------------------------------------------------
local function describe(job)
  local s = job.stats
  return ("%s  %s  %d requests: %d succeeded, %d failed, %d pending"):format(job.name, tostring(job.state),
    s.requests, s.succeeded, s.failed, s.pending)
end

local function status(a)
  local _, words = cli.parse(a, { name = "glrun batch status", usage = USAGE, words = true })
  if #words ~= 1 then usage_error("status takes a job name") end
  local job, err = batches.get(words[1])
  if not job then fail(err) end
  io.stdout:write(describe(job), "\n")
end

-- answers in input order ------------------------------------------------------------
local function answered_lines(job, lines)
  local by_key = {}
  if job then
    local res, err = batches.results(job)
    if not res then fail(err) end
    for _, r in ipairs(res) do if r.key then by_key[r.key] = r end end
  end
  local out = {}
  for i, l in ipairs(lines) do
    local rec = { index = i, line = l.line, key = l.key, prompt = l.prompt,
                  model = job and job.model and job.model:gsub("^models/", "") or l.model }
    local r = by_key[l.key]
    if l.error then
      rec.error, rec.kind, rec.route = l.error, l.kind or "input", "input"
    elseif r and r.error then
      rec.error, rec.kind, rec.route = tostring(r.error.message or "error"), "batch", "batch"
      rec.status = r.error.code
    elseif r then
      rec.text, rec.route = r.text, "batch"
    end
    out[i] = rec
  end
  return out, by_key
end

-- the lines a job holds: from the state directory, else from the job itself
local function job_lines(job)
  local lines = read_lines(job_file(job.name, "input"))
  if lines then return lines end
  local res = batches.results(job) or {}
  lines = {}
  for i, r in ipairs(res) do lines[i] = { index = i, line = i, key = r.key or ("#" .. i) } end
  return lines
end

-- Write the result lines to path (stdout when nil, nowhere when false);
-- returns how many inputs have no answer.
local function emit(recs, path)
  local out, werr = io.stdout, nil
  if path then
    out, werr = atomic.open(path)
    if not out then fail(tostring(werr)) end
  end
  local missing = 0
  for _, r in ipairs(recs) do
    if not r.text then missing = missing + 1 end
    if path ~= false then out:write(assert(json.encode(r)), "\n") end
  end
  if path then
    local ok, err = out:commit()
    if not ok then fail(tostring(err)) end
  end
  return missing
end

-- the prompts the batch did not answer, answered here (the rate limits apply)
local function answer_rest(recs, lines, model)
  local todo = {}
  for i, r in ipairs(recs) do if not r.text and not r.error then todo[#todo + 1] = i end end
  local nexti, done = 1, 0
  local tty = core.isatty(2)
  -- the policy's tier for the remainder first (flex: half price), then standard
  local pol = require("gemini.policy").resolve() or require("gemini.policy")
  local chain = { model }
  if pol.batch_remainder_tier then chain = { { model = model, tier = pol.batch_remainder_tier }, model } end
  local function worker()
    while nexti <= #todo do
      local i = todo[nexti]
      nexti = nexti + 1
      local l = lines[i]
      local ok, text, err, tier = pcall(function()
        local chat, cerr = gemini.chat{ transport = "rest", chain = { live = {}, rest = chain }, system = l.system,
                                        quiet = true, ratelimit = ratelimit.shared() }
        if not chat then return nil, cerr end
        local t, e = chat:send(l.prompt)
        return t, e, chat.last_turn and chat.last_turn.tier
      end)
      if not ok then text, err = nil, text end
      local r = recs[i]
      r.route = "sync"
      r.tier = tier
      if text then r.text = text
      else
        r.error = (tostring(type(err) == "table" and err.message or err):match("^[^\n]*"))
        r.kind = type(err) == "table" and err.kind or "error"
      end
      done = done + 1
      if tty then io.stderr:write(("\rglrun batch: answering here %d/%d\27[K"):format(done, #todo)) end
    end
  end
  local tasks = {}
  for w = 1, math.min(4, #todo) do tasks[w] = gl.spawn(worker) end
  for _, t in ipairs(tasks) do t:join() end
  if tty and #todo > 0 then io.stderr:write("\n") end
  return #todo
end

-- wait ------------------------------------------------------------------------------
local function wait(a)
  local opts, words = cli.parse(a, { name = "glrun batch wait", usage = USAGE, words = true,
    values = { ["--deadline"] = "deadline", ["--interval"] = "interval", ["-o"] = "out" } })
  if #words ~= 1 then usage_error("wait takes a job name") end
  local deadline = opts.deadline and R.seconds(opts.deadline)
  if opts.deadline and not deadline then usage_error("--deadline takes a duration such as 30m or 6h") end
  local interval = opts.interval and R.seconds(opts.interval) or batches.interval
  if not interval or interval <= 0 then usage_error("--interval takes a duration such as 30s") end
  local tty = core.isatty(2)
  local t0, last = core.now(), nil
  local job, err
  while true do
    job, err = batches.get(words[1])
    if not job then fail(err) end
    local line = describe(job)
    if tty then io.stderr:write("\r", line, "\27[K")
    elseif line ~= last then io.stderr:write(line, "\n") end
    last = line
    if batches.done(job) then break end
    if deadline and core.now() - t0 + interval > deadline then break end
    core.sleep(interval)
  end
  if tty then io.stderr:write("\n") end
  if batches.done(job) then
    if opts.out then
      local missing = emit((answered_lines(job, job_lines(job))), opts.out)
      if missing > 0 then os.exit(1) end
    end
    if job.state ~= "BATCH_STATE_SUCCEEDED" then fail(job.name .. " ended " .. tostring(job.state)) end
    return
  end
  -- the deadline: cancel, keep what the batch answered, answer the rest here
  io.stderr:write(("glrun batch: %s is still %s at the deadline: cancelling it and answering the rest here\n")
    :format(job.name, tostring(job.state)))
  local ok, cerr = batches.cancel(job)
  if not ok then fail(cerr) end
  job = batches.get(job) or job
  local lines = job_lines(job)
  local recs = answered_lines(job, lines)
  local from_batch = 0
  for _, r in ipairs(recs) do if r.route == "batch" then from_batch = from_batch + 1 end end
  local model = job.model and job.model:gsub("^models/", "") or (R.config() or {}).model
  local n = answer_rest(recs, lines, model)
  local wok, werr = write_lines(job_file(job.name, "merged"), recs)
  if not wok then fail("cannot write " .. job_file(job.name, "merged") .. ": " .. tostring(werr)) end
  journal_add{ event = "merged", job = job.name, time = R.rfc3339(), batch = from_batch, sync = n }
  io.stderr:write(("glrun batch: %s: %d answered by the batch, %d here\n"):format(job.name, from_batch, n))
  local missing = emit(recs, opts.out or false)
  if missing > 0 then os.exit(1) end
end

-- fetch -----------------------------------------------------------------------------
local function fetch(a)
  local opts, words = cli.parse(a, { name = "glrun batch fetch", usage = USAGE, words = true,
                                     values = { ["-o"] = "out" } })
  if #words ~= 1 then usage_error("fetch takes a job name") end
  local merged = read_lines(job_file(words[1], "merged"))
  local recs
  if merged then
    recs = merged
  else
    local job, err = batches.get(words[1])
    if not job then fail(err) end
    recs = answered_lines(job, job_lines(job))
    if not batches.done(job) then
      for _, r in ipairs(recs) do
        if not r.text and not r.error then r.error, r.kind = "not answered yet (the job is " .. tostring(job.state) .. ")", "pending" end
      end
    end
  end
  local missing = emit(recs, opts.out)
  if missing > 0 then os.exit(1) end
end

local function cancel(a)
  local _, words = cli.parse(a, { name = "glrun batch cancel", usage = USAGE, words = true })
  if #words ~= 1 then usage_error("cancel takes a job name") end
  local ok, err = batches.cancel(words[1])
  if not ok then fail(err) end
  local job = batches.get(words[1])
  io.stdout:write(job and describe(job) or words[1] .. " cancelled", "\n")
end

local function delete(a)
  local _, words = cli.parse(a, { name = "glrun batch delete", usage = USAGE, words = true })
  if #words ~= 1 then usage_error("delete takes a job name") end
  local ok, err = batches.delete(words[1])
  if not ok then fail(err) end
  journal_add{ event = "deleted", job = words[1], time = R.rfc3339() }
  io.stdout:write(words[1], " deleted\n")
end

local function list(a)
  cli.parse(a, { name = "glrun batch list", usage = USAGE })
  local jobs, err = batches.list()
  if not jobs then fail(err) end
  for _, job in ipairs(jobs) do
    io.stdout:write(("%s\t%s\t%s\t%s\n"):format(job.name, tostring(job.state), tostring(job.metadata.createTime or ""),
      tostring(job.display_name or "")))
  end
end

local commands = { submit = submit, status = status, wait = wait, fetch = fetch, cancel = cancel, delete = delete, list = list }
local fn = commands[sub]
if not fn then usage_error("unknown command '" .. sub .. "' (submit, status, wait, fetch, cancel, delete, list)") end
fn(args)
