-- glrun.prelude — run once at start-up, before the script.
-- * makes coroutine.resume/wrap pass a parked task's yield through, so a
--   transport call made inside a coroutine the script created still parks
--   the whole task instead of returning to the script's resume;
-- * installs the `gemini` global lazily (loaded on first use);
-- * returns run_main, the body of the main task.
local core = require "glrun.core"
local SENTINEL = core._sentinel()

-- core._resume is coroutine.resume that also lets the scheduler's runaway
-- hook reach a busy loop inside the coroutine (runtime/sched.c)
local co_resume, co_yield, co_create, co_status =
  core._resume, coroutine.yield, coroutine.create, coroutine.status

local function pass(co, ok, first, ...)
  -- the inner coroutine parked on a C wait: park the outer one too, and
  -- resume the inner one when the outer is woken
  while ok and first == SENTINEL and co_status(co) == "suspended" do
    co_yield(SENTINEL)
    return pass(co, co_resume(co))
  end
  return ok, first, ...
end

function coroutine.resume(co, ...)
  return pass(co, co_resume(co, ...))
end

function coroutine.wrap(f)
  local co = co_create(f)
  return function(...)
    local function unwrap(ok, ...)
      if not ok then error((...), 0) end
      return ...
    end
    return unwrap(coroutine.resume(co, ...))
  end
end

-- `gemini` is loaded when a script first names it (pay only for what is used)
setmetatable(_G, { __index = function(t, k)
  if k == "gemini" then
    local m = require "gemini"
    rawset(t, k, m)
    return m
  end
end })

return function(actions, ...)
  for i = 1, actions.n do
    local a = actions[i]
    if type(a) == "string" then
      local name = a:match("^([^=]+)=") or a
      local mod = a:match("=(.+)$") or a
      _G[name] = require(mod)
    elseif i == actions.script then
      return a(...)
    else
      a()
    end
  end
end
