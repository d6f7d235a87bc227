-- bench/soak.lua — a bounded soak of one long-running glrun process against
-- glmock: REST requests and Live sessions with random faults (glmock's fault
-- model names and turn words), WORKERS at a time, in ROUNDS rounds.
--
--   glrun bench/soak.lua [REQUESTS] [SESSIONS] [ROUNDS] [WORKERS] [SEED]
--
-- Every item ends as "ok" (the answer checked) or as a clear error (an error
-- object with a kind and a message, returned or raised); anything else
-- (a raised string, a wrong answer, an item that never finishes) is counted
-- as unclear or lost. Open file descriptors are counted after warm-up and
-- after each round (curl's connection cache may hold a few sockets, so the
-- check is that other fds come back exactly and sockets stay <= WORKERS). glmock's own
-- request counters are compared with the REST requests sent.
-- Last line: soak: items= ok= errors= unclear= lost= sockets= sockets_over_bound= other_fd_leak=
-- rest_sent= rest_seen= seconds= verdict=PASS|FAIL
local http = require "glrun.http"
local json = require "glrun.json"
local rest = require "gemini.rest"
local live = require "gemini.live"

local REQUESTS = tonumber(arg[1] or "2000")
local SESSIONS = tonumber(arg[2] or "500")
local ROUNDS = tonumber(arg[3] or "2")
local WORKERS = tonumber(arg[4] or "50")
math.randomseed(tonumber(arg[5] or "1"))
local base = assert(os.getenv("GLMOCK_URL") or os.getenv("GOOGLE_GEMINI_BASE_URL"))

local pid = io.open("/proc/self/stat"):read("l"):match("^%d+")
-- open descriptors: sockets, and everything else (the pipe of this popen excluded)
local function fd_count()
  local p = io.popen("ls -l /proc/" .. pid .. "/fd")
  local socks, other = 0, -1
  for l in p:lines() do
    if l:find("-> socket:", 1, true) then socks = socks + 1
    elseif l:find(" -> ", 1, true) then other = other + 1 end
  end
  p:close()
  return socks, other
end

