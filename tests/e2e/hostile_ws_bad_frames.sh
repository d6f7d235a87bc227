# A server frame that breaks RFC 6455 fails the WebSocket connection as a
# protocol error that says what was wrong (not "dropped (1006); reconnect"):
# glrun.ws returns kind "protocol" with protocol_violation, violation and
# close_code (1002; 1007 for a text message that is not UTF-8, which never
# reaches Lua), gemini.live diagnoses it as fatal ("protocol violation by the
# server: ..."), and a chat falls back to REST instead of reconnecting.
. "$(dirname "$0")/lib/sh.sh"

cat >"$TMP/raw.lua" <<'L'
local ws = require "glrun.ws"
local url = os.getenv("HOSTILE_URL"):gsub("^http", "ws") .. "/ws/x"
local c = assert(ws.connect{ url = url, timeout = 10 })
assert(c:send('{"setup":{}}'))
local m, e = c:recv(20)
if m then print("MESSAGE " .. m) os.exit(0) end
print(("kind=%s violation=%s code=%s what=%s"):format(e.kind, tostring(e.protocol_violation),
  tostring(e.close_code), tostring(e.violation)))
print("message=" .. e.message)
local m2, e2 = c:recv(1)
print("again=" .. tostring(m2) .. " " .. tostring(e2 and e2.kind))
print("state=" .. c:state())
c:close()
L
cat >"$TMP/live.lua" <<'L'
local live = require "gemini.live"
local t0 = gl.now()
local s, e = live.connect{ timeout = 10, setup_timeout = 20 }
if s then print("CONNECTED") os.exit(0) end
print(("kind=%s fatal=%s retryable=%s code=%s"):format(e.kind, tostring(e.fatal), tostring(e.retryable),
  tostring(e.close_code)))
print("message=" .. e.message)
print(("seconds=%d"):format(math.floor(gl.now() - t0)))
L

upgrades() { grep -c '"path":"/ws/' "$HOSTILE_LOG" 2>/dev/null || true; }

check_variant() { # ARG CODE WHAT-REGEX
  rm -f "$TMP/hostile.ws-bad-frames.log"
  start_hostile ws-bad-frames "$1"
  run "$GLRUN" "$TMP/raw.lua"
  expect_eq "$1: glrun.ws script exits 0" 0 "$RC"
  expect_no_match "$1: glrun.ws never delivers the frame to Lua" "^MESSAGE" "$OUT"
  expect_match "$1: glrun.ws fails with kind protocol, code $2" \
    "kind=protocol violation=true code=$2 what=.*$3" "$OUT"
  expect_match "$1: glrun.ws says what the server broke" \
    "message=WebSocket ws://.* failed: protocol violation by the server: .*$3.* \($2\)" "$OUT"
  expect_match "$1: the failure is sticky" "again=nil protocol" "$OUT"
  expect_match "$1: the connection is failed" "state=failed" "$OUT"

  run "$GLRUN" "$TMP/live.lua"
  expect_eq "$1: gemini.live script exits 0" 0 "$RC"
  expect_match "$1: gemini.live: fatal protocol error, never retried" \
    "kind=protocol fatal=true retryable=false code=$2" "$OUT"
  expect_match "$1: gemini.live diagnosis" \
    "message=Live connection to ws://.* failed: protocol violation by the server: .*$3" "$OUT"
  expect_no_match "$1: not diagnosed as a drop" "1006|reconnect" "$OUT"
  expect_match "$1: gemini.live fails at once" "seconds=[0-9]$" "$OUT"
  # (the server logs each upgrade as it can: wait, bounded, for both lines)
  for _ in $(seq 1 100); do [ "$(upgrades)" -ge 2 ] && break; sleep 0.05; done
  expect_eq "$1: one upgrade per connect (raw + live), no reconnect" 2 "$(upgrades)"

  run "$GLRUN" ask --transport auto "hello"
  expect_eq "$1: glrun ask --transport auto exits 0" 0 "$RC"
  expect_eq "$1: answered over REST" "hello from rest" "$OUT"
  expect_match "$1: glrun ask says why it left Live" "protocol violation by the server: .*$3" "$ERR"
  expect_no_match "$1: no crash" "Assertion|Segmentation|AddressSanitizer|LeakSanitizer|runtime error" "$ERR"
}

check_variant rsv 1002 "reserved bits"
check_variant opcode 1002 "reserved opcode"
check_variant utf8 1007 "not valid UTF-8"
# glrun answers invalid UTF-8 with a close frame of its own (1007)
sent=
for _ in $(seq 1 100); do
  grep -q '"frame":8,"len":[0-9]*,"code":1007' "$HOSTILE_LOG" && { sent=1; break; }
  sleep 0.05
done
if [ -n "$sent" ]; then ok "utf8: glrun sends a 1007 close frame"; else bad "utf8: no 1007 close frame: $(cat "$HOSTILE_LOG")"; fi

# Masked server frames: libwebsockets 4.1.6 unmasks them without a check
# (lws >= 4.4 fails the connection: "Server must not mask") and glrun.ws
# cannot see the mask bit. Either way the payload reaches Lua intact or
# the connection fails as a protocol error; never a crash or garbage.
rm -f "$TMP/hostile.ws-bad-frames.log"
start_hostile ws-bad-frames masked
run "$GLRUN" "$TMP/raw.lua"
expect_eq "masked: glrun.ws script exits 0" 0 "$RC"
expect_match "masked: the payload intact (lws 4.1) or a protocol error" \
  '^MESSAGE \{"setupComplete":\{\}\}$|kind=protocol violation=true code=1002 what=.*mask' "$OUT"
finish
