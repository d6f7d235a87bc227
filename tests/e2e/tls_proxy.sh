# TLS verification is on unless turned off for one base URL; proxies are
# honoured the way curl does (HTTPS_PROXY/HTTP_PROXY, NO_PROXY).
. "$(dirname "$0")/lib/sh.sh"
clean_env
start_tls_server

cat > "$TMP/tls.lua" <<'L'
local http = require "glrun.http"
local url = arg[1]
local r, e = http.request{ url = url .. "/", timeout = 10 }
print("VERIFY", r and r.status, e and e.kind)
local r2, e2 = http.request{ url = url .. "/", timeout = 10, insecure = true }
print("INSECURE", r2 and r2.status, e2 and e2.kind)
-- through gemini: TLS off only for the base URL named in GLRUN_INSECURE_TLS
local _, e3 = gemini.ask("x", { client = { api_key = "k", base_url = url } })
print("GEMINI", e3 and e3.kind, e3 and e3.status)
L
run "$GLRUN" "$TMP/tls.lua" "$TLS"
expect_match "a self-signed certificate is refused" "VERIFY	nil	tls" "$OUT"
expect_match "insecure=true accepts it" "INSECURE	200	nil" "$OUT"
expect_match "gemini refuses it too" "GEMINI	tls" "$OUT"
expect_match "insecure=true is warned about" "TLS verification is OFF" "$ERR"
run env GLRUN_TIMEOUT=3 GLRUN_INSECURE_TLS="$TLS" "$GLRUN" "$TMP/tls.lua" "$TLS"
# s_server -www answers GET only; the POST gets a non-JSON reply: an http or protocol error, not tls
expect_no_match "GLRUN_INSECURE_TLS lifts it for that base URL" "GEMINI	tls" "$OUT"

# proxies: a proxy that is down is used (connect error), NO_PROXY bypasses it
start_glmock
cat > "$TMP/proxy.lua" <<'L'
local http = require "glrun.http"
local r, e = http.request{ url = os.getenv("GLMOCK_URL") .. "/v1beta/models", headers = { ["x-goog-api-key"] = "k" } }
print("RESULT", r and r.status, e and e.kind, e and e.message)
L
run env -u NO_PROXY -u no_proxy HTTP_PROXY=http://127.0.0.1:1 http_proxy=http://127.0.0.1:1 "$GLRUN" "$TMP/proxy.lua"
expect_match "HTTP_PROXY is honoured" "RESULT	nil	connect" "$OUT"
run env HTTP_PROXY=http://127.0.0.1:1 http_proxy=http://127.0.0.1:1 NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 "$GLRUN" "$TMP/proxy.lua"
expect_match "NO_PROXY bypasses it" "RESULT	200" "$OUT"
finish
