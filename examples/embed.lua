-- embed.lua — embeddings: the nearest document to a question. A list is
-- sent as batchEmbedContents requests of up to 100 texts, run concurrently.
--
--   glrun --mock examples/embed.lua
local embed = require "gemini.embed"

local docs = {
  "SSE streams server events over one HTTP response.",
  "A WebSocket is a two-way channel over one TCP connection.",
  "Gemini's Batch API answers many requests at half the price.",
}
local vectors = assert(gemini.embed(docs, { task_type = "RETRIEVAL_DOCUMENT", dimensions = 256 }))
local q = assert(gemini.embed("How do I stream events from a server?", { task_type = "RETRIEVAL_QUERY", dimensions = 256 }))
print(("%d documents, %d dimensions each"):format(#vectors, #vectors[1]))

local best, score = nil, -2
for i, v in ipairs(vectors) do
  local s = embed.cosine(q, v)
  if s > score then best, score = i, s end
end
-- (under --mock the vectors are hashes of the text: any document may be nearest)
print(("nearest: document %d (cosine %.3f)"):format(best, score))
