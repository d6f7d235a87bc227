# glrun serve with --cert/--key (HTTPS and WSS on the same port) and
# --cors ORIGIN (preflight and the allow-origin header; none without it),
# --max-connections (503 past it).
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v curl >/dev/null || { echo "SKIPPED: curl not installed"; exit 77; }
command -v openssl >/dev/null || { echo "SKIPPED: openssl not installed"; exit 77; }
start_glmock
make_token_file
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/k.pem" -out "$TMP/c.pem" -days 1 -subj /CN=127.0.0.1 2>/dev/null
start_gateway --cert "$TMP/c.pem" --key "$TMP/k.pem" --access-token-file "$TMP/tokens.txt" --cors https://app.example
expect_match "the URL is https" '^https://127\.0\.0\.1:[0-9]+$' "$GW_URL"
AUTH="Authorization: Bearer $GW_TOKEN"
gw_curl tls --cacert "$TMP/c.pem" -H "$AUTH" "$GW_URL/v1beta/models/gemini-2.5-flash"
expect_eq "a request over TLS" 200 "$CODE"
gw_curl plain -H "$AUTH" "$(printf '%s' "$GW_URL" | sed 's/^https/http/')/v1beta/models/gemini-2.5-flash"
if [ "$CODE" = 200 ]; then bad "plain HTTP answered on the TLS port"; else ok "no plain-HTTP answer on the TLS port ($CODE)"; fi
gw_curl stream --cacert "$TMP/c.pem" -N -H "$AUTH" -H 'Content-Type: application/json' \
  -d '{"contents":[{"parts":[{"text":"over tls"}]}]}' "$GW_URL/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
expect_match "a stream over TLS" '"finishReason": "STOP"' "$(cat "$TMP/stream.body")"

# CORS
gw_curl pre --cacert "$TMP/c.pem" -XOPTIONS -H "Origin: https://app.example" -H "Access-Control-Request-Method: POST" \
  "$GW_URL/v1beta/models/gemini-2.5-flash:generateContent"
expect_eq "preflight 204" 204 "$CODE"
H=$(tr -d '\r' <"$TMP/pre.head" | tr A-Z a-z)
expect_match "preflight allows the origin" '^access-control-allow-origin: https://app.example' "$H"
expect_match "preflight allows the headers" '^access-control-allow-headers: .*x-goog-api-key' "$H"
gw_curl co --cacert "$TMP/c.pem" -H "Origin: https://app.example" -H "$AUTH" "$GW_URL/v1beta/models/gemini-2.5-flash"
expect_match "the answer allows the origin" '^access-control-allow-origin: https://app.example' "$(tr -d '\r' <"$TMP/co.head" | tr A-Z a-z)"
gw_curl other --cacert "$TMP/c.pem" -H "Origin: https://evil.example" -H "$AUTH" "$GW_URL/v1beta/models/gemini-2.5-flash"
expect_no_match "another origin is not allowed" 'access-control-allow-origin' "$(tr A-Z a-z <"$TMP/other.head")"
kill "$GW_PID" 2>/dev/null; wait "$GW_PID" 2>/dev/null

start_gateway --max-connections 2
gw_curl nocors -H "Origin: https://app.example" "$GW_URL/v1beta/models/gemini-2.5-flash"
expect_eq "without --cors the request is answered" 200 "$CODE"
expect_no_match "without --cors: no allow-origin header" 'access-control-allow-origin' "$(tr A-Z a-z <"$TMP/nocors.head")"
gw_curl nopre -XOPTIONS -H "Origin: https://app.example" "$GW_URL/v1beta/models/gemini-2.5-flash:generateContent"
expect_eq "without --cors: no preflight" 404 "$CODE"
# --max-connections 2: two held connections, the third is refused with 503
J='Content-Type: application/json'
HELD=
for i in 1 2; do
  curl -s -N --max-time 20 -H "$J" -d '{"contents":[{"parts":[{"text":"x"}]}]}' \
    "$GW_URL/v1beta/models/gemini-2.5-flash-hang:streamGenerateContent?alt=sse" >/dev/null 2>&1 &
  HELD="$HELD $!"
done
CODE=
for _ in $(seq 1 100); do
  CODE=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$GW_URL/v1beta/models/gemini-2.5-flash")
  [ "$CODE" = 503 ] && break
  sleep 0.1
done
expect_eq "past --max-connections: 503" 503 "$CODE"
kill $HELD 2>/dev/null; wait $HELD 2>/dev/null
CODE=
for _ in $(seq 1 100); do
  CODE=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$GW_URL/v1beta/models/gemini-2.5-flash")
  [ "$CODE" = 200 ] && break
  sleep 0.1
done
expect_eq "connections freed: answered again" 200 "$CODE"
check_no_key
stop_gateway
finish
