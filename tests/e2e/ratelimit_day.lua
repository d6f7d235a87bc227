-- Rate-limit defaults by tier and model family, and the requests-per-day
-- budget that Google resets at midnight Pacific time
-- (docs/protocol.md#rate-limits), with fake clocks.
local R = require "gemini.ratelimit"

-- midnight Pacific: PST (UTC-8) in winter, PDT (UTC-7) from the second
-- Sunday of March to the first Sunday of November
local function utc(y, m, d, H, M) -- epoch seconds of a UTC time
  local days = (function()
    local yy = m <= 2 and y - 1 or y
    local era = yy // 400
    local yoe = yy - era * 400
    local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  end)()
  return days * 86400 + H * 3600 + M * 60
end
assert(R.next_reset(utc(2026, 11, 29, 20, 30)) == utc(2026, 11, 30, 8, 0), "winter: midnight PST is 08:00 UTC")
assert(R.next_reset(utc(2026, 7, 4, 6, 59)) == utc(2026, 7, 4, 7, 0), "summer: midnight PDT is 07:00 UTC")
assert(R.next_reset(utc(2026, 7, 4, 7, 0)) == utc(2026, 7, 5, 7, 0), "at midnight: the next one")
-- the night DST starts (2026-03-08, 2:00 PST): the next midnight is PDT
assert(R.next_reset(utc(2026, 3, 8, 9, 30)) == utc(2026, 3, 9, 7, 0))
-- and ends (2026-11-01, 2:00 PDT): the next midnight is PST
assert(R.next_reset(utc(2026, 11, 1, 8, 30)) == utc(2026, 11, 2, 8, 0))
assert(R.pacific_offset(utc(2026, 1, 15, 12, 0)) == -8 * 3600 and R.pacific_offset(utc(2026, 6, 15, 12, 0)) == -7 * 3600)

-- defaults by family: no model id is named in them, so a model Google
-- ships next year gets its family's limits
local d = R.new{ tier = "free" }
assert(d:limit("gemini-2.5-flash").rpm == 10 and d:limit("gemini-3.8-flash").rpm == 10)
assert(d:limit("gemini-3.5-flash-lite").rpm == 15 and d:limit("gemini-4-argon").rpm == 5, "gemini-4-argon is a pro model")
assert(d:limit("gemini-3.8-flash").rpd == 250)
assert(d:limit("some-new-model").rpm == 10, "the tier's default for a model of no known family")
local t1 = R.new{ tier = "tier1" }
assert(t1:limit("gemini-3.8-flash").rpm == 1000 and t1:limit("gemini-3.5-flash-lite").rpd == nil)
-- an exact id wins over its family, a family entry over the tier's
local o = R.new{ tier = "free", limits = { ["gemini-3.8-flash"] = { rpm = 1 }, pro = { rpm = 2 } } }
assert(o:limit("gemini-3.8-flash").rpm == 1 and o:limit("gemini-3.9-flash").rpm == 10 and o:limit("gemini-4-argon").rpm == 2)
assert(not pcall(R.new, { tier = "platinum" }), "an unknown tier is misuse")

-- requests per day: the third request of a 2-RPD model waits for midnight Pacific
local mono, wall = 0, utc(2026, 11, 29, 20, 30)     -- 12:30 PST
local slept = {}
local rl = R.new{ limits = { m = { rpd = 2 } }, clock = function() return mono end, time = function() return wall end,
                  sleep = function(s) slept[#slept + 1] = s; mono = mono + s; wall = wall + s end }
assert(rl:acquire("m"))
assert(rl:acquire("m"))
-- with a deadline: an error at once that says when the budget comes back
local no, err = rl:acquire("m", 0, mono + 60)
assert(no == nil and err.kind == "rate_limit" and err.per_day, tostring(err))
assert(err.message:find("2 requests per day", 1, true) and err.message:find("midnight Pacific", 1, true)
       and err.message:find("11.5 h", 1, true), err.message)
assert(err.retry_after == utc(2026, 11, 30, 8, 0) - wall, tostring(err.retry_after))
assert(#slept == 0)
-- without one: it waits until then, and the new day has its budget
local ok, waited = rl:acquire("m")
assert(ok and waited == 11.5 * 3600 and wall == utc(2026, 11, 30, 8, 0), tostring(waited))
assert(rl:acquire("m"))
assert(rl:describe("m") == "- RPM, - TPM, 2 RPD", rl:describe("m"))
-- the policy falls back on a spent day budget instead of waiting hours
local dec = require("gemini.policy").classify(err, { transport = "rest", model = "m" })
assert(dec.action == "fallback", dec.action)

-- a chat whose first model's day budget is spent answers on the next one
local gemini = require "gemini"
local day = R.new{ replace = true, limits = { ["gemini-2.5-flash"] = { rpd = 1 }, default = false },
                   time = function() return wall end }
local c = gemini.chat{ quiet = true, transport = "rest", ratelimit = day,
                       chain = { live = {}, rest = { "gemini-2.5-flash", "gemini-3.8-flash" } } }
assert(c:send("one") == "echo: one" and c.last_turn.model == "gemini-2.5-flash")
assert(c:send("two") == "echo: two" and c.last_turn.model == "gemini-3.8-flash", c.last_turn.model)
print("ratelimit day ok")
