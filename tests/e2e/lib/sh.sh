# Helpers for the *.sh end-to-end tests. Each check prints "ok - what" or
# "not ok - what: why"; `finish` exits 1 if any check failed.
set -u
: "${GLRUN:?}" "${GLMOCK:?}" "${SRC:?}"
failures=0
checks=0
TMP=$(mktemp -d)
# the model catalog's cache (gemini.catalog) goes here, never to the real ~/.cache
export XDG_CACHE_HOME="$TMP/cache"
GLMOCK_PID=
BG_PIDS=
cleanup() {
  # a background subshell killed before it resets its traps runs this trap
  # too: only the test's own shell may clean up
  [ "$BASHPID" = "$$" ] || return 0
  [ -n "$GLMOCK_PID" ] && kill "$GLMOCK_PID" 2>/dev/null
  [ -n "$BG_PIDS" ] && kill $BG_PIDS 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { checks=$((checks+1)); echo "ok - $1"; }
bad() { checks=$((checks+1)); failures=$((failures+1)); echo "not ok - $1"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
  if [ "$2" = "$3" ]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}
# expect_match WHAT REGEX TEXT
expect_match() {
  if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else bad "$1: [$3] does not match /$2/"; fi
}
expect_no_match() {
  if printf '%s' "$3" | grep -Eq -- "$2"; then bad "$1: [$3] matches /$2/"; else ok "$1"; fi
}

# run CMD...: sets OUT, ERR, RC (stdin from /dev/null, 60 s bound)
run() {
  timeout 60 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}

# start_glmock [ARGS...]: starts glmock on a free port, sets GLMOCK_URL
start_glmock() {
  "$GLMOCK" --port 0 "$@" >"$TMP/glmock.out" 2>"$TMP/glmock.err" &
  GLMOCK_PID=$!
  for _ in $(seq 1 100); do
    GLMOCK_URL=$(grep -o 'http://[0-9.:]*' "$TMP/glmock.out" 2>/dev/null | head -1)
    [ -n "$GLMOCK_URL" ] && break
    sleep 0.05
  done
  [ -n "$GLMOCK_URL" ] || { echo "not ok - glmock did not start"; exit 1; }
  export GLMOCK_URL
}

# start_tls_server: a self-signed HTTPS server (openssl s_server -www) on
# loopback; sets PORT and TLS (its base URL). Skips the test without openssl.
start_tls_server() {
  command -v openssl >/dev/null || { echo "SKIPPED: openssl not installed"; exit 77; }
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/k.pem" -out "$TMP/c.pem" -days 1 -subj /CN=localhost 2>/dev/null
  openssl s_server -accept 127.0.0.1:0 -cert "$TMP/c.pem" -key "$TMP/k.pem" -www >"$TMP/ss.out" 2>&1 </dev/null &
  BG_PIDS="$BG_PIDS $!"
  PORT=
  for _ in $(seq 1 100); do PORT=$(grep -o 'ACCEPT 127.0.0.1:[0-9]*' "$TMP/ss.out" | cut -d: -f2); [ -n "$PORT" ] && break; sleep 0.05; done
  [ -n "$PORT" ] || { echo "not ok - openssl s_server did not start"; exit 1; }
  TLS="https://127.0.0.1:$PORT"
}

# a clean environment for glrun: no keys, no Vertex, no proxy
clean_env() {
  unset GEMINI_API_KEY GOOGLE_API_KEY GOOGLE_GENAI_USE_VERTEXAI GOOGLE_GENAI_USE_ENTERPRISE \
        GOOGLE_CLOUD_PROJECT GOOGLE_CLOUD_LOCATION GOOGLE_APPLICATION_CREDENTIALS \
        GOOGLE_GEMINI_BASE_URL GLRUN_MOCK HTTPS_PROXY https_proxy HTTP_PROXY http_proxy \
        GOOGLE_VERTEX_BASE_URL GCLOUD_PROJECT GOOGLE_OAUTH_ACCESS_TOKEN GLRUN_ACCESS_TOKEN \
        GLRUN_ACCESS_TOKEN_COMMAND GLRUN_TOKEN_REFRESH_SKEW 2>/dev/null || true
  export CLOUDSDK_CONFIG="$TMP/no-gcloud"   # never pick up a real gcloud login
}

finish() {
  echo "# $((checks-failures)) of $checks checks passed"
  [ "$failures" -eq 0 ] || exit 1
  exit 0
}

# start_hostile MODE [ARG...]: starts the hostile server (tests/hostile/) in
# MODE on a free loopback port; sets HOSTILE_URL and points glrun at it
# (GOOGLE_GEMINI_BASE_URL, a fake API key). Requests it received are logged
# as JSON lines in $HOSTILE_LOG. Skips the test, visibly, without node.
HOSTILE_KEY="AIzaSyHOSTILE-test-key-0123456789abcdefg"
start_hostile() {
  command -v node >/dev/null || { echo "SKIPPED: node not installed (the hostile server needs it)"; exit 77; }
  export HOSTILE_LOG="$TMP/hostile.$1.log" HOSTILE_LIFETIME="${HOSTILE_LIFETIME:-200}"
  node "$SRC/tests/hostile/server.mjs" "$@" >"$TMP/hostile.out" 2>"$TMP/hostile.err" &
  BG_PIDS="$BG_PIDS $!"
  HOSTILE_URL=
  for _ in $(seq 1 200); do
    HOSTILE_URL=$(grep -o 'http://[0-9.:]*' "$TMP/hostile.out" 2>/dev/null | head -1)
    [ -n "$HOSTILE_URL" ] && break
    sleep 0.05
  done
  [ -n "$HOSTILE_URL" ] || { echo "not ok - hostile server ($1) did not start: $(cat "$TMP/hostile.err")"; exit 1; }
  clean_env
  export HOSTILE_URL GOOGLE_GEMINI_BASE_URL="$HOSTILE_URL" GEMINI_API_KEY="$HOSTILE_KEY"
}
