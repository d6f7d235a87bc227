-- gemini.policy_sim — `glrun policy simulate`: what a policy decides for
-- every failure of a session recorded with `glrun --record DIR`, and the
-- waits those decisions cost, without a request.
--
-- Each failure becomes the error object the transport would have returned
-- (an HTTP error read by gemini.errors.enrich, a Live close or handshake
-- refusal read by gemini.diagnose.live), and is handed to the policy's
-- classify and backoff as a chat would: retries of one transport+model
-- are counted until that model answers, and past fallback_after (or
-- max_retries_per_model) a retry becomes a fallback.
local core = require "glrun.core"
local json = require "glrun.json"
local errors = require "gemini.errors"
local check = require "gemini.policy_check"

local M = {}

local function bytes(e)
  if type(e.b64) == "string" then return core.b64decode(e.b64) end
  return type(e.data) == "string" and e.data or ""
end

local function headers_of(raw)
  local h = {}
  for line in (raw or ""):gmatch("[^\r\n]+") do
    local k, v = line:match("^([^:]+):%s*(.*)$")
    if k then h[k:lower()] = v end
  end
  return h
end

-- A failure in a few words: its first sentence, at most 100 characters.
local function short(s)
  s = tostring(s):match("^[^\n]*"):gsub("^%u+ %a[%w+.-]*://%S+: ", "") -- the row names the model already
  s = s:match("^(.-%.)%s") or s
  if utf8.len(s) and utf8.len(s) > 100 then s = s:sub(1, utf8.offset(s, 98) - 1) .. "..." end
  return s
end

