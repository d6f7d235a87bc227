# glrun policy simulate: a session recorded against glmock with failures in
# it (a Live handshake 404, a 429 with RetryInfo, a 1011 mid-turn, a
# goAway) is walked without network; each failure gets the policy's
# decision and its wait; --vs puts a second policy beside it.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/policy.sh"
clean_env
cat > "$TMP/rec.lua" <<'L'
local http = require "glrun.http"
local json = require "glrun.json"
local url = os.getenv("GLMOCK_URL") .. "/glmock/scenario"
assert(http.request{ method = "POST", url = url, headers = { ["Content-Type"] = "application/json" }, body = json.encode{
  { match = { kind = "live_handshake" }, count = 1, fault = { status = 404 } },
  { match = { kind = "rest", path = "GenerateContent" }, count = 1, fault = { status = 429, retry_delay = "2s" } },
  { match = { kind = "live_turn", text = "third" }, count = 1, fault = { close = 1011, after_chunks = 1 } },
  { match = { kind = "live_turn", text = "fourth" }, count = 1, fault = { go_away = "30s" } },
  { match = { kind = "rest", text = "midstream" }, count = 1, fault = { midstream_error = 503, after_events = 1 } } } })
-- auto: the 404 sends the first turn to REST (where the 429 waits for it)
local a = assert(gemini.chat{ live_model = "gemini-live-text-test", quiet = true, ratelimit = false })
print(assert(a:send("first question")))
-- REST: an error inside the stream (retried), a blocked prompt (no answer)
local r = assert(gemini.chat{ transport = "rest", quiet = true, ratelimit = false })
print(assert(r:send("a midstream question of some length")))
print(gemini.chat{ transport = "rest", quiet = true, ratelimit = false, model = "gemini-3.8-flash-blockprompt" }:send("x"))
-- Live only: a 1011 mid-turn
local b = assert(gemini.chat{ live_model = "gemini-live-text-test", transport = "live", quiet = true, ratelimit = false })
print(assert(b:send("third question")))
b:close()
-- a raw Live session: a goAway after the turn (read before closing, so it is recorded)
local s = assert(require("gemini.live").connect{ model = "gemini-live-text-test" })
assert(s:send_text("fourth question"))
for _ in s:events{ timeout = 15 } do end
repeat local ev = assert(s:recv(10)) until ev.type == "go_away"
s:close()
L
start_glmock
run env GEMINI_API_KEY=simulate-test-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/cas" "$TMP/rec.lua"
expect_eq "recording exits 0" 0 "$RC"
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
# The chat closes the blocked answer's request as soon as it reads the
# blocked chunk; whether the rest had come in by then is a race, so the
# exchange is made the abandoned kind here: what the answer said still wins
blocked=$(grep -l 'blockprompt' "$TMP"/cas/*-http.json | head -1)
if [ -n "$blocked" ]; then
  sed -i 's/"result":0\b/"result":-1/' "$blocked"
  grep -q '"result":-1' "$blocked" && ok "the blocked exchange made abandoned" || bad "no result field to change in $blocked"
else
  bad "no recorded exchange of the blocked prompt"
fi

run "$GLRUN" policy simulate "$TMP/cas"
expect_eq "simulate: exit 0" 0 "$RC"
expect_match "the count of exchanges and failures" "cas: [0-9]+ exchanges, 6 failures" "$OUT"
expect_match "handshake 404: fall back, circuit" "ws.json +Live: the WebSocket handshake got HTTP 404.* +fall back to REST gemini-[0-9.]+-flash, Live off for 60 s" "$OUT"
expect_match "429 with RetryInfo: the delay the server asked" "http.json +REST [^ ]+: HTTP 429 \(rate limit\), the server asks to wait 2 s +retry in 2.0 s" "$OUT"
expect_match "1011: reconnect" "Live gemini-live-text-test: .*1011.* +reconnect in" "$OUT"
expect_match "goAway: a new connection" "goAway, 30s left.* +the Live session moves to a new connection" "$OUT"
expect_match "an error inside a 200 stream: retried" "REST [^ ]+: HTTP 503 UNAVAILABLE \(server side\) +retry in" "$OUT"
expect_match "a blocked prompt: fail" "REST gemini-3.8-flash-blockprompt: the prompt was blocked \(SAFETY\) +fail" "$OUT"
expect_match "the total of the waits" "waits in total +[0-9.]+ s" "$OUT"

write_never_policy "$TMP/never.lua"
run "$GLRUN" policy simulate --vs "$TMP/never.lua" "$TMP/cas"
expect_eq "--vs: exit 0" 0 "$RC"
expect_match "--vs: a column per policy" "default +.*never.lua" "$OUT"
expect_match "--vs: the two decisions side by side" "retry in 2.0 s +fail" "$OUT"
expect_match "--vs: the totals side by side" "waits in total +[0-9.]+ s +0.0 s" "$OUT"
run "$GLRUN" policy simulate --policy "$TMP/never.lua" "$TMP/cas"
expect_match "--policy: that policy decides" "429.* +fail$" "$OUT"

run "$GLRUN" policy simulate "$TMP/nothing-here"
expect_eq "no cassette: exit 1" 1 "$RC"
expect_match "no cassette: one line" "no cassette files" "$ERR"
run "$GLRUN" policy simulate
expect_eq "no folder named: exit 2" 2 "$RC"
printf 'return { max_attempts = -1 }\n' > "$TMP/bad.lua"
run "$GLRUN" policy simulate --policy "$TMP/bad.lua" "$TMP/cas"
expect_eq "an invalid policy is refused: exit 1" 1 "$RC"
expect_match "an invalid policy: why" "max_attempts must be at least 1" "$ERR"
finish
