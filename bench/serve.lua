-- bench/serve.lua — the client side of bench/serve.sh (glrun serve's cost).
--   glrun bench/serve.lua latency DIRECT_URL GATEWAY_URL N
--       N streamGenerateContent requests each way, interleaved; the time to
--       the first SSE event; prints "direct_p50_us= direct_p99_us= gw_p50_us= gw_p99_us="
--   glrun bench/serve.lua hold GATEWAY_URL S PID
--       S streams opened through the gateway and held (each read to its first
--       event); the gateway's (PID) RSS before and while they are held;
--       prints "held= rss0_kib= rss1_kib= kib_per_stream="
local http = require "glrun.http"
local json = require "glrun.json"
local mode = arg[1]

local function body(text)
  return json.encode{ contents = { { role = "user", parts = { { text = text } } } } }
end
local H = { ["Content-Type"] = "application/json", ["x-goog-api-key"] = "bench-key" }

local function first_event(base, model, text)
  local t0 = gl.now()
  local it, h = assert(http.sse{ url = base .. "/v1beta/models/" .. model .. ":streamGenerateContent?alt=sse",
                                 method = "POST", headers = H, body = body(text), timeout = 60 })
  local ev = it()
  local dt = gl.now() - t0
  assert(ev and ev.data, "no first event")
  return dt, it, h
end

local function pct(list, p)
  table.sort(list)
  local i = math.max(1, math.min(#list, math.ceil(#list * p)))
  return list[i]
end

local function rss(pid)
  local f = io.open("/proc/" .. pid .. "/status")
  if not f then return 0 end
  local s = f:read("a"); f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

if mode == "latency" then
  local direct, gw, n = arg[2], arg[3], tonumber(arg[4]) or 100
  local d, g = {}, {}
  for i = 1, n do
    local dt, it, h = first_event(direct, "gemini-2.5-flash", "bench " .. i)
    for _ in it do end
    h:close()
    d[#d + 1] = dt
    dt, it, h = first_event(gw, "gemini-2.5-flash", "bench " .. i)
    for _ in it do end
    h:close()
    g[#g + 1] = dt
  end
  print(("direct_p50_us=%.0f direct_p99_us=%.0f gw_p50_us=%.0f gw_p99_us=%.0f"):format(
    pct(d, 0.5) * 1e6, pct(d, 0.99) * 1e6, pct(g, 0.5) * 1e6, pct(g, 0.99) * 1e6))
elseif mode == "hold" then
  local gw, s, pid = arg[2], tonumber(arg[3]) or 200, arg[4]
  local words = {}
  for i = 1, 40 do words[i] = "w" .. i end
  local text = table.concat(words, " ")
  local rss0 = rss(pid)
  local handles, opened = {}, 0
  local tasks = {}
  for i = 1, s do
    tasks[i] = gl.spawn(function()
      local _, it, h = first_event(gw, "gemini-2.5-flash", text)
      handles[i] = { it, h }
      opened = opened + 1
    end)
  end
  for i = 1, s do tasks[i]:join() end
  gl.sleep(0.5)
  local rss1 = rss(pid)
  print(("held=%d rss0_kib=%d rss1_kib=%d kib_per_stream=%.1f"):format(opened, rss0, rss1,
    opened > 0 and (rss1 - rss0) / opened or 0))
  for _, x in pairs(handles) do x[2]:close() end
else
  io.stderr:write("usage: glrun bench/serve.lua latency DIRECT GW N | hold GW S PID\n")
  os.exit(2)
end
