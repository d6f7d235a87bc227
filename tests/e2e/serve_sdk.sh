# Google's official JS SDK pointed at `glrun serve` (in front of glmock),
# with an access token as its API key: tests/sdk/fidelity.mjs in its
# gateway mode (FIDELITY_GATEWAY=1: the routes a gateway serves). The key
# the gateway holds is in nothing the SDK printed, nor in the access log.
# (tests/e2e/serve_sdkprobe.sh runs the team's sdk-probe the same way.)
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
command -v node >/dev/null || { echo "SKIPPED: node not installed"; exit 77; }
[ -d "$SRC/bench/node_modules/@google/genai" ] || { echo "SKIPPED: @google/genai not installed (cd bench && npm ci)"; exit 77; }
start_glmock
start_token_gateway

FIDELITY_GATEWAY=1 FIDELITY_KEY="$GW_TOKEN" timeout 240 node "$SRC/tests/sdk/fidelity.mjs" "$GW_URL" >"$TMP/fid.out" 2>&1
RC=$?
cat "$TMP/fid.out"
expect_eq "SDK fidelity through glrun serve exits 0" 0 "$RC"
expect_match "SDK fidelity summary" "^[1-9][0-9]* passed, 0 failed" "$(tail -1 "$TMP/fid.out")"
expect_no_match "the SDK never saw the key" "$GW_KEY" "$(cat "$TMP/fid.out")"

# the gateway's access log saw the SDK's requests, never a token or the key
expect_match "access log lines" 'status=200' "$(cat "$TMP/gw.err")"
expect_no_match "no token in the log" "$GW_TOKEN" "$(cat "$TMP/gw.err")"
expect_no_match "no key in the log" "$GW_KEY" "$(cat "$TMP/gw.err")"
stop_gateway
finish
