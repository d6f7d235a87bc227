#!/usr/bin/env bash
# Many processes, one budget: 8 glrun processes share a 60-request budget
# through a real redis-server (gemini.state's redis backend) and together
# never send glmock more than 60 requests; the ones past the budget fail
# as rate_limit errors without reaching the server.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/redis.sh"
clean_env
start_redis
start_glmock
export GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" GEMINI_API_KEY=redis-budget-key
# a 300 s window: the whole test runs inside one window, so "never more than
# 60" is exact and does not depend on timing
cat >"$TMP/policy.lua" <<'P'
return { ratelimit = { backend = "redis", pool = "budget", window = 300, limits = { default = { rpm = 60 } } },
         turn_deadline = 5 }
P
cat >"$TMP/worker.lua" <<'W'
local n = tonumber(arg[1])
local c = gemini.chat{ transport = "rest", model = "gemini-2.5-flash", quiet = true }
local answered, limited = 0, 0
for i = 1, n do
  local r, e = c:send("hello " .. i)
  if r then answered = answered + 1
  elseif tostring(e):find("shared budget of pool budget", 1, true) then limited = limited + 1
  else io.stderr:write("unexpected: ", tostring(e), "\n") end
end
print(answered, limited)
W
# a rule that only counts: every streamGenerateContent of the model (hits)
curl -s -XPOST "$GLMOCK_URL/glmock/scenario" -d '{"match": {"kind": "rest", "path": ":streamGenerateContent",
  "model": "gemini-2.5-flash"}, "count": -1, "fault": {"delay_ms": 1}}' >/dev/null
pids=
for i in $(seq 1 8); do
  timeout 120 "$GLRUN" --policy "$TMP/policy.lua" "$TMP/worker.lua" 10 >"$TMP/w$i.out" 2>"$TMP/w$i.err" &
  pids="$pids $!"
done
rcs=0
for p in $pids; do wait "$p" || rcs=$((rcs+1)); done
expect_eq "the 8 workers exit 0" 0 "$rcs"
answered=$(cat "$TMP"/w*.out | awk '{a+=$1} END {print a+0}')
limited=$(cat "$TMP"/w*.out | awk '{a+=$2} END {print a+0}')
expect_eq "60 answered in all" 60 "$answered"
expect_eq "20 refused by the shared budget" 20 "$limited"
sent=$(curl -s "$GLMOCK_URL/glmock/scenario" | grep -o '"hits": *[0-9]*' | grep -o '[0-9]*$')
expect_eq "glmock saw exactly 60 requests (the budget), not 80" 60 "$sent"
expect_eq "no unexpected error" "" "$(cat "$TMP"/w*.err | grep -v '^$' | head -3)"
n=$(redis-cli -p "$REDIS_PORT" zcard 'glrun:{budget}:w:gemini-2.5-flash')
expect_eq "the window in Redis holds 60 admissions" 60 "$n"
# the pool's key never holds the API key
expect_no_match "no API key in Redis keys" "redis-budget-key" "$(redis-cli -p "$REDIS_PORT" keys '*')"
# glrun quota shows the pool's window
run "$GLRUN" --policy "$TMP/policy.lua" quota
expect_eq "glrun quota exits 0" 0 "$RC"
expect_match "glrun quota shows the window" "gemini-2.5-flash.*60" "$OUT"
# TPM shared atomically, and a reservation corrected with the real count
cat >"$TMP/tpm.lua" <<'L'
local ratelimit, state = require "gemini.ratelimit", require "gemini.state"
local rl = ratelimit.new{ limits = { default = { tpm = 100 } }, replace = true, window = 300 }
rl.state = state.redis{ url = os.getenv("GLRUN_REDIS_URL"), pool = "tpm" }
assert(rl:acquire("m", 60))
rl:record("m", 30)                      -- the answer used 30 tokens, not 60
local ok = rl:acquire("m", 60, gl.now() + 1)
print(ok and "second admitted" or "second refused")
local ok3, err = rl:acquire("m", 60, gl.now() + 1)
print(ok3 and "third admitted" or ("third refused " .. err.kind))
L
run "$GLRUN" "$TMP/tpm.lua"
expect_eq "TPM: the corrected reservation frees budget; the next past it is refused" \
  "second admitted
third refused rate_limit" "$OUT"
expect_eq "the window's token sum in Redis is 90" 90 "$(redis-cli -p "$REDIS_PORT" hget 'glrun:{tpm}:t:m' _sum)"
finish
