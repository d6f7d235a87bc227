-- gemini.schema — structured output: JSON Schema checks in Lua.
--
--   local v, resp = gemini.ask("Three primary colours", { schema = {
--     type = "object", required = { "colours" },
--     properties = { colours = { type = "array", items = { type = "string" } } } } })
--
-- gemini.ask sends the schema as generationConfig.responseJsonSchema with
-- responseMimeType "application/json" (what js-genai sends;
-- docs/protocol.md#structured-output), decodes the reply and checks it
-- here: a reply that does not fit is asked for once more, with what was
-- wrong, then returned as an error of kind "schema" carrying the raw text.
--
-- The checks cover what a model's reply gets wrong: type (also the
-- OpenAPI spellings "STRING", "OBJECT", ... of responseSchema, and
-- nullable), properties, required, additionalProperties, items, prefixItems,
-- enum, const, minimum/maximum (and exclusive), minLength/maxLength,
-- minItems/maxItems, minProperties/maxProperties, anyOf/oneOf/allOf, local
-- $ref (#/$defs/..., #/definitions/...). Keywords it does not know (format,
-- pattern, descriptions) are ignored, never refused.
local json = require "glrun.json"

local M = {}

M.max_errors = 10 -- errors listed in one report

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

local function json_type(v)
  if v == json.null then return "null" end
  local t = type(v)
  if t == "string" then return "string" end
  if t == "boolean" then return "boolean" end
  if t == "number" then
    if math.type(v) == "integer" or (v == math.floor(v) and v > -2^53 and v < 2^53) then return "integer" end
    return "number"
  end
  if t == "table" then
    if next(v) == nil then return "empty" end -- {} or []: JSON decoding cannot tell
    return is_array(v) and "array" or "object"
  end
  return t
end

local function fits_type(v, want)
  local have = json_type(v)
  want = tostring(want):lower()
  if have == want then return true end
  if have == "empty" then return want == "array" or want == "object" end
  if want == "number" and have == "integer" then return true end
  return false
end

