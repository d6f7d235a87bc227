-- gemini.ratelimit — client-side request and token budgets per model, so a
-- free-tier key is not hammered into 429s. A request waits for budget
-- instead of drawing a 429. One limiter is shared by every task of the
-- process (ratelimit.shared()); tests make their own with a fake clock.
--
--   local rl = require("gemini.ratelimit").new{ limits = { ["gemini-2.5-flash"] = { rpm = 10, tpm = 250000 } } }
--   assert(rl:acquire("gemini-2.5-flash", 1200))   -- waits if the last minute is full
--
-- Windows are sliding 60-second windows of (time, tokens) entries.
local errors = require "gemini.errors"

local R = {}
R.__index = R

--- Free-tier defaults (docs/protocol.md#rate-limits: snapshots; they change often).
--- `default` applies to models not named. Override per model, or turn
--- limiting off with GLRUN_RATELIMIT=off.
R.defaults = {
  ["gemini-2.5-flash"] = { rpm = 10, tpm = 250000 },
  ["gemini-2.5-flash-lite"] = { rpm = 15, tpm = 250000 },
  ["gemini-2.5-pro"] = { rpm = 5, tpm = 250000 },
  ["gemini-2.0-flash"] = { rpm = 15, tpm = 1000000 },
  ["gemini-2.0-flash-lite"] = { rpm = 30, tpm = 1000000 },
  default = { rpm = 10, tpm = 250000 },
}

--- opts: limits (model -> {rpm, tpm}; merged over the defaults unless
--- opts.replace), clock (seconds, default gl.now), sleep (default
--- gl.sleep), window (seconds, default 60), warn (function(message): where
--- the one warning about an implausible token count goes; default the log).
function R.new(opts)
  opts = opts or {}
  local limits = {}
  if not opts.replace then for k, v in pairs(R.defaults) do limits[k] = v end end
  for k, v in pairs(opts.limits or {}) do limits[k] = v end
  return setmetatable({
    limits = limits,
    clock = opts.clock or gl.now,
    sleep = opts.sleep or gl.sleep,
    window = opts.window or 60,
    warn = opts.warn or function(msg) gl.log("warn", msg, "ratelimit") end,
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

--- The limit of a model ({rpm, tpm}) or nil when unlimited.
function R:limit(model)
  local l = self.limits[model]
  if l == nil then l = self.limits.default end
  if l == false then return nil end
  return l
end

--- Seconds to wait before `tokens` more tokens may go to `model` (0 = now).
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
  local waited = 0
  for _ = 1, 1000 do
    local w = self:wait_time(model, tokens)
    if w <= 0 then
      local list = self.used[model] or {}
      self.used[model] = list
      list[#list + 1] = { t = self.clock(), tokens = tokens }
      self.waited = self.waited + waited
      return true, waited
    end
    if deadline and self.clock() + w > deadline then
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
  if why and not self.warned then
    self.warned = true
    self.warn(("%s: the server reported an implausible token count (%s); %s"):format(
      model, tostring(claimed), why))
  end
end

function R:describe(model)
  local l = self:limit(model)
  if not l then return "unlimited" end
  return ("%s RPM, %s TPM"):format(tostring(l.rpm or "-"), tostring(l.tpm or "-"))
end

local shared
--- The process-wide limiter. Off with GLRUN_RATELIMIT=off, and under
--- --mock (glmock has no quota) unless GLRUN_RATELIMIT=on.
function R.shared()
  if not shared then
    local mode = os.getenv("GLRUN_RATELIMIT")
    local off = mode == "off" or (mode ~= "on" and os.getenv("GLRUN_MOCK") ~= nil)
    shared = R.new(off and { limits = { default = false }, replace = true } or nil)
  end
  return shared
end

return R
