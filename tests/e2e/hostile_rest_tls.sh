# REST and Live trust the same CA set: CURL_CA_BUNDLE, else SSL_CERT_FILE,
# else the system store, for both transports. A
# certificate this machine does not trust is not retried: the policy
# leaves that transport for the turn at once.
. "$(dirname "$0")/lib/sh.sh"
clean_env
# this test sets the CA variables itself (a CI machine may export them)
unset CURL_CA_BUNDLE SSL_CERT_FILE
start_tls_server
# the certificate is for "localhost"
BASE="https://localhost:$PORT"

cat > "$TMP/tls.lua" <<'L'
local http = require "glrun.http"
local ws = require "glrun.ws"
local base = arg[1]
local res, e = http.request{ url = base .. "/", timeout = 10 }
print("REST", res and res.status, e and e.kind)
local t, ge = gemini.ask("hi", { client = { base_url = base, api_key = "AIzaFAKE-tls-test-key" }, timeout = 3 })
print("ASK", t, ge and ge.kind)
local c, we = ws.connect{ url = base:gsub("^https", "wss") .. "/ws", timeout = 10 }
print("LIVE", c ~= nil, we and we.kind)
L

run "$GLRUN" "$TMP/tls.lua" "$BASE"
expect_match "no SSL_CERT_FILE: REST refuses the self-signed certificate (kind tls)" "^REST	nil	tls" "$OUT"
expect_match "no SSL_CERT_FILE: gemini.ask too" "^ASK	nil	tls" "$OUT"
expect_match "no SSL_CERT_FILE: Live refuses it as well" "^LIVE	false	tls" "$OUT"

run env SSL_CERT_FILE="$TMP/c.pem" "$GLRUN" "$TMP/tls.lua" "$BASE"
expect_match "SSL_CERT_FILE: REST gets through TLS (s_server's page, HTTP 200)" "^REST	200	nil" "$OUT"
# (s_server -www does not answer a POST as Gemini would: some other error)
expect_match "SSL_CERT_FILE: gemini.ask still fails (s_server is no Gemini)" "^ASK	nil	[a-z_]+" "$OUT"
expect_no_match "SSL_CERT_FILE: ... but not on TLS" "^ASK	nil	tls" "$OUT"
expect_match "SSL_CERT_FILE: Live gets past TLS too (same CA set: the upgrade is refused)" "^LIVE	false	ws_handshake" "$OUT"

# CURL_CA_BUNDLE (curl's variable) is honoured by both transports too, and
# wins over SSL_CERT_FILE (one rule in C: CURL_CA_BUNDLE, SSL_CERT_FILE,
# the system default)
run env CURL_CA_BUNDLE="$TMP/c.pem" "$GLRUN" "$TMP/tls.lua" "$BASE"
expect_match "CURL_CA_BUNDLE: REST gets through TLS" "^REST	200	nil" "$OUT"
expect_match "CURL_CA_BUNDLE: Live gets past TLS too" "^LIVE	false	ws_handshake" "$OUT"
: > "$TMP/empty.pem"
run env CURL_CA_BUNDLE="$TMP/c.pem" SSL_CERT_FILE="$TMP/empty.pem" "$GLRUN" "$TMP/tls.lua" "$BASE"
expect_match "CURL_CA_BUNDLE wins over SSL_CERT_FILE: REST" "^REST	200	nil" "$OUT"
expect_match "CURL_CA_BUNDLE wins over SSL_CERT_FILE: Live" "^LIVE	false	ws_handshake" "$OUT"

# the policy: a TLS failure is not retried, and no other model of the
# same transport is tried (same endpoint, same certificate)
run env GOOGLE_GEMINI_BASE_URL="$BASE" GEMINI_API_KEY=AIzaFAKE-tls-test-key "$GLRUN" ask "hi"
expect_eq "glrun ask against an untrusted certificate exits 1" 1 "$RC"
expect_no_match "it is not retried" "-> retrying" "$ERR"
expect_no_match "no other REST model is tried" "falling back to REST" "$ERR"
expect_match "the last line says TLS failed" "^glrun ask: REST gemini-3.8-flash.*TLS failed" "$(printf '%s\n' "$ERR" | tail -1)"
cat > "$TMP/chat.lua" <<'L'
local chat = gemini.chat{ quiet = true, transport = "auto" }
local _, err = chat:send("hi")
local tried = {}
for _, a in ipairs(err.attempts) do tried[#tried + 1] = a.transport .. ":" .. a.model end
print("ATTEMPTS", table.concat(tried, " "))
L
run env GOOGLE_GEMINI_BASE_URL="$BASE" GEMINI_API_KEY=AIzaFAKE-tls-test-key "$GLRUN" "$TMP/chat.lua"
expect_match "transport auto: one Live attempt, one REST attempt, then it fails" \
  "^ATTEMPTS	live:[^ ]+ rest:gemini-3.8-flash$" "$OUT"
finish
