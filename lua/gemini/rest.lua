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
  if a == nil and type(b) == "table" and b.status == 401 and tok and auth.invalidate(c, tok) then
    h, tok = headers(c)
    if not h then return nil, tok end
    return send(h)
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

local function encode(req)
  local body, err = json.encode(req)
  if not body then error("gemini.rest: the request cannot be encoded: " .. err, 3) end
  return body
end

local function decode(res, url)
  local obj, err = json.decode(res.body)
  if obj == nil then
    return nil, errors.new("protocol", "POST " .. url .. ": " .. err, { body = require("glrun.core").redact(res.body:sub(1, 8192)):sub(1, 4096) })
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

--- generateContent. req = {contents = {...}, generationConfig = ..., ...};
--- opts = {model, timeout (idle seconds), deadline (seconds for the whole
--- answer), client = {api_key, base_url, ...}}. Returns the response (with
--- .text) or nil, err: an answer without a finishReason is not an answer
--- (an empty one, a blocked prompt: kind "blocked", an incomplete one).
function M.generate(req, opts)
  opts = opts or {}
  local c = config.get(opts.client)
  local url = M.url(c, opts.model or c.model, "generateContent")
  local body = encode(req)
  local res, err = with_auth(c, function(h)
    return http.request{ url = url, method = "POST", headers = h, body = body,
                         timeout = opts.timeout or c.timeout, deadline = opts.deadline, insecure = c.insecure }
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
  obj.text = M.text_of(obj)
  return obj
end

--- streamGenerateContent?alt=sse. Returns a for-loop iterator over the
--- response chunks (each with .text), or nil, err when the request fails
--- before the stream starts. The iterator raises a failure that happens
--- mid-stream (an error event, a cut stream) after delivering every chunk
--- that came before it; a stream that ends before a finishReason is cut
--- (kind "stream_cut", err.partial the text so far), one with no chunk
--- at all is an empty answer. opts.deadline: seconds for the whole answer.
function M.stream(req, opts)
  opts = opts or {}
  local c = config.get(opts.client)
  local url = M.url(c, opts.model or c.model, "streamGenerateContent", "alt=sse")
  local body = encode(req)
  local it, st, _, closer = with_auth(c, function(h)
    return http.sse{ url = url, method = "POST", headers = h, body = body,
                     timeout = opts.timeout or c.timeout, deadline = opts.deadline, insecure = c.insecure }
  end)
  if not it then return nil, st end
  local n, done, partial, kept = 0, false, {}, 0
  local function cut(err)
    if type(err) == "table" and (err.kind == "stream_cut" or err.kind == "timeout" or err.kind == "network") then
      err.partial = table.concat(partial)
      err.partial_truncated = kept > PARTIAL_MAX or nil
    end
    errors.raise(err)
  end
  local function next_chunk()
    local ok, ev = pcall(it)
    if not ok then cut(ev) end
    if ev == nil then
      if done then return nil end
      if n == 0 then
        local status = st:status()
        errors.raise(empty_answer(url, status == 204 and "HTTP 204, no content"
          or ("HTTP %d, a stream with no event"):format(status), status))
      end
      cut(errors.new("stream_cut", ("POST %s: the stream ended before the answer was complete "
        .. "(no finishReason after %d chunk(s))"):format(url, n), { events = n }))
    end
    n = n + 1
    local chunk = ev.json
    if type(chunk) ~= "table" then
      errors.raise(errors.new("protocol", "POST " .. url .. ": an SSE event is not a JSON object",
                              { data = ev.data }))
    end
    if type(chunk.error) == "table" then -- an error sent as an event
      errors.raise(errors.new("http", "POST " .. url .. ": error in the stream: "
        .. tostring(chunk.error.status) .. ": " .. tostring(chunk.error.message),
        { status = chunk.error.code, error = chunk.error, midstream = true }))
    end
    local berr = blocked(chunk, url)
    if berr then errors.raise(berr) end
    if finished(chunk) then done = true end
    chunk.text = M.text_of(chunk)
    if kept <= PARTIAL_MAX then
      partial[#partial + 1] = chunk.text
      kept = kept + #chunk.text
    end
    return chunk
  end
  return next_chunk, st, nil, closer
end

--- countTokens. Returns totalTokens and the whole response, or nil, err.
function M.count_tokens(req, opts)
  opts = opts or {}
  local c = config.get(opts.client)
  local url = M.url(c, opts.model or c.model, "countTokens")
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
  opts = opts or {}
  local c = config.get(opts.client)
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
