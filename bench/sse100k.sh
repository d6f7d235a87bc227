#!/usr/bin/env bash
# bench/sse100k.sh — the 100,000-event SSE replay: whole processes reading one
# 27 MB streamGenerateContent response served from a file, against curl.
#
#   bench/sse100k.sh                     table: median wall of 7 runs each
#   bench/sse100k.sh --runs N            N runs each (interleaved)
#   bench/sse100k.sh --build DIR         glrun from DIR (default $GLRUN_BUILD, else build/)
#   bench/sse100k.sh --glrun PATH        this glrun binary
#   bench/sse100k.sh --before PATH       also an older glrun binary (two more rows, same runs)
#   bench/sse100k.sh --kv                one key=value line instead of the table (for bench/run)
#   bench/sse100k.sh --events N          another event count (default 100000)
#   bench/sse100k.sh --callgrind         instead of timing: instructions of one run of each client
#                                        under valgrind --tool=callgrind (exact, load-proof; use
#                                        --events 20000; glrun with its own allocator, GLRUN_MALLOC=pool, and
#                                        no runaway watch: a slice is ~50x longer under valgrind),
#                                        per event, and as a ratio to curl's
#
# The replay file is generated here (awk): one-line JSON events of ~270 bytes
# shaped like the real service's (candidates[0].content.parts[0].text with
# plain words, a newline escape every 10th event, UTF-8 text every 7th;
# usageMetadata counting up; modelVersion; responseId), each "data: ...\r\n\r\n",
# the last with finishReason "STOP". bench/sse_replay_server.c (compiled
# here with cc) serves it to any request with sendfile.
#
# The clients, each a whole process timed from outside (start-up included):
#   curl -o /dev/null                       the wire
#   glrun bench/sse.lua sse ...             glrun.http.sse, reading every ev.json's text
#   glrun bench/sse.lua rest ...            gemini.rest.stream, reading every chunk's .text
#   node bench/sdk.mjs sse ...              @google/genai generateContentStream, every chunk.text
# Each run checks the event count (glrun, SDK) or the byte count (curl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/bench"
RUNS=7 B=${GLRUN_BUILD:-$root/build} G="" KV=0 EVENTS=100000 OLD="" CG=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --build) B=$2; shift ;;
    --glrun) G=$2; shift ;;
    --before) OLD=$2; shift ;;
    --kv) KV=1 ;;
    --events) EVENTS=$2; shift ;;
    --callgrind) CG=1 ;;
    -h|--help) sed -n 2,16p "$0"; exit 0 ;;
    *) echo "bench/sse100k.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
G=${G:-$B/glrun}
[ -x "$G" ] || { echo "bench/sse100k.sh: no glrun at $G (build first)" >&2; exit 1; }

tmp=$(mktemp -d)
SRV=""
cleanup() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# ---------------------------------------------------------------- the replay file
awk -v n="$EVENTS" 'BEGIN {
  split("the of and a to in is that it for on was with as by at from this be or an are which not have can its one all their more has but also its time these when two first other may some into such only over new most used after each", w, " ")
  nw = length(w); prompt = 9; cand = 0
  for (i = 1; i <= n; i++) {
    t = ""
    for (k = 0; k < 4; k++) t = t (k ? " " : "") w[(i * 7 + k * 13) % nw + 1]
    if (i % 7 == 0) t = t " café naïve — déjà"
    if (i % 10 == 0) t = t ".\\n\\n"; else t = t " "
    cand += 3; fin = (i == n) ? ",\"finishReason\": \"STOP\"" : ""
    printf "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"%s\"}],\"role\": \"model\"}%s,\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": %d,\"candidatesTokenCount\": %d,\"totalTokenCount\": %d},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"Xk9lZcWmNqbD7M8Psw\"}\r\n\r\n", t, fin, prompt, cand, prompt + cand
  }
}' >"$tmp/replay.sse"
BYTES=$(stat -c %s "$tmp/replay.sse")
echo '{"contents":[{"role":"user","parts":[{"text":"Write a long story."}]}]}' >"$tmp/body.json"

# ---------------------------------------------------------------- the server
cc -O2 -o "$tmp/sse_replay_server" "$here/sse_replay_server.c"
"$tmp/sse_replay_server" "$tmp/replay.sse" >"$tmp/url" &
SRV=$!
for _ in $(seq 100); do [ -s "$tmp/url" ] && break; sleep 0.05; done
URL=$(head -1 "$tmp/url")
[ -n "$URL" ] || { echo "bench/sse100k.sh: the replay server did not start" >&2; exit 1; }
export GEMINI_API_KEY=bench-key GOOGLE_GEMINI_BASE_URL=$URL NO_PROXY=127.0.0.1,localhost
unset GLRUN_MOCK HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
MODEL=gemini-2.5-flash
SSEURL="$URL/v1beta/models/$MODEL:streamGenerateContent?alt=sse"

