-- gemini.errors — error objects shared by the client layers.
-- Every error is a table with `kind` and `message` (plus, where known,
-- `status`, `close_code`, `reason`, `body`, `retry_after`, `error` — the
-- parsed google.rpc.Status) and a readable tostring. Calls return them as
-- `nil, err`; an iterator returns `nil, err` when it cannot start and
-- raises them after (README.md, "Conventions"). What an error means, in
-- words, is gemini.diagnose's.
local core = require "glrun.core"
local json = require "glrun.json"

local M = {}

--- A new error object. `fields` are copied in.
function M.new(kind, message, fields)
  return core.error(kind, message, fields)
end

--- A configuration problem: printed as one line, without a traceback,
--- when it ends the script.
function M.config(message)
  return core.error("config", message, { brief = true })
end

M.is = core.is_error

--- Raise err (an error object) from the caller's point of view.
function M.raise(err)
  error(err, 0)
end

-- Seconds of a protobuf Duration ("53.016342224s") or a Retry-After
-- header in seconds; nil otherwise.
local function seconds(s)
  local v = type(s) == "string" and tonumber(s:match("^%s*(%d+%.?%d*)"))
  return v and v >= 0 and v or nil
end

-- true if a string of v differs once redacted (a secret written with JSON
-- escapes, which the raw body's redaction could not see)
local function holds_secret(v, depth)
  if type(v) == "string" then return core.redact(v) ~= v end
  if type(v) ~= "table" or depth > 20 then return false end
  for k, x in pairs(v) do
    if holds_secret(k, depth + 1) or holds_secret(x, depth + 1) then return true end
  end
  return false
end

--- Read a generic HTTP error of glrun.http (kind "http": status, headers,
--- body, midstream) as the Gemini API means it: err.error = the decoded
--- google.rpc.Status (also from the `[{"error": ...}]` shape), the status
--- from it for an error inside a stream, retry_after from RetryInfo or the
--- Retry-After header, and the message with the API's status and words.
--- Any other error is returned unchanged. Returns err and the decoded body
--- (nil when it is not JSON), so a caller never decodes it again.
function M.enrich(err)
  if type(err) ~= "table" or err.kind ~= "http" or type(err.body) ~= "string" then return err end
  local obj = err.body:find("^%s*[%[{]") and json.decode(err.body) or nil
  if obj ~= nil and holds_secret(obj, 0) then
    err.body = "(withheld: the body holds a secret)"
    obj = nil
  end
  local g = obj
  if type(g) == "table" and #g == 1 and type(g[1]) == "table" then g = g[1] end -- [ {"error": ...} ]
  g = type(g) == "table" and type(g.error) == "table" and g.error or type(err.error) == "table" and err.error or nil
  if err.midstream and not g and (err.status or 0) == 0 then -- JSON, but no error: not SSE
    err.kind = "protocol"
    err.message = core.redact(("%s %s: data that is not SSE in the stream after %d event(s): %s")
      :format(tostring(err.method), tostring(err.url), err.events or 0, err.body:sub(1, 80)))
    return err, obj
  end
  if g then
    err.error = g
    if (err.status or 0) == 0 then err.status = math.tointeger(g.code) or 0 end
  end
  local ra
  if g and type(g.details) == "table" then
    for _, d in ipairs(g.details) do
      if type(d) == "table" and type(d["@type"]) == "string" and d["@type"]:find("google.rpc.RetryInfo", 1, true) then
        ra = seconds(d.retryDelay)
        break
      end
    end
  end
  if ra == nil and type(err.headers) == "table" then ra = seconds(err.headers["retry-after"]) end
  err.retry_after = ra
  if g and not err.redirect then
    local msg = ("%s %s: HTTP %d"):format(tostring(err.method), tostring(err.url), err.status or 0)
    if type(g.status) == "string" then msg = msg .. " " .. g.status end
    if type(g.message) == "string" then msg = msg .. ": " .. g.message end
    if err.midstream then msg = msg .. (" (in the stream, after %d event(s))"):format(err.events or 0) end
    err.message = core.redact(msg)
  end
  return err, obj
end

--- The google.rpc.Status `status` string of an HTTP error, if any
--- (e.g. "RESOURCE_EXHAUSTED").
function M.google_status(err)
  return type(err) == "table" and type(err.error) == "table" and err.error.status or nil
end

--- Find a details entry of the given google.rpc type (e.g. "QuotaFailure").
function M.detail(err, typename)
  local g = type(err) == "table" and err.error
  if type(g) ~= "table" or type(g.details) ~= "table" then return nil end
  for _, d in ipairs(g.details) do
    if type(d) == "table" and type(d["@type"]) == "string"
       and d["@type"]:find("google.rpc." .. typename, 1, true) then
      return d
    end
  end
  return nil
end

return M
