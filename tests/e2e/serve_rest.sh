# glrun serve, the REST routes against glmock (docs/serve.md): answers,
# streams, 404s and traversal, tokens (400 API_KEY_INVALID / 401), body
# limit (413), per-client rate limit (429), policy fallback along a chain
# with x-glrun-fallback, upstream errors passed through in shape, the
# access log, /metrics, clients that leave (mid-stream, before a streamed
# or a unary answer: 499, counted), and the API key in nothing a client
# receives.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
start_glmock
cat >"$TMP/policy.lua" <<'EOF'
return { chain = { live = {}, rest = { "gemini-2.5-pro", "gemini-2.5-flash" } }, backoff_base = 0.05 }
EOF
GW_GLRUN_OPTS="--policy $TMP/policy.lua" start_token_gateway --max-body 4096 --rate-limit 1000 --retry-wait 4
AUTH="Authorization: Bearer $GW_TOKEN"
U=$GW_URL/v1beta/models
J='Content-Type: application/json'

gw_curl gen -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"hello gateway"}]}]}' "$U/gemini-2.5-flash:generateContent"
expect_eq "generateContent 200" 200 "$CODE"
expect_match "generateContent text" '"text": *"echo: hello gateway"' "$(cat "$TMP/gen.body")"
expect_match "x-glrun-transport: rest" '^x-glrun-transport: rest' "$(tr -d '\r' <"$TMP/gen.head")"

gw_curl sse -N -H "x-goog-api-key: $GW_TOKEN" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"one two three four five six"}]}]}' "$U/gemini-2.5-flash:streamGenerateContent?alt=sse"
expect_eq "stream 200" 200 "$CODE"
expect_match "stream is SSE" '^content-type: text/event-stream' "$(tr -d '\r' <"$TMP/sse.head" | tr A-Z a-z)"
expect_eq "stream events" "$(grep -c '^data: ' "$TMP/sse.body")" "$(grep -c '"candidates"' "$TMP/sse.body")"
expect_match "stream ends with STOP" '"finishReason": *"STOP"' "$(grep '^data: ' "$TMP/sse.body" | tail -1)"

gw_curl count -H "$AUTH" -H "$J" -d '{"contents":[{"role":"user","parts":[{"text":"three small words"}]}]}' "$U/gemini-2.5-flash:countTokens?key=$GW_TOKEN"
expect_match "countTokens" '"totalTokens": *3' "$(cat "$TMP/count.body")"
gw_curl list -H "$AUTH" "$U?pageSize=2"
expect_match "models.list" '"nextPageToken"' "$(cat "$TMP/list.body")"
gw_curl get -H "$AUTH" "$U/gemini-2.5-flash"
expect_match "models.get" '"name": *"models/gemini-2.5-flash"' "$(cat "$TMP/get.body")"

# 404s: never a file from disk
for p in /nope /v1beta/nope /../etc/passwd /%2e%2e/%2e%2e/etc/passwd //etc/passwd /v1beta/models/..%2f..%2fetc:generateContent /index.php; do
  gw_curl nf --path-as-is -H "$AUTH" "$GW_URL$p"
  expect_eq "404 for $p" 404 "$CODE"
  expect_no_match "no file content for $p" 'root:' "$(cat "$TMP/nf.body")"
done
expect_match "404 in the google.rpc.Status shape" '"status": *"NOT_FOUND"' "$(cat "$TMP/nf.body")"

# tokens
gw_curl badkey -H "x-goog-api-key: wrong" -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/gemini-2.5-flash:generateContent"
expect_eq "a wrong token on a Gemini route: 400" 400 "$CODE"
expect_match "API_KEY_INVALID" '"reason": *"API_KEY_INVALID"' "$(cat "$TMP/badkey.body")"
gw_curl nokey -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/gemini-2.5-flash:generateContent"
expect_eq "no token on a Gemini route: 400" 400 "$CODE"
gw_curl met401 "$GW_URL/metrics"
expect_eq "/metrics without a token: 401" 401 "$CODE"
expect_match "401 shape" '"code": *401' "$(cat "$TMP/met401.body")"
gw_curl tok401 -XPOST "$GW_URL/token"
expect_eq "/token without a token: 401" 401 "$CODE"
gw_curl chat401 -XPOST -d '{}' "$GW_URL/api/chat"
expect_eq "/api/chat without a token: 401" 401 "$CODE"
gw_curl second -H "Authorization: Bearer second-token" "$U/gemini-2.5-flash"
expect_eq "the file's second token works" 200 "$CODE"

# body limit
head -c 8000 /dev/zero | tr '\0' 'a' >"$TMP/big.txt"
gw_curl big -H "$AUTH" -H "$J" --data-binary "@$TMP/big.txt" "$U/gemini-2.5-flash:generateContent"
expect_eq "a body over --max-body: 413" 413 "$CODE"