SDK=0
[ -f "$here/node_modules/@google/genai/package.json" ] && command -v node >/dev/null && SDK=1

C=(curl -s -o /dev/null -w '%{size_download}' -H "x-goog-api-key: $GEMINI_API_KEY" -H "Content-Type: application/json" --data-binary @"$tmp/body.json" "$SSEURL")
GS=("$G" "$here/sse.lua" sse "$tmp/body.json" 1 "$MODEL")
GR=("$G" "$here/sse.lua" rest "$tmp/body.json" 1 "$MODEL")
S=(node "$here/sdk.mjs" sse "$tmp/body.json" 1 "$MODEL")
OS=("$OLD" "$here/sse.lua" sse "$tmp/body.json" 1 "$MODEL")
OR=("$OLD" "$here/sse.lua" rest "$tmp/body.json" 1 "$MODEL")

kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
calc() { awk "BEGIN {printf \"%.${2:-3}f\", $1}"; }
# cpu FILE -> CPU seconds (user + system) of the finished children in a `times` dump
cpu() { awk 'NR == 2 { s = 0; for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } printf "%.3f", s }' "$1"; }
# run WHAT CMD... -> "wall cpu" seconds (whole process); checks what the process saw
run() {
  local what=$1; shift
  local a b out
  times >"$tmp/t0"   # (a builtin in this shell: $(times) would see a subshell's children)
  a=$EPOCHREALTIME
  "$@" >"$tmp/out" 2>"$tmp/err" || { echo "bench/sse100k.sh: $what failed: $(tail -3 "$tmp/err")" >&2; exit 1; }
  b=$EPOCHREALTIME
  times >"$tmp/t1"
  out=$(cat "$tmp/out")
  if [ "$what" = curl ]; then
    [ "$out" = "$BYTES" ] || { echo "bench/sse100k.sh: curl got $out bytes, not $BYTES" >&2; exit 1; }
  else
    [ "$(kv events "$out")" = "$EVENTS" ] || { echo "bench/sse100k.sh: $what saw $(kv events "$out") events, not $EVENTS" >&2; exit 1; }
  fi
  echo "$(calc "$b-$a" 4) $(calc "$(cpu "$tmp/t1")-$(cpu "$tmp/t0")" 3)"
}

if [ $CG = 1 ]; then
  command -v valgrind >/dev/null || { echo "bench/sse100k.sh: --callgrind needs valgrind" >&2; exit 1; }
  # ir WHAT CMD... -> total instructions (Ir) of the whole process, checked like run()
  ir() {
    local what=$1; shift
    GLRUN_MALLOC=pool GLRUN_WARN_RUN_SECONDS=1000000 GLRUN_MAX_RUN_SECONDS=0 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$what" "$@" >"$tmp/out" 2>"$tmp/err" \
      || { echo "bench/sse100k.sh: $what failed under valgrind: $(tail -3 "$tmp/err")" >&2; exit 1; }
    if [ "$what" = curl ]; then
      [ "$(cat "$tmp/out")" = "$BYTES" ] || { echo "bench/sse100k.sh: curl got the wrong byte count" >&2; exit 1; }
    elif [ "$what" != empty ]; then
      [ "$(kv events "$(cat "$tmp/out")")" = "$EVENTS" ] || { echo "bench/sse100k.sh: $what saw the wrong event count" >&2; exit 1; }
    fi
    sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.$what"
  }
  echo "sse100k --callgrind: $EVENTS events, $BYTES bytes; glrun $G (a few minutes)" >&2
  ic=$(ir curl "${C[@]}"); ie=$(ir empty "$G" -e '')
  is=$(ir sse "${GS[@]}"); ir_=$(ir rest "${GR[@]}")
  if [ -n "$OLD" ]; then ios=$(ir sse "${OS[@]}"); ior=$(ir rest "${OR[@]}"); fi
  cgline() { printf '%-46s %14s %10s %8s\n' "$1" "$2" "$(calc "($2-${3:-0})/$EVENTS" 0)" "$(calc "$2/$ic" 2)x"; }
  echo
  echo "SSE replay under callgrind: $EVENTS events, $(calc "$BYTES/1e6" 1) MB, one run each (instructions, whole process)"
  printf '%-46s %14s %10s %8s\n' client instructions "per event" "vs curl"
  cgline "curl -o /dev/null (the wire)" "$ic"
  cgline "glrun -e '' (start-up alone)" "$ie"
  cgline "glrun, glrun.http.sse, reading ev.json" "$is" "$ie"
  cgline "glrun, gemini.rest.stream, reading .text" "$ir_" "$ie"
  if [ -n "$OLD" ]; then
    cgline "before: glrun.http.sse, reading ev.json" "$ios" "$ie"
    cgline "before: gemini.rest.stream, reading .text" "$ior" "$ie"
  fi
  echo "(per event: glrun rows minus the empty glrun's start-up; curl's whole run)"
  exit 0
