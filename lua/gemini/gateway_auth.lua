-- gemini.gateway_auth — who may use the gateway (glrun serve;
-- docs/serve.md#authentication). A client credential is
-- `Authorization: Bearer T`, `x-goog-api-key: T` or `?key=T`. With an
-- access-token file, T must be one of its lines, compared in constant
-- time; without one, any credential (or none) is accepted, and only a
-- loopback listen is allowed. Tokens are marked secret (never logged).
local core = require "glrun.core"

local M = {}

--- Read an access-token file: one token per line; blank lines and lines
--- starting with `#` are skipped, surrounding spaces trimmed. Returns the
--- list of tokens, or nil, err (kind "config"; the file's content is never
--- in the message).
function M.load(path)
  if type(path) ~= "string" then error("gateway_auth.load: the path must be a string", 2) end
  local f, ferr = io.open(path, "r")
  if not f then
    return nil, core.error("config", "--access-token-file: cannot read " .. path .. ": "
      .. tostring(ferr):gsub("^[^:]*: ", ""), { brief = true })
  end
  local tokens = {}
  for line in f:lines() do
    local t = line:match("^%s*(.-)%s*$")
    if t ~= "" and t:sub(1, 1) ~= "#" then
      core.secret(t)
      tokens[#tokens + 1] = t
    end
  end
  f:close()
  if #tokens == 0 then
    return nil, core.error("config", "--access-token-file " .. path .. " holds no token (one per line)", { brief = true })
  end
  return tokens
end

--- Compare two strings in time that depends on their lengths only.
function M.equal(a, b)
  if type(a) ~= "string" or type(b) ~= "string" then error("gateway_auth.equal: two strings expected", 2) end
  local diff = #a ~ #b
  local n = math.max(#a, #b)
  for i = 1, n do
    diff = diff | ((a:byte(i) or 0) ~ (b:byte(i) or 0))
  end
  return diff == 0
end

-- one query parameter, percent-decoded
local function query_param(query, name)
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    if k == name then
      return (v:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
    end
  end
  return nil
end

--- The credential a request carries: from `Authorization: Bearer`,
--- `x-goog-api-key`, or the `key` (or `access_token`) query parameter;
--- nil when none. `header(name)` looks a header up.
function M.credential(header, query)
  if type(header) ~= "function" then error("gateway_auth.credential: header must be a function", 2) end
  local a = header("authorization")
  local t = type(a) == "string" and a:match("^%s*[Bb]earer%s+(%S+)%s*$")
  t = t or header("x-goog-api-key") or query_param(query, "key") or query_param(query, "access_token")
  if t == "" then t = nil end
  return t
end

--- Is token t one of the tokens (constant time for each)? With no tokens
--- (nil) every credential, or none, is accepted.
function M.check(tokens, t)
  if tokens == nil then return true end
  if type(t) ~= "string" then return false end
  local ok = false
  for _, want in ipairs(tokens) do
    if M.equal(want, t) then ok = true end -- no early exit
  end
  return ok
end

--- Is host a loopback address (127.0.0.0/8, ::1, localhost)?
function M.loopback(host)
  if type(host) ~= "string" then error("gateway_auth.loopback: the host must be a string", 2) end
  host = host:gsub("^%[(.*)%]$", "%1")
  return host == "localhost" or host == "::1" or host:match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- the Gemini API's answer to a bad key (what the official SDKs expect)
M.API_KEY_INVALID = {
  error = {
    code = 400, status = "INVALID_ARGUMENT", message = "API key not valid. Please pass a valid API key.",
    details = { { ["@type"] = "type.googleapis.com/google.rpc.ErrorInfo", reason = "API_KEY_INVALID",
                  domain = "googleapis.com", metadata = { service = "generativelanguage.googleapis.com" } } },
  },
}

return M
