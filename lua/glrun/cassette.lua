-- glrun.cassette — the replay side of `glrun --replay DIR`: loads the
-- cassette files that `glrun --record DIR` wrote (NNNN-http.json,
-- NNNN-ws.json) and matches requests to them. Matching ignores the
-- scheme, host and port (a cassette recorded against glmock replays
-- anywhere) and compares the method, the path and query with secrets
-- redacted, and the body. Each recorded exchange is served once, in order.
local core = require "glrun.core"
local json = require "glrun.json"

local M = {}

local dir = core.options.replay
local exchanges

-- A cassette file that is not what --record writes ends the run with one
-- line naming the file and what is wrong (no traceback).
local function corrupt(name, what)
  error(core.error("replay", ("the cassette file %s is corrupt: %s"):format(name, what), { brief = true }), 0)
end

-- The bytes of an event or request ("data", or "b64" for non-UTF-8).
local function bytes(e, name, where)
  if e.b64 ~= nil then
    local b = type(e.b64) == "string" and core.b64decode(e.b64)
    if not b then corrupt(name, where .. ": \"b64\" is not base64") end
    return b
  end
  if e.data ~= nil and type(e.data) ~= "string" then corrupt(name, where .. ": \"data\" is not a string") end
  return e.data
end

-- want: a Lua type; "object" and "array" are tables
local function check_type(name, v, want, where)
  if type(v) ~= (want == "object" and "table" or want == "array" and "table" or want) then
    local is = v == nil and "missing" or v == json.null and "null"
      or type(v) == "table" and "a JSON object or array" or "a " .. type(v)
    corrupt(name, ("%s should be a %s, it is %s"):format(where,
      (want == "object" or want == "array") and "JSON " .. want or want, is))
  end
end

-- Check an exchange's shape (what the replay side reads) and decode its bytes.
local function validate(ex, name)
  check_type(name, ex, "object", "the file")
  if ex.kind ~= "http" and ex.kind ~= "ws" then
    corrupt(name, "\"kind\" should be \"http\" or \"ws\", it is " .. tostring(ex.kind))
  end
  check_type(name, ex.request, "object", "\"request\"")
  check_type(name, ex.request.method, "string", "\"request.method\"")
  check_type(name, ex.request.url, "string", "\"request.url\"")
  ex.body = bytes(ex.request, name, "\"request\"")
  if ex.response ~= nil then
    check_type(name, ex.response, "object", "\"response\"")
    check_type(name, ex.response.status, "number", "\"response.status\"")
    if ex.response.headers ~= nil then check_type(name, ex.response.headers, "string", "\"response.headers\"") end
    if ex.response.t ~= nil then check_type(name, ex.response.t, "number", "\"response.t\"") end
  end
  for _, f in ipairs{ "t", "result", "close_code" } do
    if ex[f] ~= nil then check_type(name, ex[f], "number", '"' .. f .. '"') end
  end
  for _, f in ipairs{ "error", "reason", "error_kind" } do
    if ex[f] ~= nil then check_type(name, ex[f], "string", '"' .. f .. '"') end
  end
  if ex.events ~= nil then
    check_type(name, ex.events, "array", "\"events\"")
    for i, ev in ipairs(ex.events) do
      local where = ("event %d"):format(i)
      check_type(name, ev, "object", where)
      check_type(name, ev.t, "number", where .. " \"t\"")
      ev.bytes = bytes(ev, name, where)
      if ev.bytes == nil then corrupt(name, where .. " has neither \"data\" nor \"b64\"") end
    end
  end
end

local function path_of(url)
  return (core.redact(url):gsub("^%a[%w+.-]*://[^/]*", ""):gsub("//+", "/"))
end

--- The files of a recorded session, in order: `for name, text in
--- cassette.files(dir)` reads NNNN-http.json then NNNN-ws.json for NNNN =
--- 0001, 0002, ... up to the first number with neither (at most 100000).
function M.files(dir)
  local i, k, found = 1, 0, false
  return function()
    while true do
      k = k + 1
      if k > 2 then
        if not found or i >= 100000 then return nil end
        i, k, found = i + 1, 1, false
      end
      local name = ("%s/%04d-%s.json"):format(dir, i, k == 1 and "http" or "ws")
      local f = io.open(name, "rb")
      if f then
        found = true
        local text = f:read("a")
        f:close()
        return name, text
      end
    end
  end
