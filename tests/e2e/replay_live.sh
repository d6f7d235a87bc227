# WebSocket replay runs through the C receive path (runtime/ws_play.c): a
# Live session recorded with a goAway rotation (resumption handle, a second
# connection) and sessions that end with close codes replay with the same
# events, the same error fields and the same counters as they had live.
. "$(dirname "$0")/lib/sh.sh"
clean_env
cat > "$TMP/s.lua" <<'L'
local live = require "gemini.live"
local ws = require "glrun.ws"
local function show(tag, e)
  if not e then print(tag, "nil") return end
  print(tag, e.kind, e.close_code, e.reason, e.status, e.message)
end
-- 1. goAway: the events of two turns across a rotation
local s = assert(live.connect{ model = "gemini-live-text-test" })
assert(s:send_text("first turn goaway"))
local types, text = {}, {}
for ev in s:events{ timeout = 15 } do types[#types + 1] = ev.type; text[#text + 1] = ev.text end
repeat
  local ev, e = s:recv(5)
  if not ev then show("RECV-ERR", e) break end
  types[#types + 1] = ev.type
until ev.type == "go_away"
assert(s:send_text("second turn"))
for ev in s:events{ timeout = 15 } do types[#types + 1] = ev.type; text[#text + 1] = ev.text end
print("TYPES", table.concat(types, ","))
print("TEXT", table.concat(text))
print("CONNECTS", s.connects)
s:close()
-- 2. a session the server ends with a close code (the model does not exist)
local _, e = live.connect{ model = "gemini-nonexistent-live" }
show("E1", e)
-- 3. a raw WebSocket the server closes: the error and the counters
local base = assert(os.getenv("WSBASE"))
local c = assert(ws.connect{ url = base .. "/glmock/echo", timeout = 10 })
assert(c:send("one")); print("ECHO", c:recv(5))
local st = c:stats()
print("STATS", st.received, st.sent, st.bytes_sent)
c:close(4001, "bye")
print("CLOSED", c:state())
L
start_glmock
export WSBASE=$(printf '%s' "$GLMOCK_URL" | sed 's/^http/ws/')
run env GEMINI_API_KEY=replay-live-key GOOGLE_GEMINI_BASE_URL="$GLMOCK_URL" "$GLRUN" --record "$TMP/cas" "$TMP/s.lua"
REC=$OUT
expect_eq "recording exits 0" 0 "$RC"
expect_match "the goAway rotation was recorded" "TYPES	.*go_away.*reconnecting.*resumed" "$REC"
expect_match "two connections" "CONNECTS	2" "$REC"
expect_match "the close code was recorded" "E1	[a-z_]+	10[0-9][0-9]" "$REC"
kill "$GLMOCK_PID"; wait "$GLMOCK_PID" 2>/dev/null; GLMOCK_PID=
run "$GLRUN" --replay "$TMP/cas" "$TMP/s.lua"
expect_eq "replay exits 0" 0 "$RC"
expect_eq "replay gives the same events, errors and values" "$REC" "$OUT"
expect_no_match "no Lua twin of the ws module is left" "ws_replay" "$(strings "$GLRUN" | grep -c ws_replay.lua | grep -v '^0$')"
finish
