-- gemini.state — where rate-limit windows, learned quota and Live circuits
-- live: `local` (in this process: gemini.ratelimit's own tables and the
-- chat's circuits; the default) or `redis` (shared by every process using
-- the same pool, through glrun.redis; the windows are Lua scripts run
-- atomically inside Redis, gemini.state_redis).
--
-- The redis backend is chosen by GLRUN_REDIS_URL, `glrun --redis URL`, or
-- the policy knob `ratelimit = { backend = "redis", url = ..., pool = ...,
-- limits = {...}, window = secs }`. The pool defaults to a hash of the API
-- key or the project (never the key itself).
--
-- Faults: Redis unreachable, slow or lost → one warning, the local limits
-- apply, and the connection is retried with backoff; a restarted Redis
-- (state lost) simply starts new windows.
local core = require "glrun.core"
local errors = require "gemini.errors"
local scripts = require "gemini.state_redis"

local M = {}

local B = {}
B.__index = B

local function log(level, msg) core.log(level, msg, "state") end

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- The default pool name: a short hash of the API key or the project.
function M.default_pool()
  local ok, config = pcall(require, "gemini.config")
  local c = ok and config.get and select(2, pcall(config.get)) or nil
  local who = type(c) == "table" and (c.project or c.api_key) or os.getenv("GEMINI_API_KEY")
    or os.getenv("GOOGLE_API_KEY") or "anonymous"
  return "p" .. hex(require("glrun.crypto").sha256("glrun-pool:" .. tostring(who))):sub(1, 16)
end

--- A redis backend. opts: url, pool, timeout (seconds per command,
--- default 2), backoff_max (seconds, default 10), connect (for tests).
function M.redis(opts)
  return setmetatable({
    url = opts.url,
    pool = opts.pool or M.default_pool(),
    timeout = opts.timeout or 2.0,
    backoff = 0,
    backoff_max = opts.backoff_max or 10,
    retry_at = 0,
    sha = {},
    seq = 0,
    ids = {},       -- model -> id of this process's latest reservation
    warned = false,
    name = "redis",
  }, B)
end

local function where(url)
  -- host:port/db of a redis:// URL, without any password
  return (url:gsub("^(rediss?://)[^@/]*@", "%1"))
end

function B:_down(err)
  if self.c then pcall(self.c.close, self.c); self.c = nil end
  self.backoff = math.min(self.backoff_max, self.backoff == 0 and 0.5 or self.backoff * 2)
  self.retry_at = core.now() + self.backoff
  if not self.warned then
    self.warned = true
    log("warn", ("Redis %s unavailable (%s): local rate limits apply until it is back")
      :format(where(self.url), err and err.message or tostring(err)))
  end
end

-- The connection, or nil when Redis is down (in backoff).
function B:_conn()
  for _ = 1, 500 do
    if self.c then return self.c end
    if not self.connecting then break end
    core.sleep(0.01) -- another task is connecting: wait for it
  end
  if self.c then return self.c end
  if self.connecting or core.now() < self.retry_at then return nil end
  self.connecting = true
  local c, err = require("glrun.redis").connect{ url = self.url, timeout = self.timeout }
  self.connecting = false
  if not c then self:_down(err); return nil end
  -- request ids must be unique across processes (ZADD of an id already in
  -- the window would not count): a number from Redis per connection
  local cid, cerr = c:command("INCR", "glrun:connections")
  if not cid then c:close(); self:_down(cerr); return nil end
  self.cid = cid
  if self.warned then log("info", ("Redis %s is back: shared limits again"):format(where(self.url))) end
  self.warned, self.backoff, self.sha = false, 0, {}
  self.c = c
  return c
end

-- Run script `name`; returns its result, or nil, err (Redis down: the
-- caller falls back to local state).
function B:eval(name, keys, args)
  local c = self:_conn()
  if not c then return nil, errors.new("redis", "Redis unavailable") end
  local n = #keys
  local argv = {}
  for i, k in ipairs(keys) do argv[i] = k end
  for i, a in ipairs(args) do argv[n + i] = a end
  local res, err
  if self.sha[name] then
    res, err = c:command("EVALSHA", self.sha[name], n, table.unpack(argv))
    if not res and err.kind == "redis" and tostring(err.message):find("NOSCRIPT", 1, true) then
      self.sha[name], res, err = nil, nil, nil
    end
  end
  if not self.sha[name] and not err then
    local sha
    sha, err = c:command("SCRIPT", "LOAD", scripts[name])
    if sha then
      self.sha[name] = sha
      res, err = c:command("EVALSHA", sha, n, table.unpack(argv))
    end
  end
  if not res and err and err.kind ~= "redis" then self:_down(err) end
  if err then return nil, err end
  return res
end

function B:key(kind, rest) return ("glrun:{%s}:%s:%s"):format(self.pool, kind, rest) end

-- ------------------------------------------------------------ rate limits

