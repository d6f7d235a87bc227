-- glrun.json — JSON for scripts, with the two error channels of the house
-- style: decode/encode return nil, err on bad input; decode_strict/
-- encode_strict raise. The C half is glrun.jsonc (runtime/jsondec.c,
-- jsonenc.c): strict RFC 8259, integers stay integers both ways
-- (usageMetadata.totalTokenCount is 3, not 3.0), null is cjson.null, and the
-- text is otherwise what lua-cjson (still the `cjson` module) writes.
local jsonc = require "glrun.jsonc"

local M = { null = jsonc.null }

local function where(msg)
  return (tostring(msg):gsub("^.-:%d+: ", ""))
end

--- Decode a JSON text. Returns the value, or nil and a message saying what
--- is wrong and where ("invalid JSON at byte N: ...", N counted from 1).
function M.decode(text)
  if type(text) ~= "string" then
    error("json.decode: expected a string, got " .. type(text), 2)
  end
  local v, err = jsonc.decode(text)
  if v == nil then return nil, err end
  return v
end

--- Encode a Lua value. Returns the text, or nil and a message.
function M.encode(value)
  local ok, s = pcall(jsonc.encode, value)
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
