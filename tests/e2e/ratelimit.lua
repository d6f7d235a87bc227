-- Client-side rate limits with a fake clock: requests wait for budget
-- (RPM and TPM) instead of drawing a 429; a wait past the deadline is a
-- clear error; tasks share one limiter.
local ratelimit = require "gemini.ratelimit"

local t = 0
local slept = {}
local rl = ratelimit.new{
  limits = { m = { rpm = 2, tpm = 1000 }, free = false },
  clock = function() return t end,
  sleep = function(s) slept[#slept + 1] = s; t = t + s end,
}

-- RPM: the third request in a minute waits until the first leaves the window
assert(rl:acquire("m", 10)); t = t + 10
assert(rl:acquire("m", 10)); t = t + 5
local ok, waited = rl:acquire("m", 10)
assert(ok and waited == 45 and slept[1] == 45, "waited " .. tostring(waited))
assert(t == 60)

-- TPM: a request that would pass 1000 tokens in the window waits
t = 1000
local rl2 = ratelimit.new{ limits = { m = { tpm = 1000 } }, clock = function() return t end,
  sleep = function(s) t = t + s end }
assert(rl2:acquire("m", 600)); t = t + 20
local _, w2 = rl2:acquire("m", 600)
assert(w2 == 40, "tpm wait " .. tostring(w2))
-- record() corrects the estimate with the real usage
rl2:record("m", 100)
t = t + 1
local _, w3 = rl2:acquire("m", 800)
assert(w3 == 0, "after the correction there is room: " .. tostring(w3))

-- the server's usage is not trusted blindly: a claim of 1e38 tokens counts
-- as the TPM budget (the next request is not stalled a whole window), junk
-- counts are ignored, and one warning says so
local warnings = {}
local rl4 = ratelimit.new{ limits = { m = { tpm = 1000 } }, clock = function() return t end,
  sleep = function(s) t = t + s end, warn = function(msg) warnings[#warnings + 1] = msg end }
assert(rl4:acquire("m", 0))
rl4:record("m", 1e38)
assert(rl4.used.m[1].tokens == 1000, "clamped to the budget: " .. tostring(rl4.used.m[1].tokens))
t = t + 1
local _, w4 = rl4:acquire("m", 0)
assert(w4 == 0, "a huge claimed usage stalls the next turn: waited " .. tostring(w4))
for _, junk in ipairs{ -5, 0 / 0, math.huge, "lots", {} } do
  rl4:record("m", junk)
  assert(rl4.used.m[2].tokens == 0, "junk usage " .. tostring(junk) .. " was recorded")
end
assert(#warnings == 1 and warnings[1]:find("implausible token count (1e+38)", 1, true)
  and warnings[1]:find("TPM budget", 1, true), "one warning: " .. table.concat(warnings, " | "))
rl4:record("m", 250)
assert(rl4.used.m[2].tokens == 250, "a plausible count is recorded as is")

-- a wait past the deadline: nil, err at once, no sleeping
local rl3 = ratelimit.new{ limits = { m = { rpm = 1 } }, clock = function() return t end,
  sleep = function() error("must not sleep") end }
assert(rl3:acquire("m"))
local no, err = rl3:acquire("m", 0, t + 5)
assert(no == nil and err.kind == "rate_limit" and err.retry_after == 60, tostring(err))
assert(err.message:find("1 RPM", 1, true), err.message)

-- unlimited models never wait
for _ = 1, 100 do assert(select(2, rl:acquire("free")) == 0) end

-- defaults exist for the free tier, and unknown models get the default
local d = ratelimit.new()
assert(d:limit("gemini-2.5-flash").rpm == 10 and d:limit("some-new-model").rpm == 10)

-- shared between tasks, on the real clock with a short window
local shared = ratelimit.new{ limits = { m = { rpm = 2 } }, window = 0.2 }
local t0 = gl.now()
local tasks = {}
for i = 1, 4 do tasks[i] = gl.spawn(function() return select(2, shared:acquire("m")) end) end
local waits = {}
for i = 1, 4 do waits[i] = tasks[i]:join() end
table.sort(waits)
assert(waits[1] == 0 and waits[2] == 0 and waits[3] > 0 and waits[4] > 0,
       "two went at once, two waited: " .. table.concat(waits, ","))
assert(gl.now() - t0 >= 0.19, "the window held")
print("ratelimit ok")
