-- A policy file: REST only on weekdays (Live on weekends), and never fall
-- back when Live says 1008 — report it instead, since it is a
-- configuration error. Use it with:
--
--   glrun --policy examples/policies/rest_on_weekdays.lua script.lua
--   (or copy it to $XDG_CONFIG_HOME/glrun/policy.lua)
--
-- A policy file returns a table of overrides; everything it leaves out
-- keeps the defaults of gemini.policy. Every function gets the merged
-- policy as its last argument. GLRUN_WEEKDAY (1 = Sunday .. 7) pins the
-- day for tests and demos.
local default = require "gemini.policy"

local P = {}

local function weekday()
  return tonumber(os.getenv("GLRUN_WEEKDAY") or "") or os.date("*t").wday
end

function P.choose(ctx, p)
  local wd = weekday()
  if wd >= 2 and wd <= 6 and ctx.transport == "auto" then
    ctx = setmetatable({ transport = "rest" }, { __index = ctx })
  end
  return default.choose(ctx, p)
end

function P.classify(err, at, p)
  local d = default.classify(err, at, p)
  if at.transport == "live" and err.close_code == 1008 then
    return { action = "fail", reason = d.reason .. " (this policy does not fall back on 1008)" }
  end
  return d
end

return P
