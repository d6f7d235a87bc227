-- concurrent.lua — many requests at once. Every task is a coroutine on the
-- one event loop: while one waits for the network the others run, so ten
-- questions take about as long as the slowest one, not the sum.
--
--   glrun --mock examples/concurrent.lua
local gemini = require "gemini"

local questions = {}
for i = 1, 10 do questions[i] = "question number " .. i end

local t0 = gl.now()
local tasks = {}
for i, q in ipairs(questions) do
  -- gl.spawn(fn, args...) starts a task; it runs when this one waits
  tasks[i] = gl.spawn(gemini.ask, q, { model = "gemini-2.5-flash" })
end

-- a task that ticks meanwhile: the loop is never blocked
local ticks = 0
local ticker = gl.spawn(function()
  for _ = 1, 3 do gl.sleep(0.01); ticks = ticks + 1 end
end)

-- join() waits for a task and returns its results (here: the text,
-- or nil, err when gemini.ask failed); a task that raised gives nil, err too
local answered = 0
for i, t in ipairs(tasks) do
  local text, err = t:join()
  if text then answered = answered + 1 end
  print(i, text or ("failed: " .. tostring(err)))
end
ticker:join()
print(("%d of %d answered, the ticker ticked %d times, %s"):format(answered, #tasks, ticks,
  gl.now() - t0 < 5 and "all at once" or "slowly"))