end

local function load()
  if exchanges then return exchanges end
  if not dir then error("glrun.cassette: not replaying (no --replay DIR)", 3) end
  exchanges = {}
  for name, text in M.files(dir) do
    local ex, err = json.decode(text)
    if ex == nil then
      corrupt(name, (#text == 0 and "it is empty" or "it is not JSON (truncated?): " .. err.message))
    end
    validate(ex, name)
    ex.file = name
    ex.key = ex.request.method .. " " .. path_of(ex.request.url)
    exchanges[#exchanges + 1] = ex
  end
  if #exchanges == 0 then
    error(core.error("replay", "--replay " .. dir .. ": no cassette files (NNNN-http.json) there", { brief = true }), 0)
  end
  return exchanges
end

local function deep_equal(a, b)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  for k, v in pairs(a) do if not deep_equal(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- Bodies match when equal as JSON (Lua tables encode their keys in no
-- fixed order) or, for other bodies, byte for byte.
local function same_body(recorded, body)
  if recorded == body then return true end
  if not recorded or not body then return false end
  local a, b = json.decode(recorded), json.decode(body)
  return a ~= nil and b ~= nil and deep_equal(a, b)
end

local inject = require "glrun.inject"
local match_recorded

--- The recorded exchange for a request (or its --inject failure), or nil
--- and a message saying what the cassette holds instead.
function M.match(kind, method, url, body)
  if kind == "http" and inject.active then
    local ex = match_recorded(kind, method, url, body)
    local served, keep = inject.http(ex, method, url)
    if keep and ex then ex.used = false end
    if served then return served end
    -- no recorded exchange: fall through to the message
  end
  return match_recorded(kind, method, url, body)
end

match_recorded = function(kind, method, url, body)
  local list = load()
  local key = method .. " " .. path_of(url)
  local rbody = body and core.redact(body) or nil
  local near
  for _, ex in ipairs(list) do
    if not ex.used and ex.kind == kind and ex.key == key then
      if kind == "ws" or same_body(ex.body, rbody) then
        ex.used = true
        return ex
      end
      near = near or ex
    end
  end
  local unused = 0
  local next_one
  for _, ex in ipairs(list) do
    if not ex.used then unused = unused + 1; next_one = next_one or ex end
  end
  local msg = ("the cassette %s holds no %s exchange for %s"):format(dir, kind, key)
  if near then msg = msg .. " with this body (one exists with another body: " .. near.file .. ")" end
  msg = msg .. (" (%d recorded, %d not used yet%s)"):format(#list, unused,
    next_one and ("; the next unused is " .. next_one.key) or "")
  return nil, msg
end

--- WebSocket sessions are matched in two steps, because what tells them
--- apart (the Live setup) is the first message, sent after connecting.
--- peek_ws: the first unused session for this URL (not taken).
function M.peek_ws(url)
  local key = "GET " .. path_of(url)
  local found
  for _, ex in ipairs(load()) do
    if not ex.used and ex.kind == "ws" and ex.key == key then found = ex; break end
  end
  if inject.active then found = inject.ws_connect(found, url) end
  if found then return found end
  return nil, ("the cassette %s holds no WebSocket session for %s"):format(dir, key)
end

--- take_ws: the first unused session for this URL whose first client
--- message equals `first` (as JSON, or byte for byte); any session when
--- `first` is nil (the script reads before it writes).
function M.take_ws(url, first)
  local key = "GET " .. path_of(url)
  for _, ex in ipairs(load()) do
    if not ex.used and ex.kind == "ws" and ex.key == key then
      local sent
      for _, ev in ipairs(ex.events or {}) do if ev.dir == "send" then sent = ev.bytes; break end end
      if first == nil or (sent ~= nil and same_body(sent, core.redact(first))) then
        ex.used = true
        if inject.active then
          local served, keep = inject.ws_session(ex)
          if keep then ex.used = false end
          return served
        end
        return ex
      end
    end
  end
  return nil, ("the cassette %s holds no WebSocket session for %s that starts with the message %s")
    :format(dir, key, first and first:sub(1, 120) or "(none)")
end

--- mark an exchange as served
function M.use(ex) ex.used = true end

return M
