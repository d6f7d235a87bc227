-- gemini.rest.stream's fast path (runtime/jsondec.c jsondec_chunk_scan):
-- a chunk with one candidate and text parts only gets its .text from C and
-- the rest of its fields decoded on first read. Against a tiny glrun.server
-- that streams the events given, tricky chunks come out exactly as the full
-- decode would give them: the text (escapes, surrogate pairs, thoughts,
-- several parts, duplicate keys: the last wins), the whole table on first
-- read or pairs, the finish, a blocked prompt, an error event.
local rest = require "gemini.rest"
local json = require "glrun.json"
local server = require "glrun.server"

local srv = assert(server.listen{ port = 0 })
local body = "" -- the SSE body of the next request
gl.spawn(function()
  while true do
    local req = srv:accept()
    if not req then return end
    req:respond(200, { ["Content-Type"] = "text/event-stream" }, body)
  end
end)
local client = { api_key = "k", base_url = srv:url():gsub("/$", "") }
local REQ = { contents = { { role = "user", parts = { { text = "hi" } } } } }

local FIRST = '{"candidates":[{"content":{"parts":[{"text":"A"}],"role":"model"},"index":0}]}'
local LAST = '{"candidates":[{"content":{"parts":[{"text":"Z"}],"role":"model"},"finishReason":"STOP"}]}'

local function deep_eq(a, b, path)
  if type(a) ~= "table" or type(b) ~= "table" then
    assert(a == b or (a ~= a and b ~= b), ("%s: %s ~= %s"):format(path, tostring(a), tostring(b)))
    assert(math.type(a) == math.type(b), path .. ": integer/float")
    return
  end
  for k, v in pairs(a) do deep_eq(v, b[k], path .. "." .. tostring(k)) end
  for k in pairs(b) do assert(a[k] ~= nil, path .. "." .. tostring(k) .. " missing") end
end

