-- glrun quota — what the processes sharing a rate-limit pool know
-- (gemini.state's redis backend): each model's window (requests and
-- tokens in it), today's request count, learned marks (a per-day quota
-- spent, a RetryInfo delay) and open Live circuits.
--
--   GLRUN_REDIS_URL=redis://127.0.0.1:6379/0 glrun quota
--   glrun --redis redis://... --policy p.lua quota --pool nightly
local cli = require "glrun.cli"
local state = require "gemini.state"

local USAGE = [[
usage: glrun quota [--pool NAME]

Prints the shared state of a rate-limit pool kept in Redis
(GLRUN_REDIS_URL, --redis URL, or the policy's ratelimit.url): per model
the requests and tokens in the current window and today's requests
(Pacific day), the learned marks (per-day quota spent, shared RetryInfo
delays) with the time left, and the open Live circuits.

options:
  --pool NAME  the pool (default: the policy's ratelimit.pool, else a hash
               of the API key or project)
  --help       this text

exit status: 0 printed, 1 no Redis configured or reachable, 2 usage error]]

local opts = cli.parse({ ... }, { name = "glrun quota", usage = USAGE, values = { ["--pool"] = "pool" } })

local st = state.shared()
if not st then
  io.stderr:write("glrun quota: no shared state: set GLRUN_REDIS_URL, --redis URL, or the policy's ratelimit.url\n")
  os.exit(1)
end
if opts.pool then st.pool = opts.pool end
local c = st:_conn()
if not c then
  io.stderr:write(("glrun quota: Redis unreachable (%s)\n"):format(st.url:gsub("^(rediss?://)[^@/]*@", "%1")))
  os.exit(1)
end

local prefix = ("glrun:{%s}:"):format(st.pool)
local keys, cursor = {}, "0"
for _ = 1, 10000 do
  local r = assert(c:command("SCAN", cursor, "MATCH", prefix .. "*", "COUNT", 1000))
  cursor = r[1]
  for _, k in ipairs(r[2]) do keys[#keys + 1] = k end
  if cursor == "0" then break end
end
table.sort(keys)
local now = assert(c:command("TIME"))
local now_ms = tonumber(now[1]) * 1000 + tonumber(now[2]) // 1000

print(("pool %s"):format(st.pool))
local windows, marks, circuits, days = {}, {}, {}, {}
for _, k in ipairs(keys) do
  local kind, rest = k:sub(#prefix + 1):match("^(%a):(.*)$")
  if kind == "w" then windows[#windows + 1] = rest
  elseif kind == "m" then marks[#marks + 1] = rest
  elseif kind == "c" then circuits[#circuits + 1] = rest
  elseif kind == "d" then days[#days + 1] = rest end
end
print("windows:")
if #windows == 0 then print("  (none)") end
for _, model in ipairs(windows) do
  local n = c:command("ZCARD", prefix .. "w:" .. model) or 0
  local sum = tonumber(c:command("HGET", prefix .. "t:" .. model, "_sum")) or 0
  print(("  %-32s %6d requests %10d tokens"):format(model, n, sum))
end
for _, d in ipairs(days) do
  local model, day = d:match("^(.*):(%d+)$")
  print(("  %-32s %6s requests today (Pacific day %s)"):format(model or d, c:command("GET", prefix .. "d:" .. d) or "0", day or "?"))
end
print("learned:")
if #marks == 0 then print("  (none)") end
for _, model in ipairs(marks) do
  local h = c:command("HMGET", prefix .. "m:" .. model, "until", "reason", "per_day") or {}
  local left = ((tonumber(h[1]) or 0) - now_ms) / 1000
  if left > 0 then
    print(("  %-32s %s for %.0f s more (%s)"):format(model, h[3] == "1" and "per-day quota spent" or "wait",
      left, tostring(h[2])))
  end
end
print("circuits:")
if #circuits == 0 then print("  (none)") end
for _, id in ipairs(circuits) do
  local h = c:command("HMGET", prefix .. "c:" .. id, "until", "reason") or {}
  local left = ((tonumber(h[1]) or 0) - now_ms) / 1000
  print(("  live %s %s (%s)"):format(id, left > 0 and ("open for %.0f s more"):format(left) or "half-open (probing)",
    tostring(h[2])))
end
c:close()
