-- caches.lua — a context cache: a long document stored once, many
-- questions about it billed at the cached rate. The request names the cache
-- and does not repeat what it holds (system instruction, tools).
--
--   glrun --mock examples/caches.lua
local caches = require "gemini.caches"

-- a document above the model's minimum cache size (1,024 tokens for Flash)
local words = {}
for i = 1, 1500 do words[i] = "clause" .. i end
local contract = table.concat(words, " ")

local model = "gemini-2.5-flash" -- every request using the cache names its model
local c = assert(caches.create{ model = model, system = "Answer from the contract only.",
                                contents = { contract }, ttl = "10m", display_name = "contract" })
print(("cache %s: %d tokens, expires %s"):format(c.name, c.usageMetadata.totalTokenCount, c.expireTime))

for _, q in ipairs{ "Who are the parties?", "When does it end?" } do
  local resp = assert(gemini.generate(q, { cache = c, model = model }))
  print(("%s  [%d tokens from the cache]"):format(resp.text, caches.cached_tokens(resp)))
end

assert(caches.update(c, { ttl = "1h" }))   -- keep it longer
assert(caches.delete(c))                   -- or let it expire
print("deleted " .. c.name)
