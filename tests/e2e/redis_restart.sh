#!/usr/bin/env bash
# Redis faults: down at start, killed mid-run and restarted (its state
# lost). Every request is answered (the local limits apply meanwhile, with
# one warning), and the shared windows rebuild once Redis is back.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/redis.sh"
clean_env
start_glmock
export GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" GEMINI_API_KEY=redis-restart-key
cat >"$TMP/policy.lua" <<'P'
return { ratelimit = { backend = "redis", pool = "restart", window = 300, limits = { default = { rpm = 1000 } } } }
P
cat >"$TMP/worker.lua" <<'W'
-- answers N requests, one every 50 ms; a file marks progress
local n, progress = tonumber(arg[1]), arg[2]
local c = gemini.chat{ transport = "rest", model = "gemini-2.5-flash", quiet = true }
local answered = 0
for i = 1, n do
  local r, e = c:send("hello " .. i)
  if r then answered = answered + 1 else io.stderr:write("lost: ", tostring(e), "\n") end
  local f = io.open(progress, "w"); f:write(i); f:close()
  gl.sleep(0.05)
end
print(answered)
W
# 1. Redis down at start: the local limits apply, one warning, all answered
command -v redis-server >/dev/null || { echo "# SKIP: redis-server not installed"; exit 77; }
export GLRUN_REDIS_URL="redis://127.0.0.1:1/0"
run "$GLRUN" --policy "$TMP/policy.lua" "$TMP/worker.lua" 5 "$TMP/p0"
expect_eq "Redis down at start: all 5 answered" "5" "$OUT"
expect_eq "exactly one warning" 1 "$(grep -c 'unavailable' "$TMP/err")"
expect_match "the warning says local limits apply" "local rate limits apply" "$ERR"

# 2. killed mid-run, restarted on the same port
start_redis
port=$REDIS_PORT
timeout 120 "$GLRUN" --policy "$TMP/policy.lua" "$TMP/worker.lua" 60 "$TMP/p1" >"$TMP/w.out" 2>"$TMP/w.err" &
W=$!
BG_PIDS="$BG_PIDS $W"
for _ in $(seq 1 400); do [ "$(cat "$TMP/p1" 2>/dev/null || echo 0)" -ge 10 ] && break; sleep 0.05; done
before=$(redis-cli -p "$port" zcard 'glrun:{restart}:w:gemini-2.5-flash')
[ "${before:-0}" -ge 10 ] && ok "the window was shared before the kill ($before)" || bad "window before the kill: [$before]"
stop_redis
for _ in $(seq 1 400); do [ "$(cat "$TMP/p1" 2>/dev/null || echo 0)" -ge 25 ] && break; sleep 0.05; done
start_redis "$port"
wait "$W"
expect_eq "the worker exits 0" 0 "$?"
expect_eq "killed and restarted mid-run: all 60 answered" "60" "$(cat "$TMP/w.out")"
expect_eq "no request lost" "" "$(grep '^lost:' "$TMP/w.err")"
expect_eq "one warning for the outage" 1 "$(grep -c 'unavailable' "$TMP/w.err")"
after=$(redis-cli -p "$port" zcard 'glrun:{restart}:w:gemini-2.5-flash')
[ "${after:-0}" -ge 1 ] && [ "${after:-0}" -lt 60 ] && ok "the window rebuilt in the restarted Redis ($after)" \
  || bad "window after the restart: [$after]"
finish
