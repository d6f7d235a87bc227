-- A consumer that falls behind pauses the transfer instead of growing a
-- buffer: the C queue of an SSE stream and of a raw body stream never
-- holds much more than its high-water mark, and nothing is lost.
local http = require "glrun.http"
local base = assert(gl.options.mock_url)
local words = {}
for i = 1, 30 do words[i] = ("w%d"):format(i) .. ("x"):rep(300) end
local body = '{"contents":[{"role":"user","parts":[{"text":"many ' .. table.concat(words, " ") .. '"}]}]}'
local hdr = { ["x-goog-api-key"] = "k", ["Content-Type"] = "application/json" }
local url = base .. "/v1beta/models/gemini-many:streamGenerateContent?alt=sse"

local it, req = assert(http.sse{ url = url, method = "POST", body = body, headers = hdr })
local n, max_q, paused_seen, bytes = 0, 0, false, 0
gl.sleep(0.3) -- let the server push as much as it can before we read
for ev in it do
  n = n + 1
  bytes = bytes + #ev.data
  local st = req:stats()
  if st.queued > max_q then max_q = st.queued end
  if st.paused then paused_seen = true end
  if n % 500 == 0 then gl.sleep(0.01) end
end
assert(n >= 5000, "all events arrived: " .. n)
assert(bytes > 2 * 1024 * 1024, "the stream is larger than the high-water mark: " .. bytes)
local hw = req:stats().high_water
assert(max_q <= hw + 256 * 1024, ("queue stayed bounded: max %d, high water %d"):format(max_q, hw))
assert(paused_seen, "the transfer was paused at least once")

-- the same for raw body chunks
local sit, sreq = assert(http.stream{ url = url, method = "POST", body = body, headers = hdr })
gl.sleep(0.3)
local total, maxs = 0, 0
for chunk in sit do
  total = total + #chunk
  local q = sreq:stats().queued
  if q > maxs then maxs = q end
end
assert(total > 2 * 1024 * 1024, "whole body: " .. total)
print(("backpressure ok: %d events, %d bytes, max queued %d (sse), %d (stream)"):format(n, bytes, max_q, maxs))
