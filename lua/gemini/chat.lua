-- gemini.chat — one conversation over Live or REST, with an editable policy.
--
--   local chat = require("gemini").chat{ system = "Be brief." }
--   for piece in chat:stream("What is a WebSocket?") do io.write(piece) end
--   for piece in chat:stream("And SSE?") do io.write(piece) end   -- history kept
--
-- Each turn asks the policy (gemini.policy) which transport and model to
-- use, runs it, and on failure asks the policy what the error means:
-- retry (with the server's delay), reconnect, fall back down the chain, or
-- fail. Every decision is an event (chat:on("fallback", fn)), goes to the
-- --trace file, and a fallback prints one line on stderr saying what
-- failed, why and what happens instead. The history (chat.history, the
-- API's `contents`) holds completed turns only, so a fallback or a return
-- to Live mid-conversation loses nothing and never splices two answers.
local core = require "glrun.core"
local json = require "glrun.json"
local config = require "gemini.config"
local errors = require "gemini.errors"
local policy_mod = require "gemini.policy"
local rest = require "gemini.rest"
local ratelimit = require "gemini.ratelimit"

local Chat = {}
Chat.__index = Chat

local M = {}

-- Live availability is remembered per endpoint and model for the whole
-- process, so the next chat does not pay for a failed handshake again.
local circuits = {}

---------------------------------------------------------------------------
-- the policy in force
---------------------------------------------------------------------------

--- The policy a chat uses: chat{policy=table} overrides fields of the
--- file policy (gemini.policy.file(): glrun --policy FILE, else
--- $XDG_CONFIG_HOME/glrun/policy.lua), which overrides the defaults.
--- Returns the policy, or nil, err (kind "config") naming the file and
--- the problem. Overrides that are not a table raise.
function M.policy(overrides)
  if overrides ~= nil and type(overrides) ~= "table" then
    error("gemini.chat: policy (overrides) must be a table, not " .. type(overrides), 2)
  end
  return policy_mod.resolve(overrides)
end

---------------------------------------------------------------------------
-- chain entries
---------------------------------------------------------------------------

local Entry = {}
Entry.__index = Entry
Entry.__tostring = function(e) return e.model .. " (" .. e.tier .. ")" end
Entry.__concat = function(a, b) return tostring(a) .. tostring(b) end

local function query_name(q)
  local parts = {}
  for k, v in pairs(q) do if k ~= "tier" then parts[#parts + 1] = k .. "=" .. tostring(v) end end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

--- A chain entry as the chat uses it: a model id or alias (a string),
--- `{model = ..., tier = "flex"|"priority"|"standard"}` (serviceTier), or a
--- gemini.catalog capability query (`{method = "generateContent", family =
--- "flash"}`, optionally with `tier`), resolved to the newest model that
--- matches. Returns the id (a string) or, with a tier, a table {model,
--- tier} — or nil, err when a query matches nothing. opts: catalog options
--- (client, offline).
function M.resolve_entry(e, opts)
  if type(e) == "string" then return e end
  if type(e) ~= "table" then
    return nil, errors.config("a chain entry must be a model id or a table, not " .. type(e))
  end
  local model, tier = e.model, e.tier
  if tier ~= nil and tier ~= "flex" and tier ~= "priority" and tier ~= "standard" then
    return nil, errors.config(("chain entry %s: tier must be \"flex\", \"priority\" or \"standard\", not %s")
      :format(type(model) == "string" and model or query_name(e), tostring(tier)))
  end
  if model == nil then model = e end
  if type(model) == "table" then
    local q = {}
    for k, v in pairs(model) do if k ~= "tier" and k ~= "model" then q[k] = v end end
    local id, err = require("gemini.catalog").resolve(q, opts)
    if not id then return nil, err end
    model = id
  end
  if type(model) ~= "string" then
    return nil, errors.config("chain entry: `model` must be a model id or a catalog query")
  end
  if tier then return setmetatable({ model = model, tier = tier }, Entry) end
  return model
end

--- The names of a chain's entries ({live = {...}, rest = {...}} of strings),
--- queries resolved with catalog options `opts` (e.g. {offline = true}:
--- nothing is sent); an entry that resolves to nothing shows its query.
function M.chain_names(chain, opts)
  local out = {}
  for tr, list in pairs(chain or {}) do
    out[tr] = {}
    for i, e in ipairs(list) do
      local r = M.resolve_entry(e, opts)
      out[tr][i] = r and tostring(r) or (type(e) == "table" and query_name(e) or tostring(e))
    end
  end
  out.live, out.rest = out.live or {}, out.rest or {}
  return out
end

---------------------------------------------------------------------------
-- construction and events
---------------------------------------------------------------------------

--- opts: system, model (REST model: first of the REST chain), live_model,
--- transport ("auto" default | "live" | "rest"), chain ({live=..., rest=...}),
--- policy (table of overrides), client (gemini.config options), generation
--- (generationConfig; `config` is its old name), tools, history, quiet (no
--- stderr lines), clock and sleep (for tests), ratelimit (a
--- gemini.ratelimit, or false), on_response (fn(resp, model): every raw
--- REST response chunk, as `glrun ask --json` prints them; a new attempt
--- is announced by a retry/fallback/restart event).
--- Returns the chat, or nil, err (kind "config": no key, a bad policy
--- file or chain entry); options of the wrong type raise.
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("gemini.chat: the options must be a table, not " .. type(opts), 2)
  end
  opts = opts or {}
  if opts.policy ~= nil and type(opts.policy) ~= "table" then
    error("gemini.chat: policy (overrides) must be a table, not " .. type(opts.policy), 2)
  end
  local gen = opts.generation
  if gen == nil then gen = opts.config end -- the old name
  if gen ~= nil and type(gen) ~= "table" then
    error("gemini.chat: generation (generationConfig) must be a table, not " .. type(gen), 2)
  end
  local c, cerr = config.get(opts.client)
  if not c then return nil, cerr end
  local p, perr = M.policy(opts.policy)
  if not p then return nil, perr end
  local chain = { live = {}, rest = {} }
  local base_chain = opts.chain or (c.backend == "vertex" and p.vertex_chain) or p.chain
  -- entries are resolved once (aliases stay aliases: the server resolves
  -- them; a capability query becomes the newest model that matches)
  for tr, list in pairs(base_chain) do
    chain[tr] = {}
    for _, e in ipairs(list) do
      -- (from what is known without a request: memory, the cache file, the
      -- built-in list; a model found gone asks models.list for its replacement)
      local r, err = M.resolve_entry(e, { client = opts.client, offline = true })
      if r then
        chain[tr][#chain[tr] + 1] = r
      elseif errors.is(err) and err.kind == "config" then
        return nil, err
      else
        core.log("info", ("chain entry %s skipped: %s"):format(query_name(e), tostring(err)), "chat")
      end
    end
  end
  -- an explicit model goes first on its chain (REST keeps its fallbacks;
  -- a Live model named by the script is the only Live model tried)
  if opts.model then
    for i = #chain.rest, 1, -1 do if chain.rest[i] == opts.model then table.remove(chain.rest, i) end end
    table.insert(chain.rest, 1, opts.model)
  end
  if opts.live_model then chain.live = { opts.live_model } end
  local self = setmetatable({
    client = opts.client,
    cfg = c,
    policy = p,
    chain = chain,
    transport = opts.transport or "auto",
    system = opts.system,
    cache = opts.cache,      -- a context cache (gemini.caches): it holds the system instruction and tools
    gen_config = gen,
    tools = nil,           -- API tools (functionDeclarations), from opts.tools
    tool_fns = {},         -- name -> Lua function
    max_tool_rounds = opts.max_tool_rounds or 8,
    history = {},
    handlers = {},
    quiet = opts.quiet,
    on_response = opts.on_response,
    clock = opts.clock or core.now,
    sleep = opts.sleep or core.sleep,
    limiter = opts.ratelimit == nil and ratelimit.shared() or opts.ratelimit or nil,
    live = nil,            -- the open Live session, if any
    live_model = nil,      -- its model
    live_synced = 0,       -- history entries the Live session already holds
    stats = { turns = 0, fallbacks = 0, retries = 0 },
  }, Chat)
  for i, h in ipairs(opts.history or {}) do self.history[i] = h end
  if opts.tools then self:_set_tools(opts.tools) end
  return self
end

-- opts.tools: { name = { description =, parameters =, fn = function(args) } }
-- (or a list of such tables with `name`). Raw API tool tables (with
-- functionDeclarations, googleSearch, ...) pass through unchanged.
function Chat:_set_tools(tools)
  local decls, raw = {}, {}
  local function add(name, t)
    if type(t) ~= "table" or type(t.fn) ~= "function" then
      error(("gemini.chat: tool '%s' needs a function `fn`"):format(tostring(name)), 4)
    end
    decls[#decls + 1] = { name = name, description = t.description, parameters = t.parameters }
    self.tool_fns[name] = t.fn
  end
  for k, t in pairs(tools) do
    if type(k) == "string" then add(k, t)
    elseif type(t) == "table" and t.fn then add(t.name, t)
    else raw[#raw + 1] = t end
  end
  table.sort(decls, function(a, b) return a.name < b.name end)
  if #decls > 0 then raw[#raw + 1] = { functionDeclarations = decls } end
  self.tools = #raw > 0 and raw or nil
end

-- Run function calls concurrently (one task each); returns the
-- functionResponse parts in call order. A failing or unknown function
-- answers {error = "..."} so the model can say so.
function Chat:_run_tools(calls)
  local tasks = {}
  for i, call in ipairs(calls) do
    tasks[i] = core.spawn(function()
      local fn = self.tool_fns[call.name]
      if not fn then return { error = "unknown function " .. tostring(call.name) } end
      local ok, res = pcall(fn, call.args or {}, call)
      if not ok then return { error = tostring(res) } end
      if type(res) ~= "table" then res = { result = res } end
      return res
    end)
  end
  local parts = {}
  for i, call in ipairs(calls) do
    local res, err = tasks[i]:join()
    self:_emit("tool", { reason = "called " .. tostring(call.name), name = call.name, args = call.args,
                         result = res, transport = "", model = "" })
    parts[i] = { functionResponse = { id = call.id, name = call.name, response = res or { error = tostring(err) } } }
  end
  return parts
end

--- Subscribe to policy events: "fallback", "retry", "reconnect",
--- "restart", "circuit", "turn", "fail", and "tool" (a function ran). fn(event) gets a table with
--- `event`, `reason`, `transport`, `model`, `err` (when any).
function Chat:on(name, fn)
  local list = self.handlers[name] or {}
  self.handlers[name] = list
  list[#list + 1] = fn
  return self
end

local function dim(s)
  if not require("glrun.cli").color(2) then return s end
  return "\27[2m" .. s .. "\27[0m"
end

function Chat:_emit(name, ev)
  ev.event = name
  for _, fn in ipairs(self.handlers[name] or {}) do fn(ev) end
  if core.trace_on() then
    core.trace("policy", ('"event":%s,"transport":%s,"model":%s,"reason":%s'):format(
      json.encode(name), json.encode(ev.transport or ""), json.encode(ev.model or ""),
      json.encode(ev.reason or "")))
  end
  core.log("info", name .. ": " .. (ev.reason or ""), "chat")
  if not self.quiet and ev.line then io.stderr:write(dim("glrun: " .. ev.line), "\n") end
end

---------------------------------------------------------------------------
-- the circuit breaker (Live)
---------------------------------------------------------------------------

function Chat:_circuit_key(model)
  return self.cfg.base_url .. "|" .. model
end

-- "closed" | "open" | "half_open" for the Live model about to be tried
function Chat:_circuit_state()
  local m = self.chain.live[1]
  if type(m) == "table" then m = m.model end
  if not m then return "closed" end
  local st = self.limiter and self.limiter.state -- shared circuits (gemini.state): nil = unavailable
  local shared = st and st:circuit_state(self:_circuit_key(m), self.policy.turn_deadline)
  if shared then return shared end
  local cs = circuits[self:_circuit_key(m)]
  if not cs then return "closed" end
  if cs.state == "open" and self.clock() >= cs.until_t then
    cs.state = "half_open"
  end
  return cs.state
end

function Chat:_circuit_open(model, reason)
  local key = self:_circuit_key(model)
  local was = circuits[key] and circuits[key].state
  circuits[key] = { state = "open", until_t = self.clock() + self.policy.circuit_cooldown, reason = reason }
  if self.limiter and self.limiter.state then self.limiter.state:circuit_open(key, self.policy.circuit_cooldown, reason) end
  if was ~= "open" then
    self:_emit("circuit", { state = "open", transport = "live", model = model,
      reason = ("Live skipped for %g s, then probed again"):format(self.policy.circuit_cooldown) })
  end
end

function Chat:_circuit_close(model)
  local key = self:_circuit_key(model)
  local cs = circuits[key]
  if self.limiter and self.limiter.state then self.limiter.state:circuit_close(key) end
  if cs then
    circuits[key] = nil
    self:_emit("circuit", { state = "closed", transport = "live", model = model,
      reason = "Live works again", line = "Live " .. model .. " works again: back on Live" })
  end
end

--- Forget every circuit (tests).
function M.reset_circuits() circuits = {} end

---------------------------------------------------------------------------
-- transports: one attempt each; emit(text) streams pieces
---------------------------------------------------------------------------

local function user_turn(content)
  if type(content) == "string" then return { role = "user", parts = { { text = content } } } end
  return content
end

-- merge streamed parts: consecutive plain text parts become one. Their
-- pieces are collected and joined once by join_parts (appending each piece
-- to the text so far is quadratic: a 26 MB answer took 25 s).
local pending = setmetatable({}, { __mode = "k" }) -- part -> its text pieces
local function add_parts(acc, parts)
  for _, p in ipairs(parts or {}) do
    local last = acc[#acc]
    if type(p.text) == "string" and not p.thought and not p.thoughtSignature and last
       and type(last.text) == "string" and not last.thought and not last.thoughtSignature then
      local buf = pending[last]
      if not buf then buf = { last.text }; pending[last] = buf end
      buf[#buf + 1] = p.text
    else
      local copy = {}
      for k, v in pairs(p) do copy[k] = v end
      acc[#acc + 1] = copy
    end
  end
end

local function join_parts(acc)
  for _, p in ipairs(acc) do
    local buf = pending[p]
    if buf then p.text, pending[p] = table.concat(buf), nil end
  end
end

function Chat:_request(contents)
  local req = { contents = contents, generationConfig = self.gen_config, tools = self.tools }
  if self.system then req.systemInstruction = { parts = { { text = self.system } } } end
  if self.cache then -- what the cache holds is not sent again (the service refuses that)
    req.cachedContent = type(self.cache) == "table" and self.cache.name or self.cache
    req.systemInstruction, req.tools = nil, nil
  end
  return req
end

-- One REST attempt. Returns reply, usage, between (the tool rounds), info
-- ({finish_reason, tier}) — or nil, err. `tier`: the serviceTier asked for.
function Chat:_attempt_rest(model, user, emit, deadline, tier)
  local contents = {}
  for i, h in ipairs(self.history) do contents[i] = h end
  contents[#contents + 1] = user
  if self.limiter then
    local ok, err = self.limiter:acquire(model, 0, deadline)
    if not ok then return nil, err end
  end
  local p = self.policy
  local knobs = p.continuation ~= false
    and { max_hops = p.max_continuation_hops, max_stalls = p.max_resume_without_progress } or false
  local between = {} -- tool calls and responses of this turn
  for _ = 1, self.max_tool_rounds do
    -- the turn deadline bounds the whole answer, not only silences: a
    -- server that keeps the stream alive without answering is cut off too
    local remaining = math.max(1, deadline - self.clock())
    local idle = tier == "flex" and (p.flex_timeout or 900) or self.cfg.timeout
    local req = self:_request(contents)
    req.serviceTier = tier
    local it, handle = rest.stream(req, { model = model, client = self.client, continuation = knobs,
      timeout = math.min(idle, remaining), deadline = remaining,
      -- cancellable before its headers arrive too (the page's Stop)
      on_start = function(h) self._inflight = function() h:close() end end })
    if not it then return nil, handle end
    -- an abandoned turn closes the request in flight (chat:stream's closer)
    self._inflight = function() handle:close() end
    local parts, usage, info = {}, nil, { tier = tier }
    local ok, e = pcall(function()
      for chunk in it do
        local cand = chunk.candidates and chunk.candidates[1]
        if cand and cand.content then add_parts(parts, cand.content.parts) end
        if cand and cand.finishReason and cand.finishReason ~= json.null then info.finish_reason = cand.finishReason end
        usage = chunk.usageMetadata or usage
        local served = chunk.serviceTier or (type(chunk.usageMetadata) == "table" and chunk.usageMetadata.serviceTier)
        if type(served) == "string" then info.tier = served:lower() end
        if self.on_response then self.on_response(chunk, model) end
        if chunk.text ~= "" then emit(chunk.text) end
      end
    end)
    self._inflight = nil
    handle:close()
    if not ok then return nil, e end
    join_parts(parts)
    if self.limiter and usage and usage.totalTokenCount then self.limiter:record(model, usage.totalTokenCount) end
    local calls = {}
    for _, part in ipairs(parts) do if type(part.functionCall) == "table" then calls[#calls + 1] = part.functionCall end end
    local reply = { role = "model", parts = parts }
    if #calls == 0 then return reply, usage, between, info end
    local answers = { role = "user", parts = self:_run_tools(calls) }
    contents[#contents + 1] = reply
    contents[#contents + 1] = answers
    between[#between + 1] = reply
    between[#between + 1] = answers
  end
  return nil, errors.new("protocol", ("REST %s: more than %d rounds of function calls in one turn")
    :format(model, self.max_tool_rounds))
end

function Chat:_close_live()
  if self.live then self.live:close() end
  self.live, self.live_model, self.live_synced = nil, nil, 0
end

-- The text of a user content, when it is text only (nil otherwise).
local function text_only(content)
  local out = {}
  for _, p in ipairs(type(content) == "table" and content.parts or {}) do
    if type(p) ~= "table" or type(p.text) ~= "string" then return nil end
    out[#out + 1] = p.text
  end
  return #out > 0 and table.concat(out) or nil
end

function Chat:_attempt_live(model, user, emit, deadline, brk)
  local live = require "gemini.live"
  local caps = require("gemini.models").live_caps(model)
  local initial_only = caps.client_content == "initial_only"
  if self.live and self.live_model ~= model then self:_close_live() end
  -- Gemini 3.x Live (docs/protocol.md#gemini-3-live-rules): an open session
  -- cannot be told about turns answered elsewhere (over REST); a new one
  -- is opened, seeded with the whole history
  if self.live and initial_only and self.live_synced < #self.history then self:_close_live() end
  local seeded = false
  if not self.live then
    local history
    if initial_only and #self.history > 0 then
      history = {}
      for i, h in ipairs(self.history) do history[i] = h end
    end
    local s, err = live.connect{ model = model, client = self.client, system = self.system, history = history,
                                 tools = self.tools, timeout = math.max(1, deadline - self.clock()) }
    if not s then return nil, err end
    self.live, self.live_model, self.live_synced = s, model, history and #history or 0
    seeded = history ~= nil
  end
  local s = self.live
  if initial_only then
    -- user text goes as realtimeInput.text, which always starts a turn
    local text = text_only(user)
    if not text then
      return nil, errors.new("live_rule", ("Live %s takes user input as realtimeInput (text, audio, video): "
        .. "this turn has parts that are not text"):format(model), { live = true, model = model })
    end
    local ok, err = s:send_text(text)
    if not ok then self:_close_live(); return nil, err end
  else
    -- the session has not seen the turns completed elsewhere (over REST):
    -- send them as context first (turnComplete = false generates nothing)
    if self.live_synced < #self.history then
      local missing = {}
      for i = self.live_synced + 1, #self.history do missing[#missing + 1] = self.history[i] end
      local ok, err = s:send_turns(missing, false)
      if not ok then self:_close_live(); return nil, err end
    end
    local ok, err = s:send_turns({ user }, true)
    if not ok then self:_close_live(); return nil, err end
  end
  local text, usage, complete, between, info = {}, nil, false, {}, { finish_reason = "STOP", seeded = seeded }
  -- an abandoned turn drops the session: its open turn would otherwise
  -- answer the next question with the rest of this one
  self._inflight = function() self:_close_live() end
  local pok, e = pcall(function()
    for ev in s:events{ timeout = math.max(1, deadline - self.clock()) } do
      if ev.text and ev.type ~= "input_transcription" then
        text[#text + 1] = ev.text
        emit(ev.text)
      elseif ev.type == "interrupted" and #text > 0 then
        -- the session repaired its connection and the turn starts over:
        -- drop the partial answer, and mark the break where it was shown
        text = {}
        brk("Live connection repaired mid-answer")
      elseif ev.type == "tool_call" then
        local calls = ev.calls or {}
        local parts = {}
        for i, c in ipairs(calls) do parts[i] = { functionCall = c } end
        local answers = self:_run_tools(calls)
        between[#between + 1] = { role = "model", parts = parts }
        between[#between + 1] = { role = "user", parts = answers }
        local responses = {}
        for i, a in ipairs(answers) do responses[i] = a.functionResponse end
        local sok, serr = s:send_tool_response(responses)
        if not sok then error(serr, 0) end
      elseif ev.type == "turn_complete" then
        -- a turn the session closed because it had to reconnect did not
        -- complete: the policy decides what to do about it
        if ev.reason ~= "reconnect" then
          usage, complete = ev.usage, true
          if type(ev.reason) == "string" and ev.reason ~= "" then info.finish_reason = ev.reason end
        end
      end
    end
  end)
  self._inflight = nil
  if pok and not complete then
    pok, e = false, errors.new("stream_cut", "Live " .. model .. ": the turn ended without turnComplete")
  end
  if not pok then self:_close_live(); return nil, e end
  self.live_synced = #self.history + 2 + #between
  return { role = "model", parts = { { text = table.concat(text) } } }, usage, between, info
end

---------------------------------------------------------------------------
-- a turn
---------------------------------------------------------------------------

-- Did the server say this model does not exist (retired, or never was)?
-- REST: a 404 naming the model; Live: a 1008 "not found / not supported
-- for bidiGenerateContent".
local function gone(err, choice)
  if type(err) ~= "table" then return false end
  local msg = type(err.error) == "table" and err.error.message or err.reason or err.message or ""
  msg = tostring(msg)
  if choice.transport == "rest" then
    return err.kind == "http" and err.status == 404 and not err.midstream and msg:find("not found", 1, true) ~= nil
  end
  return err.kind == "ws_closed" and err.close_code == 1008
    and (msg:find("not found", 1, true) ~= nil or msg:find("not supported for bidiGenerateContent", 1, true) ~= nil)
end

-- A model the server says is gone: put the catalog's newest model of its
-- family that serves the same method in its place in the chain (for this
-- turn and the next ones), unless the chain has it already. Returns the
-- replacement's id, or nil.
function Chat:_replace_gone(choice)
  -- Vertex AI's model ids differ and its catalog is only the built-in list
  if self.cfg.backend == "vertex" then return nil end
  local models = require "gemini.models"
  local catalog = require "gemini.catalog"
  local fam = models.family(choice.model)
  local method = choice.transport == "live" and "bidiGenerateContent" or "generateContent"
  local copts = { client = self.client }
  -- glrun's model table may name the replacement (a Vertex id, a shut-down
  -- Live model): when the catalog lists it for the method, it goes first
  local te = models.table[models.id(choice.model)]
  local ok, rep = false, nil
  if te and te.replacement then
    local gok, e = pcall(catalog.get, te.replacement, copts)
    if gok and e and e.has[method] then ok, rep = true, e end
  end
  if not rep and fam then ok, rep = pcall(catalog.find, { method = method, family = fam, newest = true, opts = copts }) end
  if not ok or not rep or rep.id == models.id(choice.model) then return nil end
  local list = self.chain[choice.transport]
  local at
  for i, e in ipairs(list) do
    local m = type(e) == "table" and e.model or e
    if m == rep.id then return nil end
    if m == choice.model and (type(e) ~= "table" or e.tier == choice.tier) then at = at or i end
  end
  if not at then return nil end
  list[at] = choice.tier and setmetatable({ model = rep.id, tier = choice.tier }, Entry) or rep.id
  return rep.id
end

local function fail_error(last, attempts, why)
  local fields = {}
  if type(last) == "table" then for k, v in pairs(last) do fields[k] = v end end
  fields.attempts = attempts
  fields.last = last
  local msgs = {}
  for i, a in ipairs(attempts) do msgs[i] = a.reason end
  local kind = type(last) == "table" and last.kind or "turn_failed"
  return core.error(kind, why .. (#msgs > 0 and (": " .. table.concat(msgs, "; ")) or ""), fields)
end

-- Run one turn; emit(piece, kind) gets text pieces ("text") and break
-- markers ("break"). Returns the model content, or nil, err.
function Chat:_turn(content, emit)
  local p = self.policy
  local user = user_turn(content)
  local deadline = self.clock() + p.turn_deadline
  local ctx = { transport = self.transport, chain = self.chain, skip = {}, circuit = {}, attempt = 0,
                failures = {}, retries = {} }
  local attempts, last_err = {}, nil
  self.stats.turns = self.stats.turns + 1
  while true do
    ctx.attempt = ctx.attempt + 1
    ctx.circuit.live = self:_circuit_state()
    local choice = ctx.attempt <= p.max_attempts and p.choose(ctx, p) or nil
    if not choice then
      local err = fail_error(last_err, attempts, ctx.attempt > p.max_attempts
        and ("no answer after %d attempts"):format(p.max_attempts) or "no transport or model left to try")
      self:_emit("fail", { reason = err.message, err = err })
      return nil, err
    end
    local shown = false
    local function piece(t)
      shown = true
      emit(t, "text")
    end
    local function brk(why)
      self:_emit("restart", { reason = why, transport = choice.transport, model = choice.model,
                              line = "answer cut short (" .. why .. "): restarting it" })
      emit("\n[glrun: answer restarted]\n", "break")
    end
    local t0 = self.clock()
    local reply, err, between, info
    -- a flex-tier request queues for minutes: it gets its own, longer bound
    local attempt_deadline = choice.tier == "flex"
      and math.max(deadline, t0 + (p.flex_timeout or 900)) or deadline
    if choice.transport == "live" then
      reply, err, between, info = self:_attempt_live(choice.model, user, piece, attempt_deadline, brk)
    else
      reply, err, between, info = self:_attempt_rest(choice.model, user, piece, attempt_deadline, choice.tier)
    end
    if reply then
      if choice.transport == "live" then self:_circuit_close(choice.model) end
      self.history[#self.history + 1] = user
      for _, c in ipairs(between or {}) do self.history[#self.history + 1] = c end
      self.history[#self.history + 1] = reply
      info = info or {}
      self:_emit("turn", { transport = choice.transport, model = choice.model, attempts = ctx.attempt,
                           seconds = self.clock() - t0, reason = "answered", finish_reason = info.finish_reason })
      self.last_turn = { transport = choice.transport, model = choice.model, attempts = ctx.attempt,
                         finish_reason = info.finish_reason, tier = info.tier,
                         truncated = info.finish_reason ~= nil and info.finish_reason ~= "STOP" or nil }
      return reply
    end
    last_err = err
    if type(err) == "table" and err.kind == "interrupted" then
      -- Ctrl-C (gl.trap_interrupts) or a stopping run: the turn ends now,
      -- whatever the policy would do; nothing of it is kept
      if choice.transport == "live" then self:_close_live() end
      attempts[#attempts + 1] = { transport = choice.transport, model = choice.model, reason = "interrupted" }
      return nil, err
    end
    local d = p.classify(err, { transport = choice.transport, model = choice.model, tier = choice.tier }, p)
    if self.limiter and self.limiter.state then self.limiter.state:learn(self.limiter, choice.model, err) end
    local key = choice.transport .. ":" .. choice.model .. (choice.tier and ("@" .. choice.tier) or "")
    ctx.failures[#ctx.failures + 1] = { transport = choice.transport, model = choice.model, err = err, decision = d }
    attempts[#attempts + 1] = { transport = choice.transport, model = choice.model, reason = d.reason }
    ctx.retry = false
    ctx.last = choice
    local action = d.action
    if (action == "retry" or action == "reconnect") then
      ctx.retries[key] = (ctx.retries[key] or 0) + 1
      if ctx.retries[key] > (d.fallback_after or p.max_retries_per_model) then action = "fallback" end
    end
    if d.circuit and choice.transport == "live" then self:_circuit_open(choice.model, d.reason) end
    if shown and action ~= "fail" then
      if not p.restart_after_text then
        self:_emit("fail", { reason = d.reason, err = err, transport = choice.transport, model = choice.model })
        return nil, fail_error(err, attempts, "the answer broke off after text was shown")
      end
      brk(d.reason)
    end
    if action == "fail" then
      local e = fail_error(err, attempts, "the turn failed")
      self:_emit("fail", { reason = d.reason, err = err, transport = choice.transport, model = choice.model })
      return nil, e
    elseif action == "fallback" then
      ctx.skip[key] = true
      if choice.transport == "live" then self:_close_live() end
      self.stats.fallbacks = self.stats.fallbacks + 1
      local replacement = p.replace_retired ~= false and gone(err, choice) and self:_replace_gone(choice)
      local nxt = p.choose(ctx, p)
      local instead = nxt and ("falling back to " .. (nxt.transport == "live" and "Live " or "REST ") .. nxt.model
        .. (nxt.model == replacement and " (its replacement in the model catalog)" or ""))
        or "nothing left to fall back to"
      local gave_up = d.action ~= "fallback" and (" (still failing after %d attempts)"):format(ctx.retries[key]) or ""
      self:_emit("fallback", { reason = d.reason, err = err, transport = choice.transport, model = choice.model,
                               to = nxt, line = d.reason .. gave_up .. " -> " .. instead })
    else -- retry / reconnect: same transport and model after a delay
      self.stats.retries = self.stats.retries + 1
      local delay = d.delay or p.backoff(ctx.retries[key], err, p)
      if self.clock() + delay > deadline then
        local e = fail_error(err, attempts, ("the turn deadline (%g s) would pass"):format(p.turn_deadline))
        self:_emit("fail", { reason = e.message, err = err })
        return nil, e
      end
      if action == "reconnect" then self:_close_live() end
      self:_emit(action, { reason = d.reason, err = err, transport = choice.transport, model = choice.model,
                           delay = delay, line = d.reason .. (" -> %s in %.1f s"):format(
                             action == "reconnect" and "reconnecting" or "retrying", delay) })
      if delay > 0 then self.sleep(delay) end
      ctx.retry = true
    end
  end
end

-- An abandoned turn (a `break` out of chat:stream, an error raised in the
-- loop body, a new turn started while an iterator was still pending) is
-- cancelled on its transport: the REST request is closed, the Live
-- session is dropped (its open turn would otherwise answer the next
-- question with the rest of this one). Its coroutine is closed, so the
-- turn can never finish later and reach the history.
function Chat:_abandon()
  local co = self._stream_co
  if not co then return end
  self._stream_co = nil
  self:_cancel_inflight()
  if coroutine.status(co) == "suspended" then coroutine.close(co) end
end

-- The attempt in flight (set by the transports while a turn runs): close
-- its REST request, or drop its Live session.
function Chat:_cancel_inflight()
  local f = self._inflight
  self._inflight = nil
  if f then f() end
end

local function check_content(content)
  if type(content) ~= "string" and type(content) ~= "table" then
    error("gemini.chat: the message must be a string or a {role, parts} content, not " .. type(content), 3)
  end
end

--- Stream the answer to `content` (a string, or a {role, parts} content):
--- an iterator of text pieces, with a closing value as its fourth result,
--- so a generic `for` that ends early (`break`, an error in its body)
--- cancels the turn: nothing of it enters the history, and its transport
--- is closed (REST) or dropped (Live). A break marker piece (second value
--- "break") separates a restarted answer from the broken one.
--- The turn starts at once: when no transport could answer before any
--- text came, stream returns nil, err (in a for loop: `for piece in
--- assert(chat:stream(q)) do`); a failure after text was shown is raised
--- by the iterator.
function Chat:stream(content)
  check_content(content)
  self:_abandon() -- a turn left pending by an iterator nobody finished
  local co
  co = coroutine.create(function()
    local reply, err = self:_turn(content, function(t, kind) coroutine.yield(t, kind) end)
    if self._stream_co == co then self._stream_co = nil end
    if not reply then errors.raise(err) end
    return nil
  end)
  self._stream_co = co
  -- run the turn up to its first piece: a turn that fails before it is
  -- an iterator that cannot start
  local ok, first, first_kind = coroutine.resume(co)
  if not ok then
    if self._stream_co == co then self._stream_co = nil end
    if errors.is(first) then return nil, first end
    error(first, 0) -- a bug, or an error raised by an event handler
  end
  local held = first ~= nil
  local function iter()
    if held then
      held = false
      return first, first_kind
    end
    if coroutine.status(co) ~= "suspended" then return nil end
    local rok, piece, kind = coroutine.resume(co)
    if not rok then
      if self._stream_co == co then self._stream_co = nil end
      errors.raise(piece)
    end
    return piece, kind
  end
  local closer = setmetatable({}, { __close = function()
    if self._stream_co == co then self:_abandon() end
  end })
  return iter, nil, nil, closer
end

--- The whole answer as a string, or nil, err (the model's content is the
--- last entry of chat.history).
function Chat:send(content)
  check_content(content)
  self:_abandon()
  local reply, err = self:_turn(content, function() end)
  if not reply then return nil, err end
  return rest.parts_text(reply.parts)
end

--- Forget the conversation (and any Live session).
function Chat:reset()
  self:_abandon()
  self.history = {}
  self:_close_live()
end

function Chat:close()
  self:_abandon()
  self:_close_live()
end

Chat.__close = Chat.close

function Chat:__tostring()
  local tr = self.last_turn and (" last turn over " .. self.last_turn.transport .. " " .. tostring(self.last_turn.model)) or ""
  return ("gemini.chat (%s, %d contents in history, %s)%s"):format(self.transport, #self.history,
    self.live and ("Live session open: " .. tostring(self.live_model)) or "no Live session", tr)
end

return M
