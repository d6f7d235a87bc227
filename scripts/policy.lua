-- glrun policy — test a fallback policy before trusting it:
--
--   glrun policy check [FILE]                       # valid? what is in force, and from where
--   glrun policy simulate [--policy F] [--vs F2] DIR  # a recorded session's failures, decided
--   glrun policy test [--policy F]                  # a library of failures, through real chats
--
-- The work is in gemini.policy_check, gemini.policy_sim and
-- gemini.policy_test; this file is the command line (docs/policy.md).
local cli = require "glrun.cli"
local core = require "glrun.core"

local USAGE = [[
usage: glrun policy check [FILE]
       glrun policy simulate [--policy FILE] [--vs FILE2] CASSETTE_DIR
       glrun policy test [--policy FILE] [--only NAME]

check     load a policy (FILE, or the one a chat would use: --policy, else
          $XDG_CONFIG_HOME/glrun/policy.lua, else the defaults), check every
          knob and call its functions on representative errors; print the
          policy in force, where each value comes from, and what it decides
          for each error. Exit 1 on an invalid policy (one line per problem).
simulate  read a session recorded with `glrun --record DIR` and print, for
          every failure in it, what the policy decides and the wait that
          decision costs; no network. --vs FILE2: two policies side by side.
test      run the built-in failure scenarios on glmock through real chats
          with the policy, and with the default policy to compare: outcome,
          turns, time, history. Exit 1 when the policy loses an answer the
          default policy keeps. --only NAME runs the scenarios whose name
          contains NAME.

exit status: 0 fine, 1 an invalid policy or a lost answer, 2 usage error]]

local args = { ... }
local sub = table.remove(args, 1)
if sub == nil or sub == "--help" or sub == "-h" then
  print(USAGE)
  os.exit(sub and 0 or 2)
end
local NAME = "glrun policy " .. tostring(sub)

