-- gemini.errors — error objects shared by the client layers.
-- Every error is a table with `kind` and `message` (plus, where known,
-- `status`, `close_code`, `reason`, `body`, `retry_after`, `error` — the
-- parsed google.rpc.Status) and a readable tostring. Transport calls
-- return them as `nil, err`; iterators raise them.
local core = require "glrun.core"

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
