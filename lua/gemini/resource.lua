-- gemini.resource — plumbing shared by the resource APIs beside
-- generateContent (gemini.files, batches, caches, tokens, embed): the
-- configuration as a value, URLs, one JSON request with the right auth,
-- every page of a list, durations and timestamps. Errors are values
-- (nil, err); bad input from the user (a missing file, an unreadable line)
-- is kind "input", one line that says what and where.
local http = require "glrun.http"
local json = require "glrun.json"
local core = require "glrun.core"
local config = require "gemini.config"
local errors = require "gemini.errors"
local auth = require "gemini.auth"

local M = {}

--- The resolved configuration, or nil, err (a configuration error is a
--- value here, not a raise: the caller's caller decides).
function M.config(client)
  return config.get(client)
end

--- nil when c is the Gemini API; else an error of kind "unsupported"
--- naming `what` (Files, Batch and tokens do not exist on Vertex AI).
function M.gemini_only(c, what)
  if c.backend ~= "vertex" then return nil end
  return errors.new("unsupported", what .. " is a Gemini API feature: Vertex AI has no such endpoint "
    .. "(unset GOOGLE_GENAI_USE_VERTEXAI, or use an API key with the Gemini API)", { brief = true })
end

--- The resolved Gemini API configuration for opts.client, or nil, err
--- (a config error, or kind "unsupported" on Vertex AI, naming `what`).
function M.gemini_client(opts, what)
  local c, err = M.config(opts.client)
  if not c then return nil, err end
  err = M.gemini_only(c, what)
  if err then return nil, err end
  return c
end

--- A bad-input error: one line, no traceback when it ends a script.
function M.input(message, fields)
  fields = fields or {}
  fields.brief = true
  return errors.new("input", message, fields)
end

function M.escape(s)
  return (tostring(s):gsub("[^%w%-_.~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

--- {base}/{version}/{path}[?query]; version defaults to the configured one.
function M.url(c, path, query, version)
  local u = c.base_url .. "/" .. (version or c.api_version) .. "/" .. path
  if query and query ~= "" then u = u .. "?" .. query end
  return u
end

--- "name" under a collection: "abc" -> "files/abc"; "files/abc" and a
--- full URI ".../files/abc" -> "files/abc".
function M.name(collection, name)
  if type(name) == "table" then name = name.name end
  if type(name) ~= "string" or name == "" then
    error(("a %s name (string, or a table with .name) is required"):format(collection), 3)
  end
  local tail = name:match(collection .. "/([^/?:]+)")
  return collection .. "/" .. (tail or name)
end

local function headers_for(c, extra)
  local h, tok = auth.headers(c)
  if not h then return nil, tok end
  for k, v in pairs(extra or {}) do h[k] = v end
  return h, tok
end

--- One request. spec: method, url, body (a table: sent as JSON; a string:
--- sent as is), body_file ({path, offset, length}: the bytes stream from
--- disk, see glrun.http), headers, timeout, deadline, raw (true: return the response
--- without decoding). Returns the decoded JSON object (or {} for an empty
--- body) and the response, or nil, err.
function M.call(c, spec)
  local body = spec.body
  local extra = {}
  for k, v in pairs(spec.headers or {}) do extra[k] = v end
  if type(body) == "table" then
    local s, err = json.encode(body)
    if not s then error("gemini: the request cannot be encoded: " .. err.message, 3) end
    body = s
    extra["Content-Type"] = extra["Content-Type"] or "application/json"
  end
  local function send()
    local h, tok = headers_for(c, extra)
    if not h then return nil, tok end
    local res, err = http.request{ url = spec.url, method = spec.method or (body and "POST" or "GET"),
      headers = h, body = body, body_file = spec.body_file, timeout = spec.timeout or c.timeout, deadline = spec.deadline,
      insecure = c.insecure, max_body = spec.max_body }
    return res, errors.enrich(err), tok
  end
  local res, err, tok = send()
  if not res and type(err) == "table" and err.status == 401 and tok and auth.invalidate(c, tok) then
    res, err = send()
  end
  if not res then return nil, err end
  if spec.raw then return res, res end
  if not res.body:find("%S") then return {}, res end
  local obj, derr = json.decode(res.body)
  if obj == nil or type(obj) ~= "table" then
    return nil, errors.new("protocol", (spec.method or "GET") .. " " .. core.redact(spec.url) .. ": "
      .. (derr and derr.message or "the answer is not a JSON object"), { body = core.redact(res.body:sub(1, 4096)) })
  end
  return obj, res
end

--- Every page of a list: GET {path}?pageSize=&pageToken= and collect
--- page[field]. opts: page_size, max_pages (1000), max_items.
function M.pages(c, path, field, opts)
  opts = opts or {}
  local out, token = {}, nil
  for _ = 1, opts.max_pages or 1000 do
    local q = "pageSize=" .. tostring(opts.page_size or 100)
    if token then q = q .. "&pageToken=" .. M.escape(token) end
    local page, err = M.call(c, { url = M.url(c, path, q), timeout = opts.timeout })
    if not page then return nil, err end
    for _, v in ipairs(type(page[field]) == "table" and page[field] or {}) do
      out[#out + 1] = v
      if opts.max_items and #out >= opts.max_items then return out end
    end
    token = page.nextPageToken
    if type(token) ~= "string" or token == "" then return out end
  end
  return nil, errors.new("protocol", path .. ": more than " .. (opts.max_pages or 1000) .. " pages")
end

local UNITS = { s = 1, m = 60, h = 3600, d = 86400 }

--- Seconds from a number, "90", "90s", "10m", "6h", "2d" or "1h30m";
--- nil for anything else.
function M.seconds(v)
  if type(v) == "number" then return v >= 0 and v or nil end
  if type(v) ~= "string" then return nil end
  if v:match("^%s*%d+%.?%d*%s*$") then return tonumber(v) end
  local total, rest = 0, v:gsub("%s", "")
  if rest == "" then return nil end
  for num, unit in rest:gmatch("(%d+%.?%d*)(%a)") do
    if not UNITS[unit] then return nil end
    total = total + tonumber(num) * UNITS[unit]
  end
  if rest:gsub("%d+%.?%d*%a", "") ~= "" then return nil end
  return total
end

--- A protobuf Duration: 300 -> "300s".
function M.duration(secs)
  if secs == math.floor(secs) then return ("%ds"):format(secs) end
  return ("%.3fs"):format(secs)
end

--- RFC 3339 (UTC) for an epoch time (default: now).
function M.rfc3339(t)
  t = t or core.time()
  local s = math.floor(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", s) .. (".%06dZ"):format(math.floor((t - s) * 1e6))
end

--- Epoch seconds from an RFC 3339 time (UTC "Z" or an offset); nil if unreadable.
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local Y, Mo, D, h, mi, sec, frac, zone = s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)(.*)$")
  if not Y then return nil end
  -- days from civil (Howard Hinnant): no os.time, whose input is local time
  local y, m, d = tonumber(Y), tonumber(Mo), tonumber(D)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  local t = days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec) + (tonumber("0" .. frac) or 0)
  if zone == "Z" or zone == "" then return t end
  local sign, zh, zm = zone:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  local off = tonumber(zh) * 3600 + tonumber(zm) * 60
  return sign == "+" and t - off or t + off
end

return M
