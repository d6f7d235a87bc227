# glrun serve in front of a hostile upstream that tries to hand the API key
# to the gateway's clients (tests/hostile/): echoed in an error's message,
# details and a header (echo-key), split across TCP writes inside a 200
# stream (secret-split), inside a stream's error (secret-sse-error), written
# with a JSON escape (gw-secret-escaped), and in a Live close reason or
# model turn. Not one byte a client receives holds it; the upstream's
# headers are not copied.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
make_token_file
AUTH="Authorization: Bearer $GW_TOKEN"
J='Content-Type: application/json'
BODY='{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
CLIENT="$SRC/tests/e2e/lib/serve_live_client.lua"

for mode in echo-key secret-split secret-sse-error gw-secret-escaped; do
  start_hostile "$mode"
  GW_UPSTREAM=$HOSTILE_URL start_gateway --access-token-file "$TMP/tokens.txt" --retry-wait 0
  U=$GW_URL/v1beta/models/gemini-2.5-flash
  gw_curl "$mode-gen" -H "$AUTH" -H "$J" -d "$BODY" "$U:generateContent"
  gw_curl "$mode-sse" -N -H "$AUTH" -H "$J" -d "$BODY" "$U:streamGenerateContent?alt=sse"
  WS=$(printf '%s' "$GW_URL" | sed 's/^http/ws/')
  timeout 60 "$GLRUN" "$CLIENT" "$WS/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent?key=$GW_TOKEN" "hi" \
    >>"$TMP/client-received.all" 2>&1
  # the hostile server saw the key: it is in the log of what it received
  expect_match "$mode: the upstream got the gateway's key" "$GW_KEY" "$(cat "$HOSTILE_LOG")"
  expect_no_match "$mode: the client's token was not forwarded" "$GW_TOKEN" "$(cat "$HOSTILE_LOG")"
  kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null
  kill $BG_PIDS 2>/dev/null; BG_PIDS=
done
expect_eq "echo-key: the upstream's 400 passed on" 400 "$(sed -n 's/^HTTP\/1.1 \([0-9]*\).*/\1/p' "$TMP/echo-key-gen.head" | head -1)"
expect_match "echo-key: redacted in place" '\*\*\*' "$(cat "$TMP/echo-key-gen.body")"
expect_no_match "echo-key: the upstream's headers are not copied" '^x-echo-key' "$(tr A-Z a-z <"$TMP/echo-key-gen.head")"
expect_match "secret-split: the stream arrived, redacted" 'the key is \*\*\*' "$(cat "$TMP/secret-split-sse.body")"
expect_match "gw-secret-escaped: the answer arrived, redacted" 'the key is \*\*\*' "$(cat "$TMP/gw-secret-escaped-gen.body")"
check_no_key
# the key with its first letter escaped, as a client's JSON parser would read it back
ESC_FREE=$(printf '%s' "$GW_KEY" | cut -c2-)
if grep -qF "$ESC_FREE" "$TMP/client-received.all"; then bad "the key's tail reached a client: $(grep -F "$ESC_FREE" "$TMP/client-received.all" | head -2)"
else ok "not even the key's tail reached a client"; fi
finish
