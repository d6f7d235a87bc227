# glrun doctor on a Live handshake 404: the probes beside it (the same
# upgrade without the proxy, the slash form, the host without the base
# URL's path, the other API versions) name the cause: a proxy that strips
# upgrades, a wrong path, a wrong API version.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/doctor.sh"
doctor_on_glmock

# a wrong path: a base URL whose path serves REST but not Live (glmock's /proxy/)
GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL/proxy" doctor
expect_cause "live upgrade" wrong_path
expect_text_cause "wrong path"
expect_match "the report shows what each probe saw" "the host without the base URL's path /proxy: 101" "$TEXT"
expect_match "the fix names the base URL to use" "fix: set the base URL to $GLMOCK_URL" "$TEXT"
expect_match "REST works meanwhile" "^rest gemini-3.8-flash	true	-$" "$ROWS"
expect_no_secret
# a policy whose chat never tries Live does not need it: exit 0, Live not probed
printf 'return { transports = { "rest" } }\n' >"$TMP/rest_only.lua"
run env LANG=C.UTF-8 GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL/proxy" "$GLRUN" --policy "$TMP/rest_only.lua" doctor --timeout 5 --deadline 40
expect_eq "a REST-only policy: exit 0 though Live would fail" "0" "$RC"
expect_match "a REST-only policy: the Live upgrade is not probed" "^– live upgrade +not run: the policy's chat does not use Live" "$OUT"

# a wrong API version: v2 serves neither REST nor Live; v1beta does
GOOGLE_GENAI_API_VERSION=v2 doctor
expect_cause "live upgrade" wrong_api_version
expect_cause "key" wrong_api_version
expect_text_cause "wrong API version"
expect_match "the Live probe of v1beta upgraded" "API version v1beta: 101" "$TEXT"
expect_no_secret

# a proxy that refuses upgrades (and passes REST): tests/hostile/modes/doctor_proxy_refuse.mjs
command -v node >/dev/null || { echo "SKIPPED: node not installed (the proxy needs it)"; finish; }
KEEP_URL="$GLMOCK_URL"
start_hostile doctor_proxy_refuse
PROXY="$HOSTILE_URL"
clean_env
unset NO_PROXY no_proxy
export GOOGLE_GEMINI_BASE_URL="$KEEP_URL" GEMINI_API_KEY="$DOCTOR_KEY" HTTP_PROXY="$PROXY" http_proxy="$PROXY"
doctor
expect_cause "live upgrade" proxy_upgrade
expect_text_cause "a proxy strips upgrades"
expect_match "the upgrade without the proxy was tried and worked" "without the proxy: 101" "$TEXT"
expect_match "REST went through the proxy and worked" "^rest gemini-3.8-flash	true	-$" "$ROWS"
expect_match "the proxy check says which proxy each transport uses" "Live: via proxy $PROXY \(http_proxy, a CONNECT tunnel\)" "$TEXT"
expect_match "the Live upgrade went to the proxy (a CONNECT tunnel)" "\"method\":\"CONNECT\"" "$(cat "$HOSTILE_LOG")"
expect_match "the Live setup check is skipped, not failed" "^live gemini-3.8-live	-	-$" "$ROWS"
expect_no_secret
# a proxy that answers upgrades with 400 instead
kill $BG_PIDS 2>/dev/null; BG_PIDS=
start_hostile doctor_proxy_refuse 400
clean_env; unset NO_PROXY no_proxy
export GOOGLE_GEMINI_BASE_URL="$KEEP_URL" GEMINI_API_KEY="$DOCTOR_KEY" HTTP_PROXY="$HOSTILE_URL" http_proxy="$HOSTILE_URL"
doctor
expect_cause "live upgrade" proxy_upgrade
expect_match "a 400 from the proxy, 101 without it" "HTTP 400 at .*without the proxy: 101" "$TEXT"
expect_no_secret
# NO_PROXY exempts the host: Live works again
NO_PROXY=127.0.0.1 doctor
expect_eq "NO_PROXY=127.0.0.1: exit 0" "0 0" "$TRC $JRC"
finish
