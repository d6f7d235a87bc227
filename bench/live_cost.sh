#!/usr/bin/env bash
# bench/live_cost.sh — what one Live text turn costs glrun, and what it costs
# the server (glmock) it talks to, on one session over loopback.
#
#   bench/live_cost.sh [--build DIR] [--turns N] [--runs R] [--callgrind] [--kv]
#
# Runs `glrun bench/live.lua turns N` (one gemini.live session on
# gemini-live-text-test: send a text turn, read its 6 server messages up to
# turn_complete) R times against one glmock, and reports per turn, medians
# of the runs: the wall time, glrun's CPU time (user + system of the
# process, start-up and the 20 warm-up turns included, so N should be
# large) and glmock's CPU time over the same run (from /proc/PID/stat).
# glrun's CPU per turn is its own cost; when glmock's is close to the wall
# time, glmock is the bottleneck and turns/s measures it, not glrun.
# --callgrind adds glrun's instructions per turn (valgrind, exact; two runs
# of N and N/2 turns, so start-up cancels out). --kv prints one key=value
# line (wall_us glrun_cpu_us glmock_cpu_us, for bench/run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${GLRUN_BUILD:-$root/build} N=5000 R=3 CG=0 KV=0
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=$2; shift ;;
    --turns) N=$2; shift ;;
    --runs) R=$2; shift ;;
    --callgrind) CG=1 ;;
    --kv) KV=1 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) echo "bench/live_cost.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$B/glrun" ] && [ -x "$B/glmock" ] || { echo "bench/live_cost.sh: no glrun/glmock in $B" >&2; exit 1; }
. "$root/bench/lib.sh"
bench_glmock bench/live_cost.sh
cpu() { awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$1"; }
calc() { awk "BEGIN {printf \"%.${2:-1}f\", $1}"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

walls=() gcpus=() mcpus=()
for i in $(seq "$R"); do
  m0=$(mock_cpu); times >"$tmp/t0"; a=$EPOCHREALTIME
  "$B/glrun" "$root/bench/live.lua" turns "$N" >"$tmp/out"
  b=$EPOCHREALTIME; times >"$tmp/t1"; m1=$(mock_cpu)
  grep -q "rounds=$N " "$tmp/out" || { echo "bench/live_cost.sh: the run did not finish: $(cat "$tmp/out")" >&2; exit 1; }
  walls+=("$(calc "($b - $a) / $N * 1e6")")
  gcpus+=("$(calc "($(cpu "$tmp/t1") - $(cpu "$tmp/t0")) / $N * 1e6")")
  mcpus+=("$(calc "($m1 - $m0) / $N * 1e6")")
  echo "  run $i: wall ${walls[-1]} us/turn, glrun CPU ${gcpus[-1]}, glmock CPU ${mcpus[-1]}" >&2
done
if [ $KV = 1 ]; then
  echo "wall_us=$(printf '%s\n' "${walls[@]}" | median) glrun_cpu_us=$(printf '%s\n' "${gcpus[@]}" | median) glmock_cpu_us=$(printf '%s\n' "${mcpus[@]}" | median)"
  exit 0
fi
echo "Live text turns, one session, $N turns x $R runs (medians; us per turn)"
printf '%-40s %10s\n' "wall (turn round trip, whole run)" "$(printf '%s\n' "${walls[@]}" | median)"
printf '%-40s %10s\n' "glrun CPU (user + system)" "$(printf '%s\n' "${gcpus[@]}" | median)"
printf '%-40s %10s\n' "glmock CPU over the same run" "$(printf '%s\n' "${mcpus[@]}" | median)"
if [ $CG = 1 ]; then
  ir() {
    GLRUN_MALLOC=pool GLRUN_WARN_RUN_SECONDS=1000000 GLRUN_MAX_RUN_SECONDS=0 \
      valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$B/glrun" "$root/bench/live.lua" turns "$1" >/dev/null 2>&1
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg"
  }
  h=$((N / 2)); i1=$(ir "$N"); i2=$(ir "$h")
  printf '%-40s %10s\n' "glrun instructions per turn (callgrind)" "$(calc "($i1 - $i2) / ($N - $h)" 0)"
fi
echo "machine: $(nproc) cores; $(date -u '+%F %H:%M UTC'); glrun $B/glrun"
