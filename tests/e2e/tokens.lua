-- gemini.tokens against glmock, end to end with gemini.live: the request
-- body and its field-lock rules (as the official SDKs build them), a token
-- that opens a Live session on the v1alpha Constrained method with its
-- locked setup applied, a used-up token, an expired one, bad options as
-- misuse, and Vertex AI refused in one line.
local tokens = require "gemini.tokens"
local live = require "gemini.live"
local json = require "glrun.json"

-- 1. the body: defaults (1 use, 30 min, 60 s), times in RFC 3339
local now = 1800000000 -- 2027-01-15T08:00:00Z
local b = tokens.request{ now = now }
assert(b.uses == 1, b.uses)
assert(b.expireTime == "2027-01-15T08:30:00.000000Z", b.expireTime)
assert(b.newSessionExpireTime == "2027-01-15T08:01:00.000000Z", b.newSessionExpireTime)
assert(b.bidiGenerateContentSetup == nil and b.fieldMask == nil)
b = tokens.request{ now = now, uses = 3, expire = "10m", new_session_expire = 90 }
assert(b.uses == 3 and b.expireTime == "2027-01-15T08:10:00.000000Z" and b.newSessionExpireTime == "2027-01-15T08:01:30.000000Z")
b = tokens.request{ now = now, expire = "2027-01-15T09:00:00Z" }
assert(b.expireTime == "2027-01-15T09:00:00Z")
print("ok - the request body and its defaults")

-- 2. field locks, as js-genai's convertBidiSetupToTokenSetup builds them
local setup = { model = "gemini-live-text-test", systemInstruction = { parts = { { text = "Be brief." } } },
                generationConfig = { responseModalities = { "TEXT" }, temperature = 0.2 } }
b = tokens.request{ now = now, setup = setup }
assert(b.bidiGenerateContentSetup.model == "models/gemini-live-text-test", "models/ prefix added")
assert(setup.model == "gemini-live-text-test", "the caller's table is not changed")
assert(b.fieldMask == nil, "no lock list: the whole setup is locked, no mask")
b = tokens.request{ now = now, setup = setup, lock = {} }
assert(b.fieldMask == "generationConfig.responseModalities,generationConfig.temperature,model,systemInstruction.parts",
  b.fieldMask)
b = tokens.request{ now = now, setup = { model = "m" }, lock = { "temperature", "sessionResumption" } }
assert(b.fieldMask == "model,generationConfig.temperature,sessionResumption", b.fieldMask)
b = tokens.request{ now = now, lock = { "temperature" } }
assert(b.fieldMask == "temperature" and b.bidiGenerateContentSetup == nil, tostring(b.fieldMask))
assert(tokens.request{ now = now, lock = {} }.fieldMask == nil)
assert(not pcall(tokens.request, { uses = 0 }), "uses 0 is misuse")
assert(not pcall(tokens.request, { expire = "soon" }), "an unreadable expiry is misuse")
assert(not pcall(tokens.request, { setup = "x" }), "a setup that is not a table is misuse")
print("ok - field locks as the SDKs build them")

-- 3. a token opens one Live session, with its locked setup: the model the
-- client asks for does not exist, the token's model is used instead
local tok = assert(tokens.create{ uses = 1, setup = { model = "gemini-live-text-test",
  generationConfig = { responseModalities = { "TEXT" } } } })
assert(tok.name:match("^auth_tokens/%w+$"), tok.name)
assert(tok.uses == 1 and tok.expireTime and tok.newSessionExpireTime)
local s = assert(live.connect{ token = tok, model = "gemini-nonexistent-live" })
assert(s.url:find("/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained", 1, true),
  s.url)
assert(s:send_text("hello token"))
local text = assert(s:receive_turn(20))
assert(text == "echo: hello token", text)
s:close()
print("ok - a token opens a Live session (Constrained, v1alpha) with its locked setup")

-- 4. the token is used up: a second session is refused (1007, said why)
local s2, e2 = live.connect{ client = { api_key = tok.name }, model = "gemini-live-text-test",
                             policy = { reconnect = false } }
assert(s2 == nil and e2.kind == "ws_closed" and e2.close_code == 1007, tostring(e2))
assert(tostring(e2):find("used up", 1, true), tostring(e2))
assert(not tostring(e2):find(tok.name, 1, true), "the token never appears in an error")
print("ok - a used-up token is refused")

-- 5. two uses: two sessions; a token whose session window has passed
local tok2 = assert(tokens.create{ uses = 2, setup = { model = "gemini-live-text-test" }, lock = {} })
for i = 1, 2 do
  local si = assert(live.connect{ token = tok2.name, model = "gemini-live-text-test", modality = "text" })
  assert(si:send_text("use " .. i))
  assert(si:receive_turn(20) == "echo: use " .. i)
  si:close()
end
local late = assert(tokens.create{ new_session_expire = 0.2, expire = 60 })
gl.sleep(0.5)
local s3, e3 = live.connect{ client = { api_key = late.name }, model = "gemini-live-text-test", modality = "text" }
assert(s3 == nil and e3.close_code == 1007 and tostring(e3):find("new sessions", 1, true), tostring(e3))
print("ok - uses counted; the new-session window closes")

-- 6. a token is not an API key: the plain method refuses it
local tok3 = assert(tokens.create{})
local s4, e4 = live.connect{ client = { api_key = tok3.name }, model = "gemini-live-text-test", modality = "text",
                             api_version = "v1beta" }
assert(s4 == nil, "a token on v1beta")
assert(e4.kind == "ws_handshake" and e4.status == 404, tostring(e4))
print("ok - the token works on the v1alpha Constrained method only")

-- 7. Vertex AI: one clear line, nothing sent
local nt, verr = tokens.create{ client = { vertexai = true, api_key = "vertex-express-key" } }
assert(nt == nil and verr.kind == "unsupported", tostring(verr))
assert(not tostring(verr):find("\n"), "one line")
assert(tostring(verr):find("Gemini API", 1, true))
print("ok - Vertex AI refused in one line")

-- 8. the wire body glmock got is the SDKs' shape (fieldMask a string)
local enc = json.encode(tokens.request{ now = now, setup = { model = "m", generationConfig = { seed = 1 } }, lock = {} })
assert(enc:find('"fieldMask":"generationConfig.seed,model"', 1, true), enc)
print("tokens ok")
