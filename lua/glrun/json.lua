-- glrun.json — JSON for scripts, with the two error channels of the house
-- style: decode/encode return nil, err on bad input (err an error object
-- of kind "json"); decode_strict/encode_strict raise it. The C half is
-- glrun.jsonc (runtime/jsondec.c, jsonenc.c): strict RFC 8259, integers
-- stay integers both ways (usageMetadata.totalTokenCount is 3, not 3.0),
-- null is cjson.null, and the text is otherwise what lua-cjson writes.
-- glrun has no state in common with the `cjson` module a script may
-- require and tune (decode_max_depth, encode_number_precision, ...): those
-- settings never reach glrun's own requests.
local jsonc = require "glrun.jsonc"
local core = require "glrun.core"

local M = { null = jsonc.null }

local function where(msg)
  return (tostring(msg):gsub("^.-:%d+: ", ""))
end

--- Decode a JSON text. Returns the value, or nil, err (kind "json"): the
--- message says what is wrong and where ("invalid JSON at byte N: ...", N
--- counted from 1), err.pos is N. A text that is not a string raises.
function M.decode(text)
  if type(text) ~= "string" then
    error("json.decode: expected a string, got " .. type(text), 2)
  end
  local v, err = jsonc.decode(text)
  if v == nil then
    return nil, core.error("json", err, { pos = tonumber(tostring(err):match("at byte (%d+)")) })
  end
  return v
end

--- Encode a Lua value. Returns the text, or nil, err (kind "json") when
--- the value cannot be written as JSON (a function, a cycle, NaN, ...).
function M.encode(value)
  local ok, s = pcall(jsonc.encode, value)
  if ok then return s end
  return nil, core.error("json", "cannot encode as JSON: " .. where(s))
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
