# glrun serve's Live side against glmock (docs/serve.md#live-proxy):
#   * a client that did not ask for session resumption survives a goAway
#     and an upstream drop (the gateway resumes upstream with its handle,
#     hides goAway and the updates, asks a cut turn again);
#   * an upstream handshake refusal reaches a Live client as the same status;
#   * a wrong token: close 1007, as the service answers a bad key;
#   * a REST-shaped call for a model the policy serves Live first is
#     answered over Live (x-glrun-transport: live), and over REST when
#     glmock refuses Live (x-glrun-transport: rest, x-glrun-fallback);
#   * the key in nothing a client received; the Live session gauge.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
start_glmock
cat >"$TMP/policy.lua" <<'EOF'
return { chain = { live = { "gemini-live-text-test" }, rest = { "gemini-2.5-flash" } }, backoff_base = 0.05 }
EOF
GW_GLRUN_OPTS="--policy $TMP/policy.lua" start_token_gateway
WS=$(printf '%s' "$GW_URL" | sed 's/^http/ws/')
LIVE="$WS//ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CLIENT="$SRC/tests/e2e/lib/serve_live_client.lua"
counter() { curl -s --max-time 10 "$GLMOCK_URL/glmock/scenario" | grep -o "\"$1\": *[0-9]*" | grep -o '[0-9]*$'; }

# goAway: answered, then the next turn (after glmock closed the old connection) works
glmock_scenario '[]'
H0=$(counter live_handshake)
run "$GLRUN" "$CLIENT" "$LIVE?key=$GW_TOKEN" "please goaway now" "sleep:2.5" "after the move"
echo "$OUT" >>"$TMP/client-received.all"
expect_match "goAway turn answered" '^turn 1 echo: please goaway now$' "$OUT"
expect_match "the next turn answered on the new connection" '^turn 3 echo: after the move$' "$OUT"
expect_no_match "the client never saw the goAway" 'seen goAway' "$OUT"
expect_no_match "nor a resumption update" 'seen sessionResumptionUpdate' "$OUT"
expect_no_match "nor a close" '^closed' "$OUT"
H1=$(counter live_handshake)
expect_eq "the gateway reconnected upstream once" 2 "$((H1 - H0))"

# a drop after one chunk: the gateway resumes and asks the turn again
glmock_scenario '[{"match":{"kind":"live_turn","text":"vanish"},"fault":{"drop":true,"after_chunks":1}}]'
run "$GLRUN" "$CLIENT" "$LIVE?key=$GW_TOKEN" "first turn" "vanish now please" "third turn"
echo "$OUT" >>"$TMP/client-received.all"
expect_match "turn before the drop" '^turn 1 echo: first turn$' "$OUT"
expect_match "the cut turn answered whole" '^turn 2 echo: vanish now please$' "$OUT"
expect_match "the client was told the partial answer is void" 'seen interrupted' "$OUT"
expect_match "the session goes on" '^turn 3 echo: third turn$' "$OUT"
expect_no_match "no close reached the client" '^closed' "$OUT"
# a drop before any chunk: no interrupted needed
glmock_scenario '[{"match":{"kind":"live_turn","text":"early"},"fault":{"drop":true}}]'
run "$GLRUN" "$CLIENT" "$LIVE?key=$GW_TOKEN" "early vanish" "next"
expect_match "a turn dropped before its answer is answered" '^turn 1 echo: early vanish$' "$OUT"
expect_match "and the next" '^turn 2 echo: next$' "$OUT"

# connections that age out (glmock --lifetime 3: goAway at 1.5 s, close at
# 3 s), also in the middle of slow turns: every turn is answered whole, the
# client sees one session
"$GLMOCK" --port 0 --lifetime 3 >"$TMP/glmock2.out" 2>/dev/null &
BG_PIDS="$BG_PIDS $!"
for _ in $(seq 1 100); do M2=$(grep -o 'http://[0-9.:]*' "$TMP/glmock2.out" 2>/dev/null | head -1); [ -n "$M2" ] && break; sleep 0.05; done
SAVED_PID=$GW_PID SAVED_URL=$GW_URL
GW_UPSTREAM=$M2 start_gateway --access-token-file "$TMP/tokens.txt"
WS2=$(printf '%s' "$GW_URL" | sed 's/^http/ws/')
run "$GLRUN" "$CLIENT" "$WS2/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=$GW_TOKEN" \
  "one slowframes" "sleep:1" "two slowframes" "three slowframes" "sleep:1" "four"
