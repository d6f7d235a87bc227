# Vertex AI service-account auth against glmock's OAuth endpoint, which
# verifies the JWT's RS256 signature with the test key pair's public key
# (docs/protocol.md#vertex-oauth): the JWT checked independently with openssl, token
# caching, refresh before expiry, one refresh shared by concurrent tasks,
# a 401 on an expired token refreshed once, a wrong key refused, ready
# tokens from the environment or a command, and redaction.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/vertex.sh"
command -v curl >/dev/null || { echo "# skipped: no curl"; exit 77; }
clean_env
make_keys
start_glmock --oauth-public-key "kid-1=$TMP/pub.pem" --token-lifetime 4
write_sa "$TMP/sa.json" "$TMP/key.pem"
vertex_env

# --- one run, two requests: one token request; the JWT as sent ----------
cat > "$TMP/two.lua" <<'L'
local auth = require "gemini.auth"
print(gemini.ask("first call"))
print(gemini.ask("second call"))
print("REFRESHES", auth.stats.refreshes)
L
run "$GLRUN" --trace "$TMP/trace1.jsonl" "$TMP/two.lua"
expect_eq "two Vertex calls: exit 0" 0 "$RC"
expect_match "answers over Vertex REST" "echo: first call" "$OUT"
expect_match "the token is cached: one refresh" "REFRESHES	1" "$OUT"
expect_eq "glmock saw one token request" 1 "$(oauth_stat token_requests)"
expect_eq "both calls carried an accepted bearer" 2 "$(oauth_stat bearer_ok)"

