-- gemini.gateway_router — which route a gateway request is for (glrun
-- serve; docs/serve.md#routes). Pure functions of the method and the path
-- as sent: no file is ever read from disk, a path outside the table below
-- is a 404, and a path that tries to climb (`..`, `%2e%2e`, `//etc`) is
-- never anything but a 404 or an embedded asset.
--
--   POST /{v1,v1beta,v1alpha}/models/{m}:generateContent | :streamGenerateContent
--        | :countTokens | :embedContent | :batchEmbedContents      -> "rest"
--   GET  /{v}/models, /{v}/models/{m}                             -> "models"
--   GET  /ws/google.ai.generativelanguage.{v}.GenerativeService.BidiGenerateContent
--        (a leading `//`, as the JS SDK sends it, is accepted)    -> "live"
--   POST /token -> "token";  GET /metrics -> "metrics";  POST /api/chat -> "chat"
--   GET  anything else -> "asset" (the embedded page, glrun.assets), else 404
local M = {}

local VERSIONS = { v1 = true, v1beta = true, v1alpha = true }
local METHODS = { generateContent = "generate", streamGenerateContent = "stream", countTokens = "count",
                  embedContent = "embed", batchEmbedContents = "embed" }

--- Percent-decode a path segment; nil when it holds an escape that is not
--- two hex digits.
local function unescape(s)
  if s:find("%%%X") or s:find("%%.%X") or s:find("%%.?$") then return nil end
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

--- A model id as a path segment: letters, digits, `-`, `.`, `_` (after
--- percent-decoding); nil for anything else (a slash, `..`, a NUL).
function M.model_id(seg)
  if type(seg) ~= "string" then error("gateway_router.model_id: the segment must be a string", 2) end
  local m = unescape(seg)
  if not m or m == "" or not m:match("^[%w][%w%-%._]*$") or m:find("..", 1, true) then return nil end
  return m
end

--- The route of a request: a table {name = ..., version, model, method,
--- stream, asset} or nil when the path is no route (a 404). `path` is the
--- path as sent (no query); a leading run of slashes counts as one.
function M.match(method, path)
  if type(method) ~= "string" or type(path) ~= "string" then
    error("gateway_router.match: method and path must be strings", 2)
  end
  local p = path:gsub("^/+", "/")
  if p:sub(1, 1) ~= "/" then return nil end
  local v, rest = p:match("^/([%w]+)/(.*)$")
  if v and VERSIONS[v] then
    if rest == "models" then
      return method == "GET" and { name = "models", version = v } or nil
    end
    local seg, verb = rest:match("^models/([^/:]+):(%a+)$")
    if seg then
      local m, kind = M.model_id(seg), METHODS[verb]
      if not m or not kind or method ~= "POST" then return nil end
      return { name = "rest", version = v, model = m, method = verb, kind = kind }
    end
    seg = rest:match("^models/([^/:]+)$")
    if seg then
      local m = M.model_id(seg)
      if not m or method ~= "GET" then return nil end
      return { name = "models", version = v, model = m }
    end
    return nil
  end
  local lv = p:match("^/ws/google%.ai%.generativelanguage%.([%w]+)%.GenerativeService%.BidiGenerateContent$")
  if lv then
    return VERSIONS[lv] and method == "GET" and { name = "live", version = lv } or nil
  end
  if p == "/token" then return method == "POST" and { name = "token" } or nil end
  if p == "/metrics" then return method == "GET" and { name = "metrics" } or nil end
  if p == "/api/chat" then return method == "POST" and { name = "chat" } or nil end
  if method == "GET" or method == "HEAD" then
    local a = p == "/" and "/index.html" or p
    -- an asset name is plain: no escapes, no dot segments, no empty segments
    if a:find("%", 1, true) or a:find("/.", 1, true) or a:find("//", 1, true) or not a:match("^[/%w%-%._]+$") then
      return nil
    end
    return { name = "asset", asset = a }
  end
  return nil
end

--- A short label for metrics and logs: "generateContent", "live", "asset", ...
function M.label(route)
  if route == nil then return "unknown" end
  if route.name == "rest" then return route.method end
  return route.name
end

return M
