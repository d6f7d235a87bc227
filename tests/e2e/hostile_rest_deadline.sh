# A server that keeps a REST stream alive without ever answering (an SSE
# comment every 0.2 s): the idle timeout never fires, so only a deadline
# ends it. gemini.stream/rest.stream/gemini.ask take `deadline`; a chat's
# REST turn is bounded by the policy's turn_deadline as Live turns are.
. "$(dirname "$0")/lib/sh.sh"
start_hostile rest-sse-keepalive

cat > "$TMP/dl.lua" <<'L'
local rest = require "gemini.rest"
local t0 = gl.now()
local ok, e = pcall(function() for _ in assert(gemini.stream("hi", { deadline = 1 })) do end end)
print("STREAM", ok, e.kind, e.deadline, e.message)
print("STREAM_TOOK", gl.now() - t0 < 20)
local ok2, e2 = pcall(function()
  local it, err = rest.stream(gemini.request("hi"), { deadline = 1 })
  if not it then error(err, 0) end
  for _ in it do end
end)
print("RSTREAM", ok2, e2.kind, e2.deadline)
local t, ue = gemini.ask("hi", { deadline = 1 })
print("ASK", t, ue.kind, ue.deadline)
L
run "$GLRUN" "$TMP/dl.lua"
expect_match "gemini.stream{deadline=1}: a timeout error saying the deadline passed" \
  "^STREAM	false	timeout	1.0	.*the deadline \(1 s\) passed before the answer was complete" "$OUT"
expect_match "gemini.stream{deadline=1}: it ends (well within 20 s)" "STREAM_TOOK	true" "$OUT"
expect_match "rest.stream{deadline=1}: the same" "^RSTREAM	false	timeout	1.0" "$OUT"
expect_match "gemini.ask{deadline=1}: the same for a unary request" "^ASK	nil	timeout	1.0" "$OUT"

cat > "$TMP/policy.lua" <<'L'
return { turn_deadline = 2 }
L
t0=$(date +%s)
run "$GLRUN" --policy "$TMP/policy.lua" ask "hi"
t1=$(date +%s)
expect_eq "glrun ask under a 2 s turn deadline exits 1" 1 "$RC"
expect_match "glrun ask: the last line says the turn deadline passed" "^glrun ask: .*turn deadline \(2 s\) passed" \
  "$(printf '%s\n' "$ERR" | tail -1)"
if [ $((t1 - t0)) -lt 30 ]; then ok "glrun ask ends within 30 s ($((t1 - t0)) s)"; else bad "glrun ask took $((t1 - t0)) s"; fi

cat > "$TMP/chat.lua" <<'L'
local chat = gemini.chat{ transport = "rest", quiet = true, policy = { turn_deadline = 2 } }
local t0 = gl.now()
local text, err = chat:send("hi")
print("CHAT", text, err and err.kind, err and err.deadline, gl.now() - t0 < 30, #chat.history)
L
run "$GLRUN" "$TMP/chat.lua"
expect_match "chat:send over REST: a deadline failure within 30 s, nothing in the history" "^CHAT	nil	timeout	[0-9.]+	true	0$" "$OUT"
finish
