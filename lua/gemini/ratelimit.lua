-- gemini.ratelimit — client-side request and token budgets per model, so a
-- free-tier key is not hammered into 429s. A request waits for budget
-- instead of drawing a 429. One limiter is shared by every task of the
-- process (ratelimit.shared()); tests make their own with a fake clock.
--
--   local rl = require("gemini.ratelimit").new{ limits = { ["gemini-2.5-flash"] = { rpm = 10, tpm = 250000 } } }
--   assert(rl:acquire("gemini-2.5-flash", 1200))   -- waits if the last minute is full
--
-- Windows are sliding 60-second windows of (time, tokens) entries; the
-- requests-per-day budget counts requests since the last midnight Pacific
-- time, when Google resets it (docs/protocol.md#rate-limits).
local errors = require "gemini.errors"
local core = require "glrun.core"

local R = {}
R.__index = R

--- The defaults, by tier and model family (docs/protocol.md#rate-limits:
--- snapshots of Google's published limits for the 2.5 and later models;
--- they change often): rpm, tpm, rpd (requests per day). `default` is for
--- a model of no known family. The tier in force is R.tier
--- (GLRUN_RATELIMIT_TIER: "free", the default, or "tier1").
R.tiers = {
  free = {
    flash = { rpm = 10, tpm = 250000, rpd = 250 },
    ["flash-lite"] = { rpm = 15, tpm = 250000, rpd = 1000 },
    pro = { rpm = 5, tpm = 250000, rpd = 100 },
    default = { rpm = 10, tpm = 250000, rpd = 250 },
  },
  tier1 = {
    flash = { rpm = 1000, tpm = 1000000, rpd = 10000 },
    ["flash-lite"] = { rpm = 4000, tpm = 4000000 },
    pro = { rpm = 150, tpm = 2000000, rpd = 10000 },
    default = { rpm = 1000, tpm = 1000000, rpd = 10000 },
  },
}
R.tier = os.getenv("GLRUN_RATELIMIT_TIER") or "free"

--- Limits by model id or family name that every limiter starts from
--- (empty: the tier's family defaults apply); a limiter's own
--- opts.limits win. An exact id beats its family.
R.defaults = {}

-- ------------------------------------------------------------ midnight Pacific

-- Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- The day number of the n-th Sunday of a month.
local function nth_sunday(y, m, n)
  local first = days_from_civil(y, m, 1)
  local wd = (first + 4) % 7            -- 0 = Sunday (1970-01-01 was a Thursday)
  return first + (7 - wd) % 7 + 7 * (n - 1)
end

--- Pacific time's offset from UTC at epoch time t, in seconds: -7 h from
--- the second Sunday of March, 2:00, to the first Sunday of November,
--- 2:00 (US daylight saving time), else -8 h.
function R.pacific_offset(t)
  local y = tonumber(os.date("!%Y", math.floor(t)))
  local start = nth_sunday(y, 3, 2) * 86400 + 10 * 3600 -- 2:00 PST
  local stop = nth_sunday(y, 11, 1) * 86400 + 9 * 3600  -- 2:00 PDT
  return (t >= start and t < stop) and -7 * 3600 or -8 * 3600
end

--- The Pacific calendar day of epoch time t (a day number).
function R.pacific_day(t)
  return (math.floor(t) + R.pacific_offset(t)) // 86400
end

--- The next midnight Pacific time after t (epoch seconds): when Google
--- resets per-day quotas.
function R.next_reset(t)
  local day = R.pacific_day(t) + 1
  -- the offset in force that midnight (a switch happens at 2:00, never at 0:00)
  return day * 86400 - R.pacific_offset(day * 86400 + 8 * 3600)
end

--- opts: limits (model id or family -> {rpm, tpm, rpd}, or false for no
--- limit; `default` for the models not named; merged over R.defaults and
--- the tier's family defaults unless opts.replace), tier ("free",
--- "tier1"; default R.tier), clock (seconds, default gl.now), time (wall
--- clock for the day budget, default os.time), sleep (default gl.sleep),
--- window (seconds, default 60), warn (function(message): where the one
--- warning about an implausible token count goes; default the log).
function R.new(opts)
  opts = opts or {}
  local limits = {}
  if not opts.replace then for k, v in pairs(R.defaults) do limits[k] = v end end
  for k, v in pairs(opts.limits or {}) do limits[k] = v end
  local tier = opts.tier or R.tier
  if not opts.replace and not R.tiers[tier] then
    error(("ratelimit: unknown tier %q (known: free, tier1)"):format(tostring(tier)), 2)
  end
  return setmetatable({
    limits = limits,
    family_limits = not opts.replace and R.tiers[tier] or nil,
    tier = tier,
    time = opts.time or os.time,
    day = {},           -- model -> {day = Pacific day number, n = requests that day}
    clock = opts.clock or core.now,
    sleep = opts.sleep or core.sleep,
    window = opts.window or 60,
    warn = opts.warn or function(msg) core.log("warn", msg, "ratelimit") end,
    warned = false,     -- the implausible-usage warning was given
    used = {},          -- model -> list of {t, tokens}
    waited = 0,         -- seconds spent waiting, in total
  }, R)
end

local function prune(list, now, window)
  local i = 1
  while list[i] and list[i].t <= now - window do i = i + 1 end
  if i > 1 then table.move(list, i, #list + i - 1, 1); for j = #list - i + 2, #list do list[j] = nil end end
end

-- The family of a model id, with no network: an alias's target when the
-- catalog knows it already.
local function family_of(model)
  local models = require "gemini.models"
  local ok, catalog = pcall(require, "gemini.catalog")
  local e = ok and catalog.peek(model)
  return models.family(e and e.alias and e.target or model)
end

--- The limit of a model ({rpm, tpm, rpd}) or nil when unlimited: its id's
--- entry, else its family's (models.family), else `default`, else the
--- tier's defaults for its family.
function R:limit(model)
  local l = self.limits[model]
  local fam
  if l == nil then
    fam = family_of(model)
    if fam then l = self.limits[fam] end
  end
  if l == nil then l = self.limits.default end
  if l == nil and self.family_limits then l = self.family_limits[fam or ""] or self.family_limits.default end
  if l == false then return nil end
  return l
end

-- Requests sent to a model today (Pacific time), the counter reset at midnight.
function R:_day(model)
  local today = R.pacific_day(self.time())
  local d = self.day[model]
  if not d or d.day ~= today then d = { day = today, n = 0 }; self.day[model] = d end
  return d
end

--- Seconds to wait before `tokens` more tokens may go to `model` (0 = now).
-- Book an admitted request in the local windows (also after a Redis
-- admission: record() keeps working and local limits stay informed).
function R:_note(model, tokens, waited)
  local list = self.used[model] or {}
  self.used[model] = list
  list[#list + 1] = { t = self.clock(), tokens = tokens }
  local d = self:_day(model)
  d.n = d.n + 1
  self.waited = self.waited + waited
end

function R:wait_time(model, tokens)
  local l = self:limit(model)
  if not l then return 0 end
  local now = self.clock()
  local list = self.used[model] or {}
  self.used[model] = list
  prune(list, now, self.window)
  local sum = 0
  for _, e in ipairs(list) do sum = sum + e.tokens end
  local wait = 0
  if l.rpd and self:_day(model).n >= l.rpd then
    -- the day's budget is spent: it comes back at midnight Pacific
    local t = self.time()
    wait = math.max(wait, R.next_reset(t) - t)
  end
  if l.rpm and #list >= l.rpm then
    wait = math.max(wait, list[#list - l.rpm + 1].t + self.window - now)
  end
  if l.tpm and #list > 0 and sum + tokens > l.tpm then
    -- wait until enough old entries leave the window
    local need, acc = sum + tokens - l.tpm, 0
    for _, e in ipairs(list) do
      acc = acc + e.tokens
      if acc >= need then wait = math.max(wait, e.t + self.window - now); break end
    end
  end
  return math.max(0, wait)
end

--- Take budget for one request of about `tokens` tokens, waiting as long
--- as needed — but not past `deadline` (an absolute clock time): then it
--- returns nil, err (kind "rate_limit") without waiting. Returns true,
--- seconds waited.
function R:acquire(model, tokens, deadline)
  tokens = tokens or 0
  if self.state then -- a shared backend (gemini.state); "local": unavailable, the local limits apply
    local ok, e = self.state:acquire(self, model, tokens, deadline)
    if ok ~= "local" then return ok, e end
  end
  local waited = 0
  for _ = 1, 1000 do
    local w = self:wait_time(model, tokens)
    if w <= 0 then
      self:_note(model, tokens, waited)
      return true, waited
    end
    if deadline and self.clock() + w > deadline then
      local l = self:limit(model)
      if l and l.rpd and self:_day(model).n >= l.rpd then
        return nil, errors.new("rate_limit", ("%s: the client-side budget of %d requests per day is spent; "
          .. "it resets at midnight Pacific time, in %s"):format(model, l.rpd,
          w >= 3600 and ("%.1f h"):format(w / 3600) or ("%d min"):format(math.ceil(w / 60))),
          { retry_after = w, model = model, per_day = true })
      end
      return nil, errors.new("rate_limit", ("%s: the client-side budget (%s) needs a %.1f s wait, past the deadline")
        :format(model, self:describe(model), w), { retry_after = w, model = model })
    end
    self.sleep(w)
    waited = waited + w
  end
  error("ratelimit: budget never freed (clock not advancing?)")
end

--- Correct the token count of the latest request once usage is known.
--- The count comes from the server (usageMetadata.totalTokenCount) and is
--- not trusted blindly: a non-number, NaN or a negative count is ignored,
--- and a count above the model's TPM budget counts as the budget (one
--- response claiming 1e38 tokens would otherwise stall every later turn a
--- whole window). The first such count is warned about, once.
function R:record(model, tokens)
  local list = self.used[model]
  if not (list and list[#list]) then return end
  local claimed, why = tokens, nil
  if math.type(tokens) == nil or tokens ~= tokens or tokens < 0 or tokens == math.huge then
    why, tokens = "ignored", nil
  else
    local l = self:limit(model)
    if l and l.tpm and tokens > l.tpm then
      why, tokens = ("counted as %s tokens, the model's TPM budget"):format(tostring(l.tpm)), l.tpm
    end
  end
  if tokens then list[#list].tokens = tokens end
  if tokens and self.state then self.state:record(self, model, tokens) end
  if why and not self.warned then
    self.warned = true
    self.warn(("%s: the server reported an implausible token count (%s); %s"):format(
      model, tostring(claimed), why))
  end
end

function R:describe(model)
  local l = self:limit(model)
  if not l then return "unlimited" end
  return ("%s RPM, %s TPM%s"):format(tostring(l.rpm or "-"), tostring(l.tpm or "-"),
    l.rpd and (", " .. l.rpd .. " RPD") or "")
end

local shared
--- The process-wide limiter. Off with GLRUN_RATELIMIT=off, and under
--- --mock (glmock has no quota) unless GLRUN_RATELIMIT=on.
function R.shared()
  if not shared then
    local mode = os.getenv("GLRUN_RATELIMIT")
    local off = mode == "off" or (mode ~= "on" and core.options.mock)
    shared = R.new(off and { limits = { default = false }, replace = true } or nil)
    require("gemini.state").attach(shared) -- the policy's ratelimit knob, a shared (Redis) backend
  end
  return shared
end

return R
