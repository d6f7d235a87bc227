# The team's sdk-probe (Google's JS SDK, @google/genai) pointed at
# `glrun serve` in front of glmock, with an access token as its key and
# --live-model=gemini-live-text-test. Skipped, visibly, when the tool is
# not beside the clone or node/npm are absent (as tests/e2e/sdkprobe.sh).
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/serve.sh"
PROBE="$SRC/../shared/tools/sdk-probe/run"
if [ ! -x "$PROBE" ] && [ ! -f "$PROBE" ]; then echo "SKIPPED: $PROBE not present"; exit 77; fi
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIPPED: node/npm not installed"; exit 77; }
start_glmock
start_token_gateway
export SDK_PROBE_CACHE="${SDK_PROBE_CACHE:-$HOME/.cache/glrun-sdk-probe}"
timeout 240 bash "$PROBE" "$GW_URL" --key="$GW_TOKEN" --live-model=gemini-live-text-test \
  ${SDK_PROBE_ONLY:+--only=$SDK_PROBE_ONLY} >"$TMP/probe.out" 2>&1
RC=$?
cat "$TMP/probe.out"
expect_eq "sdk-probe through glrun serve exits 0" 0 "$RC"
expect_match "sdk-probe summary" "[1-9][0-9]* passed, 0 failed" "$(cat "$TMP/probe.out")"
expect_no_match "the probe never saw the key" "$GW_KEY" "$(cat "$TMP/probe.out")"
expect_no_match "no token in the access log" "$GW_TOKEN" "$(cat "$TMP/gw.err")"
stop_gateway
finish
