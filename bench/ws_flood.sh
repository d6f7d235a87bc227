#!/usr/bin/env bash
# bench/ws_flood.sh — small WebSocket messages received as fast as they come:
# glrun.ws (bench/live.lua flood) beside node's ws (bench/sdk.mjs flood), each
# reading COUNT binary messages of SIZE bytes that glmock's /glmock/echo sends
# on "!flood COUNT SIZE", and what each run cost the client AND the server.
#
#   bench/ws_flood.sh [--build DIR] [--count N] [--size S] [--runs R]
#                     [--no-node] [--callgrind] [--strace] [--kv]
#
# R runs of each client, interleaved (glrun, node, glrun, node, ...) against
# one glmock, so drift and other load hit both alike. Per run: the wall time
# of the whole process, its CPU time (perf's task-clock, else user + system
# from /usr/bin/time) and
# glmock's CPU time over the same run (from /proc/PID/stat). The client's CPU
# per message is (CPU of the run - CPU of a COUNT=1 run) / COUNT, so process
# start-up (node loads the SDK's modules) does not count. When glmock's CPU
# is close to the wall time, glmock is the bottleneck and wall time measures
# glmock, not the client: compare the clients by their CPU per message.
# --callgrind adds glrun's instructions per message (valgrind, exact: runs of
# N and N/2 messages, so start-up cancels out); --strace its system calls per
# message (strace -c -f, same two runs). --kv prints one key=value line for
# bench/run (medians: glrun_wall_s glrun_cpu_s glrun_us_msg glrun_mock_s
# node_wall_s node_cpu_s node_us_msg node_mock_s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
B=${GLRUN_BUILD:-$root/build} N=200000 S=64 R=5 CG=0 ST=0 KV=0 NODE=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) B=$2; shift ;;
    --count) N=$2; shift ;;
    --size) S=$2; shift ;;
    --runs) R=$2; shift ;;
    --no-node) NODE=0 ;;
    --callgrind) CG=1 ;;
    --strace) ST=1 ;;
    --kv) KV=1 ;;
    -h|--help) sed -n 2,22p "$0"; exit 0 ;;
    *) echo "bench/ws_flood.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -x "$B/glrun" ] && [ -x "$B/glmock" ] || { echo "bench/ws_flood.sh: no glrun/glmock in $B" >&2; exit 1; }
if [ $NODE = 1 ] && { ! command -v node >/dev/null || [ ! -d "$root/bench/node_modules/ws" ]; }; then
  echo "bench/ws_flood.sh: node or bench/node_modules/ws missing (npm ci in bench/); node column n/a" >&2
  NODE=0
