-- files.lua — a document in a prompt: upload it once with the Files API,
-- ask about it, delete it. Small files could go inline (gemini.ask{files =
-- {"notes.txt"}} decides by size); a large PDF or a video is uploaded.
--
--   glrun --mock examples/files.lua [FILE]
local files = require "gemini.files"

local path, tmp = arg[1], nil
if not path then -- a stand-in document (".txt": its MIME type comes from the extension)
  tmp = os.tmpname()
  path = tmp .. ".txt"
  local f = assert(io.open(path, "w"))
  f:write("Quarterly report. Revenue grew 12 percent.\n")
  f:close()
end

-- the resumable upload: chunks, a progress callback, resumed from the
-- server's offset if the connection breaks
local f, err = files.upload(path, { display_name = "report",
  progress = function(sent, total) io.stderr:write(("\ruploading %d/%d bytes"):format(sent, total)) end })
io.stderr:write("\n")
if not f then print("upload failed: " .. tostring(err)) os.exit(1) end
print(("uploaded %s (%s, %s bytes, %s)"):format(f.name, f.mimeType, f.sizeBytes, f.state))
f = assert(files.wait_active(f)) -- videos are PROCESSING for a while first

-- a part naming the File, before the question
print(assert(gemini.ask({ { role = "user", parts = { { file = f }, { text = "Summarise the report." } } } })))

assert(files.delete(f))
print("deleted " .. f.name)
if tmp then os.remove(path) os.remove(tmp) end
