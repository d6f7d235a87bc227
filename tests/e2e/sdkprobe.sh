# Google's official JS SDK (@google/genai) against glmock: the wire
# fidelity check (../shared/tools/sdk-probe). Skipped, visibly, when the
# tool or node is absent (a user's clone has no ../shared).
. "$(dirname "$0")/lib/sh.sh"
PROBE="$SRC/../shared/tools/sdk-probe/run"
if [ ! -x "$PROBE" ] && [ ! -f "$PROBE" ]; then echo "SKIPPED: $PROBE not present"; exit 77; fi
command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIPPED: node/npm not installed"; exit 77; }
start_glmock
export SDK_PROBE_CACHE="${SDK_PROBE_CACHE:-$HOME/.cache/glrun-sdk-probe}"
timeout 240 bash "$PROBE" "$GLMOCK_URL" --live-model=gemini-live-text-test ${SDK_PROBE_ONLY:+--only=$SDK_PROBE_ONLY} >"$TMP/probe.out" 2>&1
RC=$?
cat "$TMP/probe.out"
expect_eq "sdk-probe exits 0" 0 "$RC"
expect_match "sdk-probe summary" "[1-9][0-9]* passed, 0 failed" "$(cat "$TMP/probe.out")"
finish
