#!/usr/bin/env bash
# bench/redis.sh [BUILD_DIR] — the cost of a shared (Redis) rate-limit pool:
#   1. µs per admission (gemini.ratelimit:acquire), local vs Redis-backed,
#      same process, same run;
#   2. requests/s of 8 glrun processes answering over REST from glmock,
#      local limits vs one shared Redis pool (every request admitted by the
#      Redis script; the budget is set high so nobody waits).
# Needs redis-server (Debian package). Loopback only.
set -eu
B=${1:-${GLRUN_BUILD:-build}}
GLRUN=$B/glrun GLMOCK=$B/glmock
command -v redis-server >/dev/null || { echo "redis-server not installed" >&2; exit 1; }
TMP=$(mktemp -d)
pids=
trap 'kill $pids 2>/dev/null; rm -rf "$TMP"' EXIT
port=$((20000 + RANDOM % 40000))
redis-server --port $port --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & pids="$pids $!"
"$GLMOCK" --port 0 >"$TMP/glmock.out" 2>/dev/null & pids="$pids $!"
for _ in $(seq 1 100); do
  [ "$(redis-cli -p $port ping 2>/dev/null)" = PONG ] && grep -q http "$TMP/glmock.out" && break; sleep 0.05
done
export GLRUN_REDIS_URL=redis://127.0.0.1:$port/0
export GOOGLE_GEMINI_BASE_URL=$(grep -o 'http://[0-9.:]*' "$TMP/glmock.out" | head -1) GEMINI_API_KEY=bench-key

cat >"$TMP/admit.lua" <<'L'
local ratelimit, state = require "gemini.ratelimit", require "gemini.state"
local N = 2000
local function bench(rl)
  rl:acquire("m", 10) -- warm up (connect, SCRIPT LOAD)
  local t0 = gl.now()
  for _ = 1, N do assert(rl:acquire("m", 10)) end
  return (gl.now() - t0) / N * 1e6
end
local loc = bench(ratelimit.new{ limits = { default = { rpm = 1e9, tpm = 1e12 } }, replace = true })
local rl = ratelimit.new{ limits = { default = { rpm = 1e9, tpm = 1e12 } }, replace = true }
rl.state = state.redis{ url = os.getenv("GLRUN_REDIS_URL"), pool = "bench-admit" }
local red = bench(rl)
print(("admission: local %.2f us, redis %.1f us per request (%d requests, window holding up to %d)")
  :format(loc, red, N, N + 1))
L
"$GLRUN" "$TMP/admit.lua"

cat >"$TMP/policy.lua" <<'P'
return { ratelimit = { backend = os.getenv("BACKEND"), pool = "bench8", limits = { default = { rpm = 1000000 } } } }
P
cat >"$TMP/worker.lua" <<'W'
local c = gemini.chat{ transport = "rest", model = "gemini-2.5-flash", quiet = true }
for i = 1, tonumber(arg[1]) do assert(c:send("hello " .. i)) ; c.history = {} end
W
for backend in local redis; do
  t0=$(date +%s.%N)
  wp=
  for i in $(seq 1 8); do BACKEND=$backend "$GLRUN" --policy "$TMP/policy.lua" "$TMP/worker.lua" 200 & wp="$wp $!"; done
  for p in $wp; do wait $p; done
  t1=$(date +%s.%N)
  echo "8 processes x 200 requests, $backend limits: $(echo "1600 / ($t1 - $t0)" | bc) requests/s ($(echo "$t1 - $t0" | bc) s)"
done
echo "# $(nproc) cores; $(redis-server --version | cut -d' ' -f3); $("$GLRUN" -v 2>&1 | head -1)"
