-- gemini.rest — the REST transport: generateContent, streamGenerateContent
-- (SSE), countTokens, models.list. Requests and responses are plain Lua
-- tables with the API's own field names (docs/protocol.md#rest); each response
-- also gets a convenience field `text` (its candidate's text parts,
-- thoughts excluded).
local http = require "glrun.http"
local json = require "glrun.json"
local config = require "gemini.config"
local errors = require "gemini.errors"
local auth = require "gemini.auth"

local M = {}

--- "gemini-2.5-flash" -> "models/gemini-2.5-flash"; full names pass.
function M.model_path(model)
  if model:find("/", 1, true) then return model end
  return "models/" .. model
end

--- The URL of a model method, e.g. url(c, "gemini-2.5-flash",
--- "streamGenerateContent", "alt=sse"). On Vertex AI (c.backend "vertex")
--- the model is the publisher-model resource under the project and
--- location (docs/protocol.md#vertex-rest-urls).
function M.url(c, model, method, query)
  local path = c.backend == "vertex" and config.vertex_model_path(c, model) or M.model_path(model)
  local u = c.base_url .. "/" .. c.api_version .. "/" .. path .. ":" .. method
  if query then u = u .. "?" .. query end
  return u
end

-- Request headers: the API key, or Vertex AI's bearer token (which may
-- mean waiting for a token refresh). Returns headers, token | nil, err.
local function headers(c)
  local h, tok = auth.headers(c)
  if not h then return nil, tok end
  h["Content-Type"] = "application/json"
  return h, tok
end

-- Run send(headers) once more with a fresh token when Vertex AI answers
-- 401 (the token expired or was revoked early).
local function with_auth(c, send)
  local h, tok = headers(c)
  if not h then return nil, tok end
  local a, b, d, e = send(h)
  if a == nil then b = errors.enrich(b) end
  if a == nil and type(b) == "table" and b.status == 401 and tok and auth.invalidate(c, tok) then
    h, tok = headers(c)
    if not h then return nil, tok end
    a, b, d, e = send(h)
    if a == nil then b = errors.enrich(b) end
  end
  return a, b, d, e
end

--- The text of a GenerateContentResponse (first candidate, no thoughts).
function M.text_of(resp)
  local cand = type(resp) == "table" and type(resp.candidates) == "table" and resp.candidates[1]
  return M.parts_text(cand and type(cand.content) == "table" and cand.content.parts)
end

