-- gemini.gateway_log — the access log of glrun serve: one line per
-- request (docs/serve.md#access-log), on stderr or in a file:
--
--   2026-11-29T22:50:01Z 127.0.0.1 POST /v1beta/models/gemini-2.5-flash:streamGenerateContent model=gemini-2.5-flash transport=rest status=200 first_token_ms=3 total_ms=9
--
-- The path never carries the query (a `?key=` lives there); every field is
-- redacted and stripped of control characters, so a client cannot forge
-- a line.
local core = require "glrun.core"

local M = {}

-- one field: no spaces, no control characters, redacted
local function field(v)
  if v == nil or v == "" then return "-" end
  local s = core.redact(tostring(v))
  s = s:gsub("[%c%s]", "_")
  if #s > 200 then s = s:sub(1, 200) .. "..." end
  return s
end

local function ms(v) return v and ("%d"):format(math.floor(v * 1000 + 0.5)) or "-" end

--- The line for one request. e: time (epoch seconds), client, method,
--- path, model, transport, status, first_token (seconds), total (seconds),
--- fallback (a reason: only its presence is logged, as fallback=1).
function M.line(e)
  if type(e) ~= "table" then error("gateway_log.line: the entry must be a table", 2) end
  local t = e.time or core.time()
  local path = tostring(e.path or "-"):gsub("%?.*$", "")
  return ("%s %s %s %s model=%s transport=%s status=%s first_token_ms=%s total_ms=%s%s"):format(
    os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)), field(e.client), field(e.method), field(path),
    field(e.model), field(e.transport), field(e.status), ms(e.first_token), ms(e.total),
    e.fallback and " fallback=1" or "")
end

--- A log writer: open(path) appends to the file (nil: stderr). Returns
--- the writer (`:write(entry)`, `:close()`), or nil, err (kind "config").
function M.open(path)
  local f = io.stderr
  if path ~= nil then
    if type(path) ~= "string" then error("gateway_log.open: the path must be a string", 2) end
    local err
    f, err = io.open(path, "a")
    if not f then return nil, core.error("config", "--access-log: cannot open " .. path .. ": " .. tostring(err), { brief = true }) end
    f:setvbuf("line")
  end
  return {
    write = function(_, e) f:write(M.line(e), "\n"); if f == io.stderr then f:flush() end end,
    close = function() if f ~= io.stderr then f:close() end end,
  }
end

return M
