# The chat page in a real browser: headless Chromium (Debian's chromium,
# driven by playwright-core from bench/node_modules) against
# `glrun --mock serve` with an access token: the token prompt, a streamed
# answer with its transport label and Markdown, Stop mid-answer cancelled
# server-side (GET /metrics), the fallback line when glmock refuses Live,
# an error line, the conversation kept across a reload, and a screenshot
# (in $GLRUN_ARTIFACTS, else the build dir's Testing/artifacts/; printed).
# Skipped (exit 77) without chromium, node or playwright-core.
. "$(dirname "$0")/lib/sh.sh"
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIPPED: chromium not installed (apt-get install chromium)"; exit 77; }
command -v node >/dev/null || { echo "SKIPPED: node not installed"; exit 77; }
[ -d "$SRC/bench/node_modules/playwright-core" ] || { echo "SKIPPED: playwright-core not installed (cd bench && npm ci)"; exit 77; }
export CHROMIUM
clean_env
ART=${GLRUN_ARTIFACTS:-$(dirname "$GLRUN")/Testing/artifacts}
mkdir -p "$ART"

TOKEN="page-test-token-$$"
printf '%s\n' "$TOKEN" >"$TMP/tokens.txt"
"$GLRUN" --mock serve --listen 127.0.0.1:0 --access-token-file "$TMP/tokens.txt" \
  --access-log "$TMP/access.log" >"$TMP/serve.out" 2>"$TMP/serve.err" </dev/null &
SERVE_PID=$!
BG_PIDS="$BG_PIDS $SERVE_PID"
URL= MOCK=
for _ in $(seq 1 300); do
  URL=$(grep -o 'listening on http://[0-9.:]*' "$TMP/serve.out" 2>/dev/null | head -1 | sed 's/^listening on //')
  MOCK=$(grep -o 'glmock, the offline Gemini, at http://[0-9.:]*' "$TMP/serve.err" 2>/dev/null | head -1 | grep -o 'http://.*')
  [ -n "$URL" ] && [ -n "$MOCK" ] && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$URL" ] || [ -z "$MOCK" ]; then
  bad "glrun --mock serve started: $(head -c 500 "$TMP/serve.err")"
  finish
fi
ok "glrun --mock serve listens at $URL (glmock at $MOCK)"

timeout 240 node "$SRC/tests/browser/page.mjs" "$URL" "$MOCK" "$TOKEN" "$ART" >"$TMP/page.out" 2>"$TMP/page.err"
RC=$?
cat "$TMP/page.out"
[ -s "$TMP/page.err" ] && sed 's/^/# node: /' "$TMP/page.err" | head -30
expect_eq "the browser checks pass (node exit status)" 0 "$RC"
expect_match "the browser checks ran to the end" '^# [0-9]+ of [0-9]+ checks passed' "$(tail -1 "$TMP/page.out")"
if [ -f "$ART/chat-page.png" ]; then ok "screenshot: $ART/chat-page.png"; else bad "no screenshot in $ART"; fi
# the access token never shows in the access log
expect_no_match "the access token is not in the access log" "$TOKEN" "$(cat "$TMP/access.log" 2>/dev/null)"
expect_match "the access log has the chat requests" 'POST /api/chat' "$(cat "$TMP/access.log" 2>/dev/null)"
# SIGTERM: the server stops cleanly, and said nothing alarming meanwhile
kill "$SERVE_PID" 2>/dev/null
for _ in $(seq 1 300); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE_PID" 2>/dev/null && kill -9 "$SERVE_PID" 2>/dev/null
expect_no_match "no sanitizer report or Lua error from the server" 'Sanitizer|runtime error:|stack traceback' "$(cat "$TMP/serve.err")"
finish
