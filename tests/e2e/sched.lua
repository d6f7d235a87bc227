-- The task scheduler: many concurrent tasks, results and errors through
-- join, ordering of sleeps, coroutines made by the script, cooperative
-- yields. Run by `glrun --mock`.
local N = 2000
local tasks = {}
local finished = {}
for i = 1, N do
  tasks[i] = gl.spawn(function(k)
    gl.sleep((k % 7) * 0.002)
    finished[#finished + 1] = k
    return k * 2, "r" .. k
  end, i)
end
for i = 1, N do
  local a, b = tasks[i]:join()
  assert(a == i * 2 and b == "r" .. i, "task " .. i .. " returned " .. tostring(a) .. ", " .. tostring(b))
  assert(tasks[i]:status() == "done")
end
assert(#finished == N, "every task ran once")
-- sleeps wake in deadline order: all k%7==0 tasks finished before any k%7==6
local pos = {}
for idx, k in ipairs(finished) do pos[k] = idx end
local last0, first6 = 0, math.huge
for k = 1, N do
  if k % 7 == 0 then last0 = math.max(last0, pos[k]) end
  if k % 7 == 6 then first6 = math.min(first6, pos[k]) end
end
assert(last0 < first6, "shorter sleeps finish first")

-- errors: a string error and an error object, both through join
local t1 = gl.spawn(function() error("plain failure") end)
local r, err = t1:join()
assert(r == nil and tostring(err):find("plain failure", 1, true), "string error via join")
assert(t1:status() == "failed")
local t2 = gl.spawn(function() error(gl.error("http", "boom", { status = 503 })) end)
r, err = t2:join()
assert(r == nil and gl.is_error(err) and err.status == 503 and err.kind == "http", "error object via join")
-- joining a finished task again gives the same answer
local again = { t2:join() }
assert(again[1] == nil and again[2] == err)

-- several tasks may join the same task
local slow = gl.spawn(function() gl.sleep(0.05) return "slow-done" end)
local joiners = {}
for i = 1, 5 do joiners[i] = gl.spawn(function() return (slow:join()) end) end
for i = 1, 5 do assert(joiners[i]:join() == "slow-done") end

-- a transport call inside a coroutine the script made parks the whole task
local http = require "glrun.http"
local base = assert(gl.options.mock_url)
local gen = coroutine.wrap(function()
  for i = 1, 3 do
    local res = assert(http.request{ url = base .. "/v1beta/models/gemini-2.5-flash",
                                     headers = { ["x-goog-api-key"] = "k" } })
    coroutine.yield(res.status, i)
  end
end)
for i = 1, 3 do
  local st, n = gen()
  assert(st == 200 and n == i, "nested coroutine round " .. i)
end

-- a plain coroutine.yield() in a task lets the others run
local log = {}
local a = gl.spawn(function() for i = 1, 3 do log[#log + 1] = "a" .. i; coroutine.yield() end end)
local b = gl.spawn(function() for i = 1, 3 do log[#log + 1] = "b" .. i; coroutine.yield() end end)
a:join(); b:join()
assert(table.concat(log, ",") == "a1,b1,a2,b2,a3,b3", table.concat(log, ","))

-- now() is monotonic and sleep really waits
local t0 = gl.now()
gl.sleep(0.05)
local dt = gl.now() - t0
assert(dt >= 0.045, "sleep(0.05) took " .. dt)

-- misuse raises
assert(not pcall(gl.spawn, 42), "spawn needs a function")
assert(not pcall(gl.sleep, -1), "negative sleep is refused")
print("sched ok")