-- stream FIRST, event, LAST; returns the middle chunk, whether it was lazy,
-- and every chunk's text
local function run(event, read)
  body = "data: " .. FIRST .. "\r\n\r\ndata: " .. event .. "\r\n\r\ndata: " .. LAST .. "\r\n\r\n"
  local it = assert(rest.stream(REQ, { client = client, model = "m" }))
  local texts, mid, lazy = {}, nil, nil
  for chunk in it do
    texts[#texts + 1] = chunk.text
    if #texts == 2 then
      mid, lazy = chunk, getmetatable(chunk) ~= nil
      if read then read(chunk) end
    end
  end
  assert(#texts == 3, "three chunks")
  assert(texts[1] == "A" and texts[3] == "Z", texts[1] .. texts[3])
  return mid, lazy, texts
end

-- the chunk's whole table is the full decode's, with .text the chunk's text
local function same_as_full(chunk, event, via_pairs)
  local want = assert(json.decode(event))
  want.text = chunk.text
  local got = {}
  if via_pairs then
    for k, v in pairs(chunk) do got[k] = v end
  else
    assert(chunk.candidates ~= nil or want.candidates == nil)
    for k, v in next, chunk do got[k] = v end -- materialized by the read above
  end
  deep_eq(got, want, "chunk")
  assert(getmetatable(chunk) == nil, "materialized: no metatable left")
end

local cases = {
  { name = "plain",
    ev = '{"candidates": [{"content": {"parts": [{"text": "hello world"}],"role": "model"},"index": 0}],'
      .. '"usageMetadata": {"promptTokenCount": 9,"totalTokenCount": 21},"modelVersion": "v","responseId": "r"}',
    text = "hello world", lazy = true },
  { name = "escapes and a surrogate pair",
    ev = [[{"candidates":[{"content":{"parts":[{"text":"l\n\"q\" \\ \/ \t caf\u00e9 \ud83d\ude00 \u65e5 end"}]}}]}]],
    text = "l\n\"q\" \\ / \t caf\u{e9} \u{1F600} \u{65E5} end", lazy = true },
  { name = "raw UTF-8",
    ev = '{"candidates":[{"content":{"parts":[{"text":"naïve — déjà 日本"}]}}]}',
    text = "naïve — déjà 日本", lazy = true },
  { name = "thoughts and several parts",
    ev = '{"candidates":[{"content":{"parts":[{"text":"hmm","thought":true},{"text":"a","thoughtSignature":"c2ln"},'
      .. '{"text":""},{"thought":false,"text":"b"},{"thoughtSignature":"eA=="}]}}]}',
    text = "ab", lazy = true },
  { name = "only a thought",
    ev = '{"candidates":[{"content":{"parts":[{"text":"thinking","thought":true}],"role":"model"}}]}',
    text = "", lazy = true },
  { name = "nested objects after the text",
    ev = '{"candidates":[{"content":{"parts":[{"text":"t"}]},"safetyRatings":[{"category":"C","probability":"LOW"}],'
      .. '"citationMetadata":{"citationSources":[{"startIndex":1,"endIndex":2.5e3,"uri":"u"}]},"avgLogprobs":-0.25,'
      .. '"finishReason":null}],"createTime":"2025","x":[true,false,null,[],{},{"a":{"b":[1,[2,[3]]]}}]}',
    text = "t", lazy = true },
  { name = "whitespace",
    ev = ' { "candidates" : [ { "content" : { "parts" : [ { "text" : "ws" } , { "text" : "2" } ] } } ] } ',
    text = "ws2", lazy = true },
  { name = "a duplicate key: the last wins",
    ev = '{"candidates":[{"content":{"parts":[{"text":"first","text":"second"}]}}]}',
    text = "second", lazy = false },
  { name = "a duplicate thought: the last wins",
    ev = '{"candidates":[{"content":{"parts":[{"text":"x","thought":true,"thought":false}]}}]}',
    text = "x", lazy = false },
  { name = "a function call",
    ev = '{"candidates":[{"content":{"parts":[{"text":"x"},{"functionCall":{"name":"f","args":{"a":1}}}]}}]}',
    text = "x", lazy = false },
  { name = "inline data",
    ev = '{"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}]}',
    text = "", lazy = false },
  { name = "two candidates",
    ev = '{"candidates":[{"content":{"parts":[{"text":"one"}]}},{"content":{"parts":[{"text":"two"}]}}]}',
    text = "one", lazy = false },
  { name = "no candidates",
    ev = '{"candidates":[],"usageMetadata":{"promptTokenCount":4}}', text = "", lazy = false },
  { name = "an escaped key",
    ev = '{"candidates":[{"content":{"parts":[{"\\u0074ext":"k"}]}}]}', text = "k", lazy = false },
  { name = "a top-level text",
    ev = '{"candidates":[{"content":{"parts":[{"text":"k"}]}}],"text":"not this"}', text = "k", lazy = false },
}

for _, c in ipairs(cases) do
  -- read through a field
  local mid, lazy = run(c.ev)
  assert(mid.text == c.text, ("%s: text %q, want %q"):format(c.name, mid.text, c.text))
  assert(lazy == c.lazy, ("%s: fast path %s, want %s"):format(c.name, tostring(lazy), tostring(c.lazy)))
  same_as_full(mid, c.ev, false)
  -- read through pairs, untouched before
  local mid2 = run(c.ev)
  same_as_full(mid2, c.ev, true)
end

-- a field the script set on a lazy chunk before reading it stays
do
  local ev = cases[1].ev
  local mid = run(ev, function(chunk)
    assert(getmetatable(chunk) ~= nil, "lazy")
    chunk.modelVersion = "mine"
    chunk.mine = 1
  end)
  assert(mid.modelVersion == "mine" and mid.mine == 1 and mid.responseId == "r")
  assert(mid.usageMetadata.totalTokenCount == 21 and math.type(mid.usageMetadata.totalTokenCount) == "integer")
end

-- glrun.json.encode of an untouched lazy chunk writes all of it
do
  local ev = cases[1].ev
  local enc
  run(ev, function(chunk)
    assert(getmetatable(chunk) ~= nil, "lazy")
    enc = assert(json.encode(chunk))
  end)
  local want = assert(json.decode(ev))
  want.text = "hello world"
  deep_eq(assert(json.decode(enc)), want, "encoded")
end

-- the answer's end on a fast chunk: STOP with text ends it (a LAST after it is not read)
do
  body = "data: " .. FIRST .. "\r\n\r\ndata: "
    .. '{"candidates":[{"content":{"parts":[{"text":"end"}]},"finishReason":"STOP"}]}' .. "\r\n\r\n"
  local texts = {}
  for chunk in assert(rest.stream(REQ, { client = client, model = "m" })) do
    texts[#texts + 1] = chunk.text
    if #texts == 2 then assert(chunk.candidates[1].finishReason == "STOP") end
  end
  assert(table.concat(texts, "|") == "A|end", table.concat(texts, "|"))
end

-- a stream with no finishReason is cut, the partial text includes the fast chunks
do
  body = "data: " .. FIRST .. "\r\n\r\ndata: " .. cases[2].ev .. "\r\n\r\n"
  local texts = {}
  local ok, err = pcall(function()
    for chunk in assert(rest.stream(REQ, { client = client, model = "m" })) do texts[#texts + 1] = chunk.text end
  end)
  assert(not ok and err.kind == "stream_cut", tostring(err))
  assert(err.partial == "A" .. cases[2].text, err.partial)
end

-- blockReason: a blocked prompt; an error event: an http error
for _, c in ipairs{
  { ev = '{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}', kind = "blocked" },
  { ev = '{"error":{"code":500,"message":"boom","status":"INTERNAL"}}', kind = "http" },
  { ev = '{"candidates":[{"content":{"parts":[{"text":"x"}]}}]', kind = "protocol" }, -- malformed
} do
  body = "data: " .. FIRST .. "\r\n\r\ndata: " .. c.ev .. "\r\n\r\n"
  local ok, err = pcall(function()
    for _ in assert(rest.stream(REQ, { client = client, model = "m" })) do end
  end)
  assert(not ok and type(err) == "table" and err.kind == c.kind, c.kind .. ": " .. tostring(err))
end

-- no text and SAFETY on a chunk the fast path could read: still a blocked answer
do
  body = "data: " .. '{"candidates":[{"content":{"parts":[{"text":"hm","thought":true}]}}]}' .. "\r\n\r\ndata: "
    .. '{"candidates":[{"content":{"parts":[{"text":"","thought":true}]},"finishReason":"SAFETY"}]}' .. "\r\n\r\n"
  local ok, err = pcall(function()
    for _ in assert(rest.stream(REQ, { client = client, model = "m" })) do end
  end)
  assert(not ok and type(err) == "table" and err.kind == "blocked", tostring(err))
end

-- long streams: the lazy chunks the C side had queued are taken in batches
-- (http._chunk_fill); every chunk still comes out, in order, each one lazy
-- with its own fields, and the bookkeeping (partial text, usage, the end)
-- is the one-by-one path's
local function long_body(n, last)
  local ev = {}
  ev[1] = "data: " .. FIRST .. "\r\n\r\n"
  for i = 1, n do
    local text = i % 50 == 0 and "" or ("t" .. i .. (i % 7 == 0 and "\\n" or " "))
    ev[#ev + 1] = ('data: {"candidates": [{"content": {"parts": [{"text": "%s"}],"role": "model"},"index": 0}],'
      .. '"usageMetadata": {"promptTokenCount": 1,"totalTokenCount": %d},"responseId": "r%d"}\r\n\r\n'):format(text, i, i)
  end
  if last then ev[#ev + 1] = "data: " .. last .. "\r\n\r\n" end
  return table.concat(ev)
end
local function want_text(i) return i % 50 == 0 and "" or ("t" .. i .. (i % 7 == 0 and "\n" or " ")) end

do -- 1000 chunks, then LAST: all of them, in order, each lazy and right
  body = long_body(1000, LAST)
  local got, lazy = {}, 0
  for chunk in assert(rest.stream(REQ, { client = client, model = "m" })) do
    got[#got + 1] = chunk
    if getmetatable(chunk) ~= nil then lazy = lazy + 1 end
  end
  assert(#got == 1002, "chunks: " .. #got)
  assert(lazy >= 990, "lazy chunks: " .. lazy)
  for i = 1, 1000 do
    local c = got[i + 1]
    assert(c.text == want_text(i), ("chunk %d: %q"):format(i, c.text))
    assert(c.responseId == "r" .. i and c.usageMetadata.totalTokenCount == i, "chunk " .. i .. "'s own fields")
  end
  assert(got[1002].text == "Z")
end

do -- cut after 700 chunks: err.partial holds every text given, in order
  body = long_body(700, nil)
  local texts = {}
  local ok, err = pcall(function()
    for chunk in assert(rest.stream(REQ, { client = client, model = "m" })) do texts[#texts + 1] = chunk.text end
  end)
  assert(not ok and err.kind == "stream_cut", tostring(err))
  assert(#texts == 701, "chunks before the cut: " .. #texts)
  local want = { "A" }
  for i = 1, 700 do want[#want + 1] = want_text(i) end
  assert(err.partial == table.concat(want), "partial text")
  assert(table.concat(texts) == err.partial, "the texts given")
end

do -- a cut answer of more than 1 MiB of text: err.partial keeps whole texts up to
  -- just past 1 MiB (partial_truncated says the rest was left out)
  local piece = ("abcdefghij"):rep(100) -- 1000 bytes
  local ev = { "data: " .. FIRST .. "\r\n\r\n" }
  for i = 1, 1200 do
    ev[#ev + 1] = ('data: {"candidates":[{"content":{"parts":[{"text":"%04d%s"}]}}]}\r\n\r\n'):format(i, piece)
  end
  body = table.concat(ev)
  local n = 0
  local ok, err = pcall(function()
    for _ in assert(rest.stream(REQ, { client = client, model = "m" })) do n = n + 1 end
  end)
  assert(not ok and err.kind == "stream_cut" and n == 1201, tostring(err))
  assert(err.partial_truncated == true, "partial_truncated")
  assert(#err.partial > 1048576 and #err.partial <= 1048576 + 1004, "partial size " .. #err.partial)
  assert((#err.partial - 1) % 1004 == 0, "whole texts only")
  assert(err.partial:sub(1, 9) == "A0001abcd", "in order from the first")
end

do -- an error event after 300 chunks: raised after the 300 are given
  body = long_body(300, '{"error":{"code":500,"message":"boom","status":"INTERNAL"}}')
  local count = 0
  local ok, err = pcall(function()
    for _ in assert(rest.stream(REQ, { client = client, model = "m" })) do count = count + 1 end
  end)
  assert(not ok and err.kind == "http" and count == 301, tostring(err) .. " after " .. count)
end

do -- a finishReason on a chunk in the middle of a queued run: the answer is
  -- finished there (no stream_cut at the end), the chunks after it still given
  body = long_body(200, '{"candidates":[{"content":{"parts":[{"text":"end"}]},"finishReason":"STOP"}]}')
    .. long_body(5, nil):gsub("^data: [^\r]*\r\n\r\n", "")
  local texts = {}
  for chunk in assert(rest.stream(REQ, { client = client, model = "m" })) do texts[#texts + 1] = chunk.text end
  assert(#texts == 207 and texts[202] == "end" and texts[207] == want_text(5), "finished at the STOP: " .. #texts)
end

srv:close()
print("rest_chunks: ok")