--- The text of a list of parts (thoughts excluded); "" for none.
function M.parts_text(parts)
  if type(parts) ~= "table" then return "" end
  local out = {}
  for _, p in ipairs(parts) do
    if type(p) == "table" and type(p.text) == "string" and not p.thought then out[#out + 1] = p.text end
  end
  return table.concat(out)
end

-- Misuse raises: a request that is not a table, options that are not one.
local function check_args(fn, req, opts)
  if fn ~= "list_models" and type(req) ~= "table" then
    error(("gemini.rest.%s: the request must be a table, not %s"):format(fn, type(req)), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("gemini.rest.%s: the options must be a table, not %s"):format(fn, type(opts)), 3)
  end
end

local function encode(req)
  local body, err = json.encode(req)
  if not body then error("gemini.rest: the request cannot be encoded: " .. err.message, 3) end
  return body
end

local function decode(res, url)
  local obj, err = json.decode(res.body)
  if obj == nil then
    return nil, errors.new("protocol", "POST " .. url .. ": " .. err.message, { body = require("glrun.core").redact(res.body:sub(1, 8192)):sub(1, 4096) })
  end
  return obj
end

-- An answer is complete only with a finishReason on some candidate; a
-- prompt refused outright has promptFeedback.blockReason instead.
local function finished(resp)
  if type(resp.candidates) ~= "table" then return false end
  for _, cand in ipairs(resp.candidates) do
    if type(cand) == "table" and cand.finishReason ~= nil and cand.finishReason ~= json.null then return true end
  end
  return false
end

local function blocked(resp, url)
  local pf = resp.promptFeedback
  local why = type(pf) == "table" and pf.blockReason
  if not why or why == json.null then return nil end
  local msg = type(pf.blockReasonMessage) == "string" and (": " .. pf.blockReasonMessage) or ""
  return errors.new("blocked", ("POST %s: the prompt was blocked (%s)%s"):format(url, tostring(why), msg),
                    { block_reason = why, response = resp })
end

local function empty_answer(url, how, status)
  return errors.new("protocol", ("POST %s: an empty answer (%s)"):format(url, how), { status = status, empty = true })
end

local PARTIAL_MAX = 1 << 20 -- text kept for a cut stream's err.partial

---------------------------------------------------------------------------
-- how an answer ended (docs/protocol.md#generatecontent-response)
---------------------------------------------------------------------------

--- finishReason -> the kind of error an answer with no text is: "blocked"
--- (refused or stopped by a filter), "malformed_call" (the model's
--- function call was malformed, unexpected, or one too many). An answer
--- that ended this way after some text is a success whose finish reason
--- says so (gemini.chat: chat.last_turn.finish_reason).
M.finish_kinds = {
  SAFETY = "blocked", RECITATION = "blocked", PROHIBITED_CONTENT = "blocked", BLOCKLIST = "blocked",
  SPII = "blocked", LANGUAGE = "blocked", OTHER = "blocked", MODEL_ARMOR = "blocked",
  IMAGE_SAFETY = "blocked", IMAGE_PROHIBITED_CONTENT = "blocked", IMAGE_RECITATION = "blocked",
  IMAGE_OTHER = "blocked", NO_IMAGE = "blocked",
  MALFORMED_FUNCTION_CALL = "malformed_call", UNEXPECTED_TOOL_CALL = "malformed_call",
  TOO_MANY_TOOL_CALLS = "malformed_call",
}

-- A streamed chunk's parts in one pass: their text (thoughts excluded,
-- M.parts_text's) and whether they carry an answer (has_answer's). A
-- single text part's string is returned as it is (no table, no concat).
local function scan_parts(parts)
  if type(parts) ~= "table" then return "", false end
  local text, buf, answer, i = "", nil, false, 1
  while true do
    local p = parts[i]
    if p == nil then break end
    if type(p) == "table" then
      local t = p.text
      if type(t) == "string" and t ~= "" and not p.thought then
        answer = true
        if buf then buf[#buf + 1] = t elseif text == "" then text = t else buf = { text, t } end
      end
      if not answer and (type(p.functionCall) == "table" or type(p.inlineData) == "table"
                         or type(p.executableCode) == "table") then
        answer = true
      end
    end
    i = i + 1
  end
  return buf and table.concat(buf) or text, answer
end

-- Does a list of parts carry an answer (text that is not a thought, or a
-- function call)?
local function has_answer(parts)
  if type(parts) ~= "table" then return false end
  for _, p in ipairs(parts) do
    if type(p) == "table" and ((type(p.text) == "string" and p.text ~= "" and not p.thought)
       or type(p.functionCall) == "table" or type(p.inlineData) == "table" or type(p.executableCode) == "table") then
      return true
    end
  end
  return false
end

-- The ratings that explain a block: blocked ones, else MEDIUM/HIGH ones.
local function ratings_line(ratings)
  if type(ratings) ~= "table" then return "" end
  local out = {}
  for _, r in ipairs(ratings) do
    if type(r) == "table" and (r.blocked == true or r.probability == "HIGH" or r.probability == "MEDIUM") then
      out[#out + 1] = tostring(r.category):gsub("^HARM_CATEGORY_", "") .. " " .. tostring(r.probability)
    end
  end
  return #out > 0 and ("; " .. table.concat(out, ", ")) or ""
end

--- The error an answer's end makes, or nil when it is an answer: `reason`
--- the final finishReason, `cand` its candidate, `answered` whether any
--- text or function call came (over every hop of a continued answer).
--- Kinds: "blocked" and "malformed_call" (M.finish_kinds; fields
--- finish_reason, safety_ratings, finish_message), and "protocol" with
--- empty = true for a MAX_TOKENS answer that holds nothing at all.
function M.finish_error(reason, cand, answered, url)
  if answered or type(reason) ~= "string" then return nil end
  local kind = M.finish_kinds[reason]
  local msg = type(cand) == "table" and type(cand.finishMessage) == "string" and (": " .. cand.finishMessage) or ""
  local ratings = type(cand) == "table" and type(cand.safetyRatings) == "table" and cand.safetyRatings or nil
  local fields = { finish_reason = reason, safety_ratings = ratings,
                   finish_message = type(cand) == "table" and cand.finishMessage or nil }
  if kind == "blocked" then
    return errors.new("blocked", ("POST %s: no answer: it was blocked (finishReason %s%s)%s"):format(url, reason,
      ratings_line(ratings), msg), fields)
  elseif kind == "malformed_call" then
    return errors.new("malformed_call", ("POST %s: no answer: the model's function call was refused "
      .. "(finishReason %s)%s"):format(url, reason, msg), fields)
  elseif reason == "MAX_TOKENS" then
    fields.empty = true
    return errors.new("protocol", ("POST %s: no answer: maxOutputTokens was reached before any text "
      .. "(finishReason MAX_TOKENS; thinking may have used the budget)"):format(url), fields)
  end
  return nil
end

-- usageMetadata of two hops added up: counts summed, per-modality lists
-- merged by modality, anything else from the later one.
local function add_usage(a, b)
  if type(a) ~= "table" then return b end
  if type(b) ~= "table" then return a end
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do
    local av = a[k]
    if type(v) == "number" and type(av) == "number" then
      out[k] = av + v
    elseif type(v) == "table" and type(av) == "table" and (v[1] == nil or type(v[1]) == "table") then
      local by, order = {}, {}
      for _, list in ipairs{ av, v } do
        for _, item in ipairs(list) do
          if type(item) == "table" and item.modality ~= nil then
            if not by[item.modality] then by[item.modality] = 0; order[#order + 1] = item.modality end
            by[item.modality] = by[item.modality] + (tonumber(item.tokenCount) or 0)
          end
        end
      end
      local merged = {}
      for i, m in ipairs(order) do merged[i] = { modality = m, tokenCount = math.tointeger(by[m]) or by[m] } end
      out[k] = merged
    else
      out[k] = v
    end
  end
  return out
end
M.add_usage = add_usage

-- The continuation knobs of a call (docs/protocol.md#continuation-tokens):
-- opts.continuation false turns it off; a table overrides the policy's
-- knobs (gemini.policy: continuation, max_continuation_hops,
-- max_resume_without_progress). nil when off.
local function continuation_knobs(opts)
  local c = opts.continuation
  if c == false then return nil end
  local P = require "gemini.policy"
  if c == nil and P.continuation == false then return nil end
  local k = { max_hops = P.max_continuation_hops or 16, max_stalls = P.max_resume_without_progress or 3 }
  if type(c) == "table" then
    if c.enabled == false then return nil end
    k.max_hops = c.max_hops or k.max_hops
    k.max_stalls = c.max_stalls or k.max_stalls
  end
  return k
end

-- The request of a continuation hop: the same request with the token at
-- the top level.
local function with_token(req, token)
  if not token then return req end
  local r = {}
  for k, v in pairs(req) do r[k] = v end
  r.continuationToken = token
  return r
end

-- "Model X answered as Y": said once per requested model (Google re-routes
-- retired ids; an alias names the model it points to).
local said_version = {}
local function check_version(requested, resp)
  local mv = type(resp) == "table" and resp.modelVersion
  if type(mv) ~= "string" or mv == "" or said_version[requested] then return end
  local want = requested:gsub("^models/", ""):gsub("^.*/", "")
  local got = mv:gsub("^models/", "")
  if got == want or got:sub(1, #want + 1) == want .. "-" then return end
  said_version[requested] = true
  local alias = want:find("-latest$") ~= nil
  require("glrun.core").log(alias and "info" or "warn", ("%s is answered by %s (the response's modelVersion)%s")
    :format(want, got, alias and "" or ": Google re-routes retired ids; name the model you want to keep it"),
    "rest")
end
M.version_notes = said_version

local function first_candidate(resp)
  return type(resp.candidates) == "table" and type(resp.candidates[1]) == "table" and resp.candidates[1] or nil
end

-- Merge the responses of a continued unary answer into one: the first
-- candidate's parts joined, usage summed, the last hop's finish.
local function merge_hops(list)
  if #list == 1 then return list[1] end
  local out = {}
  for k, v in pairs(list[#list]) do out[k] = v end
  local parts, usage, cand = {}, nil, {}
  for i, r in ipairs(list) do
    local c = first_candidate(r)
    if c then
      for k, v in pairs(c) do cand[k] = v end
      for _, p in ipairs(type(c.content) == "table" and c.content.parts or {}) do parts[#parts + 1] = p end
    end
    usage = i == 1 and r.usageMetadata or add_usage(usage, r.usageMetadata)
  end
  cand.content = { role = "model", parts = parts }
  out.candidates = { cand }
  out.usageMetadata = usage
  return out
end

--- generateContent. req = {contents = {...}, generationConfig = ..., ...};
--- opts = {model, timeout (idle seconds), deadline (seconds for the whole
--- answer), client = {api_key, base_url, ...}, continuation (false: off)}.
--- Returns the response (with .text) or nil, err: an answer without a
--- finishReason is not an answer (an empty one, a blocked prompt: kind
--- "blocked", an incomplete one), nor is one with no text that ended
--- blocked or with a refused function call (M.finish_error). An answer
--- that ends with finishReason CONTINUATION is continued (the same request
--- with its continuationToken) and the hops come back as one response,
--- usageMetadata summed (resp.hops: how many requests it took).
function M.generate(req, opts)
  check_args("generate", req, opts)
  opts = opts or {}
  local c, cerr = config.get(opts.client)
  if not c then return nil, cerr end
  local model = opts.model or config.default_model(c, opts.client)
  local url = M.url(c, model, "generateContent")
  local knobs = continuation_knobs(opts)
  local t0 = require("glrun.core").now()
  local hops, token = {}, nil
  while true do
    local body = encode(with_token(req, token))
    -- a continuation hop gets what is left of the whole answer's deadline
    local deadline = opts.deadline and (#hops == 0 and opts.deadline
      or math.max(0.001, opts.deadline - (require("glrun.core").now() - t0))) or nil
    local res, err = with_auth(c, function(h)
      return http.request{ url = url, method = "POST", headers = h, body = body,
                           timeout = opts.timeout or c.timeout, deadline = deadline, insecure = c.insecure }
    end)
    if not res then return nil, err end
    if res.status == 204 or not res.body:find("%S") then
      return nil, empty_answer(url, res.status == 204 and "HTTP 204, no content" or
        ("HTTP %d with an empty body"):format(res.status), res.status)
    end
    local obj, derr = decode(res, url)
    if not obj then return nil, derr end
    if type(obj) ~= "table" then
      return nil, errors.new("protocol", "POST " .. url .. ": the answer is not a JSON object", { body = require("glrun.core").redact(res.body:sub(1, 8192)):sub(1, 4096) })
    end
    local berr = blocked(obj, url)
    if berr then return nil, berr end
    if not finished(obj) then
      return nil, errors.new("protocol", "POST " .. url .. ": an incomplete answer (no finishReason on any candidate)",
                             { response = obj, incomplete = true })
    end
    if #hops == 0 then check_version(model, obj) end
    hops[#hops + 1] = obj
    local cand = first_candidate(obj)
    token = knobs and cand and cand.finishReason == "CONTINUATION" and type(cand.continuationToken) == "string"
      and cand.continuationToken ~= "" and cand.continuationToken or nil
    if not token then break end
    if #hops >= knobs.max_hops then
      local merged = merge_hops(hops)
      return nil, errors.new("too_large", ("POST %s: the answer was not finished after %d continuation "
        .. "requests (policy.max_continuation_hops)"):format(url, #hops),
        { partial = M.text_of(merged), response = merged, hops = #hops })
    end
  end
  local obj = merge_hops(hops)
  local cand = first_candidate(obj)
  local ferr = M.finish_error(cand and cand.finishReason, cand,
    has_answer(cand and type(cand.content) == "table" and cand.content.parts), url)
  if ferr then return nil, ferr end
  obj.text = M.text_of(obj)
  obj.hops = #hops
  return obj
end

-- Trim `skip` (text already shown) off the front of a chunk's text parts.
-- Returns the rest of skip, or nil, "diverged" when the chunk's text does
-- not continue it.
local function trim_shown(chunk, skip)
  local cand = first_candidate(chunk)
  local parts = cand and type(cand.content) == "table" and cand.content.parts
  if type(parts) ~= "table" then return skip end
  for _, p in ipairs(parts) do
    if skip == "" then break end
    if type(p) == "table" and type(p.text) == "string" and not p.thought then
      local n = math.min(#skip, #p.text)
      if p.text:sub(1, n) ~= skip:sub(1, n) then return nil, "diverged" end
      p.text = p.text:sub(n + 1)
      skip = skip:sub(n + 1)
    end
  end
  return skip
end

-- A chunk the C fast path read (http.sse{_chunks = CHUNK_MT}: jsondec_chunk_scan
-- found .text without building tables): {text = TEXT, [CHUNK_MT] = DATA}
-- made in C with the shared metatable CHUNK_MT. Its other fields are decoded
-- from DATA on the first read of any of them (or pairs, or
-- glrun.json.encode: __materialize), then copied into it; the metatable
-- and DATA go away then. A field the script set before stays.
local CHUNK_MT = {}
local function materialize(t)
  local data = rawget(t, CHUNK_MT)
  setmetatable(t, nil)
  rawset(t, CHUNK_MT, nil)
  local full = json.decode(data) -- validated by the scan: cannot fail
  for k, v in next, full do
    if k ~= "text" and rawget(t, k) == nil then rawset(t, k, v) end
  end
  return t
end
CHUNK_MT.__index = function(t, k) return rawget(materialize(t), k) end
CHUNK_MT.__pairs = function(t) return next, materialize(t), nil end
CHUNK_MT.__materialize = materialize

--- streamGenerateContent?alt=sse. Returns a for-loop iterator over the
--- response chunks (each with .text; the rest of a chunk is decoded on its
--- first read, docs/performance.md), a handle (`:status()`, `:close()`),
--- nil, and a closing value — or nil, err when the request fails before
--- the stream starts. The iterator raises a failure that happens
--- mid-stream (an error event, a cut stream) after delivering every chunk
--- that came before it; a stream that ends before a finishReason is cut
--- (kind "stream_cut", err.partial the text so far), one with no chunk
--- at all is an empty answer, one with no text that ended blocked or with
--- a refused function call raises M.finish_error. opts.deadline: seconds
--- for the whole answer.
---
--- Long answers (docs/protocol.md#continuation-tokens): a stream that ends
--- with finishReason CONTINUATION goes on with a new request carrying its
--- continuationToken, and one cut after a checkpoint token resumes from
--- that checkpoint; the text already shown is not shown again (a resumed
--- stream that does not repeat it raises stream_cut, diverged = true).
--- The chunks read as one answer: CONTINUATION is cleared on the way,
--- usageMetadata counts every hop so far. opts.continuation = false turns
--- this off; at most policy.max_continuation_hops requests, and at most
--- policy.max_resume_without_progress resumptions in a row that bring
--- neither text nor a new checkpoint.
function M.stream(req, opts)
  check_args("stream", req, opts)
  opts = opts or {}
  local core = require "glrun.core"
  local c, cerr = config.get(opts.client)
  if not c then return nil, cerr end
  local model = opts.model or config.default_model(c, opts.client)
  local url = M.url(c, model, "streamGenerateContent", "alt=sse")
  local knobs = continuation_knobs(opts)
  local t0 = core.now()
  local function open(token)
    local body = encode(with_token(req, token))
    -- a continuation hop gets what is left of the whole answer's deadline
    local deadline = opts.deadline and (token == nil and opts.deadline
      or math.max(0.001, opts.deadline - (core.now() - t0))) or nil
    return with_auth(c, function(h)
      return http.sse{ url = url, method = "POST", headers = h, body = body, _chunks = CHUNK_MT, on_start = opts.on_start,
                       timeout = opts.timeout or c.timeout, deadline = deadline, insecure = c.insecure }
    end)
  end
  local it, st = open(nil)
  if not it then return nil, st end
  -- the handle given to the caller follows the hop in flight
  local cur, hops, stalls = st, 1, 0
  local handle = setmetatable({}, {
    __index = function(_, k)
      if k == "hops" then return function() return hops end end -- requests this answer took
      return function(_, ...) return cur[k](cur, ...) end
    end,
    __close = function() if cur then cur:close() end end,
    __tostring = function() return tostring(cur) end,
  })
  local n, done = 0, false
  -- the text given out, kept in C (up to PARTIAL_MAX) for a cut answer's err.partial
  local sink = http._text_sink(PARTIAL_MAX)
  local answered = false         -- text or a call delivered, over every hop
  local prev_usage = nil         -- usage of the finished hops, summed
  local hop = { start = nil, skip = "", chunks = 0 } -- this hop: start token, token, finish, usage, progress
  local ckpt, since = nil, {}    -- the latest checkpoint token, the text shown after it
  local skip = ""                -- text shown before that the resumed hop repeats
  local function cut(err)
    if type(err) == "table" and (err.kind == "stream_cut" or err.kind == "timeout" or err.kind == "network") then
      local text, truncated = sink:text()
      err.partial, err.partial_truncated = text, truncated or nil
    end
    errors.raise(err)
  end
  -- The hop ended without a final finishReason (err: why, or nil for a
  -- clean end): resume from the latest checkpoint, or give up.
  -- the usage of this hop's latest chunk that had one (hop.usage_of: a lazy chunk)
  local function hop_usage()
    return hop.usage or (hop.usage_of and hop.usage_of.usageMetadata)
  end
  local function resume(err)
    local hu = hop_usage()
    if hu then prev_usage = add_usage(prev_usage, hu) end
    local progress = hop.shown or (hop.token ~= nil and hop.token ~= hop.start)
    if not (knobs and ckpt) then return false end
    stalls = progress and 0 or stalls + 1
    if stalls > knobs.max_stalls or hops >= knobs.max_hops then return false end
    if err and err.kind == "http" and not err.midstream and hop.chunks == 0 then return false end
    skip = table.concat(since)
    if stalls > 0 then core.sleep(math.min(2, 0.25 * 2 ^ (stalls - 1))) end
    core.log("info", ("resuming the answer from its last checkpoint (request %d%s)"):format(hops + 1,
      err and (": " .. tostring(err.message or err)) or ""), "rest")
    return true
  end
  local function next_hop(token)
    cur:close()
    hops = hops + 1
    hop = { start = token, skip = skip, chunks = 0 }
    while true do
      local nit, nst = open(token)
      if nit then it, cur = nit, nst; return end
      -- a refused request is final; a network failure counts as a stall
      if nst.kind == "http" then cut(nst) end
      stalls = stalls + 1
      if stalls > knobs.max_stalls then cut(nst) end
      core.sleep(math.min(2, 0.25 * 2 ^ (stalls - 1)))
    end
  end
  -- a batch of lazy chunks the C side had queued (http._chunk_fill): given
  -- out one per call, their bookkeeping done for the whole batch at once
  local cbuf, tbuf, bi, bn = {}, {}, 0, 0
  local fill = http._chunk_fill
  local function next_chunk()
    if bi < bn then
      bi = bi + 1
      return cbuf[bi]
    end
    if n > 0 and skip == "" and prev_usage == nil then
      -- the fast path's conditions (below) hold for a whole batch: chunks
      -- without a finishReason, after the first, nothing to skip or to sum
      local k, ulast, shown = fill(cur, cbuf, ckpt and tbuf or nil, sink) -- the texts: only for `since`
      if k > 0 then
        n = n + k
        hop.chunks = hop.chunks + k
        if shown then answered = true; hop.shown = true end
        if ckpt then
          for i = 1, k do
            if tbuf[i] ~= "" then since[#since + 1] = tbuf[i] end
          end
        end
        if ulast > 0 then hop.usage, hop.usage_of = nil, cbuf[ulast] end
        bi, bn = 1, k
        return cbuf[1]
      end
    end
    while true do
      local ok, ev, text, fr, usage = pcall(it) -- text ~= nil: ev is a lazy chunk (CHUNK_MT)
      -- The fast path: a lazy chunk (one candidate, text parts only: C
      -- checked) after the first, with nothing to skip or to sum; what
      -- follows is the slow path's code for such a chunk, kept inline.
      if text ~= nil and n > 0 and skip == "" and prev_usage == nil and (fr == nil or answered or text ~= "") then
        n = n + 1
        hop.chunks = hop.chunks + 1
        if text ~= "" then
          answered = true; hop.shown = true
          if ckpt then since[#since + 1] = text end
        end
        if usage then hop.usage, hop.usage_of = nil, ev end
        if fr ~= nil then done = true end -- answered: not a finish_error
        sink:add(text)
        return ev
      end
      if not ok then
        ev = errors.enrich(ev)
        if type(ev) == "table" and ev.kind == "interrupted" then errors.raise(ev) end
        if not done and resume(type(ev) == "table" and ev or nil) then
          next_hop(ckpt)
          goto continue
        end
        cut(ev)
      end
      if ev == nil then
        if done then return nil end
        if hop.continue_with then
          -- the server ended this hop with CONTINUATION: the next one goes on
          local hu = hop_usage()
          if hu then prev_usage = add_usage(prev_usage, hu) end
          stalls = 0
          if hops >= knobs.max_hops then
            cut(errors.new("too_large", ("POST %s: the answer was not finished after %d continuation "
              .. "requests (policy.max_continuation_hops)"):format(url, hops),
              { partial = (sink:text()), hops = hops }))
          end
          skip = ""
          since = {}
          next_hop(hop.continue_with)
          goto continue
        end
        if n == 0 then
          local status = cur:status()
          errors.raise(empty_answer(url, status == 204 and "HTTP 204, no content"
            or ("HTTP %d, a stream with no event"):format(status), status))
        end
        if resume(nil) then
          next_hop(ckpt)
          goto continue
        end
        cut(errors.new("stream_cut", ("POST %s: the stream ended before the answer was complete "
          .. "(no finishReason after %d chunk(s))"):format(url, n), { events = n, hops = hops }))
      end
      do
        n = n + 1
        hop.chunks = hop.chunks + 1
        -- (this runs once per chunk: a nil is tested before type() is called)
        -- a lazy chunk the fast path above did not take, or an event
        -- http.sse decoded (it raises on JSON that does not parse)
        local chunk = text ~= nil and json.decode(rawget(ev, CHUNK_MT)) or ev.json
        if type(chunk) ~= "table" then
          errors.raise(errors.new("protocol", "POST " .. url .. ": an SSE event is not a JSON object",
                                  { data = ev.data }))
        end
        local cerr = chunk.error
        if cerr ~= nil and type(cerr) == "table" then -- an error sent as an event
          local e = errors.new("http", "POST " .. url .. ": error in the stream: "
            .. tostring(cerr.status) .. ": " .. tostring(cerr.message),
            { status = cerr.code, error = cerr, midstream = true })
          errors.raise(e)
        end
        if chunk.promptFeedback ~= nil then
          local berr = blocked(chunk, url)
          if berr then errors.raise(berr) end
        end
        if n == 1 then check_version(model, chunk) end
        if skip ~= "" then
          local rest_skip, why = trim_shown(chunk, skip)
          if not rest_skip then
            cut(errors.new("stream_cut", ("POST %s: the answer resumed from its checkpoint does not "
              .. "continue the text already shown"):format(url), { diverged = true, hops = hops }))
          end
          skip = rest_skip
        end
        local cands = chunk.candidates
        local cand = cands ~= nil and type(cands) == "table" and cands[1] or nil
        if cand ~= nil and type(cand) ~= "table" then cand = nil end -- first_candidate(chunk)
        local content = cand and cand.content
        local text, has = scan_parts(content ~= nil and type(content) == "table" and content.parts)
        if has then answered = true; hop.shown = true end
        local usage = chunk.usageMetadata
        if usage ~= nil and type(usage) == "table" then
          hop.usage, hop.usage_of = usage, nil
          if prev_usage then chunk.usageMetadata = add_usage(prev_usage, usage) end
        end
        chunk.text = text
        -- the text shown since the latest checkpoint (a resumed hop repeats it)
        if text ~= "" and ckpt then since[#since + 1] = text end
        if cand then
          local token = cand.continuationToken
          if token ~= nil and (type(token) ~= "string" or token == "") then token = nil end
          local fr = cand.finishReason
          if token and knobs and (fr == nil or fr == json.null or fr == "CONTINUATION") then
            hop.token, ckpt, since = token, token, {}
            if fr == "CONTINUATION" then
              hop.continue_with = token
              cand.finishReason = nil -- one answer: this is not its end
            end
          elseif fr ~= nil and fr ~= json.null then
            local ferr = M.finish_error(fr, cand, answered, url)
            if ferr then errors.raise(ferr) end
          end
        end
        -- finished(chunk), without a call for the usual lone candidate
        local fr = cand and cand.finishReason
        if (fr ~= nil and fr ~= json.null) or ((not cand or cands[2] ~= nil) and finished(chunk)) then done = true end
        sink:add(text)
        return chunk
      end
      ::continue::
    end
  end
  return next_chunk, handle, nil, handle
end

--- countTokens. Returns totalTokens and the whole response, or nil, err.
function M.count_tokens(req, opts)
  check_args("count_tokens", req, opts)
  opts = opts or {}
  local c, cerr = config.get(opts.client)
  if not c then return nil, cerr end
  local url = M.url(c, opts.model or config.default_model(c, opts.client), "countTokens")
  local body = encode(req)
  local res, err = with_auth(c, function(h)
    return http.request{ url = url, method = "POST", headers = h, body = body,
                         timeout = opts.timeout or c.timeout, insecure = c.insecure }
  end)
  if not res then return nil, err end
  local obj, derr = decode(res, url)
  if not obj then return nil, derr end
  return obj.totalTokens, obj
end

--- models.list, every page. Returns an array of model tables, or nil, err.
--- opts.page_size sets pageSize; opts.max_pages bounds the walk (100).
function M.list_models(opts)
  check_args("list_models", nil, opts)
  opts = opts or {}
  local c, cerr = config.get(opts.client)
  if not c then return nil, cerr end
  local out, token = {}, nil
  for _ = 1, opts.max_pages or 100 do
    local q = "pageSize=" .. tostring(opts.page_size or 50)
    if token then q = q .. "&pageToken=" .. token:gsub("[^%w%-_.~]", function(ch)
      return string.format("%%%02X", ch:byte()) end) end
    local url = c.base_url .. "/" .. c.api_version .. "/models?" .. q
    local res, err = with_auth(c, function(h)
      return http.request{ url = url, headers = h, timeout = opts.timeout or c.timeout, insecure = c.insecure }
    end)
    if not res then return nil, err end
    local page, derr = decode(res, url)
    if not page then return nil, derr end
    for _, m in ipairs(page.models or {}) do out[#out + 1] = m end
    token = page.nextPageToken
    if type(token) ~= "string" or token == "" then return out end
  end
  return nil, errors.new("protocol", "models.list: more than " .. (opts.max_pages or 100) .. " pages")
end

return M