-- (internal) A 200 response that still failed, as gemini.rest reads it: an
-- error inside the stream (a google.rpc.Status without "data:"), a
-- blocked prompt, or an answer that ended with a finishReason and no text
-- (blocked, malformed_call). nil for an answer.
function M._answer_failure(body, method, url)
  local rest = require "gemini.rest"
  local chunks = {}
  if body:find("^%s*data:") then
    for ev in (body .. "\r\n\r\n"):gmatch("(.-)\r?\n\r?\n") do
      local data = ev:match("^data:%s?(.*)$")
      if data then
        chunks[#chunks + 1] = json.decode(data)
      elseif ev:find("^%s*[%[{]") then -- not SSE: an error the server wrote into the stream
        local err = core.error("http", ("%s %s: an error in the stream"):format(method, url),
          { status = 0, body = ev, method = method, url = url, midstream = true, events = #chunks })
        return (errors.enrich(err))
      end
    end
  else
    local obj = body:find("^%s*[%[{]") and json.decode(body) or nil
    if type(obj) == "table" and #obj > 0 then chunks = obj elseif type(obj) == "table" then chunks = { obj } end
  end
  local answered, reason, cand = false, nil, nil
  for _, c in ipairs(chunks) do
    if type(c) == "table" then
      local pf = c.promptFeedback
      if type(pf) == "table" and type(pf.blockReason) == "string" then
        return errors.new("blocked", ("%s %s: the prompt was blocked (%s)"):format(method, url, pf.blockReason),
                          { block_reason = pf.blockReason })
      end
      local cd = type(c.candidates) == "table" and c.candidates[1] or nil
      if type(cd) == "table" then
        for _, p in ipairs(type(cd.content) == "table" and type(cd.content.parts) == "table" and cd.content.parts or {}) do
          if type(p) == "table" and ((type(p.text) == "string" and p.text ~= "" and not p.thought)
             or type(p.functionCall) == "table") then answered = true end
        end
        if type(cd.finishReason) == "string" then reason, cand = cd.finishReason, cd end
      end
    end
  end
  if reason and rest.finish_kinds[reason] and not answered then
    return (rest.finish_error(reason, cand, answered, url))
  end
  return nil
end

-- A failure of an HTTP exchange: err, what; nil when it succeeded.
local function http_failure(ex)
  local url, method = ex.request.url, ex.request.method
  local status = ex.response and ex.response.status or 0
  local body = {}
  for _, ev in ipairs(ex.events or {}) do if ev.dir ~= "send" then body[#body + 1] = bytes(ev) end end
  body = table.concat(body)
  if status >= 400 then
    local err = core.error("http", ("%s %s: HTTP %d"):format(method, url, status),
      { status = status, body = body, headers = headers_of(ex.response.headers), method = method, url = url })
    return (errors.enrich(err))
  end
  -- what the answer said comes first: a client that read a blocked prompt
  -- or an error event closes the request, and the transfer then ends
  -- unfinished (when the rest had not come in yet): that is not a cut
  local failed = M._answer_failure(body, method, url)
  local result = ex.result or 0
  if failed or result == 0 then return failed end
  local kind = result == 28 and "timeout" or (result == 6 or result == 5) and "dns" or result == 7 and "connect"
    or (result == 35 or result == 60 or result == 58) and "tls" or (status > 0 and "stream_cut") or "network"
  return core.error(kind, ("%s %s: %s"):format(method, url, tostring(ex.error or ("curl error " .. result))),
    { url = url, method = method, curl_code = result, status = status > 0 and status or nil })
end

-- the Live model of a session: its setup message
local function setup_of(ex)
  for _, ev in ipairs(ex.events or {}) do
    if ev.dir == "send" then
      local m = json.decode(bytes(ev))
      return type(m) == "table" and type(m.setup) == "table" and m.setup or nil
    end
  end
end

-- The failures in one recorded exchange (a cassette file's table): a list
-- (empty when it went well; a Live session may hold a goAway and a close).
local function failure_of(ex)
  local list = {}
  local url = ex.request.url
  if ex.kind == "http" then
    local err = http_failure(ex)
    if err then
      local req = json.decode(ex.request.data or "") or {}
      local model = url:match("/models/([^:/?]+)") or "?"
      local d = require("gemini.diagnose").of(err, { transport = "rest", model = model })
      list[1] = { transport = "rest", model = model, tier = type(req) == "table" and req.serviceTier or nil,
                  err = err, what = "REST " .. model .. ": " .. short(d.text), key = "rest:" .. model }
    end
    return list
  end
  local setup = setup_of(ex)
  local model = setup and type(setup.model) == "string" and setup.model:gsub("^models/", "") or "?"
  local key = "live:" .. model
  for _, ev in ipairs(ex.events or {}) do
    if ev.dir == "recv" then
      local b = bytes(ev)
      if b:find('"goAway"', 1, true) then
        local m = json.decode(b)
        local left = type(m) == "table" and type(m.goAway) == "table" and m.goAway.timeLeft or "?"
        list[#list + 1] = { transport = "live", model = model, go_away = left, key = key,
                            what = ("Live %s: goAway, %s left on this connection"):format(model, left) }
      end
    end
  end
  local status = ex.response and ex.response.status or 0
  local fields = { url = core.redact(url), close_code = ex.close_code, reason = ex.reason }
  local raw
  if status ~= 101 and status ~= 0 then
    fields.status = status
    raw = core.error("ws_handshake", ex.error or ("WebSocket handshake failed: HTTP " .. status), fields)
  elseif ex.error and ex.closed_by ~= "client" and ex.error_kind ~= "replay" then
    raw = core.error(ex.error_kind or "ws_closed", ex.error, fields)
  end
  if raw then
    local err = require("gemini.diagnose").live(raw, { transport = "live", model = model })
    list[#list + 1] = { transport = "live", model = model, err = err, key = key,
                        what = (model == "?" and "Live" or ("Live " .. model)) .. ": " .. short(err.summary or err.message) }
  end
  return list
end

--- The failures of a recorded session (the folder `glrun --record DIR`
--- wrote): a list of { file, transport, model, tier, err, what, t } with
--- `exchanges` (how many exchanges were read) — or nil, err.
function M.failures(dir)
  if type(dir) ~= "string" then error("policy_sim.failures: dir must be a string", 2) end
  local out = { exchanges = 0 }
  for name, text in require("glrun.cassette").files(dir) do
    local ex = json.decode(text)
    if type(ex) ~= "table" or type(ex.request) ~= "table" or type(ex.request.url) ~= "string" then
      return nil, errors.new("replay", name .. ": not a cassette file (glrun --record writes them)")
    end
    out.exchanges = out.exchanges + 1
    local fl = failure_of(ex)
    for _, x in ipairs(fl) do
      x.file = name
      out[#out + 1] = x
    end
    if #fl == 0 then out[#out + 1] = { file = name, ok = true, ex = ex } end
  end
  if out.exchanges == 0 then
    return nil, errors.new("replay", dir .. ": no cassette files (NNNN-http.json, NNNN-ws.json) there")
  end
  -- the answered exchanges stay in the list (they reset retry counts), marked ok
  local fails = { exchanges = out.exchanges, all = out }
  for _, x in ipairs(out) do if not x.ok then fails[#fails + 1] = x end end
  return fails
end

--- What policy p decides for each failure (M.failures' list): a list of
--- { decision, wait, text } in the same order, with `total` (seconds of
--- waits). A retry past the model's allowance becomes a fallback, as in a
--- chat; an answered exchange resets its model's count.
function M.decide(p, failures)
  if type(p) ~= "table" or type(failures) ~= "table" then error("policy_sim.decide: (policy, failures)", 2) end
  local out, retries, total = {}, {}, 0
  local chain, circuits -- the resolved chain; whether Live is off (a circuit opened earlier)
  local index = {}
  for i, f in ipairs(failures) do index[f] = i end
  for _, f in ipairs(failures.all or failures) do
    if f.ok then
      local ex = f.ex
      local model = ex.kind == "http" and (ex.request.url:match("/models/([^:/?]+)")) or nil
      if model then retries["rest:" .. model] = nil end
      if ex.kind == "ws" then
        local s = setup_of(ex)
        if s and type(s.model) == "string" then retries["live:" .. s.model:gsub("^models/", "")] = nil end
      end
    elseif f.go_away then
      out[index[f]] = { wait = 0, text = "the Live session moves to a new connection (resumption), no wait" }
    else
      local ok, d = check._call(p.classify, f.err, { transport = f.transport, model = f.model, tier = f.tier }, p)
      local row
      if not ok then
        row = { wait = 0, text = "classify raised: " .. d }
      elseif check._check_decision(d) then
        row = { wait = 0, text = "classify: " .. check._check_decision(d) }
      else
        local action, gave_up = d.action, ""
        if action == "retry" or action == "reconnect" then
          retries[f.key] = (retries[f.key] or 0) + 1
          if retries[f.key] > (d.fallback_after or p.max_retries_per_model or 3) then
            action, gave_up = "fallback", (" (after %d retries)"):format(retries[f.key] - 1)
          end
        end
        local shown = action == d.action and d or setmetatable({ action = action }, { __index = d })
        local w, werr = check._wait_of(p, shown, f.err, retries[f.key] or 1)
        row = { decision = shown, wait = w or 0, text = werr or (check.describe(shown, w) .. gave_up) }
        if action == "fallback" and not werr then
          -- where to: the policy's next choice with this model skipped (and Live off after a circuit)
          chain = chain or check._chain(p)
          local ctx = { transport = "auto", chain = chain, skip = { [f.key] = true }, attempt = 2, retries = {},
                        circuit = { live = (d.circuit or circuits) and "open" or "closed" },
                        failures = { { transport = f.transport, model = f.model, err = f.err, decision = d } } }
          local cok, nxt = check._call(p.choose, ctx, p)
          local to = cok and type(nxt) == "table" and nxt.transport and
            (("%s %s%s"):format(nxt.transport == "live" and "Live" or "REST", tostring(nxt.model),
              nxt.tier and (" (" .. nxt.tier .. ")") or "")) or "nothing left: the turn fails"
          row.text = row.text:gsub("^fall back", "fall back to " .. to:gsub("%%", "%%%%"), 1)
        end
        if d.circuit and f.transport == "live" then circuits = true end
        if d.circuit and f.transport == "live" and action ~= "fail" then
          row.text = row.text:gsub(", Live off for a while", "") .. (", Live off for %g s"):format(p.circuit_cooldown or 0)
        end
      end
      total = total + (row.wait or 0)
      out[index[f]] = row
    end
  end
  out.total = total
  return out
end

return M
