-- gemini.caches against glmock: create (the size minimum), use from ask and
-- chat (cachedContentTokenCount; what the cache holds is not sent again),
-- get / list / update / delete, an expired cache, a model mismatch, and
-- ask{cache = {ttl = ...}}: a cache made for one ask and deleted after it.
local gemini = require "gemini"
local caches = require "gemini.caches"
local rest = require "gemini.rest"

local words = {}
for i = 1, 1100 do words[i] = "word" .. i end
local report = table.concat(words, " ") -- 1100 tokens in glmock's count

local sent = {}
local orig_gen, orig_stream = rest.generate, rest.stream
rest.generate = function(req, o) sent[#sent + 1] = req; return orig_gen(req, o) end
rest.stream = function(req, o) sent[#sent + 1] = req; return orig_stream(req, o) end

-- 1. create
local c = assert(caches.create{ model = "gemini-2.5-flash", system = "Answer from the report.",
  contents = { report }, ttl = "10m", display_name = "report" })
assert(c.name:match("^cachedContents/[a-z0-9]+$"), c.name)
assert(c.model == "models/gemini-2.5-flash" and c.displayName == "report")
assert(c.usageMetadata.totalTokenCount == 1100 + 4, c.usageMetadata.totalTokenCount)
assert(c.expireTime:match("^%d+%-%d+%-%d+T"), c.expireTime)
print("ok - create")

-- 2. ask with the cache: cachedContentTokenCount, nothing repeated
local resp = assert(gemini.generate("What is in it?", { cache = c, model = "gemini-2.5-flash" }))
assert(resp.text == "echo: What is in it?", resp.text)
assert(resp.usageMetadata.cachedContentTokenCount == 1104, tostring(resp.usageMetadata.cachedContentTokenCount))
assert(caches.cached_tokens(resp) == 1104 and caches.cached_tokens({}) == 0)
assert(resp.usageMetadata.promptTokenCount >= 1104, "the prompt counts the cached tokens too")
assert(sent[#sent].cachedContent == c.name and sent[#sent].systemInstruction == nil)
assert(gemini.ask("by name", { cache = c.name, model = "gemini-2.5-flash" }))
local ok, e = pcall(gemini.ask, "x", { cache = c, system = "again", model = "gemini-2.5-flash" })
assert(not ok and tostring(e):find("cache holds it", 1, true), tostring(e))
-- the service refuses a request that sets what the cache holds
local r2, e2 = orig_gen({ contents = { { role = "user", parts = { { text = "q" } } } }, cachedContent = c.name,
  systemInstruction = { parts = { { text = "again" } } } }, { model = "gemini-2.5-flash" })
assert(r2 == nil and e2.status == 400 and e2.message:find("can not be used with GenerateContent", 1, true), tostring(e2))
-- another model than the cache's
local r3, e3 = gemini.ask("q", { cache = c, model = "gemini-2.5-flash-lite" })
assert(r3 == nil and e3.status == 400 and e3.message:find("has to be the same", 1, true), tostring(e3))
print("ok - ask with a cache")

-- 3. a chat with the cache (REST)
local chat = gemini.chat{ cache = c, model = "gemini-2.5-flash", transport = "rest", system = "ignored: in the cache",
                          quiet = true }
assert(chat:send("first question") == "echo: first question")
assert(sent[#sent].cachedContent == c.name and sent[#sent].systemInstruction == nil)
assert(chat:send("second") == "echo: second")
assert(#sent[#sent].contents == 3, "the chat's own history follows the cache")
print("ok - chat with a cache")

-- 4. get, list, update, delete
assert(caches.get(c).name == c.name)
assert(caches.get(c.name:match("/(.*)$")).name == c.name, "a bare id")
local c2 = assert(caches.create{ model = "gemini-2.5-flash", contents = { report } })
local all = assert(caches.list{ page_size = 1 })
local seen = {}
for _, x in ipairs(all) do seen[x.name] = true end
assert(seen[c.name] and seen[c2.name], #all .. " caches listed")
local before = c.expireTime
local u = assert(caches.update(c, { ttl = 7200 }))
assert(u.expireTime > before, u.expireTime .. " <= " .. before)
assert(not pcall(caches.update, c, {}), "update without ttl or expire_time is misuse")
assert(caches.delete(c2) == true)
local g, gerr = caches.get(c2)
assert(g == nil and gerr.status == 403 and gerr.message:find("CachedContent not found", 1, true), tostring(gerr))
print("ok - get, list, update, delete")

-- 5. an expired cache
local short = assert(caches.create{ model = "gemini-2.5-flash", contents = { report }, ttl = 1 })
gl.sleep(1.3)
local r4, e4 = gemini.ask("late", { cache = short, model = "gemini-2.5-flash" })
assert(r4 == nil and e4.status == 403, tostring(e4))
print("ok - an expired cache")

-- 6. too small: an error, or false with if_large_enough
local s1, se = caches.create{ model = "gemini-2.5-flash", contents = { "too few words" } }
assert(s1 == nil and se.status == 400 and se.message:find("too small", 1, true), tostring(se))
assert(caches.create{ model = "gemini-2.5-flash", contents = { "too few words" }, if_large_enough = true } == false)
print("ok - the size minimum")

-- 7. ask{cache = {ttl}}: a cache for the system instruction and history,
-- used for this ask, then deleted
local n_before = #assert(caches.list())
sent = {}
local resp5 = assert(gemini.generate("the question", { cache = { ttl = 60 }, model = "gemini-2.5-flash",
  system = "Be brief.", history = { { role = "user", parts = { { text = report } } },
                                     { role = "model", parts = { { text = "noted" } } } } }))
assert(resp5.text == "echo: the question", resp5.text)
assert(caches.cached_tokens(resp5) > 1100, tostring(caches.cached_tokens(resp5)))
assert(#sent[1].contents == 1 and sent[1].systemInstruction == nil, "only the question is sent")
assert(#assert(caches.list()) == n_before, "the one-ask cache was deleted")
-- below the minimum: no cache, the request goes whole
sent = {}
local resp6 = assert(gemini.generate("small", { cache = { ttl = 60 }, system = "Be brief.", model = "gemini-2.5-flash" }))
assert(resp6.text == "echo: small" and caches.cached_tokens(resp6) == 0 and sent[1].cachedContent == nil)
rest.generate, rest.stream = orig_gen, orig_stream
caches.delete(c)
print("caches ok")
