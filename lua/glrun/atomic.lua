-- glrun.atomic — write a file so that nobody ever sees half of it, and a
-- failed write leaves the previous file as it was.
--
--   local atomic = require "glrun.atomic"
--   local ok, err = atomic.write(path, text)        -- true | nil, err
--   local w = assert(atomic.open(path))             -- for writing in pieces
--   w:write(a, b) ; local ok, err = w:commit()      -- or w:abort()
--
-- A regular file (or a path where nothing is yet) is written to a
-- temporary file beside it, closed (buffered bytes fail here, e.g. on a
-- full disk) and renamed over it. Anything else — /dev/null, /dev/stdout, a
-- named pipe — is written in place: renaming over a device would replace
-- it with a plain file. Errors are error objects of kind "io" naming path.
local core = require "glrun.core"

local M = {}
local W = {}
W.__index = W

local function fail(path, why)
  why = tostring(why or "write failed")
  return nil, core.error("io", path .. ": " .. why)
end

--- Open path for an atomic write: a writer with write, commit and abort.
function M.open(path)
  if type(path) ~= "string" then error("glrun.atomic.open: path must be a string", 2) end
  local kind = core.file_kind(path)
  if kind == "dir" then return fail(path, "is a directory") end
  local target = (kind == nil or kind == "file") and ("%s.%d.tmp"):format(path, math.random(1, 1e9)) or path
  local f, err = io.open(target, "w")
  if not f then
    err = tostring(err)
    local at = err:find(target, 1, true)
    if at then err = err:sub(at + #target):gsub("^:%s*", "") end -- the reason, not the temporary name
    return fail(path, err)
  end
  return setmetatable({ f = f, path = path, tmp = target ~= path and target or nil }, W)
end

function W:write(...)
  if self.err then return nil, self.err end
  local ok, err = self.f:write(...)
  if not ok then self.err = err end
  return ok and self or nil, err
end

--- Close and move into place: true, or nil, err (the old file untouched).
function W:commit()
  if not self.f then return nil, core.error("io", self.path .. ": already closed") end
  local werr = self.err
  local cok, cerr = self.f:close()
  self.f = nil
  if not werr and not cok then werr = cerr end
  if not werr and self.tmp then
    local rok, rerr = os.rename(self.tmp, self.path)
    if rok then return true end
    werr = rerr
  elseif not werr then
    return true
  end
  if self.tmp then os.remove(self.tmp) end
  return fail(self.path, werr)
end

function W:abort()
  if self.f then self.f:close(); self.f = nil end
  if self.tmp then os.remove(self.tmp) end
end

--- Write text to path atomically: true | nil, err.
function M.write(path, text)
  local w, err = M.open(path)
  if not w then return nil, err end
  w:write(text)
  return w:commit()
end

return M
