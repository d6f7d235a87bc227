-- gemini.files against glmock: the resumable upload (chunks, finalize, the
-- bytes arrive whole), a break mid-upload resumed from the offset the server
-- reports, a chunk answered 503 retried, get / list (every page) / delete,
-- download of a generated file, wait_active on a video, MIME types, files in
-- prompts (inline under the threshold, uploaded above it), bad input as one
-- clear line, and a flat peak RSS for a file much larger than a chunk.
local gemini = require "gemini"
local files = require "gemini.files"
local crypto = require "glrun.crypto"
local http = require "glrun.http"
local json = require "glrun.json"
local base = assert(gl.options.mock_url)

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir -p '" .. dir .. "'"))
local function write(name, data)
  local p = dir .. "/" .. name
  local f = assert(io.open(p, "wb"))
  f:write(data)
  f:close()
  return p
end
local function hash_b64(data) -- the service's sha256Hash: base64 of the hex digest
  local hex = crypto.sha256(data):gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)
  return gl.b64encode(hex)
end

-- a file of 3 chunks and a bit, with bytes that vary
local parts = {}
for i = 1, 20000 do parts[i] = ("%07d|"):format(i * 7919 % 9999991) end
local data = table.concat(parts) -- 160000 bytes
local big = write("data.bin", data)

