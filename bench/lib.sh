# bench/lib.sh — shared by the bench scripts that run their own glmock
# (source it after setting B, the build folder).
#
# bench_glmock NAME: starts $B/glmock on a free port and points glrun and
# the SDK at it (GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL, GLMOCK_URL, no
# proxy); sets tmp (a scratch folder), MOCK (glmock's pid) and URL, and
# removes both at exit. NAME is the script, for the error line.
# mock_cpu: glmock's CPU seconds so far (user + system, from /proc).
bench_glmock() {
  tmp=$(mktemp -d)
  MOCK=""
  trap '[ -n "$MOCK" ] && kill "$MOCK" 2>/dev/null; rm -rf "$tmp"' EXIT
  "$B/glmock" --port 0 >"$tmp/mock.out" 2>/dev/null &
  MOCK=$!
  for _ in $(seq 100); do grep -q http "$tmp/mock.out" 2>/dev/null && break; sleep 0.05; done
  URL=$(grep -o 'http://[0-9.:]*' "$tmp/mock.out" | head -1)
  [ -n "$URL" ] || { echo "$1: glmock did not start" >&2; exit 1; }
  export GEMINI_API_KEY=bench-key GOOGLE_GEMINI_BASE_URL=$URL GLMOCK_URL=$URL NO_PROXY=127.0.0.1,localhost
  unset GLRUN_MOCK HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
  tck=$(getconf CLK_TCK)
}
mock_cpu() { awk -v t="$tck" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$MOCK/stat"; }
