-- bench/scale.lua — how many concurrent sessions one glrun process holds.
--   glrun bench/scale.lua live N   N Live sessions (gemini-live-text-test) opened
--                                  at once and held; RSS sampled; then one turn
--                                  on each, its reply checked
--   glrun bench/scale.lua rest N   N REST streams (gemini.rest.stream) opened at
--                                  once, each read up to its first chunk; RSS and
--                                  fds sampled while all are open mid-stream (run
--                                  against a glmock started with --chunk-delay-ms
--                                  longer than the opening takes, so the second
--                                  chunk is still to come); then every stream
--                                  drained and its reply checked
-- Prints: n= ok= failed= open_s= rss0_kib= rss_kib= total_s= fds= err=""
local live = require "gemini.live"
local rest = require "gemini.rest"

local mode, n = arg[1], tonumber(arg[2] or "100")

local function rss_kib()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmRSS:%s*(%d+)"))
end
local function fds()
  local p = io.popen("ls /proc/" .. (io.open("/proc/self/stat"):read("l"):match("^%d+")) .. "/fd | wc -l")
  local c = tonumber(p:read("a")); p:close()
  return c
end

collectgarbage()
local r0 = rss_kib()
local t0 = gl.now()
local ok, failed, first_err = 0, 0, ""
local function fail(e)
  failed = failed + 1
  if first_err == "" then first_err = tostring(e):sub(1, 120):gsub('"', "'") end
end

local opened, held_rss, held_fds, topen = 0, nil, nil, nil
local tasks = {}
local function arrived()
  opened = opened + 1
end
local function wait_all()
  while opened < n do gl.sleep(0.01) end
end

if mode == "live" then
  for i = 1, n do
    tasks[i] = gl.spawn(function()
      local s, err = live.connect{ model = "gemini-live-text-test" }
      arrived()
      if not s then return fail(err) end
      wait_all()
      local sent, serr = s:send_text("hello " .. i)
      if not sent then s:close(); return fail(serr) end
      local text, terr = s:receive_turn(60)
      if text == "echo: hello " .. i then ok = ok + 1 else fail(terr or ("wrong reply " .. tostring(text))) end
      s:close()
    end)
  end
elseif mode == "rest" then
  for i = 1, n do
    tasks[i] = gl.spawn(function()
      local prompt = "s" .. i   -- "echo: sN": two chunks
      local it, err = rest.stream(gemini.request(prompt), { model = "gemini-2.5-flash" })
      if not it then arrived(); return fail(err) end
      local good, first = pcall(it)
      arrived()
      if not good or not first then return fail(first or "no first chunk") end
      wait_all()
      local parts = { first.text }
      local done, e = pcall(function() for c in it do parts[#parts + 1] = c.text end end)
      if not done then return fail(e) end
      local text = table.concat(parts)
      if text == "echo: " .. prompt then ok = ok + 1 else fail("wrong reply " .. text:sub(1, 60)) end
    end)
  end
else
  error("usage: glrun bench/scale.lua live|rest N")
end

-- sample while every session is open and held
gl.spawn(function()
  wait_all()
  topen = gl.now() - t0
  collectgarbage()
  held_rss, held_fds = rss_kib(), fds()
end):join()
for i = 1, n do tasks[i]:join() end
print(('n=%d ok=%d failed=%d open_s=%.3f rss0_kib=%d rss_kib=%d total_s=%.3f fds=%d err="%s"'):format(
  n, ok, failed, topen, r0, held_rss, gl.now() - t0, held_fds, first_err))
