# glrun doctor names the cause of each fault glmock can produce: a bad
# key, a region refusal, a retired model, an audio-only model asked for
# text, a skewed server clock, a 429 per minute vs per day; exit 1 each
# time, and no secret in any output.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/doctor.sh"
doctor_on_glmock
SCEN="$GLMOCK_URL/glmock/scenario"

# a bad key: REST 400 API_KEY_INVALID, Live 1007
GEMINI_API_KEY=bad doctor
expect_cause key bad_key
expect_cause "live gemini-3.8-live" bad_key
expect_text_cause "key invalid"

# a region refusal: REST 400 FAILED_PRECONDITION, Live 1007 "User location is not supported"
GEMINI_API_KEY=unsupported-location doctor
expect_cause key region
expect_cause "live gemini-3.8-live" region
expect_text_cause "region"

# a retired Live model: absent from models.list, and Live closes with 1008
GLRUN_LIVE_MODEL=gemini-2.0-flash-live-001 doctor
expect_cause "model gemini-2.0-flash-live-001" model_not_found
expect_cause "live gemini-2.0-flash-live-001" model_not_found
expect_text_cause "model not found \(1008\)"
expect_match "the report says it was shut down and names its replacement" "was shut down on 2025-12-09; its replacement is" "$TEXT"
expect_match "the rest of the chain still works" "^live gemini-3.8-live	true	-$" "$ROWS"
expect_no_secret

# an audio-only Live model asked for text: 1007
doctor --modality text
expect_cause "live gemini-3.8-live" modality
expect_text_cause "model does not support Live / modality \(1007\)"
expect_match "the close code and reason are shown" "close 1007 \"The requested combination of response modalities \(TEXT\)" "$TEXT"
expect_no_secret

# a 429 on a per-minute quota, then on a per-day quota
run curl -s -XPOST "$SCEN" -d '[{"match": {"kind": "rest", "model": "gemini-3.8-flash"}, "count": -1, "fault": {"status": 429}}]'
doctor
expect_cause "rest gemini-3.8-flash" quota_minute
expect_cause quota quota_minute
expect_text_cause "quota: per-minute limit \(429\)"
expect_match "the policy's answer: retry after the server's delay" "fix: the policy retries after 1.5 s" "$TEXT"
run curl -s -XDELETE "$SCEN"
run curl -s -XPOST "$SCEN" -d '[{"match": {"kind": "rest", "model": "gemini-3.8-flash"}, "count": -1,
  "fault": {"status": 429, "quota_id": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}}]'
doctor
expect_cause "rest gemini-3.8-flash" quota_day
expect_cause quota quota_day
expect_text_cause "quota: per-day limit \(429\)"
expect_match "the policy's answer: the next model" "fix: the policy falls back to the next model" "$TEXT"
expect_no_secret
run curl -s -XDELETE "$SCEN"

# no key at all: the configuration check says so, nothing else runs
(unset GEMINI_API_KEY; doctor; printf '%s\n%s\n%s\n' "$TRC $JRC" "$ROWS" "$TEXT" >"$TMP/nokey")
expect_match "no key: the config check fails, exit 1" "^1 1$" "$(head -1 "$TMP/nokey")"
expect_match "no key: cause config" "^config	false	config$" "$(cat "$TMP/nokey")"
expect_match "no key: the fix says which variables to set" "GEMINI_API_KEY" "$(cat "$TMP/nokey")"

# Vertex AI with an access token the server refuses
VTOKEN="ya29.DOCTOR-distinctive-token-5511"
(unset GEMINI_API_KEY GOOGLE_GEMINI_BASE_URL
 export GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_VERTEX_BASE_URL="$GLMOCK_URL" GOOGLE_CLOUD_PROJECT=proj \
        GOOGLE_CLOUD_LOCATION=us-central1 GLRUN_ACCESS_TOKEN=expired
 doctor; printf '%s\n%s\n' "$TRC $JRC" "$ROWS" >"$TMP/vexp"
 GLRUN_ACCESS_TOKEN="$VTOKEN" doctor; printf '%s' "$ALL" >"$TMP/vok")
expect_match "Vertex AI, a refused token: exit 1" "^1 1$" "$(head -1 "$TMP/vexp")"
expect_match "Vertex AI, a refused token: cause auth" "^key	false	auth$" "$(cat "$TMP/vexp")"
expect_match "Vertex AI: the key check is countTokens with the token" "countTokens: HTTP 200" "$(cat "$TMP/vok")"
expect_no_match "Vertex AI: the token is never printed" "DOCTOR-distinctive-token" "$(cat "$TMP/vok")"

# a policy file that does not load: named, with the cause
printf 'return { chain = \n' >"$TMP/bad_policy.lua"
run env LANG=C.UTF-8 "$GLRUN" --policy "$TMP/bad_policy.lua" doctor --timeout 5 --deadline 40
expect_eq "a bad policy file: exit 1" "1" "$RC"
expect_match "a bad policy file: the policy check names it" "^✗ policy +the policy file .*bad_policy.lua does not load" "$OUT"

# a server whose Date is an hour ahead
kill "$GLMOCK_PID"; GLMOCK_PID=
doctor_on_glmock --date-offset 3600
doctor
expect_cause clock clock_skew
expect_text_cause "clock skew"
expect_match "the skew is measured" "\(\+3[56][0-9][0-9] s\)" "$TEXT"
expect_no_secret
finish
