#!/usr/bin/env bash
# Learned state shared through Redis: a per-day 429 learned by one process
# stops another from sending to that model; a Live circuit opened by one
# process makes another skip Live.
. "$(dirname "$0")/lib/sh.sh"
. "$(dirname "$0")/lib/redis.sh"
clean_env
start_redis
start_glmock
export GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" GEMINI_API_KEY=redis-learned-key
cat >"$TMP/policy.lua" <<'P'
return { ratelimit = { backend = "redis", pool = "learned" }, turn_deadline = 20, backoff_cap = 0.2 }
P
cat >"$TMP/perday.lua" <<'W'
local c = gemini.chat{ transport = "rest", model = "gemini-2.5-flash-perday", quiet = true }
local r, e = c:send("hello")
print((r and "answered" or "failed") .. " " .. (c.last_turn and c.last_turn.model or "-"))
if e then io.stderr:write(tostring(e), "\n") end
W
# count the requests that reach the per-day model
curl -s -XPOST "$GLMOCK_URL/glmock/scenario" -d '{"match": {"kind": "rest", "model": "perday"}, "count": -1,
  "fault": {"delay_ms": 1}}' >/dev/null
hits() { curl -s "$GLMOCK_URL/glmock/scenario" | grep -o '"hits": *[0-9]*' | head -1 | grep -o '[0-9]*$'; }
run "$GLRUN" --policy "$TMP/policy.lua" "$TMP/perday.lua"
expect_eq "process 1 exits 0" 0 "$RC"
expect_eq "process 1 sent one request to the per-day model" 1 "$(hits)"
mark=$(redis-cli -p "$REDIS_PORT" hget 'glrun:{learned}:m:gemini-2.5-flash-perday' per_day)
expect_eq "the per-day mark is in Redis" 1 "$mark"
ttl=$(redis-cli -p "$REDIS_PORT" pttl 'glrun:{learned}:m:gemini-2.5-flash-perday')
[ "$ttl" -gt 60000 ] && [ "$ttl" -le 90001000 ] && ok "the mark lasts until midnight Pacific (${ttl} ms)" \
  || bad "the mark's TTL ${ttl} ms is not until midnight Pacific"
for i in 2 3; do
  run "$GLRUN" --policy "$TMP/policy.lua" "$TMP/perday.lua"
  expect_eq "process $i exits 0" 0 "$RC"
done
expect_eq "processes 2 and 3 sent nothing to the per-day model" 1 "$(hits)"
expect_match "process 3 was answered by a fallback model" "^answered gemini" "$OUT"
run "$GLRUN" --policy "$TMP/policy.lua" quota --pool learned
expect_match "glrun quota shows the learned per-day mark" "gemini-2.5-flash-perday +per-day quota spent" "$OUT"

# Live circuit: process A's Live model is refused (1008): the circuit opens
# in Redis; process B skips Live (no handshake) and answers over REST
cat >"$TMP/live.lua" <<'W'
local c = gemini.chat{ live_model = "gemini-live-nonexistent-test", quiet = true }
local r, e = c:send("hello")
print((r and "answered" or "failed") .. " " .. (c.last_turn and c.last_turn.transport or "-"))
if e then io.stderr:write(tostring(e), "\n") end
W
curl -s -XDELETE "$GLMOCK_URL/glmock/scenario" >/dev/null
hs() { curl -s "$GLMOCK_URL/glmock/scenario" | grep -o '"live_handshake": *[0-9]*' | grep -o '[0-9]*$'; }
run "$GLRUN" --policy "$TMP/policy.lua" "$TMP/live.lua"
expect_eq "process A answered over REST" "answered rest" "$OUT"
a=$(hs)
[ "${a:-0}" -ge 1 ] && ok "process A tried Live ($a handshakes)" || bad "process A made no Live handshake"
n=$(redis-cli -p "$REDIS_PORT" --scan --pattern 'glrun:{learned}:c:*' | wc -l)
expect_eq "the open circuit is in Redis" 1 "$n"
run "$GLRUN" --policy "$TMP/policy.lua" "$TMP/live.lua"
expect_eq "process B answered over REST" "answered rest" "$OUT"
expect_eq "process B made no Live handshake (the shared circuit is open)" "$a" "$(hs)"
run "$GLRUN" --policy "$TMP/policy.lua" quota --pool learned
expect_match "glrun quota shows the open circuit" "live .* open for" "$OUT"
finish
