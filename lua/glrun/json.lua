-- glrun.json — JSON for scripts: lua-cjson (compiled into glrun), with
-- the two error channels of the house style: decode/encode return
-- nil, err on bad input; decode_strict/encode_strict raise.
local cjson = require "cjson"

local M = { null = cjson.null }

local function where(msg)
  return (tostring(msg):gsub("^.-:%d+: ", ""))
end

--- Decode a JSON text. Returns the value, or nil and a message saying what
--- is wrong and where (the character position).
function M.decode(text)
  if type(text) ~= "string" then
    error("json.decode: expected a string, got " .. type(text), 2)
  end
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil, "malformed JSON: " .. where(v)
end

--- Encode a Lua value. Returns the text, or nil and a message.
function M.encode(value)
  local ok, s = pcall(cjson.encode, value)
  if ok then return s end
  return nil, "cannot encode as JSON: " .. where(s)
end

--- Raising twins.
function M.decode_strict(text)
  local v, err = M.decode(text)
  if v == nil then error(err, 2) end
  return v
end

function M.encode_strict(value)
  local s, err = M.encode(value)
  if not s then error(err, 2) end
  return s
end

return M
