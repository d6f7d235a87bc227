-- token.lua — an ephemeral token: a backend with the API key hands a
-- browser a token that opens one Live session, locked to a model and a
-- modality; here the same script plays the browser too.
--
--   glrun --mock examples/token.lua
local tok = assert(gemini.tokens.create{
  uses = 1, expire = "10m", new_session_expire = "1m",
  setup = { model = "gemini-live-text-test", generationConfig = { responseModalities = { "TEXT" } } },
})
print("token for the client: auth_tokens/..." .. (" (%d use, until %s)"):format(tok.uses, tok.expireTime))

-- the client: the token instead of a key; gemini.live picks the v1alpha
-- BidiGenerateContentConstrained endpoint for it
local s = assert(gemini.live.connect{ token = tok, modality = "text" })
assert(s:send_text("Hello from the browser"))
local answer = assert(s:receive_turn(30))
print(answer)
s:close()

-- used up: a second session is refused
local again, err = gemini.live.connect{ client = { api_key = tok.name }, modality = "text",
                                        policy = { reconnect = false } }
print(again == nil and ("second session refused: close %s"):format(err.close_code))
