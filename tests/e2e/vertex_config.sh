# Vertex AI detection and --explain-config (docs/protocol.md#environment-variables): which
# backend, project, location, credentials and URLs, and why; one-line
# errors for half a configuration; secrets never printed.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/vertex.sh"
clean_env
make_keys
GLMOCK_URL=http://127.0.0.1:9   # never contacted: --explain-config sends nothing
write_sa "$TMP/sa.json" "$TMP/key.pem"
KEYLINE=$(sed -n 2p "$TMP/key.pem")
APIKEY="AIzaVERTEXtestKEY-0123456789"

# the usual setup: flag, project, location, key file
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=my-proj GOOGLE_CLOUD_LOCATION=us-central1 \
  GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa.json" GEMINI_API_KEY="$APIKEY" "$GLRUN" --explain-config
expect_eq "explain: exit 0" 0 "$RC"
expect_match "explain: backend Vertex AI, decided by the flag" "backend +Vertex AI" "$OUT"
expect_match "explain: says which variable chose Vertex" "why: GOOGLE_GENAI_USE_VERTEXAI=true" "$OUT"
expect_match "explain: project from GOOGLE_CLOUD_PROJECT" "project +my-proj" "$OUT"
expect_match "explain: location" "location +us-central1" "$OUT"
expect_match "explain: the service account and its file" "service account glrun-test@proj-from-key.iam.gserviceaccount.com, key kid-1, file $TMP/sa.json" "$OUT"
expect_match "explain: regional host" "base URL +https://us-central1-aiplatform.googleapis.com" "$OUT"
expect_match "explain: v1beta1 by default" "API version +v1beta1" "$OUT"
expect_match "explain: Vertex REST URL" "/v1beta1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-3.8-flash:streamGenerateContent" "$OUT"
expect_match "explain: Vertex Live URL (slash form)" "wss://us-central1-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent" "$OUT"
expect_match "explain: Live setup.model is the full resource" "setup.model +projects/my-proj/locations/us-central1/publishers/google/models/gemini-live-2.5-flash-native-audio" "$OUT"
expect_match "explain: the ignored API key is named" "GEMINI_API_KEY: Vertex AI with a project" "$OUT"
expect_no_match "explain: no API key printed" "$APIKEY" "$OUT$ERR"
expect_no_match "explain: no private key printed" "$KEYLINE" "$OUT$ERR"

# only Vertex settings present (no flag, no API key): Vertex, project from the key file, location global
run env GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa.json" "$GLRUN" --explain-config
expect_eq "only Vertex settings: exit 0" 0 "$RC"
expect_match "only Vertex settings: Vertex" "why: no API key, and GOOGLE_APPLICATION_CREDENTIALS is set" "$OUT"
expect_match "project from the key file" "why: project_id in $TMP/sa.json" "$OUT"
expect_match "location defaults to global" "location +global" "$OUT"
expect_match "global host has no region prefix" "base URL +https://aiplatform.googleapis.com$" "$OUT"

# multi-region host, ENTERPRISE alias wins over a conflicting VERTEXAI=false
run env GOOGLE_GENAI_USE_ENTERPRISE=true GOOGLE_GENAI_USE_VERTEXAI=false GOOGLE_CLOUD_PROJECT=p \
  GOOGLE_CLOUD_LOCATION=eu GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa.json" "$GLRUN" --explain-config
expect_match "ENTERPRISE wins" "why: GOOGLE_GENAI_USE_ENTERPRISE=true" "$OUT"
expect_match "conflict warned" "disagree" "$ERR"
expect_match "eu multi-region host" "https://aiplatform.eu.rep.googleapis.com" "$OUT"

# express mode: Vertex + an API key, no project/location
run env GOOGLE_GENAI_USE_VERTEXAI=1 GOOGLE_API_KEY="$APIKEY" "$GLRUN" --explain-config
expect_eq "express: exit 0" 0 "$RC"
expect_match "express mode" "Vertex AI \(express mode\)" "$OUT"
expect_match "express REST URL has no project" "https://aiplatform.googleapis.com/v1beta1/publishers/google/models/gemini-3.8-flash:" "$OUT"
expect_no_match "express: key redacted" "$APIKEY" "$OUT$ERR"

# a ready token and a token command are credentials too
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GLRUN_ACCESS_TOKEN=ya29.SECRETtoken123 "$GLRUN" --explain-config
expect_match "ready token named" "why: GLRUN_ACCESS_TOKEN" "$OUT"
expect_no_match "ready token redacted" "SECRETtoken123" "$OUT$ERR"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GLRUN_ACCESS_TOKEN_COMMAND="gcloud auth print-access-token" "$GLRUN" --explain-config
expect_match "token command named" "command: gcloud auth print-access-token" "$OUT"

# the Gemini API stays the default with an API key; Vertex settings are reported as unused
run env GEMINI_API_KEY="$APIKEY" GOOGLE_CLOUD_LOCATION=us-central1 "$GLRUN" --explain-config
expect_match "API key: Gemini API" "backend +Gemini API" "$OUT"
expect_match "unused Vertex setting named" "GOOGLE_CLOUD_LOCATION: a Vertex AI setting" "$OUT"

# half configurations: one line, no traceback, exit 1
run env GOOGLE_GENAI_USE_VERTEXAI=true GLRUN_ACCESS_TOKEN=ya29.x "$GLRUN" --explain-config
expect_eq "no project: exit 1" 1 "$RC"
expect_match "no project: says what to set" "^glrun: config: Vertex AI needs a project: set GOOGLE_CLOUD_PROJECT" "$ERR"
expect_eq "no project: one line" 1 "$(printf '%s\n' "$ERR" | wc -l)"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p "$GLRUN" "$SRC/examples/hello.lua"
expect_eq "no credentials: exit 1" 1 "$RC"
expect_match "no credentials: says what to set" "Vertex AI needs credentials: set GOOGLE_APPLICATION_CREDENTIALS" "$ERR"
expect_no_match "no credentials: no traceback" "traceback" "$ERR"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GOOGLE_APPLICATION_CREDENTIALS="$TMP/missing.json" "$GLRUN" --explain-config
expect_match "missing key file named" "cannot read the credentials file $TMP/missing.json" "$ERR"
echo '{"type": "external_account"}' > "$TMP/ext.json"
run env GOOGLE_GENAI_USE_VERTEXAI=true GOOGLE_CLOUD_PROJECT=p GOOGLE_APPLICATION_CREDENTIALS="$TMP/ext.json" "$GLRUN" --explain-config
expect_match "unsupported credential type: says what to do" "external_account.*GLRUN_ACCESS_TOKEN_COMMAND" "$ERR"
run "$GLRUN" -e 'local c, e = require("gemini.config").resolve{ project = "p", api_key = "k" }; print(c, e)'
expect_match "project without Vertex mode is an error" "Gemini API does not support them" "$OUT"

# a key file others can read: a warning
cp "$TMP/sa.json" "$TMP/sa644.json"; chmod 644 "$TMP/sa644.json"
run env GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa644.json" "$GLRUN" --explain-config
expect_match "world-readable key warned" "readable by others \(mode 644\): run chmod 600" "$ERR"
run env GOOGLE_APPLICATION_CREDENTIALS="$TMP/sa.json" "$GLRUN" --explain-config
expect_no_match "mode 600: no warning" "readable by" "$ERR"

run "$GLRUN" --help
expect_match "--help names --explain-config" "--explain-config" "$OUT"
finish
