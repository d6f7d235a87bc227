# Google's official JS SDK (@google/genai, pinned in bench/package.json) as a
# real client against glmock: tests/sdk/fidelity.mjs. Runs from the
# project's own files; test.sh installs the SDK (npm ci in bench/). Skipped,
# visibly, without node or without the installed SDK.
. "$(dirname "$0")/lib/sh.sh"
command -v node >/dev/null || { echo "SKIPPED: node not installed"; exit 77; }
[ -d "$SRC/bench/node_modules/@google/genai" ] || { echo "SKIPPED: @google/genai not installed (cd bench && npm ci)"; exit 77; }
start_glmock
timeout 200 node "$SRC/tests/sdk/fidelity.mjs" "$GLMOCK_URL" >"$TMP/fid.out" 2>&1
RC=$?
cat "$TMP/fid.out"
expect_eq "SDK fidelity checks exit 0" 0 "$RC"
expect_match "SDK fidelity summary" "^[1-9][0-9]* passed, 0 failed" "$(tail -1 "$TMP/fid.out")"
finish
