# Vertex AI end to end against glmock: REST (generate, SSE stream,
# countTokens) on the project/location model path, Live on the
# LlmBidiService endpoint with the full model resource in setup and a
# bearer token on the upgrade, and the chat policy falling back from a Live
# model Vertex does not serve (close 1008) to REST, as on the API-key
# backend. Also the express mode (API key, no project).
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/vertex.sh"
clean_env
make_keys
start_glmock --oauth-public-key "$TMP/pub.pem"
write_sa "$TMP/sa.json" "$TMP/key.pem"
vertex_env

cat > "$TMP/rest.lua" <<'L'
local rest = require "gemini.rest"
local resp = assert(rest.generate(gemini.request("vertex generate")))
assert(resp.text == "echo: vertex generate", resp.text)
assert(resp.createTime and resp.usageMetadata.trafficType == "ON_DEMAND", "a Vertex response")
local parts = {}
for piece in assert(gemini.stream("vertex stream three words")) do parts[#parts + 1] = piece end
assert(table.concat(parts) == "echo: vertex stream three words", table.concat(parts))
assert(#parts > 1, "streamed in pieces")
local n = assert(rest.count_tokens(gemini.request("count these four")))
assert(n == 3, "countTokens " .. tostring(n))
local _, err = gemini.ask("x", { model = "gemini-nonexistent" })
assert(err.status == 404 and err.message:find("Publisher Model `projects/my-proj/locations/us-central1/publishers/google/models/gemini-nonexistent`", 1, true), tostring(err))
print("REST OK")
L
run "$GLRUN" --trace "$TMP/trace.jsonl" "$TMP/rest.lua"
expect_eq "Vertex REST: exit 0" 0 "$RC"
expect_match "Vertex REST: all checks" "REST OK" "$OUT"
[ "$RC" = 0 ] || echo "$ERR"
TRACE=$(cat "$TMP/trace.jsonl")
expect_match "generateContent on the project/location path" "\"url\":\"$GLMOCK_URL/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-3.8-flash:generateContent\"" "$TRACE"
expect_match "streamGenerateContent with alt=sse" "publishers/google/models/gemini-3.8-flash:streamGenerateContent\?alt=sse" "$TRACE"
expect_match "Authorization: Bearer, redacted" "Authorization: Bearer \*\*\*" "$TRACE"
expect_no_match "no API key header on Vertex" "x-goog-api-key" "$TRACE"

cat > "$TMP/live.lua" <<'L'
local live = require "gemini.live"
local s = assert(live.connect{ model = "gemini-live-text-test" })
assert(s.url:find("/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent", 1, true), s.url)
assert(s.setup.model == "projects/my-proj/locations/us-central1/publishers/google/models/gemini-live-text-test", s.setup.model)
assert(type(s.session_id) == "string", "Vertex setupComplete carries a sessionId")
assert(s:send_text("hello live vertex"))
local text = s:receive_turn(10)
assert(text == "echo: hello live vertex", text)
s:close()
-- a model Vertex does not serve: close 1008 "Publisher Model ... was not found"
local s2, err = live.connect{ model = "gemini-2.5-flash-live" }
assert(not s2 and err.close_code == 1008, tostring(err))
print("LIVE OK")
L
run "$GLRUN" --trace "$TMP/trace_live.jsonl" "$TMP/live.lua"
expect_eq "Vertex Live: exit 0" 0 "$RC"
expect_match "Vertex Live: all checks" "LIVE OK" "$OUT"
[ "$RC" = 0 ] || echo "$ERR"
expect_no_match "Live trace: no token" "ya29\.glmock-" "$(cat "$TMP/trace_live.jsonl")"

# the upgrade itself needs the bearer: without one, HTTP 401 at the handshake
run "$GLRUN" -e '
  local ws = require "glrun.ws"
  local c, e = ws.connect{ url = os.getenv("GOOGLE_VERTEX_BASE_URL"):gsub("^http", "ws")
    .. "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent", timeout = 5 }
  print(c, e and e.kind, e and e.status)'
expect_match "Live upgrade without a token: HTTP 401" "ws_handshake	401" "$OUT"

# the chat policy: Vertex's default Live model is not in glmock's Vertex
# catalog -> 1008 -> fallback to REST on Vertex, then the circuit skips Live
cat > "$TMP/chat.lua" <<'L'
local chat = gemini.chat{ quiet = true }
local evs = {}
chat:on("fallback", function(e) evs[#evs + 1] = e end)
local a1 = assert(chat:send("first turn"))
assert(a1 == "echo: first turn", a1)
assert(chat.last_turn.transport == "rest" and chat.last_turn.model == "gemini-3.8-flash")
assert(#evs == 1 and evs[1].transport == "live" and evs[1].model == "gemini-live-2.5-flash-native-audio")
assert(evs[1].err.close_code == 1008, tostring(evs[1].err))
assert(evs[1].reason:find("1008", 1, true))
local a2 = assert(chat:send("second turn"))
assert(chat.last_turn.transport == "rest" and chat.last_turn.attempts == 1, "the circuit skips Live")
-- a Live model Vertex serves (glmock's test model): the turn stays on Live
local live_chat = gemini.chat{ quiet = true, live_model = "gemini-live-text-test" }
assert(live_chat:send("over live") == "echo: over live")
assert(live_chat.last_turn.transport == "live")
print("CHAT OK")
L
run "$GLRUN" "$TMP/chat.lua"
expect_eq "chat on Vertex: exit 0" 0 "$RC"
expect_match "chat on Vertex falls back like on the API-key backend" "CHAT OK" "$OUT"
[ "$RC" = 0 ] || echo "$ERR"

# on the API-key backend the Vertex id gives way to its replacement
# (gemini.models names it; it serves Live there)
run env -u GOOGLE_GENAI_USE_VERTEXAI -u GOOGLE_CLOUD_PROJECT -u GOOGLE_APPLICATION_CREDENTIALS \
  GEMINI_API_KEY=k GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" -e '
  local chat = gemini.chat{ quiet = true, live_model = "gemini-live-2.5-flash-native-audio" }
  print(chat:send("hi"), chat.last_turn.transport)'
expect_match "API-key backend: the Vertex id's replacement answers" "echo: hi	live" "$OUT"

# express mode: Vertex with an API key, no project
run env -u GOOGLE_CLOUD_PROJECT -u GOOGLE_CLOUD_LOCATION -u GOOGLE_APPLICATION_CREDENTIALS \
  GOOGLE_API_KEY=express-key "$GLRUN" --trace "$TMP/trace_x.jsonl" -e 'print(gemini.ask("express"))'
expect_match "express mode answers" "echo: express" "$OUT"
expect_match "express mode path has no project" "$GLMOCK_URL/v1beta1/publishers/google/models/gemini-3.8-flash:generateContent" "$(cat "$TMP/trace_x.jsonl")"
finish
