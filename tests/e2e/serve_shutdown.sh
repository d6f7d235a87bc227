# glrun serve's graceful shutdown (docs/serve.md#shutdown): SIGTERM while a
# stream is in flight -> no new connection is accepted, the open stream
# finishes whole, exit 0; with a --drain shorter than the stream, the
# gateway exits 0 at the deadline anyway.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
start_glmock
start_gateway --drain 60
J='Content-Type: application/json'
WORDS="w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19 w20"
# a slow model: 300 ms between chunks (max(3, 21/4) = 6 chunks: about 1.5 s)
curl -s -N --max-time 60 -H "$J" -d "{\"contents\":[{\"parts\":[{\"text\":\"$WORDS\"}]}]}" \
  "$GW_URL/v1beta/models/gemini-2.5-flash-slow:streamGenerateContent?alt=sse" >"$TMP/stream.out" 2>&1 &
CURL=$!
for _ in $(seq 1 200); do grep -q '^data: ' "$TMP/stream.out" 2>/dev/null && break; sleep 0.02; done
expect_match "the stream has begun" '^data: ' "$(head -1 "$TMP/stream.out")"
kill -TERM "$GW_PID"
sleep 0.3
CODE=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$GW_URL/v1beta/models")
expect_eq "no new connection after SIGTERM" 000 "$CODE"
wait "$CURL"
expect_eq "the in-flight stream ended cleanly" 0 "$?"
TEXT=$(grep '^data: ' "$TMP/stream.out" | grep -o '"text": *"[^"]*"' | sed 's/^"text": *"//; s/"$//' | tr -d '\n')
expect_eq "the in-flight stream finished whole" "echo: $WORDS" "$TEXT"
expect_match "it ends with finishReason STOP" '"finishReason": *"STOP"' "$(tail -3 "$TMP/stream.out")"
for _ in $(seq 1 200); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
wait "$GW_PID"
expect_eq "glrun serve exits 0 after SIGTERM" 0 "$?"
expect_match "the access log has the stream" 'streamGenerateContent model=gemini-2.5-flash-slow transport=rest status=200' "$(cat "$TMP/gw.err")"

# a drain deadline shorter than the answer: exit 0 at the deadline
start_gateway --drain 0.3
curl -s -N --max-time 30 -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' \
  "$GW_URL/v1beta/models/gemini-2.5-flash-hang:streamGenerateContent?alt=sse" >/dev/null 2>&1 &
CURL=$!
sleep 0.5
T0=$(date +%s)
kill -TERM "$GW_PID"
for _ in $(seq 1 300); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
wait "$GW_PID"
expect_eq "exit 0 at the drain deadline" 0 "$?"
T1=$(date +%s)
if [ $((T1 - T0)) -lt 10 ]; then ok "the drain deadline bounds the wait"; else bad "the drain took $((T1 - T0)) s"; fi
kill "$CURL" 2>/dev/null; wait "$CURL" 2>/dev/null
finish