local function show(v)
  if type(v) == "string" then
    return ("%q"):format(#v > 40 and v:sub(1, 37) .. "..." or v)
  end
  local s = json.encode(v) or tostring(v)
  return #s > 60 and s:sub(1, 57) .. "..." or s
end

local function key_path(path, k)
  if math.type(k) == "integer" then return path .. "[" .. (k - 1) .. "]" end -- JSON indexes from 0
  if tostring(k):match("^[%a_][%w_]*$") then return path .. "." .. k end
  return path .. "[" .. ("%q"):format(tostring(k)) .. "]"
end

local function resolve(root, ref)
  local p = ref:match("^#/(.*)$")
  if not p then return nil end
  local node = root
  for part in p:gmatch("[^/]+") do
    part = part:gsub("~1", "/"):gsub("~0", "~")
    if type(node) ~= "table" then return nil end
    node = node[part]
  end
  return node
end

local check -- forward

local function check_object(v, s, path, errs, root)
  local props = type(s.properties) == "table" and s.properties or {}
  if type(s.required) == "table" then
    for _, k in ipairs(s.required) do
      if v[k] == nil then errs[#errs + 1] = key_path(path, k) .. ": required, missing" end
    end
  end
  local count = 0
  for k, val in pairs(v) do
    count = count + 1
    local ps = props[k]
    if ps ~= nil then
      check(val, ps, key_path(path, k), errs, root)
    elseif s.additionalProperties == false then
      errs[#errs + 1] = key_path(path, k) .. ": not allowed (no such property in the schema)"
    elseif type(s.additionalProperties) == "table" then
      check(val, s.additionalProperties, key_path(path, k), errs, root)
    end
  end
  if s.minProperties and count < s.minProperties then
    errs[#errs + 1] = ("%s: %d properties, at least %d expected"):format(path, count, s.minProperties)
  end
  if s.maxProperties and count > s.maxProperties then
    errs[#errs + 1] = ("%s: %d properties, at most %d allowed"):format(path, count, s.maxProperties)
  end
end

local function check_array(v, s, path, errs, root)
  local n = #v
  if s.minItems and n < s.minItems then
    errs[#errs + 1] = ("%s: %d items, at least %d expected"):format(path, n, s.minItems)
  end
  if s.maxItems and n > s.maxItems then
    errs[#errs + 1] = ("%s: %d items, at most %d allowed"):format(path, n, s.maxItems)
  end
  local prefix = type(s.prefixItems) == "table" and s.prefixItems or {}
  for i = 1, n do
    local is = prefix[i] or s.items
    if type(is) == "table" then check(v[i], is, key_path(path, i), errs, root) end
  end
end

function check(v, s, path, errs, root)
  if #errs >= M.max_errors then return end
  if type(s) ~= "table" then return end -- true / {}: anything goes
  if type(s["$ref"]) == "string" then
    local target = resolve(root, s["$ref"])
    if type(target) == "table" then check(v, target, path, errs, root) end
  end
  local t = s.type
  if t ~= nil then
    local types = type(t) == "table" and t or { t }
    local ok = false
    for _, want in ipairs(types) do if fits_type(v, want) then ok = true end end
    if not ok and s.nullable and v == json.null then ok = true end
    if not ok then
      local want = {}
      for i, w in ipairs(types) do want[i] = tostring(w):lower() end
      local jt0 = json_type(v)
      local an = jt0:match("^[aeiou]") and "an " or "a "
      errs[#errs + 1] = ("%s: %s, expected %s"):format(path, jt0 == "empty" and "an empty table"
        or (an .. jt0 .. " (" .. show(v) .. ")"), table.concat(want, " or "))
      return
    end
  end
  if v == json.null and s.nullable then return end
  if type(s.enum) == "table" then
    local found = false
    for _, e in ipairs(s.enum) do if e == v then found = true end end
    if not found then
      local opts = {}
      for i, e in ipairs(s.enum) do opts[i] = show(e) end
      errs[#errs + 1] = ("%s: %s is not one of %s"):format(path, show(v), table.concat(opts, ", "))
    end
  end
  if s.const ~= nil and s.const ~= v then
    errs[#errs + 1] = ("%s: %s, expected %s"):format(path, show(v), show(s.const))
  end
  local jt = json_type(v)
  if type(v) == "number" then
    if s.minimum and v < s.minimum then errs[#errs + 1] = ("%s: %s is below the minimum %s"):format(path, show(v), show(s.minimum)) end
    if s.maximum and v > s.maximum then errs[#errs + 1] = ("%s: %s is above the maximum %s"):format(path, show(v), show(s.maximum)) end
    if type(s.exclusiveMinimum) == "number" and v <= s.exclusiveMinimum then
      errs[#errs + 1] = ("%s: %s must be above %s"):format(path, show(v), show(s.exclusiveMinimum))
    end
    if type(s.exclusiveMaximum) == "number" and v >= s.exclusiveMaximum then
      errs[#errs + 1] = ("%s: %s must be below %s"):format(path, show(v), show(s.exclusiveMaximum))
    end
  elseif type(v) == "string" then
    local n = utf8.len(v) or #v
    if s.minLength and n < s.minLength then errs[#errs + 1] = ("%s: %d characters, at least %d expected"):format(path, n, s.minLength) end
    if s.maxLength and n > s.maxLength then errs[#errs + 1] = ("%s: %d characters, at most %d allowed"):format(path, n, s.maxLength) end
  elseif jt == "object" or (jt == "empty" and (s.properties or s.required)) then
    check_object(v, s, path, errs, root)
  elseif jt == "array" or jt == "empty" then
    check_array(v, s, path, errs, root)
  end
  if type(s.allOf) == "table" then
    for _, sub in ipairs(s.allOf) do check(v, sub, path, errs, root) end
  end
  for _, kw in ipairs{ "anyOf", "oneOf" } do
    if type(s[kw]) == "table" then
      local fits, first = 0, nil
      for _, sub in ipairs(s[kw]) do
        local e = {}
        check(v, sub, path, e, root)
        if #e == 0 then fits = fits + 1 elseif not first then first = e[1] end
      end
      if fits == 0 then
        errs[#errs + 1] = ("%s: matches none of the %s alternatives (first: %s)"):format(path, kw, tostring(first))
      elseif kw == "oneOf" and fits > 1 then
        errs[#errs + 1] = ("%s: matches %d of the oneOf alternatives, exactly one expected"):format(path, fits)
      end
    end
  end
end

--- Check a decoded JSON value against a schema. Returns true, or false and
--- the list of problems (each "path: what", the path from "$").
function M.validate(value, schema)
  if type(schema) ~= "table" then
    error("schema.validate: the schema must be a table (JSON Schema), not " .. type(schema), 2)
  end
  local errs = {}
  check(value, schema, "$", errs, schema)
  if #errs == 0 then return true end
  return false, errs
end

-- The error of a reply that does not fit: kind "schema", the message
-- saying what is wrong, problems the list.
local function misfit(message, problems)
  return require("glrun.core").error("schema", message, { problems = problems or { message } })
end

--- Decode a reply and check it: the value, or nil, err (kind "schema": the
--- message says what is wrong — not JSON, or the schema's problems joined
--- by "; " —, err.problems lists them).
function M.decode(text, schema)
  if type(text) ~= "string" then return nil, misfit("no text in the reply") end
  local body = text:match("^%s*```%w*%s*\n(.-)\n%s*```%s*$") or text -- a fenced reply
  local v, err = json.decode(body)
  if v == nil and err then return nil, misfit("the reply is not JSON (" .. err.message .. ")") end
  local ok, errs = M.validate(v, schema)
  if not ok then return nil, misfit(table.concat(errs, "; "), errs) end
  return v
end

--- generationConfig for a schema: a copy of `config` with responseMimeType
--- "application/json" and responseJsonSchema set.
function M.config(schema, config)
  if type(schema) ~= "table" then
    error("gemini: schema must be a table (a JSON Schema as a Lua table), not " .. type(schema), 3)
  end
  local gc = {}
  for k, v in pairs(config or {}) do gc[k] = v end
  gc.responseMimeType = "application/json"
  gc.responseJsonSchema = schema
  return gc
end

return M
