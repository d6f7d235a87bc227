-- The public Lua API follows one convention (README.md, "Conventions"):
--   * a call returns its result, or nil, err (err an error object with a
--     non-empty `kind`), and never raises an expected failure;
--   * an iterator returns nil, err when it cannot start, and raises (an
--     error object) after;
--   * misuse (a wrong argument type, a closed session) raises.
-- Table-driven: every public function of every public module must have a
-- row here (a new function without one fails the test), and each row
-- checks what applies: `fail` (an expected failure is nil + an error
-- object), `misuse` (raises), `start_fail` (an iterator that cannot start
-- is nil, err), `raise_after` (a failure after the start is raised as an
-- error object), `ok` (a call that cannot fail gives a value), `maybe` (a
-- lookup whose "none" is nil without an error: it must not raise), or
-- `exempt` (why no call applies: raising by design, state only).
-- `makes_errors = true` marks a function whose result is an error object
-- (errors.new, diagnose.live).
local gemini = require "gemini"
local http = require "glrun.http"
local json = require "glrun.json"
local base = assert(gl.options.mock_url, "run with glrun --mock")

-- nothing listens on port 1: every request fails with kind "connect"
local DOWN = { api_key = "k", base_url = "http://127.0.0.1:1" }
-- a key in clear text to a host that is not this machine: a configuration error
local BADCFG = { api_key = "k", base_url = "http://example.invalid" }
local function noop() end