--- Admission for gemini.ratelimit: true, waited | nil, err | "local"
--- (Redis unavailable: the caller applies its local limits).
function B:acquire(rl, model, tokens, deadline)
  local R = getmetatable(rl)
  local l = rl:limit(model) or {}
  local waited = 0
  for _ = 1, 1000 do
    if not self:_conn() then return "local" end
    self.seq = self.seq + 1
    local id = ("%d.%d"):format(self.cid or 0, self.seq)
    local t = rl.time()
    local day = R.pacific_day(t)
    local res = self:eval("admit",
      { self:key("w", model), self:key("t", model), self:key("d", model .. ":" .. day), self:key("m", model) },
      { math.floor(rl.window * 1000), l.rpm or 0, l.tpm or 0, l.rpd or 0, tokens, id,
        math.max(1000, math.floor((R.next_reset(t) - t) * 1000)) })
    if not res then return "local" end
    if res[1] == 1 then
      -- local bookkeeping too: it keeps record() working and the local
      -- limits informed should Redis go away
      rl:_note(model, tokens, waited)
      self.ids[model] = id
      return true, waited
    end
    local w, why = res[2] / 1000, res[3]
    if why == "mark_day" or (deadline and rl.clock() + w > deadline) then
      local per_day = why == "rpd" or why == "mark_day"
      local msg = why == "mark_day"
        and ("%s: the per-day quota is spent (learned by a process of pool %s); it resets at midnight Pacific time")
          :format(model, self.pool)
        or ("%s: the shared budget of pool %s (%s) needs a %.1f s wait, past the deadline")
          :format(model, self.pool, rl:describe(model), w)
      return nil, errors.new("rate_limit", msg, { retry_after = w, model = model, per_day = per_day or nil,
        shared = true })
    end
    rl.sleep(w + math.random() * 0.01)
    waited = waited + w
  end
  error("state: budget never freed")
end

--- Correct the latest reservation for `model` with the real token count.
function B:record(rl, model, tokens)
  local id = self.ids[model]
  if not id then return end
  self.ids[model] = nil
  self:eval("record", { self:key("t", model) }, { id, math.floor(tokens) })
end

--- Learn from a failed request: a 429 whose QuotaFailure names a per-day
--- quota marks the model spent for the pool until midnight Pacific; a
--- RetryInfo delay is shared as a mark of that length.
function B:learn(rl, model, err)
  if type(err) ~= "table" or err.status ~= 429 or not model then return end
  local per_day = false
  local qf = errors.detail and errors.detail(err, "QuotaFailure")
  if qf and type(qf.violations) == "table" then
    for _, v in ipairs(qf.violations) do
      if type(v.quotaId) == "string" and v.quotaId:find("PerDay", 1, true) then per_day = v.quotaId end
    end
  end
  local delay
  if per_day then
    local R = getmetatable(rl)
    local t = rl.time()
    delay = R.next_reset(t) - t
  elseif type(err.retry_after) == "number" and err.retry_after > 0 then
    delay = err.retry_after
  end
  if not delay then return end
  self:eval("mark", { self:key("m", model) },
    { math.floor(delay * 1000), per_day or "RetryInfo", per_day and "1" or "0" })
end

-- ------------------------------------------------------------ Live circuits

local function ckey(key) return hex(require("glrun.crypto").sha256(key)):sub(1, 24) end

--- "closed" | "open" | "half_open" (this process probes), or nil when
--- Redis is unavailable (the local circuit decides).
function B:circuit_state(key, lease)
  local k = ckey(key)
  local res = self:eval("circuit_state", { self:key("c", k), self:key("p", k) }, { math.floor((lease or 30) * 1000) })
  return res and res[1] or nil
end

function B:circuit_open(key, cooldown, reason)
  local k = ckey(key)
  self:eval("circuit_open", { self:key("c", k), self:key("p", k) }, { math.floor(cooldown * 1000), reason or "" })
end

function B:circuit_close(key)
  local c = self:_conn()
  if not c then return end
  local k = ckey(key)
  local ok, err = c:command("DEL", self:key("c", k), self:key("p", k))
  if not ok and err.kind ~= "redis" then self:_down(err) end
end

-- ------------------------------------------------------------ the process's backend

local configured, shared = false, nil

--- The ratelimit table of the policy in force (policy file), or {}.
local function policy_knob()
  local ok, p = pcall(function() return require("gemini.policy").resolve() end)
  if ok and type(p) == "table" and type(p.ratelimit) == "table" then return p.ratelimit end
  return {}
end

--- The shared backend of this process, or nil (local state).
function M.shared()
  if configured then return shared end
  configured = true
  local knob = policy_knob()
  M.knob = knob
  local url = knob.url or (core.options and core.options.redis) or os.getenv("GLRUN_REDIS_URL")
  local backend = knob.backend or (url and "redis") or "local"
  if backend == "redis" then
    if not url or url == "" then
      log("warn", "ratelimit backend \"redis\" but no URL (GLRUN_REDIS_URL, --redis, or ratelimit.url): local limits apply")
    else
      shared = M.redis{ url = url, pool = knob.pool, timeout = knob.timeout }
    end
  elseif backend ~= "local" then
    error(("ratelimit.backend: unknown backend %q (local, redis)"):format(tostring(backend)))
  end
  return shared
end

--- Hook for gemini.ratelimit.shared(): apply the policy's limits and
--- window, and plug the shared backend in.
function M.attach(rl)
  local st = M.shared()
  local knob = M.knob or {}
  if type(knob.limits) == "table" then for k, v in pairs(knob.limits) do rl.limits[k] = v end end
  if knob.window then rl.window = knob.window end
  rl.state = st
  return rl
end

--- Forget the configuration (tests).
function M.reset() configured, shared, M.knob = false, nil, nil end

return M