fi

echo "sse100k: $EVENTS events, $BYTES bytes at $URL; glrun $G; $RUNS runs each" >&2
for _ in 1 2; do run curl "${C[@]}" >/dev/null; run sse "${GS[@]}" >/dev/null; done   # warm caches
tc=() ts=() tr=() tn=() tos=() tor=()
for i in $(seq "$RUNS"); do   # interleaved, so drift hits every client alike
  tc+=("$(run curl "${C[@]}")")
  ts+=("$(run sse "${GS[@]}")")
  tr+=("$(run rest "${GR[@]}")")
  [ -n "$OLD" ] && { tos+=("$(run sse "${OS[@]}")"); tor+=("$(run rest "${OR[@]}")"); }
  [ $SDK = 1 ] && tn+=("$(run sdk "${S[@]}")")
  sdk_last=n/a; [ ${#tn[@]} -gt 0 ] && sdk_last=${tn[-1]}   # (no SDK: an empty array has no [-1])
  echo "  run $i (wall cpu): curl ${tc[-1]} | sse ${ts[-1]} | rest ${tr[-1]} | sdk $sdk_last${OLD:+ | before: sse ${tos[-1]} | rest ${tor[-1]}}" >&2
done
# med K VALUES... -> the median of field K (1 wall, 2 CPU) of "wall cpu" pairs
med() { local k=$1; shift; [ $# -gt 0 ] || { echo n/a; return; }; printf '%s\n' "$@" | cut -d' ' -f"$k" | median; }
mc=$(med 1 "${tc[@]}") ms=$(med 1 "${ts[@]}") mr=$(med 1 "${tr[@]}") mn=$(med 1 "${tn[@]}") mos=$(med 1 "${tos[@]}") mor=$(med 1 "${tor[@]}")
cc=$(med 2 "${tc[@]}") cs=$(med 2 "${ts[@]}") cr=$(med 2 "${tr[@]}") cn=$(med 2 "${tn[@]}") cos=$(med 2 "${tos[@]}") cor=$(med 2 "${tor[@]}")

if [ $KV = 1 ]; then
  echo "events=$EVENTS bytes=$BYTES runs=$RUNS curl_s=$mc sse_s=$ms rest_s=$mr sdk_s=$mn curl_cpu=$cc sse_cpu=$cs rest_cpu=$cr sdk_cpu=$cn${OLD:+ before_sse_s=$mos before_rest_s=$mor}"
  exit 0
fi
x() { [[ $1 =~ ^[0-9.]+$ ]] && [[ $2 =~ ^[0-9.]+$ ]] && calc "$1/$2" 2 | sed 's/$/x/' || echo n/a; }
line() { printf '%-46s %8s %8s %9s %9s\n' "$1" "$2" "$(x "$2" "$mc")" "$3" "$(x "$3" "$cc")"; }
echo
echo "SSE replay: $EVENTS events, $(calc "$BYTES/1e6" 1) MB, one response; whole processes, medians of $RUNS interleaved runs"
printf '%-46s %8s %8s %9s %9s\n' "client" "wall s" "vs curl" "CPU s" "vs curl"
line "curl -o /dev/null (the wire)" "$mc" "$cc"
line "glrun, glrun.http.sse, reading ev.json" "$ms" "$cs"
line "glrun, gemini.rest.stream, reading .text" "$mr" "$cr"
line "official JS SDK, generateContentStream" "$mn" "$cn"
if [ -n "$OLD" ]; then
  line "before: glrun.http.sse, reading ev.json" "$mos" "$cos"
  line "before: gemini.rest.stream, reading .text" "$mor" "$cor"
  echo "(before = $OLD)"
fi
echo "(CPU = user + system time of the client process; the server is not counted)"
echo
echo "machine: $(nproc) cores, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1); $(date -u '+%F %H:%M UTC')"
echo "versions: $("$G" -v 2>&1 | head -1 | sed 's/ OpenSSL.*/)/'), node $(node --version 2>/dev/null || echo n/a), $(curl --version | head -1 | cut -d' ' -f1-2)"
