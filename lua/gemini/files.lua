-- gemini.files — the Files API (Gemini API only): upload a file once, use it
-- in many prompts for 48 hours.
--
--   local files = require "gemini.files"
--   local f = assert(files.upload("report.pdf"))          -- resumable, in chunks
--   print(gemini.ask("Summarise it.", { files = { f } }))
--   files.delete(f)
--
-- The bytes go from disk to the socket through libcurl's read callback
-- (glrun.http's body_file): a file of gigabytes never sits in Lua memory.
-- Uploads speak the resumable protocol of the official SDKs
-- (docs/protocol.md#files-api): a start request that returns the upload URL,
-- then 8 MiB chunks ("upload", the last "upload, finalize") at
-- X-Goog-Upload-Offset. A chunk that fails is not sent again blindly: the
-- upload is queried ("query" -> X-Goog-Upload-Size-Received) and goes on
-- from the byte the server has, so a broken upload never starts over; an
-- upload that gives up returns err.upload_url, and upload(path,
-- {upload_url = ...}) resumes it later, even from another process.
local http = require "glrun.http"
local json = require "glrun.json"
local core = require "glrun.core"
local errors = require "gemini.errors"
local R = require "gemini.resource"

local M = {}

M.chunk_size = 8 * 1024 * 1024  -- bytes per upload request (the SDKs' 8 MiB)
M.inline_max = 4 * 1024 * 1024  -- files up to this size go inline in prompts (inlineData)
M.retries = 5                   -- failed chunk attempts in a row before giving up
M.retry_delay = 1               -- seconds before the first retry, doubled each time (cap 16)

-- MIME types by extension: the formats the Gemini API reads, and the
-- text formats people attach. upload{mime_type = ...} overrides.
local MIME = {
  pdf = "application/pdf", txt = "text/plain", text = "text/plain", md = "text/markdown",
  markdown = "text/markdown", html = "text/html", htm = "text/html", css = "text/css",
  csv = "text/csv", tsv = "text/tab-separated-values", xml = "text/xml", rtf = "text/rtf",
  json = "application/json", jsonl = "application/jsonl", js = "text/javascript",
  mjs = "text/javascript", py = "text/x-python", lua = "text/x-lua", c = "text/x-c",
  h = "text/x-c", cpp = "text/x-c++", java = "text/x-java", go = "text/x-go", rs = "text/x-rust",
  sh = "application/x-sh", yaml = "text/yaml", yml = "text/yaml", sql = "application/sql",
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", webp = "image/webp",
  gif = "image/gif", heic = "image/heic", heif = "image/heif", bmp = "image/bmp",
  mp3 = "audio/mpeg", wav = "audio/wav", aac = "audio/aac", ogg = "audio/ogg",
  flac = "audio/flac", aiff = "audio/aiff", m4a = "audio/mp4", opus = "audio/ogg",
  mp4 = "video/mp4", mpeg = "video/mpeg", mpg = "video/mpeg", mov = "video/quicktime",
  avi = "video/x-msvideo", flv = "video/x-flv", webm = "video/webm", wmv = "video/x-ms-wmv",
  ["3gp"] = "video/3gpp", mkv = "video/x-matroska",
}

--- The MIME type for a path, from its extension; nil when unknown.
function M.mime_type(path)
  local ext = tostring(path):match("%.([%w]+)$")
  return ext and MIME[ext:lower()] or nil
end

local function basename(path) return (path:match("([^/]+)$") or path) end

-- size of a readable regular file, or nil, err (kind "input")
local function stat(path, what)
  local f, oerr = io.open(path, "rb")
  if not f then
    return nil, R.input(("%s: cannot read %s: %s"):format(what, path, (oerr or "?"):gsub("^[^:]*: ", "")),
      { path = path })
  end
  local size, serr = f:seek("end")
  if not size then
    f:close()
    return nil, R.input(("%s: %s is not a regular file (%s)"):format(what, path, serr or "cannot seek"),
      { path = path })
  end
  return size, f
end

local function status_of(res) return res and res.headers and res.headers["x-goog-upload-status"] end

-- the upload URL on the configured host: the SDKs keep the scheme, host and
-- port of the base URL (a proxy or glmock in front stays in front)
local function on_base(c, url)
  local scheme_host = c.base_url:match("^(%a[%w+.-]*://[^/]+)")
  local path = url:match("^%a[%w+.-]*://[^/]+(.*)$")
  if scheme_host and path then return scheme_host .. path end
  return url
end

local function upload_error(kind, msg, fields)
  return errors.new(kind, msg, fields)
end

-- POST one command to the upload URL. body: a string, a byte range of a
-- file ({path, offset, length}: streamed from disk by glrun.http), or nil.
local function command(c, url, cmd, offset, body, opts)
  -- no Content-Type on the bytes (curl would call them a form), as the SDKs
  local h = { ["X-Goog-Upload-Command"] = cmd, "Content-Type:" }
  if offset then h["X-Goog-Upload-Offset"] = tostring(offset) end
  local file = type(body) == "table" and body or nil
  local res, err = R.call(c, { url = url, method = "POST", headers = h, body = not file and (body or "") or nil,
                              body_file = file, raw = true, timeout = opts.timeout })
  return res, err
end

-- Ask the server how much of the upload it has: size, status | nil, err.
local function query(c, url, opts)
  local res, err = command(c, url, "query", nil, nil, opts)
  if not res then return nil, err end
  local got = tonumber(res.headers["x-goog-upload-size-received"] or "")
  return got, status_of(res), res
end

local function final_file(res, url)
  local obj = json.decode(res.body)
  if type(obj) ~= "table" or type(obj.file) ~= "table" then
    return nil, errors.new("protocol", "upload " .. core.redact(url) .. ": the final answer carries no file",
      { body = core.redact(res.body:sub(1, 4096)) })
  end
  return obj.file
end

local function retryable(err)
  if type(err) ~= "table" then return false end
  if err.kind ~= "http" then return true end -- network, timeout, connect: the connection broke
  local s = err.status or 0
  return s == 408 or s == 429 or s >= 500
end

-- Start a resumable upload: the upload URL, or nil, err.
local function start(c, path, size, mime, opts)
  local file = { mimeType = mime, sizeBytes = tostring(size) }
  if opts.display_name then file.displayName = opts.display_name end
  if opts.name then file.name = opts.name:match("^files/") and opts.name or ("files/" .. opts.name) end
  local obj, res = R.call(c, {
    url = c.base_url .. "/upload/" .. c.api_version .. "/files",
    method = "POST", body = { file = file }, timeout = opts.timeout, raw = true,
    headers = {
      ["X-Goog-Upload-Protocol"] = "resumable",
      ["X-Goog-Upload-Command"] = "start",
      ["X-Goog-Upload-Header-Content-Length"] = tostring(size),
      ["X-Goog-Upload-Header-Content-Type"] = mime,
      ["X-Goog-Upload-File-Name"] = basename(path),
    } })
  if not obj then return nil, res end
  local url = res.headers["x-goog-upload-url"]
  if not url or url == "" then
    return nil, errors.new("protocol", "files.upload: the start answer has no x-goog-upload-url header",
      { status = res.status })
  end
  return on_base(c, url)
end

--- Upload a file from disk. opts: mime_type (else from the extension),
--- display_name, name (files/ID to ask for), progress (function(sent,
--- total)), upload_url (resume an upload that gave up: err.upload_url),
--- chunk_size, retries, retry_delay, timeout, client. Returns the File
--- (the API's table: name, uri, mimeType, sizeBytes, state, ...), or nil, err;
--- err.upload_url and err.offset say where a broken upload stands.
function M.upload(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then error("files.upload: the path must be a string, not " .. type(path), 2) end
  local c, cerr = R.gemini_client(opts, "files.upload (the Files API)")
  if not c then return nil, cerr end
  local mime = opts.mime_type or M.mime_type(path)
  if not mime and not opts.upload_url then -- (a resumed upload has its type already)
    return nil, R.input(("files.upload: unknown MIME type for %s (name it: mime_type = \"...\")"):format(path),
      { path = path })
  end
  local size, fh = stat(path, "files.upload")
  if not size then return nil, fh end
  local ok, file, err = pcall(function()
    local url = opts.upload_url
    local offset = 0
    if url then -- resuming: where does the server stand?
      local got, st, res = query(c, url, opts)
      if got == nil and type(st) == "table" then return nil, st end
      if st == "final" then return final_file(res, url) end
      if st ~= "active" or not got then
        return nil, upload_error("protocol", ("files.upload: the upload cannot be resumed (status %s)")
          :format(tostring(st)), { upload_url = url })
      end
      offset = got
    else
      local serr
      url, serr = start(c, path, size, mime, opts)
      if not url then return nil, serr end
    end
    local chunk = math.max(1, math.floor(opts.chunk_size or M.chunk_size))
    local failures, delay = 0, opts.retry_delay or M.retry_delay
    local max_fail = opts.retries or M.retries
    if opts.progress then opts.progress(offset, size) end
    while true do
      local n = math.min(chunk, size - offset)
      local cmd = offset + n >= size and "upload, finalize" or "upload"
      if fh:seek("end") ~= size then
        return nil, R.input(("files.upload: %s changed size while it was uploaded (%d bytes, was %d)")
          :format(path, fh:seek("end"), size), { path = path, upload_url = url, offset = offset })
      end
      local body
      if http.body_file and n > 0 then
        body = { path = path, offset = offset, length = n } -- read by curl, never in Lua
      else
        fh:seek("set", offset)
        body = n > 0 and fh:read(n) or ""
      end
      local res, rerr = command(c, url, cmd, offset, body, opts)
      if type(body) == "string" and n >= 65536 then
        -- the chunk's string is garbage now: collect it before reading the
        -- next one, so that peak memory is one chunk, not a heap of them
        body = nil -- luacheck: ignore
        collectgarbage("collect")
      end
      local st = status_of(res)
      if res and st == "active" then
        offset = offset + n
        failures, delay = 0, opts.retry_delay or M.retry_delay
        if opts.progress then opts.progress(offset, size) end
        if offset >= size then
          return nil, upload_error("protocol", "files.upload: every byte was sent but the upload is not final",
            { upload_url = url, offset = offset })
        end
      elseif res and st == "final" then
        if opts.progress then opts.progress(size, size) end
        return final_file(res, url)
      elseif res and st then -- "cancelled" or anything else
        return nil, upload_error("protocol", ("files.upload: the server ended the upload (status %s)"):format(st),
          { upload_url = url, offset = offset })
      elseif not res and not retryable(rerr)
             and not (type(rerr.headers) == "table" and rerr.headers["x-goog-upload-status"] == "active") then
        rerr.upload_url, rerr.offset = url, offset
        return nil, rerr
      else
        -- no status (the SDKs retry those) or a broken connection: ask
        -- the server what it has before sending anything again
        failures = failures + 1
        if failures > max_fail then
          local e = rerr or upload_error("protocol", "files.upload: chunk answered without x-goog-upload-status")
          e.message = ("%s (gave up after %d attempts at offset %d; resume with upload_url = err.upload_url)")
            :format(e.message, failures, offset)
          e.upload_url, e.offset = url, offset
          return nil, e
        end
        core.log("info", ("upload of %s: %s; asking the server where it stands (attempt %d)")
          :format(path, rerr and rerr.message or "no upload status", failures), "files")
        if delay > 0 then core.sleep(delay) end
        delay = math.min(delay * 2, 16)
        local got, qst, qres = query(c, url, opts)
        if qst == "final" then return final_file(qres, url) end
        if got and qst == "active" then
          if got ~= offset then
            core.log("info", ("upload of %s resumes at byte %d (the server has them)"):format(path, got), "files")
          end
          offset = got
          if opts.progress then opts.progress(offset, size) end
        end
      end
    end
  end)
  fh:close()
  if not ok then error(file, 0) end
  return file, err
end

--- The File (its metadata), or nil, err. name: "files/ID", "ID", a files
--- URI or a File table.
function M.get(name, opts)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, "files.get")
  if not c then return nil, cerr end
  return R.call(c, { url = R.url(c, R.name("files", name)), timeout = opts.timeout })
end

--- Every file of the project (all pages), or nil, err. opts.page_size (100).
function M.list(opts)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, "files.list")
  if not c then return nil, cerr end
  return R.pages(c, "files", "files", { page_size = opts.page_size or 100, timeout = opts.timeout,
                                        max_items = opts.max })
end

--- Delete a file: true, or nil, err.
function M.delete(name, opts)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, "files.delete")
  if not c then return nil, cerr end
  local ok, err = R.call(c, { url = R.url(c, R.name("files", name)), method = "DELETE", timeout = opts.timeout })
  if not ok then return nil, err end
  return true
end

--- The bytes of a generated file (a batch's results; uploaded files cannot
--- be downloaded). opts.path: write them there instead (streamed, never
--- all in memory) and return true, bytes written. Or nil, err.
function M.download(name, opts)
  opts = opts or {}
  local c, cerr = R.gemini_client(opts, "files.download")
  if not c then return nil, cerr end
  local h, herr = require("gemini.auth").headers(c)
  if not h then return nil, herr end
  local url = R.url(c, R.name("files", name) .. ":download", "alt=media")
  local it, st = http.stream{ url = url, headers = h, timeout = opts.timeout or c.timeout, insecure = c.insecure }
  if not it then return nil, require("gemini.errors").enrich(st) end
  local out, parts, n = nil, {}, 0
  if opts.path then
    local ferr
    out, ferr = require("glrun.atomic").open(opts.path)
    if not out then
      st:close()
      return nil, R.input("files.download: cannot write " .. tostring(ferr))
    end
  end
  local ok, e = pcall(function()
    for piece in it do
      n = n + #piece
      if out then assert(out:write(piece)) else parts[#parts + 1] = piece end
    end
  end)
  if not ok then
    if out then out:abort() end
    return nil, e
  end
  if out then
    local cok, cerr = out:commit()
    if not cok then return nil, R.input("files.download: " .. tostring(cerr)) end
    return true, n
  end
  return table.concat(parts)
end

--- Wait until a file is ACTIVE (videos are PROCESSING first). Returns the
--- File, or nil, err: kind "file_state" when processing FAILED, "timeout"
--- after opts.timeout seconds (600). opts.interval: seconds between polls (2).
function M.wait_active(file, opts)
  opts = opts or {}
  local deadline = core.now() + (opts.timeout or 600)
  local interval = opts.interval or 2
  local f = type(file) == "table" and file.state and file or nil
  while true do
    if not f then
      local err
      f, err = M.get(file, opts)
      if not f then return nil, err end
    end
    if f.state == "ACTIVE" then return f end
    if f.state == "FAILED" then
      local why = type(f.error) == "table" and f.error.message or "processing failed"
      return nil, errors.new("file_state", ("%s: %s"):format(f.name, why), { file = f })
    end
    if core.now() + interval > deadline then
      return nil, errors.new("timeout", ("%s is still %s after %g s"):format(tostring(f.name), tostring(f.state),
        opts.timeout or 600), { file = f })
    end
    core.sleep(interval)
    file, f = f.name, nil
  end
end

--- A part for a prompt that points at an uploaded File: {fileData = ...}.
function M.part(f)
  if type(f) ~= "table" or type(f.uri) ~= "string" then
    error("files.part: expects a File (a table with .uri, from files.upload or files.get)", 2)
  end
  return { fileData = { fileUri = f.uri, mimeType = f.mimeType } }
end

--- Parts for a list of attachments: paths (a file up to inline_max goes
--- inline as base64 inlineData, a larger one is uploaded, then waited for),
--- Files, or {path = ..., mime_type = ...}. opts: inline_max, progress,
--- client. Returns the parts, or nil, err (nothing half-done is left: a
--- missing file fails before anything is uploaded).
function M.parts(list, opts)
  opts = opts or {}
  if type(list) ~= "table" then error("files: the attachments must be a list", 3) end
  local inline_max = opts.inline_max or M.inline_max
  local plan = {}
  for i, a in ipairs(list) do
    if type(a) == "string" then a = { path = a } end
    if type(a) ~= "table" then error("files: attachment " .. i .. " is a " .. type(a), 3) end
    if a.uri then
      plan[i] = { part = M.part(a) }
    elseif type(a.path) == "string" then
      local mime = a.mime_type or M.mime_type(a.path)
      if not mime then
        return nil, R.input(("unknown MIME type for %s (name it: {path = ..., mime_type = \"...\"})"):format(a.path),
          { path = a.path })
      end
      local size, fh = stat(a.path, "attach")
      if not size then return nil, fh end
      fh:close()
      plan[i] = { path = a.path, mime = mime, size = size }
    else
      error("files: attachment " .. i .. " has neither a path nor a uri", 3)
    end
  end
  local parts = {}
  for i, p in ipairs(plan) do
    if p.part then
      parts[i] = p.part
    elseif p.size <= inline_max then
      local f = assert(io.open(p.path, "rb"))
      local data = f:read("a") or ""
      f:close()
      parts[i] = { inlineData = { mimeType = p.mime, data = core.b64encode(data) } }
    else
      local f, err = M.upload(p.path, { mime_type = p.mime, client = opts.client, progress = opts.progress,
                                        display_name = basename(p.path) })
      if not f then return nil, err end
      if f.state ~= "ACTIVE" then
        f, err = M.wait_active(f, { client = opts.client, timeout = opts.wait_timeout })
        if not f then return nil, err end
      end
      parts[i] = M.part(f)
    end
  end
  return parts
end

return M