echo "$OUT" >>"$TMP/client-received.all"
expect_match "aged connections: turn 1" '^turn 1 echo: one slowframes$' "$OUT"
expect_match "aged connections: turn 3" '^turn 3 echo: two slowframes$' "$OUT"
expect_match "aged connections: turn 4" '^turn 4 echo: three slowframes$' "$OUT"
expect_match "aged connections: turn 6" '^turn 6 echo: four$' "$OUT"
expect_no_match "aged connections: no goAway, no close seen" '^(closed|seen goAway)' "$OUT"
stop_gateway
GW_PID=$SAVED_PID GW_URL=$SAVED_URL

# an upstream close that is not a drop: the same code reaches the client
glmock_scenario '[{"match":{"kind":"live_turn","text":"refuse"},"fault":{"close":1008}}]'
run "$GLRUN" "$CLIENT" "$LIVE?key=$GW_TOKEN" "refuse this"
echo "$OUT" >>"$TMP/client-received.all"
expect_match "1008 passed to the client with its reason" '^closed 1008 models/gemini-live-text-test is not found' "$OUT"

# a wrong token: 1007 after the setup
run "$GLRUN" "$CLIENT" "$LIVE?key=wrong" "hi"
expect_match "a wrong token: close 1007" '^closed 1007 API key not valid' "$OUT"

# the upstream refuses the Live handshake (a proxy without WebSocket): the same status
glmock_scenario '[{"match":{"kind":"live_handshake"},"count":1,"fault":{"status":404}}]'
run "$GLRUN" "$CLIENT" "$LIVE?key=$GW_TOKEN" "hi"
expect_match "upstream handshake 404 -> 404" '^handshake 404' "$OUT"

# REST-shaped calls for a model the policy serves Live first
AUTH="Authorization: Bearer $GW_TOKEN"
J='Content-Type: application/json'
U=$GW_URL/v1beta/models
gw_curl lf -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"over live"}]}]}' "$U/gemini-live-text-test:generateContent"
expect_eq "Live-first generateContent 200" 200 "$CODE"
expect_match "answered over Live" '^x-glrun-transport: live' "$(tr -d '\r' <"$TMP/lf.head")"
expect_match "REST-shaped answer" '"text":"echo: over live"' "$(cat "$TMP/lf.body")"
expect_match "with a finishReason" '"finishReason":"STOP"' "$(cat "$TMP/lf.body")"
gw_curl lfs -N -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"one two three four five six"}]}]}' "$U/gemini-live-text-test:streamGenerateContent?alt=sse"
expect_match "Live-first stream over Live" '^x-glrun-transport: live' "$(tr -d '\r' <"$TMP/lfs.head")"
expect_eq "Live-first stream text" "echo: one two three four five six" \
  "$(grep '^data: ' "$TMP/lfs.body" | sed 's/^data: //' | grep -o '"text":"[^"]*"' | sed 's/^"text":"//; s/"$//' | tr -d '\n')"
# a Live answer cut after its first chunk is asked again: the unary answer holds it once
glmock_scenario '[{"match":{"kind":"live_turn","text":"cut once"},"fault":{"drop":true,"after_chunks":1}}]'
gw_curl lfcut -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"cut once here"}]}]}' "$U/gemini-live-text-test:generateContent"
expect_eq "a Live answer cut and restarted: 200" 200 "$CODE"
expect_match "the restarted answer, once" '"text":"echo: cut once here"' "$(cat "$TMP/lfcut.body")"
glmock_scenario '[{"match":{"kind":"live_handshake"},"count":-1,"fault":{"status":404}}]'
gw_curl fb -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"live refused"}]}]}' "$U/gemini-live-text-test:generateContent"
expect_eq "Live 404 upstream: still 200" 200 "$CODE"
expect_match "answered over REST" '^x-glrun-transport: rest' "$(tr -d '\r' <"$TMP/fb.head")"
expect_match "the fallback said in one line" '^x-glrun-fallback: .*404' "$(tr -d '\r' <"$TMP/fb.head")"
expect_match "the REST answer" 'echo: live refused' "$(cat "$TMP/fb.body")"
expect_match "answered by the REST chain's model" '"modelVersion":"gemini-2.5-flash"' "$(cat "$TMP/fb.body")"
curl -s --max-time 10 -XDELETE "$GLMOCK_URL/glmock/scenario" >/dev/null

gw_curl met -H "$AUTH" "$GW_URL/metrics"
expect_match "no Live session left open" 'glrun_gateway_live_sessions_open 0' "$(cat "$TMP/met.body")"
expect_match "reconnects counted" 'glrun_gateway_live_reconnects_total [1-9]' "$(cat "$TMP/met.body")"
expect_match "Live first-token latency" 'glrun_gateway_upstream_first_token_seconds_count\{transport="live"\} [1-9]' "$(cat "$TMP/met.body")"
expect_match "Live->REST fallback counted" 'glrun_gateway_fallbacks_total\{from="live",to="rest"\} [1-9]' "$(cat "$TMP/met.body")"
check_no_key
stop_gateway
finish