# upstream errors: passed through in shape (after the bounded retries)
gw_curl rl -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/gemini-ratelimited-test:generateContent"
expect_eq "429 passed through" 429 "$CODE"
expect_match "with RetryInfo" 'google.rpc.RetryInfo' "$(cat "$TMP/rl.body")"
gw_curl ne -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/gemini-nonexistent-test:generateContent"
expect_eq "404 passed through" 404 "$CODE"
expect_match "404 body" 'NOT_FOUND' "$(cat "$TMP/ne.body")"
gw_curl ov -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' "$U/gemini-overloaded-test:generateContent"
expect_eq "503 passed through" 503 "$CODE"

# a 429 twice, then an answer: the gateway retries (RetryInfo 0.1s)
glmock_scenario '[{"match":{"kind":"rest","model":"gemini-2.5-flash-lite"},"count":2,"fault":{"status":429,"retry_delay":"0.1s"}}]'
gw_curl retry -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"after retries"}]}]}' "$U/gemini-2.5-flash-lite:generateContent"
expect_eq "retried to a 200" 200 "$CODE"
expect_match "retried answer" 'echo: after retries' "$(cat "$TMP/retry.body")"

# fallback along the policy's chain: gemini-2.5-pro fails (503 for ever) -> gemini-2.5-flash
glmock_scenario '[{"match":{"kind":"rest","model":"gemini-2.5-pro"},"count":-1,"fault":{"status":503}}]'
gw_curl fb -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"fall forward"}]}]}' "$U/gemini-2.5-pro:generateContent"
expect_eq "fallback answered" 200 "$CODE"
expect_match "answered by the next model" '"modelVersion": *"gemini-2.5-flash"' "$(cat "$TMP/fb.body")"
expect_match "x-glrun-fallback header" '^x-glrun-fallback: .*gemini-2.5-pro' "$(tr -d '\r' <"$TMP/fb.head")"
gw_curl fbs -N -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"fall forward streaming"}]}]}' "$U/gemini-2.5-pro:streamGenerateContent?alt=sse"
expect_eq "streamed fallback answered" 200 "$CODE"
expect_match "streamed fallback header" '^x-glrun-fallback: ' "$(tr -d '\r' <"$TMP/fbs.head")"

# metrics
gw_curl met -H "$AUTH" "$GW_URL/metrics"
expect_eq "/metrics 200" 200 "$CODE"
M=$(cat "$TMP/met.body")
expect_match "requests counted" 'glrun_gateway_requests_total\{route="generateContent",status="200"\} [1-9]' "$M"
expect_match "fallbacks counted" 'glrun_gateway_fallbacks_total\{from="rest",to="rest"\} [1-9]' "$M"
expect_match "retries counted" 'glrun_gateway_retries_total\{model="gemini-2.5-flash-lite"\} [1-9]' "$M"
expect_match "the client queue high-water mark" 'glrun_gateway_client_queue_max_bytes [0-9]+' "$M"
expect_match "latency histogram" 'glrun_gateway_upstream_first_token_seconds_count\{transport="rest"\} [1-9]' "$M"

# the page: served without a token when embedded, else a 404
gw_curl page "$GW_URL/"
if [ "$CODE" = 200 ]; then ok "the page is served without a token"; else expect_eq "no page: 404" 404 "$CODE"; fi

# the page's chat endpoint (gemini.gateway_chat) through the router
gw_curl apichat -N -H "$AUTH" -H "$J" -d '{"messages":[{"role":"user","text":"hi page"}]}' "$GW_URL/api/chat"
if [ -f "$SRC/lua/gemini/gateway_chat.lua" ]; then
  expect_eq "/api/chat answered" 200 "$CODE"
  expect_match "/api/chat streams the answer" 'echo' "$(cat "$TMP/apichat.body")"
else
  expect_eq "/api/chat without the page's handler: 404" 404 "$CODE"
fi
# ephemeral tokens
gw_curl tok -H "$AUTH" -H "$J" -d '{"model":"gemini-live-text-test","uses":1,"ttl":"10m"}' "$GW_URL/token"
expect_eq "POST /token" 200 "$CODE"
expect_match "an ephemeral token" '"name":"auth_tokens(\\)?/' "$(cat "$TMP/tok.body")"

# the access log: one line per request, no query, no token
LOG=$(cat "$TMP/gw.err")
expect_match "access log line" 'POST /v1beta/models/gemini-2.5-flash:generateContent model=gemini-2.5-flash transport=rest status=200 first_token_ms=[0-9]+ total_ms=[0-9]+' "$LOG"
expect_match "access log: fallback" 'model=gemini-2.5-flash transport=rest status=200 .* fallback=1' "$LOG"
expect_no_match "access log: no query" 'countTokens\?' "$LOG"
expect_no_match "access log: no token" "$GW_TOKEN" "$LOG"
expect_no_match "access log: no key" "$GW_KEY" "$LOG"

