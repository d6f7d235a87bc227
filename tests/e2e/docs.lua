-- The documentation is true to the code: every public function of the Lua
-- modules (gl, glrun.http, glrun.json, glrun.readline, gemini, gemini.rest,
-- gemini.chat and its methods, gemini.policy, gemini.ratelimit) is named in
-- its section of README.md's module reference; every `gl.x(`, `gemini.x(`,
-- `chat:x(` ... the README names exists; every built-in flow is listed by
-- `glrun --help` and in the README.
local src = assert(os.getenv("SRC"), "SRC (the source tree) is not set")
local f = assert(io.open(src .. "/README.md"))
local readme = f:read("a")
f:close()

local failures = {}
local function bad(msg) failures[#failures + 1] = msg end

local function section(name)
  local head = "\n### `" .. name .. "`"
  local s = readme:find(head, 1, true)
  if not s then return nil end
  local body_start = readme:find("\n", s + 1, true) or #readme
  local stop = readme:find("\n##", body_start, true)
  return readme:sub(body_start, stop or #readme)
end

local function public(t)
  local out = {}
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and not k:match("^_") then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

local chatmod = require "gemini.chat"
local a_chat = chatmod.new{ quiet = true }
local a_task = gl.spawn(function() end)
a_task:join()

-- {README section, table of functions, how a call is written}
local modules = {
  { "gl", gl, "." },
  { "gl", getmetatable(a_task).__index, ":" },   -- task methods
  { "glrun.http", require "glrun.http", "." },
  { "glrun.json", require "glrun.json", "." },
  { "glrun.readline", require "glrun.readline", "." },
  { "glrun.server", require "glrun.server", "." },
  { "gemini", require "gemini", "." },
  { "gemini.rest", require "gemini.rest", "." },
  { "gemini.chat", chatmod, "." },
  { "gemini.chat", getmetatable(a_chat).__index, ":" }, -- chat methods
  { "gemini.policy", require "gemini.policy", "." },
  { "gemini.ratelimit", require "gemini.ratelimit", "[.:]" },
  { "gemini.files", require "gemini.files", "." },
  { "gemini.batches", require "gemini.batches", "." },
  { "gemini.caches", require "gemini.caches", "." },
  { "gemini.embed", require "gemini.embed", "." },
  { "gemini.tokens", require "gemini.tokens", "." },
  { "gemini.schema", require "gemini.schema", "." },
}

local documented = 0
for _, m in ipairs(modules) do
  local name, t, sep = m[1], m[2], m[3]
  local text = section(name)
  if not text then
    bad(("README.md has no section \"### `%s`\""):format(name))
  else
    for _, fn in ipairs(public(t)) do
      local pat = (sep == "." and "%." or sep == ":" and ":" or sep) .. fn .. "[%(%{]"
      if text:find(pat) then
        documented = documented + 1
      else
        bad(("%s%s%s is not documented in README.md's section on `%s`"):format(
          name, sep == ":" and ":" or ".", fn, name))
      end
    end
  end
end

-- the other way round: what the README calls must exist
local callables = {
  { "gl%.", gl }, { "gemini%.", require "gemini" }, { "chat:", getmetatable(a_chat).__index },
  { "rest%.", require "gemini.rest" }, { "readline%.", require "glrun.readline" },
  { "json%.", require "glrun.json" }, { "http%.", require "glrun.http" },
  { "policy%.", require "gemini.policy" }, { "ratelimit%.", require "gemini.ratelimit" },
}
for _, c in ipairs(callables) do
  for fn in readme:gmatch("%f[%w_]" .. c[1] .. "([%a_][%w_]*)%(") do
    if type(c[2][fn]) ~= "function" then
      bad(("README.md calls %s%s(), which does not exist"):format(c[1]:gsub("%%", ""), fn))
    end
  end
end

-- built-in flows: listed by glrun --help and in the README
local glrun = assert(os.getenv("GLRUN"), "GLRUN is not set")
local p = assert(io.popen("'" .. glrun .. "' --help"))
local help = p:read("a")
p:close()
local flows = 0
for _, n in ipairs(gl.builtin_names()) do
  local flow = n:match("^glrun%.scripts%.(.+)$")
  if flow then
    flows = flows + 1
    if not help:find("\n  " .. flow .. " ", 1, true) then bad("glrun --help does not list the built-in flow " .. flow) end
    if not readme:find("glrun " .. flow, 1, true) then bad("README.md does not mention `glrun " .. flow .. "`") end
  end
end
for listed in ("\n" .. help:match("Built%-in flows[^\n]*\n(.-)\n\n")):gmatch("\n  (%a[%w_]*) ") do
  local found = false
  for _, n in ipairs(gl.builtin_names()) do if n == "glrun.scripts." .. listed then found = true end end
  if not found then bad("glrun --help lists a flow '" .. listed .. "' that is not built in") end
end

if #failures > 0 then
  for _, m in ipairs(failures) do io.stderr:write("not ok - ", m, "\n") end
  error(#failures .. " documentation problem(s)", 0)
end
print(("ok - %d functions documented, %d built-in flows listed"):format(documented, flows))
