-- gemini.policy_test — `glrun policy test`: a library of failure scenarios
-- run on glmock (glmock's scenario rules, tests/glmock/README.md) through
-- real chats (gemini.chat) with a policy, and with the default policy to
-- compare. Each scenario asks two questions; a row says how the first
-- answer came (or why none did), the turns answered, the attempts, the
-- time the turns took and whether the conversation's history holds
-- exactly the answered turns.
--
-- Time is the chats' own clock: the waits the policy decides (backoff,
-- RetryInfo) are added to it without sleeping, so the table shows what a
-- user would wait while the whole library runs in seconds.
local core = require "glrun.core"
local http = require "glrun.http"
local json = require "glrun.json"
local chatmod = require "gemini.chat"
local policy = require "gemini.policy"

local M = {}

local function first(list)
  local e = list and list[1]
  return type(e) == "table" and e.model or e
end

-- Each scenario: name, transport ("auto", "rest", "live"), rules(chain)
-- (glmock rules; chain = the chat's resolved chain), and optional chat
-- options (model, chain). The questions are the same for all.
M.scenarios = {
  { name = "Live 404 through a proxy", transport = "auto",
    rules = function() return { { match = { kind = "live_handshake" }, count = -1, fault = { status = 404 } } } end },
  { name = "Live 1008 retired model", transport = "auto",
    rules = function() return { { match = { kind = "live_setup" }, count = -1, fault = { close = 1008 } } } end },
  { name = "Live 1007 modality", transport = "auto",
    rules = function(c) return { { match = { kind = "live_setup" }, count = -1, fault = { close = 1007,
      reason = "The requested combination of response modalities (TEXT) is not supported by the model. models/"
        .. tostring(first(c.live)) } } } end },
  { name = "Live 1011 mid-turn", transport = "auto",
    rules = function() return { { match = { kind = "live_turn" }, count = 1, fault = { close = 1011, after_chunks = 1 } } } end },
  { name = "Live goAway", transport = "auto",
    rules = function() return { { match = { kind = "live_turn" }, count = 1, fault = { go_away = "0.2s" } } } end },
  { name = "429 per minute, RetryInfo", transport = "rest",
    rules = function() return { { match = { kind = "rest", path = "GenerateContent" }, count = 2,
      fault = { status = 429, retry_delay = "1.5s" } } } end },
  { name = "429 per day", transport = "rest",
    rules = function(c) return { { match = { kind = "rest", model = first(c.rest) }, count = -1,
      fault = { status = 429, quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier" } } } end },
  { name = "503 on the first model", transport = "rest",
    rules = function(c) return { { match = { kind = "rest", model = first(c.rest) }, count = -1, fault = { status = 503 } } } end },
  { name = "cut stream", transport = "rest",
    rules = function() return { { match = { kind = "rest" }, count = 1, fault = { cut_after = 1 } } } end },
  { name = "flex shedding", transport = "rest", flex = true,
    rules = function() return {} end },
  { name = "blocked answer", transport = "rest", model = "gemini-3.8-flash-blockprompt",
    rules = function() return {} end },
}

local QUESTIONS = { "first question", "second question" }

local function scenario_url() return assert(core.options.mock_url, "policy_test: needs glmock (glrun --mock)") .. "/glmock/scenario" end

local function set_rules(rules)
  assert(http.request{ method = "DELETE", url = scenario_url() })
  if rules and #rules > 0 then
    local res = assert(http.request{ method = "POST", url = scenario_url(), body = json.encode(rules),
                                     headers = { ["Content-Type"] = "application/json" } })
    if res.status ~= 200 then error("glmock refused the scenario: " .. tostring(res.body), 0) end
  end
end

local function text_of(content)
  local t = {}
  for _, part in ipairs(content and content.parts or {}) do
    if type(part.text) == "string" and not part.thought then t[#t + 1] = part.text end
  end
  return table.concat(t)
end

-- the history holds exactly the answered turns: user, model, in order,
-- each answer glmock's echo of its question (nothing of a broken attempt)
local function history_intact(h, answered)
  if #h ~= 2 * #answered then return false end
  for i, q in ipairs(answered) do
    local u, m = h[2 * i - 1], h[2 * i]
    if not (u and m and u.role == "user" and m.role == "model") then return false end
    if text_of(u) ~= q then return false end
    local a = text_of(m)
    if a:sub(1, #("echo: " .. q)) ~= "echo: " .. q or a:find("[glrun:", 1, true) then return false end
  end
  return true
end

-- One scenario with one policy: a row.
local function run_one(sc, p)
  if p.random == nil then -- the backoff's jitter at its middle: the same table on every run
    local fixed = {}
    for k, v in pairs(p) do fixed[k] = v end
    fixed.random = function() return 0.5 end
    p = fixed
  end
  local virtual = 0
  local opts = {
    policy = p, transport = sc.transport, quiet = true, ratelimit = false, model = sc.model,
    clock = function() return core.now() + virtual end,
    sleep = function(s) virtual = virtual + (s or 0); core.sleep(0) end,
  }
  if sc.flex then
    -- a flex entry first (glmock sheds it: 503), then the policy's own REST chain
    local probe = assert(chatmod.new{ policy = p, quiet = true, ratelimit = false })
    local rest = { { model = tostring(first(probe.chain.rest)) .. "-shedflex", tier = "flex" } }
    for _, e in ipairs(probe.chain.rest) do rest[#rest + 1] = e end
    opts.chain = { live = probe.chain.live, rest = rest }
  end
  local chat, cerr = chatmod.new(opts)
  if not chat then return { name = sc.name, outcome = "failed: " .. tostring(cerr.kind), turns = "0/2", attempts = 0,
                            seconds = 0, history = true, answered = 0 } end
  chatmod.reset_circuits()
  set_rules(sc.rules(chat.chain))
  local t0 = chat.clock()
  local answered, outcomes, attempts = {}, {}, 0
  for _, q in ipairs(QUESTIONS) do
    local reply, err = chat:send(q)
    if reply then
      answered[#answered + 1] = q
      local lt = chat.last_turn
      attempts = attempts + (lt.attempts or 1)
      outcomes[#outcomes + 1] = ("answered over %s %s"):format(lt.transport, tostring(lt.model))
    else
      attempts = attempts + (type(err) == "table" and type(err.attempts) == "table" and #err.attempts or 1)
      local code = type(err) == "table" and (err.close_code or err.status)
      outcomes[#outcomes + 1] = "failed: " .. tostring(type(err) == "table" and err.kind or err)
        .. (code and code ~= 0 and (" " .. code) or "")
    end
  end
  local seconds = chat.clock() - t0
  local hist = history_intact(chat.history, answered)
  chat:close()
  set_rules(nil)
  local outcome = outcomes[1]
  if outcomes[2] ~= outcomes[1] then outcome = outcome .. ", then " .. outcomes[2]:gsub("^answered ", "") end
  return { name = sc.name, outcome = outcome, turns = ("%d/%d"):format(#answered, #QUESTIONS), attempts = attempts,
           seconds = seconds, history = hist, answered = #answered }
end

--- Run the scenarios with policy p (a merged policy, gemini.policy_check's
--- report.policy) under glrun --mock. opts: only (a substring of the
--- scenario names), compare (also run the default policy). Returns
--- { rows = {{name, outcome, turns, attempts, seconds, history, answered,
--- default_outcome?, lost?}}, answered, lost, compare }.
function M.run(p, opts)
  if type(p) ~= "table" then error("policy_test.run: the policy must be a table", 2) end
  opts = opts or {}
  local default = policy.with{}
  local out = { rows = {}, answered = 0, lost = 0, compare = opts.compare and true or false }
  for _, sc in ipairs(M.scenarios) do
    if not opts.only or sc.name:find(opts.only, 1, true) then
      local row = run_one(sc, p)
      if out.compare then
        local d = run_one(sc, default)
        row.default_outcome = d.outcome
        row.lost = d.answered > row.answered
        if row.lost then out.lost = out.lost + 1 end
      end
      if row.answered == #QUESTIONS then out.answered = out.answered + 1 end
      out.rows[#out.rows + 1] = row
    end
  end
  return out
end

return M