local function pad(s, n) s = tostring(s); return s .. (" "):rep(n - utf8.len(s)) end
-- a plain-text table: rows of strings, the first row the header
local function print_table(rows)
  local w = {}
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do w[i] = math.max(w[i] or 0, utf8.len(tostring(c)) or #tostring(c)) end
  end
  for _, r in ipairs(rows) do
    local out = {}
    for i, c in ipairs(r) do out[i] = i < #r and pad(c, w[i]) or tostring(c) end
    print((table.concat(out, "  "):gsub("%s+$", "")))
  end
end

---------------------------------------------------------------------------
if sub == "check" then
  local _, words = cli.parse(args, { name = NAME, usage = USAGE, words = true })
  if #words > 1 then cli.usage_error(NAME, "one policy file at most") end
  local check = require "gemini.policy_check"
  local r = check.run(words[1])
  print("policy: " .. (r.path or "the defaults (gemini.policy)"))
  if r.policy then
    local rows = { { "section", "knob", "from", "value" } }
    for _, row in ipairs(r.rows) do rows[#rows + 1] = { row[1], row[2], row[4], row[3] } end
    print()
    print_table(rows)
    if #r.decisions > 0 then
      print()
      local d = { { "error", "decision", "wait" } }
      for _, row in ipairs(r.decisions) do
        d[#d + 1] = { row.sample.name, row.problem and ("PROBLEM: " .. row.problem) or check.describe(row.decision, row.wait),
                      row.wait and ("%.1f s"):format(row.wait) or "-" }
      end
      print_table(d)
    end
  end
  for _, w in ipairs(r.warnings) do io.stderr:write("glrun policy check: warning: ", w, "\n") end
  for _, p in ipairs(r.problems) do io.stderr:write("glrun policy check: ", p, "\n") end
  if #r.problems > 0 then
    print()
    print(("invalid: %d problem%s"):format(#r.problems, #r.problems == 1 and "" or "s"))
    os.exit(1)
  end
  print()
  print("valid")
  os.exit(0)

---------------------------------------------------------------------------
elseif sub == "simulate" then
  local opts, words = cli.parse(args, { name = NAME, usage = USAGE, words = true,
    values = { ["--policy"] = "policy", ["--vs"] = "vs" } })
  if #words ~= 1 then cli.usage_error(NAME, "name one cassette folder (glrun --record DIR)") end
  local sim = require "gemini.policy_sim"
  local check = require "gemini.policy_check"
  local function load(path) -- nil: the policy a chat would use
    local r = check.run(path)
    if #r.problems > 0 or not r.policy then
      for _, p in ipairs(r.problems) do io.stderr:write(NAME, ": ", p, "\n") end
      os.exit(1)
    end
    return r.policy, r.path or "default"
  end
  local p1, n1 = load(opts.policy)
  local p2, n2
  if opts.vs then p2, n2 = load(opts.vs) end
  local failures, err = sim.failures(words[1])
  if not failures then
    io.stderr:write(NAME, ": ", tostring(err.message or err), "\n")
    os.exit(1)
  end
  local d1 = sim.decide(p1, failures)
  local d2 = p2 and sim.decide(p2, failures)
  print(("%s: %d exchange%s, %d failure%s"):format(words[1], failures.exchanges, failures.exchanges == 1 and "" or "s",
    #failures, #failures == 1 and "" or "s"))
  if #failures == 0 then os.exit(0) end
  print()
  local head = { "#", "file", "failure", n1 }
  if d2 then head[#head + 1] = n2 end
  local rows = { head }
  for i, f in ipairs(failures) do
    local r = { tostring(i), f.file:match("[^/]+$"), f.what, d1[i].text }
    if d2 then r[#r + 1] = d2[i].text end
    rows[#rows + 1] = r
  end
  local tot = { "", "", "waits in total", ("%.1f s"):format(d1.total) }
  if d2 then tot[#tot + 1] = ("%.1f s"):format(d2.total) end
  rows[#rows + 1] = tot
  print_table(rows)
  os.exit(0)

---------------------------------------------------------------------------
elseif sub == "test" then
  local opts = cli.parse(args, { name = NAME, usage = USAGE, values = { ["--policy"] = "policy", ["--only"] = "only" } })
  local ptest = require "gemini.policy_test"
  if not core.options.mock_url then
    -- the scenarios need glmock: run again under --mock (glmock next to this glrun)
    local argv0 = arg and arg[-1] or "glrun"
    for i = -2, -10, -1 do if arg[i] then argv0 = arg[i] else break end end
    local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
    local cmd = { q(argv0), "--mock" }
    local pol = opts.policy or core.options.policy
    if pol then cmd[#cmd + 1] = "--policy " .. q(pol) end
    cmd[#cmd + 1] = "policy test"
    if opts.only then cmd[#cmd + 1] = "--only " .. q(opts.only) end
    local ok, how, code = os.execute(table.concat(cmd, " "))
    os.exit(ok and 0 or (how == "exit" and code) or 1)
  end
  local check = require "gemini.policy_check"
  local r = check.run(opts.policy) -- nil: the policy a chat would use (--policy, the XDG file)
  local path = r.path
  if #r.problems > 0 or not r.policy then
    for _, p in ipairs(r.problems) do io.stderr:write(NAME, ": ", p, "\n") end
    os.exit(1)
  end
  local result = ptest.run(r.policy, { only = opts.only, compare = path ~= nil })
  if #result.rows == 0 then
    local names = {}
    for _, sc in ipairs(ptest.scenarios) do names[#names + 1] = sc.name end
    cli.usage_error(NAME, "no scenario name contains '" .. tostring(opts.only) .. "' (" .. table.concat(names, ", ") .. ")")
  end
  local rows = { { "scenario", "outcome", "turns", "attempts", "time", "history" } }
  if result.compare then rows[1][#rows[1] + 1] = "default policy" end
  for _, row in ipairs(result.rows) do
    local t = { row.name, row.outcome, row.turns, tostring(row.attempts), ("%.1f s"):format(row.seconds),
                row.history and "intact" or "BROKEN" }
    if result.compare then t[#t + 1] = row.default_outcome .. (row.lost and "  <- LOST" or "") end
    rows[#rows + 1] = t
  end
  print("policy: " .. (path or "the defaults (gemini.policy)"))
  print()
  print_table(rows)
  print()
  print(("%d scenario%s, %d answered, %d lost against the default policy"):format(#result.rows,
    #result.rows == 1 and "" or "s", result.answered, result.lost))
  os.exit(result.lost > 0 and 1 or 0)

else
  cli.usage_error("glrun policy", "unknown command '" .. tostring(sub) .. "' (check, simulate, test)")
end