fi
. "$root/bench/lib.sh"
bench_glmock bench/ws_flood.sh
calc() { awk "BEGIN {printf \"%.${2:-3}f\", $1}"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

GL=("$B/glrun" "$root/bench/live.lua" flood)
ND=(node "$root/bench/sdk.mjs" flood)

# the client's CPU: perf's task-clock (exact) when perf works here, else
# user + system from /usr/bin/time (10 ms ticks)
PERF=0
perf stat -x, -e task-clock -o "$tmp/perf" true >/dev/null 2>&1 && grep -q task-clock "$tmp/perf" && PERF=1

# one WHO COUNT -> "wall cpu mock" (seconds) of one whole client process
one() {
  local who=$1 n=$2 m0 m1 a b c cmd
  if [ "$who" = glrun ]; then cmd=("${GL[@]}"); else cmd=("${ND[@]}"); fi
  if [ $PERF = 1 ]; then cmd=(perf stat -x, -e task-clock -o "$tmp/perf" "${cmd[@]}")
  else cmd=(/usr/bin/time -f '%U %S' -o "$tmp/time" "${cmd[@]}"); fi
  m0=$(mock_cpu); a=$EPOCHREALTIME
  "${cmd[@]}" "$n" "$S" >"$tmp/out" 2>"$tmp/err" ||
    { echo "bench/ws_flood.sh: $who failed: $(tail -3 "$tmp/err")" >&2; exit 1; }
  b=$EPOCHREALTIME; m1=$(mock_cpu)
  grep -q "msgs=$n " "$tmp/out" || { echo "bench/ws_flood.sh: $who did not finish: $(cat "$tmp/out")" >&2; exit 1; }
  if [ $PERF = 1 ]; then c=$(awk -F, '$3 == "task-clock" { printf "%.4f", $1 / 1000 }' "$tmp/perf")
  else c=$(awk '{ printf "%.3f", $1 + $2 }' "$tmp/time"); fi
  echo "$(calc "$b - $a") $c $(calc "$m1 - $m0")"
}

whos=(glrun); [ $NODE = 1 ] && whos+=(node)
declare -A base walls cpus mocks
for w in "${whos[@]}"; do one "$w" 1000 >/dev/null; done     # warm caches
for w in "${whos[@]}"; do                                    # start-up + connect, no flood
  v=(); for _ in 1 2 3; do read -r _ c _ < <(one "$w" 1); v+=("$c"); done
  base[$w]=$(printf '%s\n' "${v[@]}" | median)
done
for i in $(seq "$R"); do
  line="  run $i:"
  for w in "${whos[@]}"; do
    read -r wl c m < <(one "$w" "$N")
    walls[$w]+="$wl "; cpus[$w]+="$c "; mocks[$w]+="$m "
    line+=" $w wall ${wl}s cpu ${c}s (glmock ${m}s);"
  done
  echo "$line" >&2
done
med() { tr ' ' '\n' <<<"$1" | grep . | median; }
out=""
for w in glrun node; do
  if [ -z "${walls[$w]:-}" ]; then out+=" ${w}_wall_s=n/a ${w}_cpu_s=n/a ${w}_us_msg=n/a ${w}_mock_s=n/a"; continue; fi
  wl=$(med "${walls[$w]}"); c=$(med "${cpus[$w]}"); m=$(med "${mocks[$w]}")
  out+=" ${w}_wall_s=$wl ${w}_cpu_s=$c ${w}_us_msg=$(calc "($c - ${base[$w]}) / $N * 1e6" 2) ${w}_mock_s=$m ${w}_startup_cpu_s=${base[$w]}"
done
out=${out# }
if [ $KV = 1 ]; then echo "$out"; exit 0; fi
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$out"; }
echo "ws flood: $N binary messages of $S bytes from glmock's !flood, $R runs each, medians"
printf '%-44s %12s %12s\n' "" "glrun.ws" "node ws"
printf '%-44s %12s %12s\n' "wall, whole process (s)" "$(kv glrun_wall_s)" "$(kv node_wall_s)"
printf '%-44s %12s %12s\n' "client CPU, user + system (s)" "$(kv glrun_cpu_s)" "$(kv node_cpu_s)"
printf '%-44s %12s %12s\n' "client CPU per message, start-up out (us)" "$(kv glrun_us_msg)" "$(kv node_us_msg)"
printf '%-44s %12s %12s\n' "glmock CPU over the same run (s)" "$(kv glrun_mock_s)" "$(kv node_mock_s)"
if [ $CG = 1 ] || [ $ST = 1 ]; then
  h=$((N / 2))
  env_cg=(env GLRUN_MALLOC=pool GLRUN_WARN_RUN_SECONDS=1000000 GLRUN_MAX_RUN_SECONDS=0)
fi
if [ $CG = 1 ]; then
  ir() {
    "${env_cg[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "${GL[@]}" "$1" "$S" >/dev/null 2>&1
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg"
  }
  i1=$(ir "$N"); i2=$(ir "$h")
  printf '%-44s %12s\n' "glrun instructions per message (callgrind)" "$(calc "($i1 - $i2) / ($N - $h)" 0)"
fi
if [ $ST = 1 ]; then
  sc() {
    strace -c -f -o "$tmp/st" "${GL[@]}" "$1" "$S" >/dev/null 2>&1
    awk '$NF == "total" { print $4 }' "$tmp/st"
  }
  s1=$(sc "$N"); cp "$tmp/st" "$tmp/st1"; s2=$(sc "$h")
  printf '%-44s %12s\n' "glrun system calls per message (strace -c)" "$(calc "($s1 - $s2) / ($N - $h)" 4)"
  echo "  strace -c of the $N-message run:"; sed 's/^/    /' "$tmp/st1" | head -14
fi
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u '+%F %H:%M UTC'); glrun $B/glrun"