-- REST: model (fault words) -> what is expected
local REST_MODELS = {
  { "gemini-2.5-flash", "ok" }, { "gemini-2.5-flash", "ok" }, { "gemini-2.5-flash", "ok" },
  { "x-ratelimited", "http" }, { "x-perday", "http" }, { "x-overloaded", "http" },
  { "x-internal", "http" }, { "x-nonexistent", "http" }, { "x-cutstream", "cut" },
  { "x-midstreamerror", "cut" }, { "x-malformed", "protocol" }, { "x-slow", "ok" },
  { "x-hang", "timeout" },
}
-- Live: turn text words (glmock's turn faults)
local LIVE_WORDS = { "", "", "", "fragment", "drop", "internal", "goaway" }
local LIVE_MODELS = { "gemini-live-text-test", "gemini-live-text-test", "gemini-live-text-test",
                      "gemini-live-text-test-nonexistent", "gemini-live-text-test-internal" }

local tally = { ok = 0, errors = 0, unclear = 0, started = 0, finished = 0 }
local kinds, unclear_samples = {}, {}
local rest_sent = 0

local function clear_error(e)
  return type(e) == "table" and type(e.kind) == "string" and type(e.message) == "string" and e.message ~= ""
end
local function record(ok, what, err)
  tally.finished = tally.finished + 1
  if ok then tally.ok = tally.ok + 1; return end
  if clear_error(err) then
    tally.errors = tally.errors + 1
    local k = what .. ":" .. err.kind .. (err.status and ("/" .. tostring(err.status)) or "")
    kinds[k] = (kinds[k] or 0) + 1
  else
    tally.unclear = tally.unclear + 1
    if #unclear_samples < 5 then unclear_samples[#unclear_samples + 1] = what .. ": " .. tostring(err) end
  end
end

local function rest_item(i)
  local m = REST_MODELS[math.random(#REST_MODELS)]
  local model = m[1]
  local prompt = "soak " .. i .. " some words here"
  local timeout = model:find("hang", 1, true) and 0.5 or 20
  rest_sent = rest_sent + 1
  if math.random() < 0.3 then
    local text, err = gemini.ask(prompt, { model = model, timeout = timeout })
    if text == nil then return record(false, "rest.generate", err) end
    return record(text == "echo: " .. prompt, "rest.generate", "wrong answer: " .. tostring(text))
  end
  local it, err = rest.stream(gemini.request(prompt), { model = model, timeout = timeout })
  if not it then return record(false, "rest.stream", err) end
  local parts = {}
  local ok, e = pcall(function() for c in it do parts[#parts + 1] = c.text end end)
  if not ok then return record(false, "rest.stream", e) end
  local text = table.concat(parts)
  record(text == "echo: " .. prompt, "rest.stream", "wrong answer: " .. text:sub(1, 80))
end

local function live_item(i)
  local model = LIVE_MODELS[math.random(#LIVE_MODELS)]
  local s, err = live.connect{ model = model, timeout = 10,
                               policy = { backoff = 0.05, backoff_max = 0.2, max_failures = 2 } }
  if not s then return record(false, "live.connect", err) end
  local ok, e = pcall(function()
    for t = 1, math.random(1, 3) do
      local word = LIVE_WORDS[math.random(#LIVE_WORDS)]
      local text = ("turn %d of %d %s"):format(t, i, word)
      local sent, serr = s:send_text(text)
      if not sent then error(serr, 0) end
      local got, rerr, done = s:receive_turn(10)
      if got == nil then error(rerr, 0) end
      if done.reason == "reconnect" then
        -- the connection broke mid-turn after the server had acknowledged
        -- the turn (a resumption handle): nothing to replay, the turn ends
        -- here with a partial answer and turn_complete.reason = "reconnect"
        error(gl.error("turn_cut", "turn ended by a reconnect: " .. got), 0)
      end
      -- after a drop/1011 the session reconnects and the turn may be
      -- answered again on the new connection: the answer ends with the text
      if got:sub(-#text) ~= text then error("wrong answer: " .. got, 0) end
    end
  end)
  s:close()
  record(ok, "live", e)
end

local function run_round(r)
  local items = {}
  for i = 1, REQUESTS do items[#items + 1] = { rest_item, i } end
  for i = 1, SESSIONS do items[#items + 1] = { live_item, i } end
  for i = #items, 2, -1 do local j = math.random(i); items[i], items[j] = items[j], items[i] end
  local next_i = 0
  local workers = {}
  for w = 1, WORKERS do
    workers[w] = gl.spawn(function()
      while true do
        next_i = next_i + 1
        local it = items[next_i]
        if not it then return true end
        tally.started = tally.started + 1
        local ok, e = pcall(it[1], it[2] + r * 1000000)
        if not ok then record(false, "item", e) end -- record() counts a raw raise as unclear
      end
    end)
  end
  for w = 1, WORKERS do
    local ok, err = workers[w]:join()
    if not ok then print("soak: a worker died: " .. tostring(err)) end
  end
end

local function glmock_rest_count()
  local res = http.request{ url = base .. "/glmock/scenario" }
  local st = res and json.decode(res.body)
  return st and st.counters and st.counters.rest or -1
end

-- warm up: the first REST request and Live session create the lazily made
-- handles (curl multi, the lws context) that then live for the process
assert(gemini.ask("warm up", { model = "gemini-2.5-flash" }))
local w = assert(live.connect{ model = "gemini-live-text-test" }); w:close()
http.request{ method = "DELETE", url = base .. "/glmock/scenario" }   -- zero glmock's counters
collectgarbage(); collectgarbage(); gl.sleep(0.3)
local sock0, other0 = fd_count()
local socks, others = {}, {}
local t0 = gl.now()
for r = 1, ROUNDS do
  run_round(r)
  collectgarbage(); collectgarbage(); gl.sleep(0.5); collectgarbage()
  socks[r], others[r] = fd_count()
  print(("soak: round %d: %d items done, %.1f s, open fds: %d sockets, %d other (after warm-up: %d, %d)"):format(
    r, tally.finished, gl.now() - t0, socks[r], others[r], sock0, other0))
end
local rest_seen = glmock_rest_count()
local kl = {}
for k, n in pairs(kinds) do kl[#kl + 1] = k .. "=" .. n end
table.sort(kl)
print("soak: errors by kind: " .. table.concat(kl, " "))
for _, s in ipairs(unclear_samples) do print("soak: unclear: " .. s) end
local items = ROUNDS * (REQUESTS + SESSIONS)
local lost = items - tally.finished
-- fds: anything but a socket must be back to the warm-up count; sockets may
-- stay in curl's connection cache, which holds at most one per request that
-- was in flight at once: after every round they must be <= WORKERS (a leak
-- of one socket per failure would pass that within the first round)
local growth = 0
for r = 1, ROUNDS do growth = math.max(growth, socks[r] - WORKERS) end
local other_leak = others[ROUNDS] - other0
-- every REST request sent reached glmock (a hang is counted when it arrives)
local pass = lost == 0 and tally.unclear == 0 and growth <= 0 and other_leak == 0
  and rest_seen == rest_sent and tally.ok > 0
print(("soak: items=%d ok=%d errors=%d unclear=%d lost=%d sockets=%d->%d sockets_over_bound=%d other_fd_leak=%d rest_sent=%d rest_seen=%d seconds=%.1f verdict=%s")
  :format(items, tally.ok, tally.errors, tally.unclear, lost, sock0, socks[ROUNDS], growth, other_leak, rest_sent, rest_seen,
          gl.now() - t0, pass and "PASS" or "FAIL"))
if not pass then os.exit(1) end
