#!/usr/bin/env bash
# bench/serve.sh — what glrun serve costs in front of glmock:
#   * first token (time to the first SSE event of streamGenerateContent)
#     through `glrun serve` vs straight to glmock, N requests each way,
#     interleaved, p50 and p99 (and their ratios);
#   * S concurrent streams held through the gateway (glmock with a 2 s delay
#     between chunks keeps them open), with the gateway's RSS per stream.
#
#   bench/serve.sh [--build DIR] [--n N] [--streams S] [--kv]
# --kv prints one key=value line (for bench/run). Timings are never tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${GLRUN_BUILD:-$root/build} N=200 S=200 KV=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=$2; shift ;;
    --n) N=$2; shift ;;
    --streams) S=$2; shift ;;
    --kv) KV=1 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "bench/serve.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
tmp=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
wait_url() { # FILE PATTERN -> the URL
  local u=""
  for _ in $(seq 200); do u=$(grep -o "$2" "$1" 2>/dev/null | head -1 || true); [ -n "$u" ] && break; sleep 0.05; done
  [ -n "$u" ] || { echo "bench/serve.sh: $1 did not start" >&2; exit 1; }
  printf '%s' "$u"
}
start() { # NAME ARGS... (glmock) -> URL of glmock, URL of its gateway
  "$B/glmock" --port 0 "$@" >"$tmp/m.out" 2>/dev/null & PIDS+=($!)
  M=$(wait_url "$tmp/m.out" 'http://[0-9.:]*')
  GEMINI_API_KEY=bench-key GOOGLE_GEMINI_BASE_URL=$M "$B/glrun" serve --listen 127.0.0.1:0 --access-log - --rate-limit 0 \
    >"$tmp/g.out" 2>"$tmp/g.err" & GPID=$!; PIDS+=($GPID)
  G=$(wait_url "$tmp/g.out" 'http://[0-9.:]*')
}
export NO_PROXY=127.0.0.1,localhost
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy GLRUN_MOCK
start
lat=$("$B/glrun" "$root/bench/serve.lua" latency "$M" "$G" "$N")
for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; PIDS=()
start --chunk-delay-ms 2000
hold=$("$B/glrun" "$root/bench/serve.lua" hold "$G" "$S" "$GPID")
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
if [ $KV = 1 ]; then echo "$lat $hold"; exit 0; fi
ratio() { awk "BEGIN {printf \"%.2fx\", $2 / $1}"; }
echo "glrun serve vs straight to glmock ($N requests each, interleaved; $S streams held)"
printf '%-44s %10s %10s %8s\n' "" "gateway" "direct" "gw/direct"
printf '%-44s %10s %10s %8s\n' "first token p50 (us)" "$(kv gw_p50_us "$lat")" "$(kv direct_p50_us "$lat")" "$(ratio "$(kv direct_p50_us "$lat")" "$(kv gw_p50_us "$lat")")"
printf '%-44s %10s %10s %8s\n' "first token p99 (us)" "$(kv gw_p99_us "$lat")" "$(kv direct_p99_us "$lat")" "$(ratio "$(kv direct_p99_us "$lat")" "$(kv gw_p99_us "$lat")")"
printf '%-44s %10s\n' "streams held through the gateway" "$(kv held "$hold")"
printf '%-44s %10s\n' "gateway RSS per held stream (KiB)" "$(kv kib_per_stream "$hold")"
echo "commands: $B/glrun $root/bench/serve.lua latency GLMOCK GATEWAY $N; ... hold GATEWAY $S PID (glmock --chunk-delay-ms 2000)"
