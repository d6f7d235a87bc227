# Helpers of the glrun serve tests (tests/e2e/serve_*.sh), on top of sh.sh.
#
# GW_KEY is the distinctive API key the gateway uses upstream: a test greps
# everything a client received for it. start_gateway starts
# `glrun serve --listen 127.0.0.1:0 ARGS...` (upstream: $GLMOCK_URL unless
# GOOGLE_GEMINI_BASE_URL is set) and sets GW_URL, GW_PID; its stdout/stderr
# are in $TMP/gw.out, $TMP/gw.err.
GW_KEY="AIzaSyGATEWAY-distinctive-key-7f3a9c2e1b"
GW_TOKEN="gw-access-token-one"
GW_PID=
make_token_file() {
  printf '# access tokens\n%s\nsecond-token\n' "$GW_TOKEN" >"$TMP/tokens.txt"
}
start_gateway() {
  clean_env
  export GEMINI_API_KEY="$GW_KEY" GOOGLE_GEMINI_BASE_URL="${GW_UPSTREAM:-$GLMOCK_URL}"
  rm -f "$TMP/gw.out"
  "$GLRUN" ${GW_GLRUN_OPTS:-} serve --listen 127.0.0.1:0 "$@" >"$TMP/gw.out" 2>"$TMP/gw.err" &
  GW_PID=$!
  BG_PIDS="$BG_PIDS $GW_PID"
  GW_URL=
  for _ in $(seq 1 200); do
    GW_URL=$(head -1 "$TMP/gw.out" 2>/dev/null | sed -n 's/^glrun serve: listening on \(http[s]*:\/\/[0-9.:]*\)$/\1/p')
    [ -n "$GW_URL" ] && break
    kill -0 "$GW_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$GW_URL" ] || { echo "not ok - glrun serve did not start: $(cat "$TMP/gw.err")"; exit 1; }
}
# start_token_gateway ARGS...: make_token_file, then start_gateway with
# --access-token-file $TMP/tokens.txt ARGS...
start_token_gateway() {
  make_token_file
  start_gateway --access-token-file "$TMP/tokens.txt" "$@"
}
# gw_curl NAME ARGS...: curl against the gateway, bounded; the body in
# $TMP/NAME.body, the headers in $TMP/NAME.head; sets CODE
gw_curl() {
  local name=$1; shift
  CODE=$(curl -s --max-time 30 -o "$TMP/$name.body" -D "$TMP/$name.head" -w '%{http_code}' "$@")
  cat "$TMP/$name.body" "$TMP/$name.head" >>"$TMP/client-received.all" 2>/dev/null
}
# glmock_scenario JSON: append scenario rules to glmock
glmock_scenario() {
  curl -s --max-time 10 -XPOST "$GLMOCK_URL/glmock/scenario" -d "$1" >/dev/null
}
# the key must be in no byte a client received
check_no_key() {
  if grep -qF "$GW_KEY" "$TMP/client-received.all" 2>/dev/null; then
    bad "the API key reached a client: $(grep -F "$GW_KEY" "$TMP/client-received.all" | head -3)"
  else
    ok "the API key is in none of the $(wc -c <"$TMP/client-received.all" 2>/dev/null || echo 0) bytes clients received"
  fi
}
# stop_gateway: SIGTERM, then the exit status must be 0 and stderr free of
# sanitizer reports (an ASan build: leaks and errors show at exit)
stop_gateway() {
  [ -n "$GW_PID" ] || return 0
  kill -TERM "$GW_PID" 2>/dev/null
  for _ in $(seq 1 400); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
  wait "$GW_PID"
  local rc=$?
  expect_eq "glrun serve stopped cleanly (exit 0 on SIGTERM)" 0 "$rc"
  if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/gw.err"; then
    bad "sanitizer report: $(grep -E -m3 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/gw.err")"
  fi
  GW_PID=
}
