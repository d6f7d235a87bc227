-- ask_json.lua — the REST layer (gemini.rest): requests and responses are
-- the API's own JSON, as plain Lua tables (field names as in Google's API
-- reference). Use it when you want every field; gemini.ask and gemini.chat
-- are built on it.
--
--   glrun --mock examples/ask_json.lua
local rest = require "gemini.rest"

-- a GenerateContentRequest, exactly as the API documents it
local req = {
  systemInstruction = { parts = { { text = "Answer in one word." } } },
  contents = { { role = "user", parts = { { text = "Name a primary colour." } } } },
  generationConfig = { temperature = 0, maxOutputTokens = 20 },
}

-- countTokens: how big the request is before sending it
local n = assert(rest.count_tokens(req, { model = "gemini-2.5-flash" }))
print(("prompt tokens: %d"):format(n))

-- generateContent: one GenerateContentResponse (plus .text, for convenience)
local resp, err = rest.generate(req, { model = "gemini-2.5-flash" })
if not resp then
  io.stderr:write(tostring(err), "\n")
  os.exit(1)
end
print("text: " .. resp.text)
print("finishReason: " .. resp.candidates[1].finishReason)
local u = resp.usageMetadata
print(("tokens: %d in, %d out, %d in all"):format(u.promptTokenCount, u.candidatesTokenCount, u.totalTokenCount))

-- a conversation is just more contents: the model's turn, then ours
table.insert(req.contents, resp.candidates[1].content)
table.insert(req.contents, { role = "user", parts = { { text = "And a secondary one?" } } })
for chunk in assert(rest.stream(req, { model = "gemini-2.5-flash" })) do
  io.write(chunk.text)        -- streamGenerateContent over SSE: one chunk per event
end
print()

-- failures are values: an error object with kind, status and the parsed
-- google.rpc.Status the server sent
local _, e = rest.generate(req, { model = "gemini-nonexistent" })
print(("error: kind=%s status=%s %s"):format(e.kind, e.status, e.error.status))
