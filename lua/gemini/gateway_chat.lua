-- gemini.gateway_chat — POST /api/chat, the endpoint of the browser chat
-- page that `glrun serve` serves (web/; docs/page.md).
--
--   require("gemini.gateway_chat").handle(req, ctx)   -- called by the router
--
-- The request is JSON: {"messages": [{"role": "user"|"model", "text": "..."}, ...],
-- "model": optional}, the last message the user's. The answer is a
-- text/event-stream of events:
--   transport  {"transport": "live"|"rest", "model": "...", "fallback": "one line"|null}
--   text       {"text": "..."}                       as the answer arrives
--   restart    {"reason": "..."}                     the answer broke and starts over
--   done       {"finishReason": "...", "usage": {...}}
--   error      {"message": "one line, redacted"}
-- The turn runs through gemini.chat with the policy in force (Live first,
-- then REST), so the transport and the fallback line are the real ones.
-- A client that goes away (the page's Stop) cancels the upstream request
-- at once: the REST stream is closed, the Live session dropped.
local core = require "glrun.core"
local json = require "glrun.json"

local M = {}

--- Limits of one request (the body itself is bounded by the server).
M.max_messages = 1000
M.max_model_length = 200

local JSON_TYPE = "application/json; charset=utf-8"

local NOOP_METRICS = { inc = function() end, observe = function() end, add = function() end }

local function one_line(s)
  s = core.redact(tostring(s))
  return (s:match("^[^\r\n]*"))
end

-- what failed, in one line (the last attempt's reason, and how many there were)
local function describe(err)
  if type(err) ~= "table" then return one_line(err) end
  local attempts = type(err.attempts) == "table" and err.attempts or {}
  local last = attempts[#attempts]
  local msg = last and last.reason or (err.message or tostring(err))
  msg = one_line(msg)
  if #attempts > 1 then msg = msg .. (" (no answer after %d attempts)"):format(#attempts) end
  return msg
end

local function json_error(req, status, message)
  local body = assert(json.encode{ error = { code = status, message = one_line(message),
    status = status == 400 and "INVALID_ARGUMENT" or "INTERNAL" } })
  req:respond(status, { ["Content-Type"] = JSON_TYPE, ["Cache-Control"] = "no-store" }, body)
  return status
end

--- Check a request body (a string); returns messages ({role, text}
--- list), model (or nil) — or nil, err (kind "input") saying what is wrong.
function M.parse(body)
  if type(body) ~= "string" then error("gateway_chat.parse: the body must be a string, not " .. type(body), 2) end
  local function bad(msg) return nil, core.error("input", "POST /api/chat: " .. msg) end
  local t, err = json.decode(body)
  if type(t) ~= "table" then
    return bad("the body must be a JSON object" .. (err and (": " .. tostring(err.message or err)) or ""))
  end
  local msgs = t.messages
  if type(msgs) ~= "table" or #msgs == 0 then return bad("messages must be a non-empty list") end
  if #msgs > M.max_messages then return bad(("at most %d messages"):format(M.max_messages)) end
  local out = {}
  for i, m in ipairs(msgs) do
    if type(m) ~= "table" or (m.role ~= "user" and m.role ~= "model") or type(m.text) ~= "string" then
      return bad(("messages[%d] must be {\"role\": \"user\"|\"model\", \"text\": \"...\"}"):format(i))
    end
    out[i] = { role = m.role, text = m.text }
  end
  if out[#out].role ~= "user" or out[#out].text:match("^%s*$") then
    return bad("the last message must be the user's, and not empty")
  end
  local model = t.model
  if model == json.null then model = nil end
  if model ~= nil and (type(model) ~= "string" or #model == 0 or #model > M.max_model_length
                       or not model:match("^[%w%-%._/@]+$")) then
    return bad("model must be a model id")
  end
  return out, model
end

-- the earlier messages as the API's contents
local function contents(msgs)
  local h = {}
  for i = 1, #msgs - 1 do h[i] = { role = msgs[i].role, parts = { { text = msgs[i].text } } } end
  return h
end

local function policy_with_cancel(base, cancelled)
  local over = {}
  for k, v in pairs(base or {}) do over[k] = v end
  local choose = over.choose or require("gemini.policy").choose
  -- a cancelled turn tries nothing more: no retry, no fallback
  over.choose = function(c, p)
    if cancelled() then return nil end
    return choose(c, p)
  end
  return over
end

--- Answer one POST /api/chat. req: a glrun.server request; ctx: the
--- gateway's per-request context (metrics, log, policy, config). Returns
--- the HTTP status it answered with.
function M.handle(req, ctx)
  if type(req) ~= "table" and type(req) ~= "userdata" then
    error("gateway_chat.handle: req must be a glrun.server request, not " .. type(req), 2)
  end
  if ctx ~= nil and type(ctx) ~= "table" then error("gateway_chat.handle: ctx must be a table", 2) end
  ctx = ctx or {}
  local metrics = ctx.metrics or NOOP_METRICS
  local log = ctx.log or {}
  local body, berr = req:body()
  if not body then
    log.error = "body"
    if req:closed() then return 499 end
    return json_error(req, 400, "cannot read the request: " .. tostring(berr and berr.message or berr))
  end
  local msgs, model = M.parse(body)
  if not msgs then return json_error(req, 400, model.message) end

  local is_cancelled, usage = false, nil
  local function cancelled() return is_cancelled end
  local live_model
  if model and require("gemini.models").is_live(model) then live_model, model = model, nil end
  local chat, cerr = require("gemini.chat").new{
    history = contents(msgs), model = model, live_model = live_model, quiet = true,
    ratelimit = false, -- as the gateway's other routes: the upstream's 429s and RetryInfo rule
    policy = policy_with_cancel(ctx.policy, cancelled),
    on_response = function(chunk) usage = chunk.usageMetadata or usage end,
  }
  if not chat then return json_error(req, 500, describe(cerr)) end

  -- which attempt is running, seen from here
  local transport, served
  local attempt_live, attempt_rest = chat._attempt_live, chat._attempt_rest
  chat._attempt_live = function(self, m, ...) transport, served = "live", m; return attempt_live(self, m, ...) end
  chat._attempt_rest = function(self, m, ...) transport, served = "rest", m; return attempt_rest(self, m, ...) end
  local fallbacks = {}
  chat:on("fallback", function(ev)
    fallbacks[#fallbacks + 1] = one_line(ev.line or ev.reason or "fallback")
    metrics:inc("glrun_gateway_fallbacks_total", { from = ev.transport or "live", to = ev.to and ev.to.transport or "none" })
  end)
  chat:on("retry", function() metrics:inc("glrun_gateway_retries_total", { model = served }) end)
  local restart_reason
  chat:on("restart", function(ev) restart_reason = one_line(ev.reason or "the answer broke off") end)

  req:respond(200, { ["Content-Type"] = "text/event-stream; charset=utf-8",
    ["Cache-Control"] = "no-store", ["X-Accel-Buffering"] = "no" })
  local gone = req:closed()
  local function send(event, data)
    if gone then return false end
    local w = req:write("event: " .. event .. "\ndata: " .. assert(json.encode(data)) .. "\n\n")
    if not w then gone = true end
    return not gone
  end

  local t0 = core.now()
  local shown_transport = false
  local function announce()
    if shown_transport then return true end
    shown_transport = true
    if transport == "rest" and #fallbacks == 0 and chat.transport == "auto" and #chat.chain.live > 0
       and chat:_circuit_state() == "open" then
      -- Live was not tried: it failed recently (the policy's circuit breaker)
      local lm = chat.chain.live[1]
      fallbacks[1] = ("Live %s skipped: it failed recently, tried again after %g s")
        :format(type(lm) == "table" and lm.model or tostring(lm), chat.policy.circuit_cooldown or 0)
    end
    local first = core.now() - t0
    log.first_token = log.first_token or first
    metrics:observe("glrun_gateway_upstream_first_token_seconds", first, { transport = transport or "rest" })
    return send("transport", { transport = transport or "rest", model = served or json.null,
      fallback = #fallbacks > 0 and table.concat(fallbacks, "; ") or json.null })
  end

  -- The turn runs in its own task and writes the events; this task
  -- waits for the client to leave (req:wait_closed: glrun.server wakes it,
  -- nothing polls) or for the turn to end its answer (req:finish() ends
  -- the wait). A client that goes away (the page's Stop) cancels the turn
  -- at once, even while the upstream is silent: the request in flight is
  -- closed (or the Live session dropped), the policy tries nothing more,
  -- and this handler returns without waiting for it.
  local finished = false
  local function run_turn()
    local turn_err
    local pok, perr = pcall(function()
      local it, e1, e2, closer = chat:stream(msgs[#msgs].text)
      if not it then turn_err = e1; return end
      for piece, kind in it, e1, e2, closer do
        if gone then break end
        if kind == "break" then
          shown_transport = false -- the next attempt announces itself again
          if not send("restart", { reason = restart_reason or "the answer broke off" }) then break end
        elseif piece ~= "" then
          if not announce() then break end
          if not send("text", { text = piece }) then break end
        end
      end
    end)
    if not pok then turn_err = perr end
    if not gone then
      if turn_err then
        log.error = type(turn_err) == "table" and turn_err.kind or "error"
        if transport then announce() end
        send("error", { message = describe(turn_err) })
      else
        local last = chat.last_turn or {}
        transport, served = last.transport or transport, last.model or served
        announce()
        if last.transport == "live" or type(usage) ~= "table" then usage = {} end
        send("done", { finishReason = last.finish_reason or "STOP", usage = usage })
      end
    end
    chat:close()
  end
  local turn = core.spawn(function()
    local ok, err = pcall(run_turn)
    finished = true
    req:finish() -- the answer is complete: ends the handler's wait
    if not ok then error(err, 0) end
  end)
  if req:wait_closed() and not finished then
    gone, is_cancelled = true, true
    chat:_cancel_inflight()
  else
    turn:join()
  end

  log.model = served or model or live_model
  log.transport = transport
  log.fallback = fallbacks[1]
  if gone then
    metrics:inc("glrun_serve_cancelled_total")
    log.cancelled = true
  end
  req:finish()
  return 200
end

return M