JWT=$(oauth_stat last_assertion)
IFS=. read -r H C S <<<"$JWT"
HDR=$(printf '%s' "$H" | b64url_decode)
CLM=$(printf '%s' "$C" | b64url_decode)
expect_eq "JWT header as google-auth writes it" '{"typ": "JWT", "alg": "RS256", "kid": "kid-1"}' "$HDR"
expect_match "claims: iss is the client_email" '"iss": "glrun-test@proj-from-key.iam.gserviceaccount.com"' "$CLM"
expect_match "claims: aud is Google's token endpoint" '"aud": "https://oauth2.googleapis.com/token"' "$CLM"
expect_match "claims: cloud-platform scope" '"scope": "https://www.googleapis.com/auth/cloud-platform"' "$CLM"
IAT=$(printf '%s' "$CLM" | grep -o '"iat": [0-9]*' | grep -o '[0-9]*$')
EXP=$(printf '%s' "$CLM" | grep -o '"exp": [0-9]*' | grep -o '[0-9]*$')
expect_eq "claims: exp = iat + 3600" 3600 "$((EXP - IAT))"
NOW=$(date +%s)
if [ $((NOW - IAT)) -ge 0 ] && [ $((NOW - IAT)) -lt 120 ]; then ok "claims: iat is now"; else bad "claims: iat $IAT vs now $NOW"; fi
printf '%s.%s' "$H" "$C" > "$TMP/signing_input"
printf '%s' "$S" | b64url_decode > "$TMP/sig.bin"
V=$(openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig.bin" "$TMP/signing_input" 2>&1)
expect_eq "openssl verifies the RS256 signature" "Verified OK" "$V"
V2=$(openssl dgst -sha256 -verify "$TMP/pub.pem" -signature "$TMP/sig.bin" "$TMP/sa.json" 2>&1)
expect_no_match "...and only over the signing input" "^Verified OK$" "$V2"

# --- refresh before expiry (lifetime 4 s, skew 1 s) --------------------
cat > "$TMP/refresh.lua" <<'L'
local auth = require "gemini.auth"
local c = require("gemini.config").get()
assert(gemini.ask("one"))
local t1 = auth.state(c).token
gl.sleep(1.5)
assert(gemini.ask("two"))                 -- 2.5 s left: still the same token
local t2 = auth.state(c).token
gl.sleep(1.8)                             -- 0.7 s left: within the skew -> refreshed
assert(gemini.ask("three"))
local t3 = auth.state(c).token
print("SAME", t1 == t2, "NEW", t2 ~= t3, "REFRESHES", auth.stats.refreshes)
L
BEFORE=$(oauth_stat token_requests)
run env GLRUN_TOKEN_REFRESH_SKEW=1 "$GLRUN" "$TMP/refresh.lua"
expect_eq "refresh run: exit 0" 0 "$RC"
expect_match "token kept while valid, refreshed before expiry" "SAME	true	NEW	true	REFRESHES	2" "$OUT"
expect_eq "glmock saw two token requests" 2 "$(( $(oauth_stat token_requests) - BEFORE ))"
expect_eq "no request ever used an expired token" 0 "$(oauth_stat bearer_expired)"

# --- many tasks at once share one refresh ------------------------------
cat > "$TMP/concurrent.lua" <<'L'
local auth = require "gemini.auth"
local tasks = {}
for i = 1, 25 do tasks[i] = gl.spawn(function() return gemini.ask("task " .. i) end) end
local good = 0
for i = 1, 25 do if tasks[i]:join() == "echo: task " .. i then good = good + 1 end end
print("GOOD", good, "REFRESHES", auth.stats.refreshes, "WAITS", auth.stats.waits)
L
BEFORE=$(oauth_stat token_requests)
run "$GLRUN" "$TMP/concurrent.lua"
expect_match "25 concurrent tasks, one refresh, 24 waited for it" "GOOD	25	REFRESHES	1	WAITS	24" "$OUT"
expect_eq "glmock saw one token request for 25 tasks" 1 "$(( $(oauth_stat token_requests) - BEFORE ))"

# --- a token that expired anyway: 401, refreshed once, request repeated --
cat > "$TMP/expired.lua" <<'L'
local auth = require "gemini.auth"
assert(gemini.ask("before"))
gl.sleep(4.3)                             -- negative skew: the cached token is used past its expiry
print(assert(gemini.ask("after expiry")), "REFRESHES", auth.stats.refreshes)
L
BEFORE=$(oauth_stat bearer_expired)
run env GLRUN_TOKEN_REFRESH_SKEW=-30 "$GLRUN" "$TMP/expired.lua"
expect_match "after a 401 the call succeeds with a new token" "echo: after expiry	REFRESHES	2" "$OUT"
expect_eq "glmock refused the expired token once" 1 "$(( $(oauth_stat bearer_expired) - BEFORE ))"
run curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer ya29.glmock-1-0000' \
  "$GLMOCK_URL/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent" -d '{}'
expect_eq "glmock: unknown/expired token -> 401" 401 "$OUT"
run curl -s -X POST "$GLMOCK_URL/v1beta1/projects/p/locations/l/publishers/google/models/gemini-2.5-flash:generateContent" -d '{}'
expect_match "glmock: missing token -> 401 UNAUTHENTICATED" '"status": "UNAUTHENTICATED"' "$OUT"

# --- a key glmock does not know: refused, one clear line ------------------
write_sa "$TMP/wrong.json" "$TMP/other.pem"
BEFORE=$(oauth_stat bad_signatures)
run env GOOGLE_APPLICATION_CREDENTIALS="$TMP/wrong.json" "$GLRUN" "$SRC/examples/hello.lua"
expect_eq "wrong key: exit 1" 1 "$RC"
expect_match "wrong key: invalid_grant from the token endpoint" "auth: service account .*: the token request to .*/token failed: invalid_grant: Invalid JWT Signature" "$ERR"
expect_eq "wrong key: glmock rejected the signature" 1 "$(( $(oauth_stat bad_signatures) - BEFORE ))"

# --- a ready token, and a command printing one ----------------------------
TOKEN=$(curl -s -X POST "$GLMOCK_URL/token" --data-urlencode "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer" \
  --data-urlencode "assertion=$(
    h=$(printf '{"alg":"RS256","typ":"JWT"}' | openssl base64 -A | tr '+/' '-_' | tr -d '=')
    n=$(date +%s)
    c=$(printf '{"iss":"shell@test","aud":"https://oauth2.googleapis.com/token","scope":"https://www.googleapis.com/auth/cloud-platform","iat":%d,"exp":%d}' "$n" $((n+600)) | openssl base64 -A | tr '+/' '-_' | tr -d '=')
    s=$(printf '%s.%s' "$h" "$c" | openssl dgst -sha256 -sign "$TMP/key.pem" | openssl base64 -A | tr '+/' '-_' | tr -d '=')
    printf '%s.%s.%s' "$h" "$c" "$s")" | grep -o '"access_token": *"[^"]*"' | cut -d'"' -f4)
expect_match "a JWT signed by openssl gets a token" "^ya29\.glmock-" "$TOKEN"
run env -u GOOGLE_APPLICATION_CREDENTIALS GLRUN_ACCESS_TOKEN="$TOKEN" "$GLRUN" -e 'print(gemini.ask("ready token"))'
expect_match "GLRUN_ACCESS_TOKEN works" "echo: ready token" "$OUT"
printf '#!/bin/sh\necho "%s"\necho ran >> "%s/cmd.count"\n' "$TOKEN" "$TMP" > "$TMP/print-token"
chmod +x "$TMP/print-token"
run env -u GOOGLE_APPLICATION_CREDENTIALS GLRUN_ACCESS_TOKEN_COMMAND="$TMP/print-token" "$GLRUN" \
  -e 'print(gemini.ask("a")); print(gemini.ask("b"))'
expect_match "GLRUN_ACCESS_TOKEN_COMMAND works" "echo: b" "$OUT"
expect_eq "the command ran once for two calls" 1 "$(wc -l < "$TMP/cmd.count")"
run env -u GOOGLE_APPLICATION_CREDENTIALS GLRUN_ACCESS_TOKEN_COMMAND=false "$GLRUN" -e 'print(gemini.ask("a"))'
expect_match "a failing command: clear error" "auth: the access-token command .* failed" "$OUT"

# --- gcloud's application-default credentials (authorized_user) ---------
mkdir -p "$TMP/gcloud"
cat > "$TMP/gcloud/application_default_credentials.json" <<J
{"type": "authorized_user", "client_id": "cid.apps.googleusercontent.com", "client_secret": "SECRETclient123",
 "refresh_token": "1//SECRETrefresh456", "token_uri": "$GLMOCK_URL/token"}
J
chmod 600 "$TMP/gcloud/application_default_credentials.json"
BEFORE=$(oauth_stat tokens_issued)
run env -u GOOGLE_APPLICATION_CREDENTIALS CLOUDSDK_CONFIG="$TMP/gcloud" "$GLRUN" --trace "$TMP/trace3.jsonl" \
  -e 'print(gemini.ask("adc user"))'
expect_match "gcloud ADC file found and its refresh token used" "echo: adc user" "$OUT"
expect_eq "...one token issued for it" 1 "$(( $(oauth_stat tokens_issued) - BEFORE ))"
expect_no_match "client secret and refresh token redacted" "SECRETclient123|SECRETrefresh456" "$OUT$ERR$(cat "$TMP/trace3.jsonl")"

# --- redaction: no token, assertion or private key anywhere --------------
KEYLINE=$(sed -n 3p "$TMP/key.pem")
cat > "$TMP/leak.lua" <<'L'
local auth = require "gemini.auth"
local c = require("gemini.config").get()
assert(gemini.ask("trace me"))
local tok = auth.state(c).token
print("TOKEN", gl.redact(tok))      -- print() is the script's own output: it redacts on request
gl.log("warn", "token in a log line: " .. tok)
local pem = c.auth.info.private_key
print("KEY", gl.redact(pem))
local _, e = gemini.ask("x", { model = "gemini-nonexistent" })
print("ERR", e)
error("failing with the token " .. tok)
L
run "$GLRUN" --log-level debug --trace "$TMP/trace2.jsonl" "$TMP/leak.lua"
ALL="$OUT$ERR$(cat "$TMP/trace1.jsonl" "$TMP/trace2.jsonl")"
expect_match "the trace holds the token request" '"kind":"http_request".*/token' "$(cat "$TMP/trace2.jsonl")"
expect_no_match "no access token in output, logs, errors or traces" "ya29\.glmock-" "$ALL"
expect_no_match "no assertion anywhere" "$H\.$C" "$ALL"
expect_no_match "no private key anywhere" "$KEYLINE" "$ALL"
expect_match "printed secrets show as ***" "TOKEN	\*\*\*" "$OUT"
expect_match "the script error is there, redacted" "failing with the token \*\*\*" "$ERR"
finish