# a client that goes away mid-stream ends the upstream stream (5000 events,
# 300 ms apart: 25 minutes if nobody cancelled it)
curl -s -N --max-time 2 -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"a b c d"}]}]}' \
  "$U/gemini-many-slow-test:streamGenerateContent?alt=sse" >/dev/null 2>&1
for _ in $(seq 1 400); do grep -q 'gemini-many-slow-test' "$TMP/gw.err" && break; sleep 0.05; done
expect_match "a stream the client left is ended (its log line written)" \
  'POST /v1beta/models/gemini-many-slow-test:streamGenerateContent .*status=200' "$(cat "$TMP/gw.err")"

# a client that goes away before the upstream has answered at all (glmock's
# "hang" never does) frees its upstream request at once (http.sse's
# on_start), not at the idle timeout (60 s): logged as 499, counted
curl -s -N --max-time 1 -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"a"}]}]}' \
  "$U/gemini-hang:streamGenerateContent?alt=sse" >/dev/null 2>&1
for _ in $(seq 1 400); do grep -q 'gemini-hang:streamGenerateContent' "$TMP/gw.err" && break; sleep 0.05; done
expect_match "a client gone before any answer: the request ends, 499" \
  'POST /v1beta/models/gemini-hang:streamGenerateContent .*status=499' "$(cat "$TMP/gw.err")"
gw_curl metrics2 -H "$AUTH" "$GW_URL/metrics"
expect_match "counted as cancelled" 'glrun_serve_cancelled_total [1-9]' "$(cat "$TMP/metrics2.body")"
# the same for a unary generateContent: the handler's watcher, woken by
# req:wait_closed() when the client leaves, closes the upstream request
N_BEFORE=$(sed -n 's/^glrun_serve_cancelled_total \([0-9]*\).*/\1/p' "$TMP/metrics2.body")
curl -s --max-time 1 -H "$AUTH" -H "$J" -d '{"contents":[{"parts":[{"text":"a"}]}]}' \
  "$U/gemini-hang:generateContent" >/dev/null 2>&1
for _ in $(seq 1 400); do grep -q 'gemini-hang:generateContent' "$TMP/gw.err" && break; sleep 0.05; done
expect_match "a unary call whose client left before the answer: the request ends, 499" \
  'POST /v1beta/models/gemini-hang:generateContent .*status=499' "$(cat "$TMP/gw.err")"
gw_curl metrics3 -H "$AUTH" "$GW_URL/metrics"
expect_eq "the unary cancel counted too" "$((${N_BEFORE:-0} + 1))" \
  "$(sed -n 's/^glrun_serve_cancelled_total \([0-9]*\).*/\1/p' "$TMP/metrics3.body")"

# rate limit: a second gateway with 3 requests per minute per client
kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null
start_gateway --access-token-file "$TMP/tokens.txt" --rate-limit 3 --access-log "$TMP/access.log"
U=$GW_URL/v1beta/models
for i in 1 2 3; do gw_curl rl$i -H "$AUTH" "$U/gemini-2.5-flash"; done
expect_eq "within the rate limit" 200 "$CODE"
gw_curl rl4 -H "$AUTH" "$U/gemini-2.5-flash"
expect_eq "over the rate limit: 429" 429 "$CODE"
expect_match "429 with RetryInfo" 'RetryInfo' "$(cat "$TMP/rl4.body")"
gw_curl rl5 -H "Authorization: Bearer second-token" "$U/gemini-2.5-flash"
expect_eq "another client has its own budget" 200 "$CODE"
expect_eq "--access-log FILE: a line per request" 5 "$(wc -l <"$TMP/access.log" | tr -d ' ')"

check_no_key

# a non-loopback listen without tokens refuses to start, in one line
run "$GLRUN" serve --listen 0.0.0.0:0
expect_eq "non-loopback without tokens: exit 1" 1 "$RC"
expect_match "one line naming --access-token-file" '^glrun serve: .*--access-token-file' "$ERR"
expect_eq "stderr is one line" 1 "$(printf '%s\n' "$ERR" | wc -l | tr -d ' ')"
run "$GLRUN" serve --listen nope
expect_eq "a bad --listen: exit 2" 2 "$RC"
run "$GLRUN" serve --help
expect_match "--help lists every flag" '--access-token-file.*' "$OUT"
for f in --listen --access-token-file --cert --key --cors --access-log --max-body --max-message --max-connections --rate-limit --retry-wait --drain; do
  case "$OUT" in *"$f"*) ;; *) bad "--help does not document $f";; esac
done
stop_gateway
finish