local failures, checked = {}, 0
local function bad(msg) failures[#failures + 1] = msg end
local function is_err(e) return gl.is_error(e) and type(e.kind) == "string" and e.kind ~= "" end
local function show(v)
  if type(v) == "table" and not gl.is_error(v) then return "a " .. type(v) end
  return tostring(v)
end

local scenario = require("glmockctl").scenario

-- one expected failure: no raise, nil, an error object (of `kind` when given)
local function check_fail(name, f, kind)
  local r = table.pack(pcall(f))
  if not r[1] then return bad(name .. ": an expected failure raised: " .. show(r[2])) end
  if r[2] ~= nil then return bad(name .. ": an expected failure returned " .. show(r[2]) .. ", not nil") end
  if not is_err(r[3]) then return bad(name .. ": the failure is not an error object with a kind: " .. show(r[3])) end
  if kind and r[3].kind ~= kind then return bad(name .. ": kind " .. r[3].kind .. ", wanted " .. kind .. " (" .. tostring(r[3]) .. ")") end
  checked = checked + 1
end

local function check_misuse(name, f)
  local ok, e = pcall(f)
  if ok then return bad(name .. ": misuse did not raise") end
  checked = checked + 1
  return e
end

local function check_ok(name, f, maybe, makes_errors)
  local ok, v = pcall(f)
  if not ok then return bad(name .. ": raised: " .. show(v)) end
  if v == nil and not maybe then return bad(name .. ": returned nil") end
  if gl.is_error(v) and not (maybe or makes_errors) then return bad(name .. ": returned an error object as its result") end
  checked = checked + 1
end

-- an iterator that fails later: it starts (returns a function), then
-- iterating raises an error object
local function check_raise_after(name, f)
  local ok, it, st, ctl = pcall(f)
  if not ok then return bad(name .. ": raised at the start: " .. show(it)) end
  if type(it) ~= "function" then return bad(name .. ": did not start: " .. show(st)) end
  local rok, e = pcall(function()
    for _ = 1, 100000 do if it(st, ctl) == nil then return end end
  end)
  if rok then return bad(name .. ": the failure after the start was not raised") end
  if not is_err(e) then return bad(name .. ": raised " .. show(e) .. ", not an error object") end
  checked = checked + 1
end

local function as_list(x)
  if x == nil then return {} end
  if type(x) == "function" then return { x } end
  return x
end

-- run one row
local function run(name, row)
  for _, f in ipairs(as_list(row.fail)) do
    if type(f) == "table" then check_fail(name, f[1], f[2]) else check_fail(name, f) end
  end
  for _, f in ipairs(as_list(row.start_fail)) do check_fail(name .. " (start)", f) end
  for _, f in ipairs(as_list(row.misuse)) do check_misuse(name, f) end
  for _, f in ipairs(as_list(row.ok)) do check_ok(name, f, false, row.makes_errors) end
  for _, f in ipairs(as_list(row.maybe)) do check_ok(name, f, true) end
  for _, f in ipairs(as_list(row.raise_after)) do check_raise_after(name, f) end
  if row.exempt then checked = checked + 1 end
end

-- every public function of t must have a row; every row a function
local function module_rows(name, t, rows, sep)
  sep = sep or "."
  for k, v in pairs(t) do
    if type(k) == "string" and type(v) == "function" and not k:match("^_") and not rows[k] then
      bad(("%s%s%s: a public function with no row in tests/e2e/api_convention.lua"):format(name, sep, k))
    end
  end
  local names = {}
  for k in pairs(rows) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    if type(t[k]) ~= "function" then
      bad(("%s%s%s: a row for a function that does not exist"):format(name, sep, k))
    else
      run(name .. sep .. k, rows[k])
    end
  end
end

local rest = require "gemini.rest"
local chatmod = require "gemini.chat"
local live = require "gemini.live"
local config = require "gemini.config"
local errors = require "gemini.errors"

---------------------------------------------------------------------------
-- gemini
---------------------------------------------------------------------------
module_rows("gemini", gemini, {
  ask = {
    fail = { { function() return gemini.ask("x", { client = DOWN }) end, "connect" },
             { function() return gemini.ask("x", { client = BADCFG }) end, "config" } },
    misuse = { function() return gemini.ask(42) end, function() return gemini.ask("x", 5) end,
               function() return gemini.ask("x", { generation = "hot" }) end },
    ok = function()
      -- the text only: print(gemini.ask("hi")) prints the answer
      local n = select("#", gemini.ask("hi"))
      assert(n == 1, "gemini.ask returned " .. n .. " values")
      return gemini.ask("hi")
    end,
  },
  generate = {
    fail = { { function() return gemini.generate("x", { client = DOWN }) end, "connect" },
             { function() return gemini.generate("x", { client = BADCFG }) end, "config" } },
    misuse = function() return gemini.generate("x", 5) end,
    ok = function()
      local r = gemini.generate("hi", { generation = { temperature = 0 } })
      assert(type(r.candidates) == "table" and type(r.text) == "string")
      return r
    end,
  },
  stream = {
    start_fail = { function() return gemini.stream("x", { client = DOWN }) end,
                   function() return gemini.stream("x", { client = BADCFG }) end },
    misuse = { function() return gemini.stream(42) end, function() return gemini.stream("x", 5) end },
    raise_after = function() return gemini.stream("one two three four five six", { model = "gemini-cutstream", continuation = false }) end,
    ok = function() return gemini.stream("hi") end,
  },
  request = {
    ok = function() return gemini.request("hi", { generation = { temperature = 0 } }) end,
    misuse = { function() return gemini.request(42) end, function() return gemini.request("x", 5) end },
  },
  chat = {
    fail = { { function() return gemini.chat{ client = BADCFG } end, "config" },
             { function() return gemini.chat{ policy = { choose = 42 } } end, "config" } },
    misuse = { function() return gemini.chat(5) end, function() return gemini.chat{ policy = 5 } end },
    ok = function() return gemini.chat{ quiet = true } end,
  },
  embed = {
    fail = { function() return gemini.embed("x", { client = DOWN }) end },
    misuse = function() return gemini.embed(42) end,
  },
})

---------------------------------------------------------------------------
-- gemini.rest
---------------------------------------------------------------------------
local REQ = gemini.request("hello")
module_rows("gemini.rest", rest, {
  generate = {
    fail = { { function() return rest.generate(REQ, { client = DOWN }) end, "connect" },
             { function() return rest.generate(REQ, { client = BADCFG }) end, "config" },
             { function() return rest.generate(REQ, { model = "gemini-nonexistent" }) end, "http" } },
    misuse = { function() return rest.generate("hello") end, function() return rest.generate(REQ, 5) end },
    ok = function() return rest.generate(REQ) end,
  },
  stream = {
    start_fail = { function() return rest.stream(REQ, { client = DOWN }) end,
                   function() return rest.stream(REQ, { model = "gemini-nonexistent" }) end },
    misuse = function() return rest.stream(nil) end,
    raise_after = function()
      return rest.stream(gemini.request("one two three four five six"), { model = "gemini-cutstream", continuation = false })
    end,
  },
  count_tokens = {
    fail = function() return rest.count_tokens(REQ, { client = DOWN }) end,
    misuse = function() return rest.count_tokens(5) end,
    ok = function() return rest.count_tokens(REQ) end,
  },
  list_models = {
    fail = function() return rest.list_models{ client = DOWN } end,
    misuse = function() return rest.list_models(5) end,
    ok = function() return rest.list_models() end,
  },
  model_path = { ok = function() return rest.model_path("gemini-2.5-flash") end },
  url = { ok = function() return rest.url(assert(config.get()), "gemini-2.5-flash", "generateContent") end },
  text_of = { ok = function() return rest.text_of({}) end },
  parts_text = { ok = function() return rest.parts_text({ { text = "a" } }) end },
  add_usage = { ok = function() return rest.add_usage({ totalTokenCount = 1 }, { totalTokenCount = 2 }) end },
  finish_error = {
    makes_errors = true,
    ok = function()
      local e = rest.finish_error("SAFETY", {}, false, "u")
      assert(is_err(e) and e.kind == "blocked", "a blocked answer's error")
      return e
    end,
    maybe = function() return rest.finish_error("STOP", {}, true, "u") end,
  },
})

---------------------------------------------------------------------------
-- gemini.chat, and a chat's methods
---------------------------------------------------------------------------
module_rows("gemini.chat", chatmod, {
  new = {
    fail = { { function() return chatmod.new{ client = BADCFG } end, "config" } },
    misuse = { function() return chatmod.new(5) end, function() return chatmod.new{ generation = 5 } end },
    ok = function() return chatmod.new{ quiet = true } end,
  },
  policy = {
    fail = { { function() return chatmod.policy{ classify = "x" } end, "config" } },
    misuse = function() return chatmod.policy(5) end,
    ok = function() return chatmod.policy() end,
  },
  resolve_entry = {
    fail = { { function() return chatmod.resolve_entry({ model = "m", tier = "gold" }) end, "config" } },
    ok = function() return chatmod.resolve_entry("gemini-2.5-flash") end,
  },
  chain_names = { ok = function() return chatmod.chain_names({ rest = { "gemini-2.5-flash" } }) end },
  reset_circuits = { exempt = "forgets state; returns nothing" },
})

local function down_chat()
  return assert(gemini.chat{ client = DOWN, transport = "rest", chain = { live = {}, rest = { "gemini-2.5-flash" } },
                             quiet = true, sleep = noop, ratelimit = false })
end
local a_chat = assert(gemini.chat{ quiet = true, transport = "rest", ratelimit = false })
module_rows("chat", getmetatable(a_chat).__index, {
  stream = {
    start_fail = function() return down_chat():stream("x") end,
    misuse = function() return a_chat:stream(42) end,
    raise_after = function()
      local c = assert(gemini.chat{ quiet = true, transport = "rest", ratelimit = false,
        chain = { live = {}, rest = { "gemini-cutstream" } },
        policy = { restart_after_text = false, continuation = false } })
      return c:stream("one two three four five six")
    end,
    ok = function() return a_chat:stream("hi") end,
  },
  send = {
    fail = function() return down_chat():send("x") end,
    misuse = function() return a_chat:send(42) end,
    ok = function()
      local n = select("#", a_chat:send("hi"))
      assert(n == 1, "chat:send returned " .. n .. " values")
      return a_chat:send("hi")
    end,
  },
  on = { ok = function() return a_chat:on("turn", noop) end },
  reset = { exempt = "forgets the conversation; returns nothing" },
  close = { exempt = "ends a Live session; returns nothing" },
}, ":")
assert(tostring(a_chat):find("^gemini%.chat %(rest, 4 contents in history"), tostring(a_chat))
checked = checked + 1

---------------------------------------------------------------------------
-- gemini.live, and a session's methods
---------------------------------------------------------------------------
local audio = require "gemini.audio"
local WAV = audio.wav(("\0\0"):rep(10), 16000)
module_rows("gemini.live", live, {
  connect = {
    fail = { { function() return live.connect{ model = "gemini-live-text-test", client = DOWN, timeout = 5 } end, "connect" },
             { function() return live.connect{ client = BADCFG } end, "config" },
             { function() return live.connect{ model = "gemini-2.5-flash-live" } end, "ws_closed" } },
    misuse = { function() return live.connect(5) end,
               function() return live.connect{ model = "gemini-live-text-test", modality = "video" } end },
  },
  url = { ok = function() return live.url{ base_url = "https://h" } end },
  diagnose = { makes_errors = true, ok = function() return live.diagnose(gl.error("ws_closed", "x", { close_code = 1011 }), {}) end },
  build_setup = {
    ok = function() return live.build_setup("gemini-live-text-test", {}) end,
    misuse = function() return live.build_setup("m", { modality = "smell" }) end,
  },
  wav = { ok = function() return live.wav("\0\0") end, misuse = function() return live.wav(5) end },
  unwav = {
    fail = { { function() return live.unwav("not a wav") end, "input" },
             { function() return live.unwav(WAV:sub(1, 30)) end, "input" } },
    misuse = function() return live.unwav(5) end,
    ok = function() return live.unwav(WAV) end,
  },
})

local s = assert(live.connect{ model = "gemini-live-text-test" })
-- a session that failed: the server closes the turn with 1008 (never retried)
scenario{ { match = { kind = "live_turn" }, count = 1, fault = { close = 1008 } } }
local failed = assert(live.connect{ model = "gemini-live-text-test" })
assert(failed:send_text("this turn is refused"))
local fev, ferr = failed:recv(10)
while fev do fev, ferr = failed:recv(10) end
assert(is_err(ferr) and ferr.close_code == 1008, tostring(ferr))
scenario(nil)
local closed = assert(live.connect{ model = "gemini-live-text-test" })
closed:close()

local SEND = {
  send = function(x) return x:send{ clientContent = { turns = {}, turnComplete = false } } end,
  send_text = function(x) return x:send_text("hi", { turn_complete = false }) end,
  send_turns = function(x) return x:send_turns({ { role = "user", parts = { { text = "hi" } } } }, false) end,
  send_audio = function(x) return x:send_audio("\0\0\0\0") end,
  send_video = function(x) return x:send_video("\255\216\255") end,
  send_realtime_text = function(x) return x:send_realtime_text("hi") end,
  activity_start = function(x) return x:activity_start() end,
  activity_end = function(x) return x:activity_end() end,
  audio_stream_end = function(x) return x:audio_stream_end() end,
  send_tool_response = function(x) return x:send_tool_response{ id = "c1", name = "f", response = {} } end,
}
local session_rows = {
  recv = {
    fail = { { function() return s:recv(0.05) end, "timeout" }, function() return failed:recv(1) end },
    misuse = function() return closed:recv(1) end,
  },
  events = {
    start_fail = function() return failed:events() end,
    misuse = function() return closed:events() end,
    ok = function() return s:events() end,
  },
  receive_turn = {
    fail = { { function() return s:receive_turn(0.05) end, "timeout" }, function() return failed:receive_turn(1) end },
    misuse = function() return closed:receive_turn(1) end,
  },
  close = { exempt = "idempotent; returns nothing" },
  stats = { ok = function() return s:stats() end },
}
for name, f in pairs(SEND) do
  session_rows[name] = {
    fail = function() return f(failed) end,
    misuse = function() return f(closed) end,
  }
end
session_rows.send_text.misuse = { session_rows.send_text.misuse, function() return s:send_text(42) end }
session_rows.send_tool_response.misuse = { session_rows.send_tool_response.misuse,
  function() return s:send_tool_response{ name = "f", response = {} } end } -- no id
module_rows("session", live.Session, session_rows, ":")
s:close()
failed:close()

---------------------------------------------------------------------------
-- the other gemini modules
---------------------------------------------------------------------------
module_rows("gemini.config", config, {
  resolve = {
    fail = { { function() return config.resolve(BADCFG) end, "config" } },
    misuse = function() return config.resolve(5) end,
    ok = function() return config.resolve() end,
  },
  get = {
    fail = { { function() return config.get(BADCFG) end, "config" } },
    misuse = function() return config.get("x") end,
    ok = function() return config.get() end,
  },
  default_model = { ok = function() return config.default_model(assert(config.get()), nil, true) end },
  default_live_model = { ok = function() return config.default_live_model(assert(config.get()), nil, true) end },
  vertex_host = { ok = function() return config.vertex_host("us-central1") end },
  vertex_model_path = { ok = function() return config.vertex_model_path({ project = "p" }, "m") end },
  reset = { exempt = "forgets the cached configuration" },
})

local models = require "gemini.models"
module_rows("gemini.models", models, {
  refresh = { fail = function() return models.refresh{ client = DOWN } end },
  explain = { maybe = function() return models.explain("gemini-2.5-flash-live") end },
  family = { maybe = function() return models.family("gemini-2.5-flash") end },
  generation = { maybe = function() return models.generation("gemini-2.5-flash") end },
  id = { ok = function() return models.id("models/gemini-2.5-flash") end },
  info = { maybe = function() return models.info("gemini-2.5-flash") end },
  is_live = { maybe = function() return models.is_live("gemini-2.5-flash") end }, -- true, false, or nil: unknown
  live_caps = { ok = function() return models.live_caps("gemini-live-text-test") end },
  live_models = { ok = function() return models.live_models() end },
  supports_text = { ok = function() return models.supports_text("gemini-live-text-test") end },
})

local catalog = require "gemini.catalog"
module_rows("gemini.catalog", catalog, {
  get = {
    fail = function() return catalog.get("no-such-model-anywhere") end,
    misuse = function() return catalog.get(5) end,
    ok = function() return catalog.get("gemini-2.5-flash") end,
  },
  resolve = { fail = function() return catalog.resolve("no-such-model-anywhere") end },
  find = {
    fail = function() return catalog.find{ family = "no-such-family", newest = true } end,
    misuse = function() return catalog.find(5) end,
    ok = function() return catalog.find{ method = "generateContent" } end,
  },
  limits = { fail = function() return catalog.limits("no-such-model-anywhere") end },
  refresh = { fail = function() return catalog.refresh{ client = DOWN } end },
  list = { ok = function() return catalog.list() end },
  info = { ok = function() return catalog.info() end },
  peek = { maybe = function() return catalog.peek("no-such-model-anywhere") end },
  cache_path = { maybe = function() return catalog.cache_path() end },
  newer = { ok = function() return tostring(catalog.newer({ id = "a" }, { id = "b" })) end },
  reset = { exempt = "forgets state" },
})

local policy = require "gemini.policy"
module_rows("gemini.policy", policy, {
  classify = {
    ok = { function() return policy.classify(gl.error("http", "x", { status = 503 }), { transport = "rest", model = "m" }) end,
           function() return policy.classify("a string", { transport = "rest", model = "m" }) end },
  },
  diagnose = { ok = function() return policy.diagnose(gl.error("ws_closed", "x", { close_code = 1008 }), {}) end },
  choose = { maybe = function() return policy.choose({ transport = "rest", skip = {}, circuit = {} }) end },
  backoff = { ok = function() return policy.backoff(1, {}) end },
  check = { fail = { { function() return policy.check(5, "here") end, "config" } } },
  load = { fail = { { function() return policy.load("/nonexistent/policy.lua") end, "config" } } },
  resolve = { fail = { { function() return policy.resolve{ backoff = 5 } end, "config" } }, ok = function() return policy.resolve() end },
  file = { maybe = function() return policy.file() end },
  with = { ok = function() return policy.with{ circuit_cooldown = 1 } end },
  entry = { maybe = function() return policy.entry("gemini-2.5-flash") end },
})

local ratelimit = require "gemini.ratelimit"
local t = 0
local rl = ratelimit.new{ limits = { m = { rpm = 1, tpm = 10 } }, clock = function() return t end, sleep = function(d) t = t + d end }
module_rows("gemini.ratelimit", ratelimit, {
  new = { ok = function() return ratelimit.new{} end, misuse = function() return ratelimit.new{ tier = "gold" } end },
  shared = { ok = function() return ratelimit.shared() end },
  acquire = { fail = { { function() rl:acquire("m", 0, 1000); return rl:acquire("m", 0, t + 1) end, "rate_limit" } } },
  record = { exempt = "corrects a count; returns nothing" },
  wait_time = { ok = function() return rl:wait_time("m", 0) end },
  limit = { maybe = function() return rl:limit("m") end },
  describe = { ok = function() return rl:describe("m") end },
  next_reset = { exempt = "a clock function (conv's daily budget); checked by tests/e2e/ratelimit.lua" },
  pacific_day = { exempt = "a clock function (conv's daily budget); checked by tests/e2e/ratelimit.lua" },
  pacific_offset = { exempt = "a clock function (conv's daily budget); checked by tests/e2e/ratelimit.lua" },
}, "[.:]")

local auth = require "gemini.auth"
module_rows("gemini.auth", auth, {
  load_file = { fail = { { function() return auth.load_file("/nonexistent/sa.json") end, "config" } } },
  token = { fail = { { function() return auth.token({ backend = "vertex" }) end, "auth" } } },
  headers = { ok = function() return auth.headers(assert(config.get())) end },
  build_jwt = { fail = function() return auth.build_jwt({ client_email = "a@b", private_key = "not a key",
                                                          token_uri = "https://t" }, 0) end },
  invalidate = { maybe = function() return auth.invalidate(assert(config.get()), "x") end },
  state = { maybe = function() return auth.state(assert(config.get())) end },
  reset = { exempt = "forgets state" },
})

module_rows("gemini.errors", errors, {
  new = { makes_errors = true, ok = function() return errors.new("x", "y") end },
  config = { makes_errors = true, ok = function() return errors.config("y") end },
  is = { ok = function() return errors.is({}) end },
  detail = { maybe = function() return errors.detail(gl.error("http", "x"), "RetryInfo") end },
  google_status = { maybe = function() return errors.google_status(gl.error("http", "x")) end },
  enrich = { maybe = function() return errors.enrich(gl.error("http", "x", { body = "{}" })) end },
  raise = { exempt = "raises by design (an error object, from the caller's point of view)" },
})

local diagnose = require "gemini.diagnose"
module_rows("gemini.diagnose", diagnose, {
  of = { ok = { function()
    local d = diagnose.of(gl.error("ws_closed", "x", { close_code = 1008, reason = "models/x is not found for API version v1beta" }),
                          { model = "x" })
    assert(d.kind == "model" and d.fatal == true and d.retryable == false and type(d.text) == "string" and d.cause, d.kind)
    return d
  end, function() return diagnose.of("a string") end } },
  live = { makes_errors = true, ok = function()
    local e = diagnose.live(gl.error("ws_closed", "x", { close_code = 1011 }), { model = "m" })
    assert(is_err(e) and e.live and e.retryable and e.diagnosis == "live_server", tostring(e))
    return e
  end },
  clock = { ok = function()
    local d = diagnose.clock(3600, { backend = "vertex" })
    assert(d.kind == "clock_skew" and d.fatal and type(d.text) == "string", d.kind)
    assert(diagnose.clock(2).kind == "clock_ok")
    return d
  end },
})

-- glrun doctor: a report is a result (its failed checks are in it, not an error)
local doctor = require "gemini.doctor"
module_rows("gemini.doctor", doctor, {
  run = { ok = function()
            local r = doctor.run{ client = DOWN, timeout = 1, deadline = 5 }
            assert(r.ok == false and #r.checks > 0, "a server that is down is a failed report")
            return r
          end,
          misuse = function() return doctor.run(5) end },
  render = { ok = { function() return doctor.render({ ok = true, checks = {} }) end,
                    function() return doctor.render({ ok = true, checks = {} }, { json = true }) end },
             misuse = function() return doctor.render(5) end },
  cause_of = { ok = function() return doctor.cause_of({ kind = "model" }) end },
  failed = { ok = function() return doctor.failed("x", "saw", { kind = "region", text = "t" }) end },
  ms_since = { ok = function() return doctor.ms_since(require("glrun.core").now()) end },
})
local doctor_report = require "gemini.doctor_report"
module_rows("gemini.doctor_report", doctor_report, {
  render = { ok = function() return doctor_report.render({ ok = false, checks = {} }, { ascii = true }) end,
             misuse = function() return doctor_report.render(nil) end },
  utf8_ok = { ok = function() return doctor_report.utf8_ok() end },
})
local STEP = "a step of gemini.doctor.run, given the run's state; tests/e2e/doctor_*.sh drive each"
local doctor_checks = require "gemini.doctor_checks"
module_rows("gemini.doctor_checks", doctor_checks, {
  config = { exempt = STEP }, proxy = { exempt = STEP }, key = { exempt = STEP }, clock = { exempt = STEP },
  models = { exempt = STEP }, rest = { exempt = STEP }, quota = { exempt = STEP }, chain = { exempt = STEP },
  reading = { exempt = STEP }, policy = { exempt = STEP },
  http_date = { maybe = { function()
    assert(doctor_checks.http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777)
    return doctor_checks.http_date("Sun, 06 Nov 1994 08:49:37 GMT")
  end, function() return doctor_checks.http_date("yesterday") end } },
})
local doctor_live = require "gemini.doctor_live"
module_rows("gemini.doctor_live", doctor_live, {
  upgrade = { exempt = STEP }, setups = { exempt = STEP }, ephemeral = { exempt = STEP },
})

module_rows("gemini.audio", audio, {
  wav = { ok = function() return audio.wav("\0\0", 16000) end, misuse = function() return audio.wav(nil) end },
  unwav = { fail = { { function() return audio.unwav("RIFF") end, "input" } }, misuse = function() return audio.unwav({}) end },
})

---------------------------------------------------------------------------
-- the resource modules (Files, tokens, embeddings, caches, batches, schema)
---------------------------------------------------------------------------
local function optional(name)
  local ok, m = pcall(require, name)
  if ok then return m end
  print("# " .. name .. " is not present: not checked")
  return nil
end

local files = optional "gemini.files"
if files then
  module_rows("gemini.files", files, {
    upload = { fail = { { function() return files.upload("/nonexistent/file.txt") end, "input" } },
               misuse = function() return files.upload(5) end },
    get = { fail = function() return files.get("files/x", { client = DOWN }) end },
    list = { fail = function() return files.list{ client = DOWN } end },
    delete = { fail = function() return files.delete("files/x", { client = DOWN }) end },
    download = { fail = function() return files.download("files/x", { client = DOWN }) end },
    wait_active = { fail = function() return files.wait_active("files/x", { client = DOWN }) end },
    mime_type = { maybe = function() return files.mime_type("a.txt") end },
    part = { ok = function() return files.part{ uri = "https://x/files/a", mimeType = "text/plain" } end,
             misuse = function() return files.part(5) end },
    parts = { fail = function() return files.parts({ "/nonexistent/file.txt" }) end,
              misuse = function() return files.parts(5) end },
  })
end

local tokens = optional "gemini.tokens"
if tokens then
  module_rows("gemini.tokens", tokens, {
    create = { fail = function() return tokens.create{ client = DOWN } end },
    request = { ok = function() return tokens.request{} end,
                misuse = function() return tokens.request{ uses = "many" } end },
    field_mask = { ok = function() return tokens.field_mask{ model = "m" } end },
  })
end

local embed = optional "gemini.embed"
if embed then
  module_rows("gemini.embed", embed, {
    embed = { fail = function() return embed.embed("x", { client = DOWN }) end,
              misuse = function() return embed.embed(42) end },
    cosine = { ok = function() return embed.cosine({ 1, 0 }, { 0, 1 }) end },
    via_batch = { fail = function() return embed.via_batch({ "x" }, "gemini-embedding-001", { client = DOWN }) end },
  })
end

local caches = optional "gemini.caches"
if caches then
  module_rows("gemini.caches", caches, {
    create = { fail = function() return caches.create{ model = "gemini-2.5-flash", contents = { "x" }, client = DOWN } end,
               misuse = function() return caches.create{ contents = 5 } end },
    get = { fail = function() return caches.get("cachedContents/x", { client = DOWN }) end },
    list = { fail = function() return caches.list{ client = DOWN } end },
    update = { fail = function() return caches.update("cachedContents/x", { ttl = 60, client = DOWN }) end },
    delete = { fail = function() return caches.delete("cachedContents/x", { client = DOWN }) end },
    cached_tokens = { ok = function() return caches.cached_tokens({}) end },
  })
end

local batches = optional "gemini.batches"
if batches then
  local rows = {}
  for k, v in pairs(batches) do
    if type(v) == "function" and not k:match("^_") then
      -- every call that talks to the service: an unreachable one is nil, err
      rows[k] = { maybe = function()
        local ok, r, e = pcall(v, "batches/x", { client = DOWN })
        if ok and r == nil then assert(is_err(e), k .. ": nil without an error object") end
        return true
      end }
    end
  end
  module_rows("gemini.batches", batches, rows)
end

local schema = optional "gemini.schema"
if schema then
  module_rows("gemini.schema", schema, {
    validate = { ok = function() return schema.validate(1, { type = "integer" }) end,
                 misuse = function() return schema.validate(1, "integer") end },
    decode = { fail = function() return schema.decode("not json", { type = "object" }) end },
    config = { ok = function() return schema.config({ type = "object" }) end,
               misuse = function() return schema.config("object") end },
  })
end

-- glrun policy check / simulate / test
local policy_check = optional "gemini.policy_check"
if policy_check then
  module_rows("gemini.policy_check", policy_check, {
    run = { ok = { function() return policy_check.run(false) end,
                   function() return policy_check.run("/nonexistent/policy.lua") end }, -- a report naming the problem
            misuse = function() return policy_check.run(5) end },
    samples = { ok = function() return policy_check.samples() end },
    describe = { ok = function() return policy_check.describe({ action = "retry" }, 1.5) end },
  })
end
local policy_sim = optional "gemini.policy_sim"
if policy_sim then
  module_rows("gemini.policy_sim", policy_sim, {
    failures = { fail = { { function() return policy_sim.failures("/nonexistent/cassette") end, "replay" } },
                 misuse = function() return policy_sim.failures(5) end },
    decide = { ok = function() return policy_sim.decide(require("gemini.policy").with{}, {}) end,
               misuse = function() return policy_sim.decide(5, {}) end },
  })
end
local policy_test = optional "gemini.policy_test"
if policy_test then
  module_rows("gemini.policy_test", policy_test, {
    run = { ok = function() return policy_test.run(require("gemini.policy").with{}, { only = "cut stream" }) end,
            misuse = function() return policy_test.run(5) end },
  })
end

-- glrun serve (docs/serve.md): the gateway and its parts
local gateway = optional "gemini.gateway"
if gateway then
  local HANDLER = "a route handler of glrun serve, given a request of glrun.server; tests/e2e/serve_*.sh drive it"
  module_rows("gemini.gateway", gateway, {
    parse_listen = { ok = function() return gateway.parse_listen("127.0.0.1:0") end,
                     fail = { { function() return gateway.parse_listen("nope") end, "config" } },
                     misuse = function() return gateway.parse_listen(8088) end },
    new = { fail = { { function() return gateway.new{ host = "0.0.0.0", port = 0 } end, "config" } },
            misuse = function() return gateway.new(5) end },
  })
  local grouter = require "gemini.gateway_router"
  module_rows("gemini.gateway_router", grouter, {
    match = { ok = function() return grouter.match("GET", "/v1beta/models") end,
              maybe = function() return grouter.match("GET", "/../etc/passwd") end,
              misuse = function() return grouter.match(nil, "/") end },
    model_id = { ok = function() return grouter.model_id("gemini-2.5-flash") end,
                 maybe = function() return grouter.model_id("..%2f") end,
                 misuse = function() return grouter.model_id(5) end },
    label = { ok = function() return grouter.label(nil) end },
  })
  local gauth = require "gemini.gateway_auth"
  module_rows("gemini.gateway_auth", gauth, {
    load = { fail = { { function() return gauth.load("/nonexistent/tokens") end, "config" } },
             misuse = function() return gauth.load(5) end },
    equal = { ok = function() return gauth.equal("a", "a") end, misuse = function() return gauth.equal(1, "a") end },
    credential = { maybe = function() return gauth.credential(function() return nil end, "") end,
                   misuse = function() return gauth.credential("x") end },
    check = { ok = function() return gauth.check({ "t" }, "t") end },
    loopback = { ok = function() return gauth.loopback("127.0.0.1") end, misuse = function() return gauth.loopback(1) end },
  })
  local gmetrics = require "gemini.gateway_metrics"
  module_rows("gemini.gateway_metrics", gmetrics, { new = { ok = function() return gmetrics.new() end } })
  local a_registry = gmetrics.new()
  module_rows("metrics", getmetatable(a_registry).__index, {
    inc = { exempt = "state only", misuse = function() return a_registry:inc("bad name") end },
    add = { exempt = "state only", misuse = function() return a_registry:add("g", "x") end },
    set = { exempt = "state only", misuse = function() return a_registry:set("g", "x") end },
    observe = { exempt = "state only", misuse = function() return a_registry:observe("h", "x") end },
    value = { ok = function() return a_registry:value("glrun_gateway_retries_total") end },
    text = { ok = function() return a_registry:text() end },
  }, ":")
  local glog = require "gemini.gateway_log"
  module_rows("gemini.gateway_log", glog, {
    line = { ok = function() return glog.line{ method = "GET", path = "/" } end, misuse = function() return glog.line(5) end },
    open = { ok = function() return glog.open() end,
             fail = { { function() return glog.open("/nonexistent/dir/access.log") end, "config" } } },
  })
  local grest = require "gemini.gateway_rest"
  module_rows("gemini.gateway_rest", grest, {
    status_body = { ok = function() return grest.status_body(404, "no") end },
    scrub = { ok = function() return grest.scrub("{}") end, misuse = function() return grest.scrub(5) end },
    candidates = { ok = function() return grest.candidates("m", {}) end, misuse = function() return grest.candidates(5) end },
    live_first = { ok = function() return grest.live_first("m", {}) end },
    relay_error = { exempt = HANDLER }, handle = { exempt = HANDLER },
  })
  local glive = require "gemini.gateway_live"
  module_rows("gemini.gateway_live", glive, {
    reason = { ok = function() return glive.reason("x") end },
    refuse = { exempt = HANDLER }, handle = { exempt = HANDLER },
  })
end

---------------------------------------------------------------------------
-- glrun modules (C; the same convention)
---------------------------------------------------------------------------
module_rows("glrun.json", json, {
  decode = { fail = { { function() return json.decode("[1,") end, "json" } }, misuse = function() return json.decode(5) end,
             ok = function() return json.decode("[1]") end },
  encode = { fail = { { function() return json.encode{ f = print } end, "json" } }, ok = function() return json.encode{ 1 } end },
  decode_strict = { exempt = "the raising twin of decode (raises the error object)",
                    misuse = function() return json.decode_strict("[1,") end },
  encode_strict = { exempt = "the raising twin of encode (raises the error object)",
                    misuse = function() return json.encode_strict{ f = print } end },
})

module_rows("glrun.http", http, {
  request = { fail = { { function() return http.request{ url = "http://127.0.0.1:1/" } end, "connect" } },
              misuse = function() return http.request(5) end },
  stream = { start_fail = function() return http.stream{ url = "http://127.0.0.1:1/" } end,
             misuse = function() return http.stream(5) end },
  sse = { start_fail = function() return http.sse{ url = "http://127.0.0.1:1/" } end,
          misuse = function() return http.sse(5) end },
  curl_version = { ok = function() return http.curl_version() end },
})

local ws = require "glrun.ws"
module_rows("glrun.ws", ws, {
  connect = { fail = { { function() return ws.connect{ url = "ws://127.0.0.1:1/", timeout = 5 } end, "connect" } },
              misuse = function() return ws.connect(5) end },
})

local server = require "glrun.server"
local a_srv = assert(server.listen{ port = 0 })
module_rows("glrun.server", server, {
  listen = { fail = { { function() return server.listen{ host = "not-an-ip", port = 0 } end, "listen" },
                      { function() return server.listen{ port = a_srv:port() } end, "listen" },
                      { function() return server.listen{ port = 0, cert = "/nonexistent.pem", key = "/nonexistent.pem" } end, "tls" } },
             misuse = { function() return server.listen(5) end, function() return server.listen{ port = "x" } end,
                        function() return server.listen{ port = 0, cert = "/c.pem" } end },
             ok = function() local s = server.listen{ port = 0 }; s:close(); return s end },
})
local closed_srv = assert(server.listen{ port = 0 })
closed_srv:close()
module_rows("server", getmetatable(a_srv).__index, {
  accept = { fail = { { function() return closed_srv:accept() end, "closed" } } },
  close = { exempt = "idempotent; returns nothing" },
  port = { ok = function() return a_srv:port() end },
  url = { ok = function() return a_srv:url() end },
  stats = { ok = function() return a_srv:stats() end },
}, ":")
a_srv:close()
-- a request's methods (they live behind its __index, in the closure's upvalue)
do
  local rsrv = assert(server.listen{ port = 0 })
  local client = gl.spawn(function() return http.request{ url = rsrv:url() .. "/convention", timeout = 30 } end)
  local a_req = assert(rsrv:accept())
  local _, methods = debug.getupvalue(getmetatable(a_req).__index, 1)
  module_rows("req", methods, {
    header = { ok = function() return a_req:header("host") end, maybe = function() return a_req:header("x-none") end },
    headers = { ok = function() return a_req:headers() end },
    body = { ok = function() return a_req:body() end },
    closed = { ok = function() return a_req:closed() end },
    stats = { ok = function() return a_req:stats() end },
    wait_closed = { fail = { { function() return a_req:wait_closed(0) end, "timeout" } },
                    misuse = { function() return a_req:wait_closed(-1) end, function() return a_req:wait_closed("x") end } },
    upgrade = { misuse = function() return a_req:upgrade() end }, -- not a WebSocket request
    write = { misuse = function() return a_req:write("x") end },  -- before respond
    respond = { misuse = function() return a_req:respond(99, {}, "x") end },
    finish = { exempt = "idempotent; returns nothing" },
  }, ":")
  assert(a_req:respond(200, {}, "ok"))
  if a_req:wait_closed() ~= false then bad("req:wait_closed: an answered request did not give false") end
  local r = client:join()
  if not (r and r.body == "ok") then bad("req: the client did not get the answer") end
  rsrv:close()
end

local gchat = require "gemini.gateway_chat"
module_rows("gemini.gateway_chat", gchat, {
  parse = { fail = { { function() return gchat.parse("not json") end, "input" },
                     { function() return gchat.parse('{"messages":[{"role":"model","text":"x"}]}') end, "input" } },
            misuse = function() return gchat.parse(5) end,
            ok = function() return gchat.parse('{"messages":[{"role":"user","text":"hi"}]}') end },
  handle = { exempt = "answers a glrun.server request (its HTTP status); checked by tests/e2e/page_chat.lua",
             misuse = { function() return gchat.handle(5) end, function() return gchat.handle({}, 5) end } },
})

local crypto = require "glrun.crypto"
module_rows("glrun.crypto", crypto, {
  rs256_sign = { fail = function() return crypto.rs256_sign("not a key", "data") end },
  b64url = { ok = function() return crypto.b64url("x") end },
  b64url_decode = { maybe = function() return crypto.b64url_decode("eA") end },
  sha256 = { ok = function() return crypto.sha256("x") end },
})

if #failures > 0 then
  for _, f in ipairs(failures) do print("not ok - " .. f) end
  error(#failures .. " function(s) break the API convention (README.md, \"Conventions\")", 0)
end
print(("api convention ok: %d checks"):format(checked))