-- 1. upload in chunks of 50000: progress at every chunk, the bytes arrive whole
local seen = {}
local f = assert(files.upload(big, { mime_type = "application/octet-stream", display_name = "data",
  chunk_size = 50000, progress = function(sent, total) seen[#seen + 1] = sent .. "/" .. total end }))
assert(f.name:match("^files/[a-z0-9]+$"), f.name)
assert(f.sizeBytes == "160000", f.sizeBytes)
assert(f.mimeType == "application/octet-stream")
assert(f.displayName == "data")
assert(f.state == "ACTIVE", f.state)
assert(f.sha256Hash == hash_b64(data), "the server got other bytes")
assert(table.concat(seen, " ") == "0/160000 50000/160000 100000/160000 150000/160000 160000/160000",
  table.concat(seen, " "))
print("ok - upload in 4 chunks, bytes whole, progress per chunk")

-- 2. the connection breaks at byte 70000 (inside the 2nd chunk): the upload
-- asks where the server stands and goes on from 70000, not from 0
seen = {}
local f2 = assert(files.upload(big, { mime_type = "application/octet-stream", display_name = "x break-at-70000",
  chunk_size = 50000, retry_delay = 0.01, progress = function(sent) seen[#seen + 1] = sent end }))
assert(f2.sha256Hash == hash_b64(data), "a resumed upload lost or repeated bytes")
local resumed = false
for _, s in ipairs(seen) do if s == 70000 then resumed = true end end
assert(resumed, "did not resume at the server's offset: " .. table.concat(seen, " "))
assert(seen[#seen] == 160000)
print("ok - a broken upload resumes from the offset the server reports")

-- 3. a chunk answered 503 is retried
local small = write("note.txt", "hello file\n")
local f3 = assert(files.upload(small, { display_name = "flaky-chunk", retry_delay = 0.01 }))
assert(f3.sizeBytes == "11" and f3.mimeType == "text/plain", f3.mimeType)
print("ok - a chunk answered 503 is retried")

-- 4. an empty file: one finalize with no bytes
local empty = write("empty.txt", "")
local f4 = assert(files.upload(empty))
assert(f4.sizeBytes == "0", f4.sizeBytes)
print("ok - an empty file")

-- 5. an upload that gives up says where it stands; upload_url resumes it
-- in a later call (another process could do the same)
do
  local c = assert(require("gemini.resource").config())
  local hdr = { ["x-goog-api-key"] = c.api_key, ["Content-Type"] = "application/json",
    ["X-Goog-Upload-Protocol"] = "resumable", ["X-Goog-Upload-Command"] = "start",
    ["X-Goog-Upload-Header-Content-Length"] = "160000",
    ["X-Goog-Upload-Header-Content-Type"] = "application/octet-stream" }
  local res = assert(http.request{ url = base .. "/upload/v1beta/files", method = "POST", headers = hdr,
    body = '{"file": {"displayName": "half"}}' })
  local url = assert(res.headers["x-goog-upload-url"])
  local h2 = { ["x-goog-api-key"] = c.api_key, ["X-Goog-Upload-Command"] = "upload",
    ["X-Goog-Upload-Offset"] = "0" }
  assert(http.request{ url = url, method = "POST", headers = h2, body = data:sub(1, 60000) })
  seen = {}
  local f5 = assert(files.upload(big, { upload_url = url, chunk_size = 50000,
    progress = function(s) seen[#seen + 1] = s end }))
  assert(seen[1] == 60000, "resumed at " .. tostring(seen[1]))
  assert(f5.sha256Hash == hash_b64(data) and f5.displayName == "half")
end
print("ok - upload_url resumes an upload begun elsewhere")

-- 6. get, list (every page), delete
local g = assert(files.get(f.name))
assert(g.name == f.name and g.sizeBytes == "160000")
assert(files.get(f.name:match("files/(.*)")).name == f.name, "a bare id")
assert(files.get(f).name == f.name, "a File table")
local all = assert(files.list{ page_size = 2 })
assert(#all >= 5, #all .. " files listed")
local names = {}
for _, x in ipairs(all) do
  assert(not names[x.name], "listed twice: " .. x.name)
  names[x.name] = true
end
assert(names[f.name] and names[f2.name] and names[f3.name])
assert(files.delete(f3) == true)
local gone, err = files.get(f3.name)
assert(gone == nil and err.kind == "http" and err.status == 403, tostring(err))
assert(err.message:find("may not exist", 1, true), err.message)
print("ok - get, list with pages, delete")

-- 7. download: a generated file (as a batch writes); an uploaded one is refused
do
  local res = assert(http.request{ url = base .. "/glmock/files", method = "POST",
    body = json.encode{ displayName = "results", mimeType = "application/jsonl", text = "line 1\nline 2\n" } })
  local gen = json.decode(res.body)
  assert(gen.source == "GENERATED")
  assert(files.download(gen.name) == "line 1\nline 2\n")
  local out = dir .. "/results.jsonl"
  local ok, n = files.download(gen.name, { path = out })
  assert(ok == true and n == 14, tostring(n))
  local fh = assert(io.open(out, "rb"))
  assert(fh:read("a") == "line 1\nline 2\n")
  fh:close()
  local no, derr = files.download(f.name)
  assert(no == nil and derr.status == 400, tostring(derr))
end
print("ok - download (to memory and to a file)")

-- 8. wait_active: a video is PROCESSING first; a failed one says so
local video = write("clip.mp4", "not really a video")
local v = assert(files.upload(video))
assert(v.mimeType == "video/mp4" and v.state == "PROCESSING", v.state)
local active = assert(files.wait_active(v, { interval = 0.01, timeout = 30 }))
assert(active.state == "ACTIVE", active.state)
local bad = assert(files.upload(video, { display_name = "fail-processing" }))
local nf, ferr = files.wait_active(bad, { interval = 0.01, timeout = 30 })
assert(nf == nil and ferr.kind == "file_state", tostring(ferr))
print("ok - wait_active")

-- 9. MIME types from the extension, an override, an unknown one refused
assert(files.mime_type("a/b/Report.PDF") == "application/pdf")
assert(files.mime_type("x.jsonl") == "application/jsonl")
assert(files.mime_type("noext") == nil)
local odd = write("data.weird", "x")
local no, merr = files.upload(odd)
assert(no == nil and merr.kind == "input" and merr.message:find("mime_type", 1, true), tostring(merr))
assert(files.upload(odd, { mime_type = "text/plain" }).mimeType == "text/plain")
print("ok - MIME types")

-- 10. bad input: one line, nothing sent
local nf2, e2 = files.upload(dir .. "/missing.pdf")
assert(nf2 == nil and e2.kind == "input", tostring(e2))
assert(not tostring(e2):find("\n"), "one line")
assert(tostring(e2):find("missing.pdf: No such file", 1, true), tostring(e2))
assert(not pcall(files.upload, 42), "a path that is not a string is misuse")
print("ok - bad input")

-- 11. files in prompts: small ones inline, large ones uploaded as fileData
local seen_req
local rest = require "gemini.rest"
local orig = rest.generate
rest.generate = function(req, o) seen_req = req; return orig(req, o) end
local text = assert(gemini.ask("what is it", { files = { small } }))
assert(text == "echo: what is it", text)
local p1 = seen_req.contents[1].parts
assert(p1[1].inlineData and p1[1].inlineData.mimeType == "text/plain", "inline part first")
assert(gl.b64decode(p1[1].inlineData.data) == "hello file\n")
assert(p1[2].text == "what is it")
files.inline_max = 1000
assert(gemini.ask("and this", { files = { { path = big, mime_type = "application/octet-stream" } } }))
local fd = seen_req.contents[1].parts[1].fileData
assert(fd and fd.fileUri:match("/files/[a-z0-9]+$") and fd.mimeType == "application/octet-stream")
files.inline_max = 4 * 1024 * 1024
assert(gemini.ask({ { role = "user", parts = { { file = f }, { text = "a part naming a File" } } } }))
assert(seen_req.contents[1].parts[1].fileData.fileUri == f.uri)
local none, aerr = gemini.ask("q", { files = { dir .. "/missing.txt" } })
assert(none == nil and aerr.kind == "input", tostring(aerr))
rest.generate = orig
print("ok - files in prompts")

-- 12. a file many chunks long: peak RSS stays flat. The bytes go from disk
-- to the socket through libcurl's read callback (http.request{body_file}),
-- so not even one 8 MiB chunk passes through Lua memory
local function hwm()
  local s = assert(io.open("/proc/self/status")):read("a")
  return tonumber(s:match("VmHWM:%s*(%d+)")) / 1024
end
local huge = dir .. "/huge.bin"
local hf = assert(io.open(huge, "wb"))
hf:seek("set", 160 * 1024 * 1024 - 1) -- sparse: 160 MiB that cost no disk
hf:write("x")
hf:close()
local before = hwm()
assert(http.body_file == true, "glrun.http streams request bodies from files")
local hu = assert(files.upload(huge, { mime_type = "application/octet-stream" }))
assert(hu.sizeBytes == tostring(160 * 1024 * 1024))
local after = hwm()
assert(after - before < 6, ("peak RSS grew by %.1f MiB for a 160 MiB upload in 8 MiB chunks"):format(after - before))
print(("ok - 160 MiB uploaded, peak RSS %.0f -> %.0f MiB"):format(before, after))

os.execute("rm -rf '" .. dir .. "'")
print("files ok")
